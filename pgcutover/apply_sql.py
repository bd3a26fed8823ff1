"""Apply a step's SQL files as written, in plan order, with checksums and timings; drift fails."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pgcutover.db import DB_ERRORS, Database, error_text, schema_exists
from pgcutover.errors import CutoverError
from pgcutover.faults import inject_fault
from pgcutover.migration import Migration, SqlFile
from pgcutover.run import RunContext
from pgcutover.window_jobs import set_index_workers, window_jobs
from pgcutover.window_session import tune_window_session


def applied_files(db: Database, run_id: str) -> dict[str, str]:
    """Map file name to the checksum recorded when this run applied it."""
    return {
        f: c
        for f, c in db.query(
            "SELECT file, checksum FROM pgcutover.applied_sql WHERE run = %s", [run_id]
        )
    }


def set_parameters(db: Database, values: Mapping[str, str]) -> None:
    """Set pgcutover.<name> to each value for this transaction only (bound, never spliced)."""
    if values:
        calls = ", ".join(["set_config(%s, %s, true)"] * len(values))
        db.query(
            f"SELECT {calls}",
            [v for name, value in values.items() for v in (f"pgcutover.{name}", value)],
        )


def set_migration_parameters(db: Database, migration: Migration) -> None:
    """Expose the migration's parameters to its SQL for this transaction (the caller's own)."""
    set_parameters(db, migration.sql_parameters)


def set_run_parameters(ctx: RunContext, db: Database) -> None:
    """Expose the run's values and the migration's parameters to SQL files for this transaction."""
    set_parameters(
        db, {"migration_ts": ctx.migration_ts, "run_id": ctx.run_id, **ctx.migration.sql_parameters}
    )


def prepare_transaction(ctx: RunContext, db: Database, step: str) -> None:
    """Inside the open transaction, set what the migration's SQL runs with: the run's values,
    the window's memory, and the parallel workers its --jobs allow."""
    set_run_parameters(ctx, db)
    tune_window_session(db, ctx.settings.window_session)
    set_index_workers(db, window_jobs(ctx, step, db))


def pending_files(ctx: RunContext, step: str, files: Sequence[SqlFile]) -> list[SqlFile]:
    """Return the files still to apply; a changed file that was already applied is drift."""
    done = applied_files(ctx.db, ctx.run_id)
    for f in files:
        if f.name in done and done[f.name] != f.checksum:
            raise CutoverError(
                step,
                f"drift: {f.name} changed since it was applied in this run "
                f"(sha256 {done[f.name][:12]}… then, {f.checksum[:12]}… now)",
            )
    return [f for f in files if f.name not in done]


def apply_in_one_transaction(
    ctx: RunContext,
    step: str,
    files: Sequence[SqlFile],
    then: Callable[[Database], object] | None = None,
    *,
    counted: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """Apply the pending files and their bookkeeping in one transaction: all of them or none.

    counted: (files before these, files in the whole step), when these are one stage of several.
    """
    todo = pending_files(ctx, step, files)
    before, total = counted or (0, len(todo))
    timings: list[dict[str, Any]] = []
    db = ctx.db
    with db.transaction():
        prepare_transaction(ctx, db, step)
        for i, f in enumerate(todo):
            if i and i == len(todo) // 2:
                inject_fault(ctx, step, "middle")  # test hook: inside the open transaction
            label = f"file {before + i + 1}/{total} {f.name}"
            ctx.progress.update(before + i, total, unit="files", label=label)
            timings.append(apply_file(ctx, db, step, f))
        if todo and then is not None:
            then(db)
    return timings


def apply_file(ctx: RunContext, db: Database, step: str, f: SqlFile) -> dict[str, Any]:
    """Inside the open transaction, run f as written and record it; name f when it fails."""
    started = time.monotonic()
    try:
        db.run_script(f.text)
    except DB_ERRORS as exc:  # name the file: a step runs several
        raise CutoverError(step, f"{f.name}: {error_text(exc)}") from None
    return record_applied(ctx, db, step, f, round(time.monotonic() - started, 3))


def record_applied(
    ctx: RunContext, db: Database, step: str, f: SqlFile, took: float
) -> dict[str, Any]:
    """Inside the open transaction, record that this run applied f; return its timing."""
    db.execute(
        "INSERT INTO pgcutover.applied_sql (run, step, file, checksum, duration_s) "
        "VALUES (%s, %s, %s, %s, %s)",
        [ctx.run_id, step, f.name, f.checksum, took],
    )
    return {"file": f.name, "sha256": f.checksum, "duration_s": took}


def all_applied(ctx: RunContext, files: Sequence[SqlFile]) -> bool:
    """Tell whether this run applied every file, and the database still holds their result:
    the build schema (before reset swaps it in), or an app schema no longer legacy (after)."""
    done = applied_files(ctx.db, ctx.run_id)
    if not all(done.get(f.name) == f.checksum for f in files):
        return False
    if schema_exists(ctx.db, ctx.migration.build_schema):
        return True
    state: str = ctx.db.query(ctx.migration.schema_state.text)[0][0]
    return state != "legacy"  # a rollback put the legacy schema back: the files must run again
