"""The transform's stages, and the plan's promises about them checked when it loads.

plan.toml's [transform] files run in order. Consecutive files form a stage, run in one
transaction, except two kinds the plan names:
- side_by_side: a file of index builds and constraint validations only, each statement in a
  transaction of its own, side by side (pgcutover/side_by_side.py);
- apart: a load that reads only the legacy schema and writes only tables no other file of its
  stage names, in a transaction of its own on a connection of its own, beside the rest of its
  stage (pgcutover/apart.py).
A mistake in either list would cost data or correctness at 2 a.m., so the plan is refused when it
loads, in one line, before any window starts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pgcutover.errors import CutoverError
from pgcutover.sql_text import NAME, side_by_side_statements, without_comments

if TYPE_CHECKING:
    from pgcutover.migration import Migration, SqlFile


def stages(migration: Migration) -> list[tuple[bool, tuple[SqlFile, ...]]]:
    """Split the transform files into stages: (side by side?, files), in plan order."""
    out: list[tuple[bool, tuple[SqlFile, ...]]] = []
    for f in migration.transform:
        side = f.name in migration.side_by_side
        if out and not side and not out[-1][0]:
            out[-1] = (False, (*out[-1][1], f))
        else:
            out.append((side, (f,)))
    return out


def check_side_by_side(migration: Migration, plan_path: Path) -> None:
    """Refuse a side-by-side file that is no transform file, or holds a statement that may not
    run side by side."""
    transform = {f.name: f for f in migration.transform}
    for name in sorted(migration.side_by_side):
        where = f"{plan_path}: [transform] side_by_side names {name}"
        if name not in transform:
            raise CutoverError("config", f"{where}, which [transform] files does not list")
        try:
            side_by_side_statements(transform[name].text)
        except ValueError as exc:
            raise CutoverError("config", f"{where}: {exc}") from None


class BuildNames(NamedTuple):
    """The build schema's table names a SQL text uses, unquoted."""

    created: set[str]  # CREATE TABLE
    loaded: set[str]  # INSERT INTO
    named: set[str]  # anywhere


def build_tables_named(sql: str, build_schema: str) -> BuildNames:
    """Return the build schema's names in sql, unquoted: created as tables, loaded, named."""
    schema = rf'(?:"{re.escape(build_schema)}"|{re.escape(build_schema)})\s*\.\s*(?P<t>{NAME})'
    text = without_comments(sql)

    def found(pattern: str) -> set[str]:
        return {
            m["t"][1:-1].replace('""', '"') if m["t"].startswith('"') else m["t"].lower()
            for m in re.finditer(pattern + schema, text, re.IGNORECASE)
        }

    return BuildNames(
        created=found(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"),
        loaded=found(r"INSERT\s+INTO\s+"),
        named=found(""),
    )


def session_objects(sql: str) -> set[str]:
    """Return the pg_temp names sql uses (functions, tables), lowercased."""
    found = re.finditer(rf"pg_temp\s*\.\s*(?P<n>{NAME})", without_comments(sql), re.I)
    return {m["n"].strip('"').lower() for m in found}


def check_apart(migration: Migration, plan_path: Path) -> None:
    """Refuse an apart file that is no load of its own: one that is not in a stage of loads,
    loads nothing, reads a build table it does not load, shares a pg_temp object with another
    file of its stage, or loads a table another file of its stage names (that file would read
    it empty, or write it beside)."""
    build = migration.build_schema
    tables = {t for f in migration.deploy_schema for t in build_tables_named(f.text, build).created}
    for side, files in stages(migration):
        if not migration.apart & {f.name for f in files}:
            continue
        texts = {f.name: f.text for f in files}  # each file read once (SqlFile.text reads disk)
        for f in files:
            if f.name not in migration.apart:
                continue
            where = f"{plan_path}: [transform] apart names {f.name}"
            if side:
                raise CutoverError("config", f"{where}, which side_by_side names too")
            names = build_tables_named(texts[f.name], build)
            loaded = names.loaded
            named = names.named & tables  # its tables, not the enums it casts to
            if not loaded:
                raise CutoverError("config", f"{where}, which loads no table of {build}")
            if named - loaded:
                raise CutoverError(
                    "config",
                    f"{where}, which reads {', '.join(sorted(named - loaded))} of {build}: "
                    "an apart file reads only the legacy schema and its own tables",
                )
            own_temporary = session_objects(texts[f.name])
            for other in (o for o in files if o is not f):
                temporary = own_temporary & session_objects(texts[other.name])
                if temporary:
                    raise CutoverError(
                        "config",
                        f"{where}, which shares pg_temp.{min(temporary)} with {other.name}: a "
                        "session's temporary objects stay on its own connection",
                    )
                shared = loaded & build_tables_named(texts[other.name], build).named
                if shared:
                    raise CutoverError(
                        "config",
                        f"{where}, which loads {', '.join(sorted(shared))}, named by "
                        f"{other.name} too: an apart file's tables are its own in its stage",
                    )
    strays = sorted(migration.apart - {f.name for f in migration.transform})
    if strays:
        raise CutoverError(
            "config",
            f"{plan_path}: [transform] apart names {strays[0]}, which [transform] files does "
            "not list",
        )
