"""Rollback step restore-database: put back the sealed set-aside (fast) or proven dump (slow)."""

from __future__ import annotations

import os
from typing import Any

from pgcutover.db import Database, ident
from pgcutover.errors import CutoverError
from pgcutover.pgtools import pg_restore
from pgcutover.run import RunContext, StepOutcome
from pgcutover.timeline import warn
from steps.backup import Manifest, count_rows, read_manifest, require_proven
from steps.set_aside import GUARD_TRIGGER, copy_schema_rights, guarded_tables, schema_exists

STEP = "restore-database"
DISCARD = (
    "cutover_discard"  # the migrated schema on its way out; dropped once the legacy one is back
)
MAX_JOBS = 64  # pg_restore --jobs: more sessions than this only queue on the server's locks and I/O


def table_counts(db: Database, schema: str) -> dict[str, int]:
    """Count one schema's rows per table, keyed by bare table name (to compare across schemas)."""
    return {name.split(".", 1)[1]: n for name, n in count_rows(db, schema).items()}


def expected_counts(manifest: Manifest, app_schema: str) -> dict[str, int]:
    prefix = app_schema + "."
    return {k[len(prefix) :]: v for k, v in manifest.row_counts.items() if k.startswith(prefix)}


def restore_jobs(value: object) -> int:
    """Return the pg_restore job count: the one asked for (1 to MAX_JOBS) or the cores, capped."""
    if value is None:
        return max(1, min(os.cpu_count() or 1, MAX_JOBS))
    try:
        jobs = int(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else 0
    except ValueError:
        jobs = 0
    if not 1 <= jobs <= MAX_JOBS:
        raise CutoverError(
            STEP,
            f"--jobs {value!r} is not a whole number from 1 to {MAX_JOBS}: nothing was changed",
        )
    return jobs


def _has_seal_tables(db: Database) -> bool:
    return bool(db.query("SELECT to_regclass('pgcutover.set_aside_stamp') IS NOT NULL")[0][0])


def _over(n: int, items: list[str]) -> str:
    """Join the first n items, saying how many more there are."""
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def seal_problems(
    db: Database, run_id: str, app_schema: str, aside_schema: str, manifest: Manifest | None
) -> list[str]:
    """Say how the set-aside schema differs from its seal ([] if it holds); reads no table rows."""
    if not _has_seal_tables(db):
        return ["no seal: the bookkeeping schema has no pgcutover.set_aside"]
    sealed = db.query(
        "SELECT aside_schema, aside_oid, released FROM pgcutover.set_aside WHERE run = %s", [run_id]
    )
    if not sealed:
        return [f"run {run_id}'s reset recorded no seal"]
    name, aside_oid, released = sealed[0]
    if released:
        return [f"run {run_id}'s set-aside schema was already {released}"]
    now = db.query("SELECT oid FROM pg_namespace WHERE nspname = %s", [aside_schema])
    if not now:
        return [f"schema {aside_schema} is gone"]
    if name != aside_schema or int(now[0][0]) != int(aside_oid):
        return [f"schema {aside_schema} is not the one run {run_id} set aside"]
    problems = _table_problems(db, run_id, aside_schema)
    changed = db.query(
        "SELECT coalesce(n.kind, o.kind), coalesce(n.object, o.object), "
        "CASE WHEN o.stamp IS NULL THEN 'added' WHEN n.stamp IS NULL THEN 'removed' "
        "ELSE 'changed' END FROM pgcutover.set_aside_stamps(%s::regnamespace) n "
        "FULL JOIN (SELECT kind, object, stamp FROM pgcutover.set_aside_stamp WHERE run = %s) o "
        "ON o.kind = n.kind AND o.object = n.object WHERE n.stamp IS DISTINCT FROM o.stamp "
        "ORDER BY 1, 2",
        [ident(aside_schema), run_id],
    )
    if changed:
        problems.append(
            "catalog changed since reset: "
            + _over(5, [f"{kind} {obj} {how}" for kind, obj, how in changed])
        )
    if manifest is not None:
        tables = {
            str(r[0])
            for r in db.query(
                "SELECT table_name FROM pgcutover.set_aside_table WHERE run = %s", [run_id]
            )
        }
        want = set(expected_counts(manifest, app_schema))
        if tables != want:
            problems.append(
                "the sealed tables are not the backup manifest's: "
                + _over(5, sorted(tables ^ want))
            )
    return problems


def _table_problems(db: Database, run_id: str, aside_schema: str) -> list[str]:
    """Compare each set-aside table with its seal row: identity, file, columns, guard, writes."""
    cols = (
        "table_oid, relfilenode, shape, guard_oid, guard_enabled, n_tup_ins, n_tup_upd, n_tup_del"
    )
    was = {
        str(r[0]): r[1:]
        for r in db.query(
            f"SELECT table_name, {cols} FROM pgcutover.set_aside_table WHERE run = %s", [run_id]
        )
    }
    now = {
        str(r[0]): r[1:]
        for r in db.query(
            f"SELECT table_name, {cols} FROM pgcutover.set_aside_tables(%s::regnamespace)",
            [ident(aside_schema)],
        )
    }
    problems = []
    for table in sorted(was.keys() | now.keys()):
        where = f"{aside_schema}.{ident(table)}"
        if table not in now:
            problems.append(f"{where} is gone")
            continue
        if table not in was:
            problems.append(f"{where} was added after reset")
            continue
        (oid0, node0, shape0, guard0, _, *stats0), (oid1, node1, shape1, guard1, on1, *stats1) = (
            was[table],
            now[table],
        )
        if oid1 != oid0:
            problems.append(f"{where} was re-created")
        elif node1 != node0:
            problems.append(f"{where} was truncated or rewritten (new relfilenode)")
        if shape1 != shape0:
            problems.append(f"{where} has other columns")
        if guard1 is None or guard1 != guard0:
            problems.append(f"{where} lost its guard trigger")
        elif on1 != "O":
            problems.append(f"{where} has its guard trigger disabled")
        # Counters only grow between resets of the statistics; a smaller value says nothing.
        grew = [
            f"{n1 - n0} {what}"
            for what, n0, n1 in zip(("inserted", "updated", "deleted"), stats0, stats1, strict=True)
            if int(n1) > int(n0)
        ]
        if grew:
            problems.append(f"{where} has rows written since reset ({', '.join(grew)})")
    return problems


def aside_is_intact(ctx: RunContext, manifest: Manifest | None) -> bool:
    """Tell whether the set-aside schema still matches its seal (catalog reads only)."""
    m = ctx.migration
    return not seal_problems(ctx.db, ctx.run_id, m.app_schema, m.aside_schema, manifest)


class _SealBroken(Exception):
    """Raised inside the swap's transaction to roll it back when the seal does not hold."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def swap_back(
    db: Database, run_id: str, app_schema: str, aside_schema: str, manifest: Manifest | None
) -> list[str]:
    """Swap the set-aside schema back if its seal holds (one transaction); return why not, or []."""
    try:
        with db.transaction():
            tables = guarded_tables(db, aside_schema)
            if tables:  # nobody can write or alter between the check and the swap
                names = ", ".join(f"{ident(aside_schema)}.{ident(t)}" for t in tables)
                db.execute(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")
            problems = seal_problems(db, run_id, app_schema, aside_schema, manifest)
            if problems:
                raise _SealBroken(problems)
            for table in tables:  # the catalog goes back to exactly what it was before the window
                db.execute(
                    f"DROP TRIGGER {ident(GUARD_TRIGGER)} ON {ident(aside_schema)}.{ident(table)}"
                )
            if schema_exists(db, DISCARD):  # a failed restore left the migrated schema: discarded
                db.execute(f"DROP SCHEMA {ident(DISCARD)} CASCADE")
            if schema_exists(db, app_schema):
                db.execute(f"ALTER SCHEMA {ident(app_schema)} RENAME TO {ident(DISCARD)}")
            db.execute(f"ALTER SCHEMA {ident(aside_schema)} RENAME TO {ident(app_schema)}")
            db.execute(f"DROP SCHEMA IF EXISTS {ident(DISCARD)} CASCADE")
            db.execute(
                "UPDATE pgcutover.set_aside SET released = 'swapped back', "
                "released_at = now() WHERE run = %s",
                [run_id],
            )
    except _SealBroken as exc:
        return exc.problems
    return []


def make_room_for_restore(db: Database, app_schema: str, aside_schema: str) -> None:
    """Move the migrated schema away as DISCARD and create an empty app schema; aside untouched."""
    with db.transaction():
        if schema_exists(db, DISCARD):  # an earlier restore failed: what it left in app goes
            db.execute(f"DROP SCHEMA IF EXISTS {ident(app_schema)} CASCADE")
        elif schema_exists(db, app_schema):
            db.execute(f"ALTER SCHEMA {ident(app_schema)} RENAME TO {ident(DISCARD)}")
        db.execute(f"CREATE SCHEMA {ident(app_schema)}")
        # Reset gave the migrated schema the original's owner, grants and comment.
        source = next((s for s in (DISCARD, aside_schema) if schema_exists(db, s)), None)
        if source is not None:
            copy_schema_rights(db, source, app_schema)


def prove_restore(db: Database, run_id: str, app_schema: str, manifest: Manifest) -> list[str]:
    """Say how the restored app schema differs from the manifest (tables, rows) and the seal."""
    got, want = table_counts(db, app_schema), expected_counts(manifest, app_schema)
    problems = []
    if set(got) != set(want):
        problems.append(
            "tables "
            + _over(
                5,
                [
                    f"{t} {'missing' if t in want else 'extra'}"
                    for t in sorted(set(got) ^ set(want))
                ],
            )
        )
    differ = [
        f"{t}: {got[t]} restored, {n} in manifest"
        for t, n in sorted(want.items())
        if t in got and got[t] != n
    ]
    if differ:
        problems.append("row counts differ from the backup manifest: " + _over(5, differ))
    if _has_seal_tables(db):  # the columns reset sealed are those of the pre-window tables
        shapes = db.query(
            "SELECT s.table_name FROM pgcutover.set_aside_table s JOIN pg_class c ON c.relname = "
            "s.table_name AND c.relnamespace = %s::regnamespace AND c.relkind IN ('r', 'p') "
            "WHERE s.run = %s AND pgcutover.column_shape(c.oid) <> s.shape ORDER BY 1",
            [ident(app_schema), run_id],
        )
        if shapes:
            problems.append(
                "columns differ from the sealed originals: " + _over(5, [str(r[0]) for r in shapes])
            )
    return problems


def restore_from_backup(ctx: RunContext, jobs: int) -> Manifest:
    """Restore the app schema from the run's dump; drop the set-aside one only once proven."""
    m, db = ctx.migration, ctx.db
    manifest = require_proven(ctx, STEP)  # the dump's sha256, before anything moves
    make_room_for_restore(db, m.app_schema, m.aside_schema)
    pg_restore(
        ctx.settings,
        ctx.backup_dir / manifest.file,
        jobs=jobs,
        schema=m.app_schema,
        app_name=f"{ctx.app_name} pg_restore",
        step=STEP,
    )
    problems = prove_restore(db, ctx.run_id, m.app_schema, manifest)
    if problems:
        raise CutoverError(
            STEP,
            f"the restored {m.app_schema} is not proven "
            f"({'; '.join(problems)}); {m.aside_schema} is untouched: "
            "run the rollback again",
        )
    with db.transaction():
        db.execute(f"DROP SCHEMA IF EXISTS {ident(DISCARD)} CASCADE")
        db.execute(f"DROP SCHEMA IF EXISTS {ident(m.aside_schema)} CASCADE")
        if _has_seal_tables(db):
            db.execute(
                "UPDATE pgcutover.set_aside SET released_at = now(), "
                "released = 'dropped after a proven restore' "
                "WHERE run = %s AND released IS NULL",
                [ctx.run_id],
            )
    return manifest


def restore_database(ctx: RunContext) -> StepOutcome:
    """Swap the sealed set-aside schema back (fast), or restore the run's dump (slow)."""
    m, db = ctx.migration, ctx.db
    options: dict[str, Any] = ctx.state.get("options", {})
    # Before anything moves: a bad --jobs must not leave the app schema empty.
    jobs = restore_jobs(options.get("jobs"))
    manifest = read_manifest(ctx.backup_dir)
    state = db.query(m.schema_state.text)[0][0] if schema_exists(db, m.app_schema) else "missing"
    aside = schema_exists(db, m.aside_schema)
    refused: list[str] = []
    if not options.get("from_backup"):
        if not aside and state == "legacy" and not schema_exists(db, DISCARD):
            return StepOutcome(
                note=f"{m.app_schema} already holds the legacy schema: nothing to restore",
                details={"path": "none"},
            )
        refused = (
            swap_back(db, ctx.run_id, m.app_schema, m.aside_schema, manifest)
            if aside
            else [f"schema {m.aside_schema} is gone"]
        )
        if not refused:
            return StepOutcome(
                note=f"fast path: sealed {m.aside_schema} swapped back to {m.app_schema}",
                details={"path": "swap"},
            )
        warn(f"{STEP}: fast path refused ({'; '.join(refused[:3])}); restoring from the backup")
    restored = restore_from_backup(ctx, jobs)
    rows = sum(restored.row_counts.values())
    details: dict[str, Any] = {"path": "backup", "jobs": jobs, "rows": rows}
    if refused:
        details["fast_path_refused"] = refused[:20]
    return StepOutcome(
        note=f"restored from {ctx.backup_dir / restored.file} with {jobs} jobs; "
        "tables, row counts and columns proven before the old schemas were "
        "dropped",
        details=details,
    )
