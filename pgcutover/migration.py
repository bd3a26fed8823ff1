"""The migration's content: its plan file and SQL files, read from MIGRATION_DIR."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pgcutover.errors import CutoverError
from pgcutover.transform_plan import check_apart, check_side_by_side

# What the engine itself sets as pgcutover.<name> for a run: no [parameters] entry may take these.
RUN_PARAMETERS = ("migration_ts", "run_id")
# The name under which the migration's SQL reads plan.toml's dropped-by-design list, as JSON.
DROPPED_PARAMETER = "dropped_by_design"
# A parameter's or a reconcile subquery's name: one lowercase SQL word, the same quoted or not.
SIMPLE_NAME = re.compile(r"[a-z_][a-z0-9_]*")


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
class ReconciledTable:
    """One kept table of the reconcile: the row compared, and what rules do to its legacy side."""

    name: str
    columns: tuple[str, ...]
    # Columns compared by their md5 (large values: no row is ever held as text whole).
    hashed: frozenset[str] = frozenset()
    # Column -> the legacy-side expression that replaces it, where a rule changes the value.
    legacy: Mapping[str, str] = field(default_factory=dict)
    legacy_from: str = ""  # the rest of each side's FROM clause after the table: joins, a WHERE
    target_from: str = ""


@dataclass(frozen=True)
class Dropped:
    """One thing the target leaves out by design (R11), and the rule that does.

    A legacy table's column; or, with no column, the whole table: it has no target table, and its
    columns are dropped with it.
    """

    table: str
    column: str | None
    rule: str


@dataclass(frozen=True)
class Reconcile(SqlFile):
    """The reconcile mapping (R11), one entry per kept table; verify builds its queries from it."""

    subqueries: tuple[tuple[str, str], ...] = ()  # (name, SELECT) the expressions may use
    tables: tuple[ReconciledTable, ...] = ()


@dataclass(frozen=True)
class Migration:
    """What one migration consists of, in the order its plan file gives."""

    root: Path
    name: str
    app_schema: str
    aside_schema: str
    build_schema: str  # where deploy-schema and transform build the target; reset swaps it in
    schema_state: SqlFile
    drift: SqlFile
    deploy_schema: tuple[SqlFile, ...]
    transform: tuple[SqlFile, ...]
    invariants: tuple[SqlFile, ...]
    reconcile: Reconcile
    audit: tuple[SqlFile, ...]
    # The one list of what is dropped by design (plan.toml [verify] dropped_by_design): verify
    # reports each column's non-NULL values from it, and its SQL reads it (sql_parameters).
    dropped: tuple[Dropped, ...] = ()
    # Values the SQL files read as current_setting('pgcutover.<name>'), so a rule used by several
    # files is written once (plan.toml [parameters]).
    parameters: Mapping[str, str] = field(default_factory=dict)
    # The functional check before go-live: read probes return one row per problem, write probes
    # run in a transaction that is always rolled back (plan.toml [smoke]).
    smoke_reads: tuple[SqlFile, ...] = ()
    smoke_writes: tuple[SqlFile, ...] = ()
    # The planner's statistics for the loaded tables, gathered beside verify (plan.toml
    # [statistics]): read-only on the data, so off the window's critical path.
    statistics: tuple[SqlFile, ...] = ()
    # Legacy rows the target's keys would refuse, counted by preflight and the audit before the
    # downtime (plan.toml [preflight] refused_references): one row (problem, rows) per kind.
    refused_references: tuple[SqlFile, ...] = ()
    # Transform files whose statements (index builds, constraint validations) run side by side,
    # each in its own transaction, once the files before them have committed (plan.toml
    # [transform] side_by_side).
    side_by_side: frozenset[str] = frozenset()
    # Transform loads that run in a transaction of their own, on a connection of their own,
    # beside the rest of their stage (plan.toml [transform] apart).
    apart: frozenset[str] = frozenset()

    def all_files(self) -> tuple[SqlFile, ...]:
        return (
            self.schema_state,
            self.drift,
            *self.refused_references,
            *self.deploy_schema,
            *self.transform,
            *self.statistics,
            *self.invariants,
            self.reconcile,
            *self.audit,
            *self.smoke_reads,
            *self.smoke_writes,
        )

    @property
    def dropped_tables(self) -> tuple[str, ...]:
        """Legacy tables with no target table by design.

        The one exception to "every table of the set-aside schema is reconciled" (verify).
        """
        return tuple(d.table for d in self.dropped if d.column is None)

    @property
    def sql_parameters(self) -> dict[str, str]:
        """What the SQL files read as pgcutover.<name>: [parameters] and the dropped list.

        The dropped-by-design list is a JSON array of {"table", "column" (null: the whole table),
        "rule"}.
        """
        dropped = json.dumps([asdict(d) for d in self.dropped], ensure_ascii=False)
        return {**self.parameters, DROPPED_PARAMETER: dropped}


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """Parse one TOML file of the migration, naming it in the error."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CutoverError("config", f"{what}: cannot read {path.name}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CutoverError("config", f"{path}: {exc}") from None


def text_map(value: object, where: str) -> dict[str, str]:
    """Check that a TOML value is a table of strings and return it."""
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"{where} must be a table of strings")
    return dict(value)


def text_list(value: object, where: str) -> tuple[str, ...]:
    """Check that a TOML value is a list of strings and return it."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where} must be a list of names")
    return tuple(value)


def simple_names(names: Mapping[str, str], where: str) -> None:
    """Refuse a name that is not one lowercase SQL word."""
    for n in names:
        if not SIMPLE_NAME.fullmatch(n):
            raise ValueError(f"{where} {n!r} must be a lowercase name ([a-z_][a-z0-9_]*)")


def reconciled_table(name: str, entry: object) -> ReconciledTable:
    """Read one [tables.NAME] entry of the reconcile mapping."""
    where = f"[tables.{name}]"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be a table")
    unknown = sorted(set(entry) - {"columns", "hashed", "legacy", "legacy_from", "target_from"})
    if unknown:
        raise ValueError(f"{where} has unknown keys {', '.join(unknown)}")
    columns = text_list(entry.get("columns"), f"{where} columns")
    hashed = text_list(entry.get("hashed", []), f"{where} hashed")
    legacy = text_map(entry.get("legacy", {}), f"{where} legacy")
    strays = sorted((set(hashed) | set(legacy)) - set(columns))
    if not columns or strays:
        raise ValueError(
            f"{where} columns must list every column it compares"
            + (f" ({', '.join(strays)} missing)" if strays else "")
        )
    froms = text_map({k: entry.get(k, "") for k in ("legacy_from", "target_from")}, where)
    return ReconciledTable(name, columns, frozenset(hashed), legacy, **froms)


def load_reconcile(path: Path) -> Reconcile:
    """Read the reconcile mapping and check its shape: what it names, and that each part is text."""
    raw = read_toml(path, "reconcile")
    try:
        unknown = sorted(set(raw) - {"with", "tables"})
        if unknown:
            raise ValueError(f"unknown keys {', '.join(unknown)}")
        subqueries = text_map(raw.get("with", {}), "[with]")
        simple_names(subqueries, "[with]")
        tables = raw.get("tables", {})
        if not isinstance(tables, dict):
            raise ValueError("[tables] must be a table")
        return Reconcile(
            path,
            tuple(subqueries.items()),
            tuple(reconciled_table(n, e) for n, e in tables.items()),
        )
    except ValueError as exc:
        raise CutoverError("config", f"{path}: {exc}") from None


def load_parameters(plan: dict[str, Any]) -> dict[str, str]:
    """Read [parameters]: names the engine does not set itself, each with a non-empty text value."""
    params = text_map(plan.get("parameters", {}), "[parameters]")
    simple_names(params, "[parameters]")
    taken = sorted(set(params) & {*RUN_PARAMETERS, DROPPED_PARAMETER})
    if taken:
        raise ValueError(f"[parameters] {', '.join(taken)}: set by the engine for every run")
    empty = sorted(n for n, v in params.items() if not v)
    if empty:  # an unset pgcutover.* setting reads as '' too: empty would pass unnoticed
        raise ValueError(f"[parameters] {', '.join(empty)} must not be empty")
    return params


def load_dropped(value: object) -> tuple[Dropped, ...]:
    """Read [verify] dropped_by_design: a list of {table, column (for a column), rule}."""
    where = "[verify] dropped_by_design"
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list of {{table, column, rule}}")
    out = []
    for entry in value:
        if not isinstance(entry, dict) or set(entry) - {"table", "column", "rule"}:
            raise ValueError(f"{where}: {entry!r} takes table, column (for a column) and rule")
        fields = text_map(entry, where)
        if not fields.get("table") or not fields.get("rule"):
            raise ValueError(f"{where}: {entry!r} needs a table and a rule")
        out.append(Dropped(fields["table"], fields.get("column"), fields["rule"]))
    if len({(d.table, d.column) for d in out}) < len(out):
        raise ValueError(f"{where} lists an entry twice")
    return tuple(out)


def load_migration(root: Path) -> Migration:
    """Read ROOT/plan.toml and check that every file it names exists."""
    plan_path = root / "plan.toml"
    plan = read_toml(plan_path, f"MIGRATION_DIR {root}")

    def files(section: str, key: str) -> tuple[SqlFile, ...]:
        names = plan.get(section, {}).get(key, [])
        names = [names] if isinstance(names, str) else names
        out = tuple(SqlFile(root / n) for n in names)
        for f in out:
            if not f.path.is_file():
                raise CutoverError(
                    "config",
                    f"{plan_path}: [{section}] {key} names {f.path.name}, which does not exist",
                )
        return out

    try:
        parameters = load_parameters(plan)
        dropped = load_dropped(plan.get("verify", {}).get("dropped_by_design", []))
    except ValueError as exc:
        raise CutoverError("config", f"{plan_path}: {exc}") from None
    try:
        migration = Migration(
            root=root,
            name=plan["name"],
            app_schema=plan["app_schema"],
            aside_schema=plan["aside_schema"],
            build_schema=plan["build_schema"],
            schema_state=files("preflight", "schema_state")[0],
            drift=files("preflight", "drift")[0],
            deploy_schema=files("deploy-schema", "files"),
            transform=files("transform", "files"),
            invariants=files("verify", "invariants"),
            reconcile=load_reconcile(files("verify", "reconcile")[0].path),
            audit=files("audit", "files"),
            dropped=dropped,
            smoke_reads=files("smoke", "read_probes"),
            smoke_writes=files("smoke", "write_probes"),
            statistics=files("statistics", "files"),
            refused_references=files("preflight", "refused_references"),
            parameters=parameters,
            side_by_side=frozenset(f.name for f in files("transform", "side_by_side")),
            apart=frozenset(f.name for f in files("transform", "apart")),
        )
    except (KeyError, IndexError) as exc:
        raise CutoverError("config", f"{plan_path}: missing {exc}") from None
    # The engine records each applied file by its name (pgcutover.applied_sql): two files of the
    # same name in different folders would read as one, the second as drift of the first.
    applied = [f.name for f in (*migration.deploy_schema, *migration.transform)]
    twice = sorted({n for n in applied if applied.count(n) > 1})
    if twice:
        raise CutoverError(
            "config",
            f"{plan_path}: [deploy-schema] and [transform] name {', '.join(twice)} more than "
            "once: each applied file needs a name of its own",
        )
    check_side_by_side(migration, plan_path)
    check_apart(migration, plan_path)
    return migration
