"""Rollback step restore-database: put back the sealed set-aside (fast) or proven dump (slow)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pgcutover.db import Database, ident, schema_exists
from pgcutover.errors import CutoverError, some_of
from pgcutover.journal import started_steps
from pgcutover.pgtools import (
    default_restore_jobs,
    parse_restore_jobs,
    pg_restore,
    pg_restore_list,
)
from pgcutover.progress import Reading
from pgcutover.restore_entries import RestoreEntries
from pgcutover.row_counts import count_rows
from pgcutover.run import RunContext, StepOutcome
from pgcutover.timeline import warn
from steps.aside_seal import has_seal_tables, seal_problems
from steps.backup_offhost import proven_here
from steps.backup_proof import Manifest, dumped_counts
from steps.set_aside import GUARD_TRIGGER, copy_schema_rights, schema_tables

STEP = "restore-database"
DISCARD = (
    "cutover_discard"  # the migrated schema on its way out; dropped once the legacy one is back
)


# What set_aside.released says once the legacy data the fast path swapped back was moved to
# DISCARD for a restore from the backup: DISCARD then holds it until the restore is proven.
MOVED_FOR_RESTORE = "swapped back, then moved aside for a restore from the backup"


def table_counts(db: Database, schema: str) -> dict[str, int]:
    """Count one schema's rows per table, keyed by bare table name (to compare across schemas)."""
    return {name.split(".", 1)[1]: n for name, n in count_rows(db, schema).items()}


def restore_jobs(value: object) -> int:
    """Return the pg_restore job count: the one asked for, or the cores (capped)."""
    jobs = parse_restore_jobs(value, STEP)
    return jobs if jobs is not None else default_restore_jobs()


class _SealBroken(Exception):
    """Raised inside the swap's transaction to roll it back when the seal does not hold."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def swap_back(
    db: Database, run_id: str, app_schema: str, aside_schema: str, dumped: dict[str, int] | None
) -> list[str]:
    """Swap the set-aside schema back if its seal holds (one transaction); return why not, or []."""
    try:
        with db.transaction():
            tables = schema_tables(db, aside_schema, partitions=True)
            if tables:  # nobody can write or alter between the check and the swap
                names = ", ".join(f"{ident(aside_schema)}.{ident(t)}" for t in tables)
                db.execute(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")
            problems = seal_problems(db, run_id, app_schema, aside_schema, dumped)
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
            # The migrated schema stays as DISCARD: dropping it unlinks every file of the
            # migrated data, which grows with it; rollback-finish drops it once the site is back.
            db.execute(
                "UPDATE pgcutover.set_aside SET released = 'swapped back', "
                "released_at = now() WHERE run = %s",
                [run_id],
            )
    except _SealBroken as exc:
        return exc.problems
    return []


def swapped_out(db: Database, run_id: str) -> bool:
    """Tell whether DISCARD holds the migrated schema this run's fast path swapped out."""
    if not schema_exists(db, DISCARD) or not has_seal_tables(db):
        return False
    rows = db.query("SELECT released FROM pgcutover.set_aside WHERE run = %s", [run_id])
    return bool(rows) and rows[0][0] == "swapped back"


def drop_swapped_out(db: Database, run_id: str) -> bool:
    """Drop the migrated schema the fast path swapped out, if it is still there."""
    with db.transaction():
        if not swapped_out(db, run_id):
            return False
        db.execute(f"DROP SCHEMA {ident(DISCARD)} CASCADE")
    return True


def make_room_for_restore(db: Database, app_schema: str, aside_schema: str, run_id: str) -> None:
    """Move the migrated schema away as DISCARD and create an empty app schema; aside untouched."""
    drop_swapped_out(db, run_id)  # after a fast path, app holds the legacy data: keep it aside
    with db.transaction():
        if schema_exists(db, DISCARD):  # an earlier restore failed: what it left in app goes
            db.execute(f"DROP SCHEMA IF EXISTS {ident(app_schema)} CASCADE")
        elif schema_exists(db, app_schema):
            db.execute(f"ALTER SCHEMA {ident(app_schema)} RENAME TO {ident(DISCARD)}")
            if has_seal_tables(db):
                # After a fast path, what goes to DISCARD here is the legacy data swapped back, not
                # the migrated schema: say so in the same transaction, or a rollback after this
                # restore fails would take DISCARD for the migrated schema and drop it.
                db.execute(
                    "UPDATE pgcutover.set_aside SET released = %s, released_at = now() "
                    "WHERE run = %s AND released = 'swapped back'",
                    [MOVED_FOR_RESTORE, run_id],
                )
        db.execute(f"CREATE SCHEMA {ident(app_schema)}")
        # Reset gave the migrated schema the original's owner, grants and comment.
        source = next((s for s in (DISCARD, aside_schema) if schema_exists(db, s)), None)
        if source is not None:
            copy_schema_rights(db, source, app_schema)


def prove_restore(db: Database, run_id: str, app_schema: str, manifest: Manifest) -> list[str]:
    """Say how the restored app schema differs from the manifest (tables, rows) and the seal."""
    got, want = table_counts(db, app_schema), manifest.schema_counts(app_schema)
    problems = []
    if set(got) != set(want):
        problems.append(
            "tables "
            + some_of(
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
        problems.append("row counts differ from the backup manifest: " + some_of(5, differ))
    if has_seal_tables(db):  # the columns reset sealed are those of the pre-window tables
        shapes = db.query(
            "SELECT s.table_name FROM pgcutover.set_aside_table s JOIN pg_class c ON c.relname = "
            "s.table_name AND c.relnamespace = %s::regnamespace AND c.relkind IN ('r', 'p') "
            "WHERE s.run = %s AND pgcutover.column_shape(c.oid) <> s.shape ORDER BY 1",
            [ident(app_schema), run_id],
        )
        if shapes:
            problems.append(
                "columns differ from the sealed originals: "
                + some_of(5, [str(r[0]) for r in shapes])
            )
    return problems


def restore_from_backup(ctx: RunContext, jobs: int) -> Manifest:
    """Restore the app schema from the run's dump; drop the set-aside one only once proven."""
    m, db = ctx.migration, ctx.db
    # The dump's sha256, before anything moves; gone or damaged here, the off-host copy comes back.
    manifest, ctx.state["_fetched"] = proven_here(
        ctx,
        step=STEP,
        on_bytes=lambda n, total: ctx.progress.update(
            n, total, unit="bytes", label="fetching the off-host copy"
        ),
    )
    dump = ctx.backup_dir / manifest.file
    entries = RestoreEntries(
        len(pg_restore_list(ctx.settings, dump, STEP, schema=m.app_schema).entries)
    )
    make_room_for_restore(db, m.app_schema, m.aside_schema, ctx.run_id)
    ctx.state["_restore_entries"] = entries  # the progress probe reports from here
    pg_restore(
        ctx.settings,
        dump,
        jobs=jobs,
        schema=m.app_schema,
        app_name=f"{ctx.app_name} pg_restore",
        step=STEP,
        entries=entries,
    )
    problems = prove_restore(db, ctx.run_id, m.app_schema, manifest)
    if problems:
        where = (
            f"{m.aside_schema} is untouched: run the rollback again"
            if schema_exists(db, m.aside_schema)
            else f"the migrated schema waits in {DISCARD}; put back an intact copy of the dump "
            "and its manifest, then run the rollback again"
        )
        raise CutoverError(
            STEP, f"the restored {m.app_schema} is not proven ({'; '.join(problems)}); {where}"
        )
    with db.transaction():
        db.execute(f"DROP SCHEMA IF EXISTS {ident(DISCARD)} CASCADE")
        db.execute(f"DROP SCHEMA IF EXISTS {ident(m.aside_schema)} CASCADE")
        if has_seal_tables(db):
            db.execute(
                "UPDATE pgcutover.set_aside SET released_at = now(), "
                "released = 'dropped after a proven restore' "
                "WHERE run = %s AND (released IS NULL OR released = %s)",
                [ctx.run_id, MOVED_FOR_RESTORE],
            )
    return manifest


def drop_unswapped_build(ctx: RunContext) -> bool:
    """Drop the target this run built apart and never swapped in (a window stopped before reset).

    Only this run's: one whose journal never reached deploy-schema leaves another run's alone.
    """
    m, db = ctx.migration, ctx.db
    if not schema_exists(db, m.build_schema):
        return False
    if "deploy-schema" not in started_steps(ctx.run_dir):
        return False
    with db.transaction():
        db.execute(f"DROP SCHEMA {ident(m.build_schema)} CASCADE")
    return True


def restore_database(ctx: RunContext) -> StepOutcome:
    """Swap the sealed set-aside schema back (fast), or restore the run's dump (slow)."""
    m, db = ctx.migration, ctx.db
    options: dict[str, Any] = ctx.state.get("options", {})
    # Before anything moves: a bad --jobs must not leave the app schema empty.
    jobs = restore_jobs(options.get("jobs"))
    # Before reset the legacy schema never moved: only the target built beside it goes.
    dropped = (
        f"the unswapped target {m.build_schema} dropped; " if drop_unswapped_build(ctx) else ""
    )
    dumped = dumped_counts(ctx.backup_dir, m.app_schema)
    state = db.query(m.schema_state.text)[0][0] if schema_exists(db, m.app_schema) else "missing"
    aside = schema_exists(db, m.aside_schema)
    refused: list[str] = []
    if not options.get("from_backup"):
        settled = not schema_exists(db, DISCARD) or swapped_out(db, ctx.run_id)
        if not aside and state == "legacy" and settled:
            return StepOutcome(
                note=f"{dropped}{m.app_schema} already holds the legacy schema: nothing to restore",
                details={"path": "none"},
            )
        refused = (
            swap_back(db, ctx.run_id, m.app_schema, m.aside_schema, dumped)
            if aside
            else [f"schema {m.aside_schema} is gone"]
        )
        if not refused:
            return StepOutcome(
                note=f"{dropped}fast path: sealed {m.aside_schema} swapped back to {m.app_schema}",
                details={"path": "swap"},
            )
        warn(f"{STEP}: fast path refused ({'; '.join(refused[:3])}); restoring from the backup")
    restored = restore_from_backup(ctx, jobs)
    rows = sum(restored.row_counts.values())
    details: dict[str, Any] = {"path": "backup", "jobs": jobs, "rows": rows}
    if ctx.state.get("_fetched"):
        details["fetched"] = ctx.state["_fetched"]
    if refused:
        details["fast_path_refused"] = refused[:20]
    return StepOutcome(
        note=f"{dropped}restored from {ctx.backup_dir / restored.file}"
        + (f" ({details['fetched']})" if details.get("fetched") else "")
        + f" with {jobs} jobs; "
        "tables, row counts and columns proven before the old schemas were "
        "dropped",
        details=details,
    )


def probe(ctx: RunContext) -> Reading | None:
    """While pg_restore runs: archive entries restored of the total, and the rows so far.

    Rows come from its own short connection: the statistics views and pg_stat_progress_copy take
    no lock. Entries alone would stall on one large table; the rows show it moving.
    """
    entries = ctx.state.get("_restore_entries")
    if not isinstance(entries, RestoreEntries):
        return None  # the fast path is a catalog swap: nothing to count
    reading = Reading(float(entries.done), float(entries.total), "entries", "pg_restore")
    dumped = dumped_counts(ctx.backup_dir, ctx.migration.app_schema)
    if dumped is None:
        return reading
    total = sum(dumped.values())
    db = ctx.connect(STEP, "probe")
    try:
        db.execute("SET statement_timeout = '2s'")
        done = db.query(
            "SELECT coalesce((SELECT sum(n_tup_ins) FROM pg_stat_user_tables "
            "WHERE schemaname = %s), 0) + coalesce((SELECT sum(tuples_processed) "
            "FROM pg_stat_progress_copy WHERE datname = current_database()), 0)",
            [ctx.migration.app_schema],
        )[0][0]
    finally:
        db.close()
    return replace(reading, label=f"pg_restore, {min(int(done), total)} of {total} rows")
