"""Scaffold a new migration directory: plan.toml, numbered SQL files and rules.md to fill in."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from pgcutover.errors import CutoverError
from pgcutover.settings import PROJECT_ROOT

STEP = "new-migration"
# Where `invoke new-migration` creates NAME/ by default: beside the shipped sql/migration/.
SQL_ROOT = PROJECT_ROOT / "sql"
# The scaffold's files, mirrored as they are (docs/new-migration.md says what each must do).
TEMPLATES = Path(__file__).parent / "templates" / "migration"
# Lowercase letters and digits in words joined by single dashes, starting with a letter.
NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
MAX_NAME = 40
# sql/'s own directories: a migration by one of these names would read as the engine's.
RESERVED = frozenset({"engine", "spec", "sandbox", "bench"})
# The schemas every scaffolded file names, as written into its plan.toml.
APP_SCHEMA = "public"
# One name for every migration: a window refuses to start while an earlier one's copy is there.
ASIDE_SCHEMA = "cutover_legacy"
# Likewise: a window refuses to start while an earlier one's unswapped target is there.
BUILD_SCHEMA = "cutover_target"
# What every file still to be written carries: `grep -rln pgcutover-scaffold DIR` lists them.
MARKER = "pgcutover-scaffold"


def check_name(name: str) -> None:
    """Refuse a name that is not a short lowercase-dash word, or that sql/ keeps for itself."""
    if name.startswith("-"):  # NAME is positional: invoke hands it `--help` too
        raise CutoverError(
            STEP,
            f"{name!r} is not a migration name (the flags: invoke --help new-migration); "
            "nothing was created",
        )
    if not NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise CutoverError(
            STEP,
            f"{name!r} is not a migration name: use lowercase letters, digits and single dashes, "
            f"starting with a letter, at most {MAX_NAME} characters (e.g. split-person-names); "
            "nothing was created",
        )
    if name in RESERVED:
        raise CutoverError(
            STEP,
            f"{name!r} is one of sql/'s own directories ({', '.join(sorted(RESERVED))}): "
            "choose another name; nothing was created",
        )


def template_files() -> list[Path]:
    """List the scaffold's template files, relative to the template directory, in order."""
    return sorted(p.relative_to(TEMPLATES) for p in TEMPLATES.rglob("*") if p.is_file())


def render(text: str, name: str) -> str:
    """Fill a template's placeholders: the migration's name and its three schemas."""
    values = {
        "name": name,
        "app_schema": APP_SCHEMA,
        "aside_schema": ASIDE_SCHEMA,
        "build_schema": BUILD_SCHEMA,
    }
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def new_migration(root: Path, name: str) -> Path:
    """Create ROOT/NAME holding the scaffold, or nothing at all; return the directory."""
    check_name(name)
    target = root / name
    if not root.is_dir():
        raise CutoverError(STEP, f"{root} is not a directory; nothing was created")
    try:
        target.mkdir()  # exclusive: an existing directory (or file) is never touched
    except FileExistsError:
        raise CutoverError(
            STEP, f"{target} already exists: choose another name; nothing was created"
        ) from None
    except OSError as exc:
        raise CutoverError(STEP, f"cannot create {target}: {exc.strerror}") from None
    try:
        for rel in template_files():
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            text = render((TEMPLATES / rel).read_text(encoding="utf-8"), name)
            dest.write_text(text, encoding="utf-8")
    except OSError as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise CutoverError(
            STEP, f"cannot write {target}: {exc.strerror}; nothing was created"
        ) from None
    return target


def next_steps(created: Path) -> str:
    """Say what was created and what to do next, in one line for the operator."""
    return (
        f"created {created}: fill in its files (grep -rln {MARKER} {created} lists what is left; "
        f"docs/new-migration.md), then MIGRATION_DIR={created} invoke migrate-offline --dry-run"
    )
