"""The migration's content: its plan file and SQL files, read from MIGRATION_DIR."""
from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pgcutover.errors import CutoverError


@dataclass(frozen=True)
class SqlFile:
    """One SQL file, executed as written; its checksum detects drift."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Migration:
    """What one migration consists of, in the order its plan file gives."""

    root: Path
    name: str
    app_schema: str
    aside_schema: str
    schema_state: SqlFile
    drift: SqlFile
    deploy_schema: tuple[SqlFile, ...]
    transform: tuple[SqlFile, ...]
    invariants: tuple[SqlFile, ...]
    reconcile: SqlFile
    dropped_columns: SqlFile
    audit: tuple[SqlFile, ...]
    # Legacy tables that have no target table by design: the one exception to "every table of
    # the set-aside schema is reconciled", declared here once and checked by verify.
    dropped_tables: tuple[str, ...] = ()

    def all_files(self) -> tuple[SqlFile, ...]:
        return (self.schema_state, self.drift, *self.deploy_schema, *self.transform,
                *self.invariants, self.reconcile, self.dropped_columns, *self.audit)


def load_migration(root: Path) -> Migration:
    """Read ROOT/plan.toml and check that every file it names exists."""
    plan_path = root / "plan.toml"
    try:
        plan = tomllib.loads(plan_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CutoverError("config", f"MIGRATION_DIR {root}: cannot read plan.toml: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CutoverError("config", f"{plan_path}: {exc}") from None

    def files(section: str, key: str) -> tuple[SqlFile, ...]:
        names = plan.get(section, {}).get(key, [])
        names = [names] if isinstance(names, str) else names
        out = tuple(SqlFile(root / n) for n in names)
        for f in out:
            if not f.path.is_file():
                raise CutoverError("config", f"{plan_path}: [{section}] {key} names {f.path.name}, which does not exist")
        return out

    def names(section: str, key: str) -> tuple[str, ...]:
        value = plan.get(section, {}).get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CutoverError("config", f"{plan_path}: [{section}] {key} must be a list of names")
        return tuple(value)

    try:
        return Migration(
            root=root,
            name=plan["name"],
            app_schema=plan["app_schema"],
            aside_schema=plan["aside_schema"],
            schema_state=files("preflight", "schema_state")[0],
            drift=files("preflight", "drift")[0],
            deploy_schema=files("deploy-schema", "files"),
            transform=files("transform", "files"),
            invariants=files("verify", "invariants"),
            reconcile=files("verify", "reconcile")[0],
            dropped_columns=files("verify", "dropped_columns")[0],
            audit=files("audit", "files"),
            dropped_tables=names("verify", "dropped_tables"),
        )
    except (KeyError, IndexError) as exc:
        raise CutoverError("config", f"{plan_path}: missing {exc}") from None
