"""The cleanup task: drop a successful window's set-aside legacy schema, keeping a way back."""

from __future__ import annotations

from pgcutover.checks import Confirm, confirm_destructive, validate
from pgcutover.db import ident, schema_exists
from pgcutover.engine import close_run, open_run
from pgcutover.errors import CutoverError
from pgcutover.identity import find_run, live_identity
from pgcutover.retention import record_cleanup, require_way_back, run_state
from pgcutover.settings import Settings
from pgcutover.timeline import say


def cleanup(
    settings: Settings, *, run_id: str | None, yes: bool = False, ask: Confirm | None = None
) -> None:
    """Drop a successful window's set-aside legacy schema (rollback then needs the backup)."""
    if not run_id:  # never "the last run": dropping the way back names the run it drops
        raise CutoverError("cleanup", "--run ID is required (invoke status lists the runs)")
    validate(settings, "cleanup")
    find_run(settings, run_id, "cleanup", live_identity(settings, "cleanup"))
    state = run_state(settings, run_id)
    if state.known and not state.window_ok:  # said first: its backup's state is beside the point
        raise CutoverError(
            "cleanup",
            f"run {run_id} did not succeed: keeping its set-aside schema; nothing was changed",
        )
    # Retention's rule: never leave a run with neither its set-aside schema nor a usable backup.
    way_back = require_way_back(settings, run_id, "cleanup")
    confirm_destructive(
        settings,
        "cleanup",
        f"DROP SCHEMA of run {run_id}'s set-aside legacy data",
        yes=yes,
        ask=ask,
    )
    ctx = open_run(settings, command="cleanup", run_id=run_id)
    try:
        status_rows = (
            ctx.db.query("SELECT status FROM pgcutover.runs WHERE run = %s", [run_id])
            if ctx.db.query("SELECT to_regclass('pgcutover.runs') IS NOT NULL")[0][0]
            else []
        )
        if status_rows and status_rows[0][0] == "succeeded, cleaned up":  # the same command twice
            if not run_state(settings, run_id).cleaned_up:  # cleaned up by an older pgcutover
                record_cleanup(ctx, ctx.migration.aside_schema)
            say(
                f"run {run_id} was already cleaned up: nothing to do; rollback restores from "
                f"{way_back}"
            )
            return
        if not status_rows or status_rows[0][0] != "succeeded":
            raise CutoverError(
                "cleanup",
                f"run {run_id} did not succeed "
                f"({status_rows[0][0] if status_rows else 'unknown'}): "
                "keeping the set-aside schema",
            )
        aside = ctx.migration.aside_schema
        if not schema_exists(ctx.db, aside):
            record_cleanup(ctx, aside)  # gone all the same: the backup is the only way back
            say(f"schema {aside} is already gone")
            return
        ctx.db.execute(f"DROP SCHEMA {ident(aside)} CASCADE")
        ctx.db.execute(
            "UPDATE pgcutover.runs SET status = 'succeeded, cleaned up' WHERE run = %s", [run_id]
        )
        record_cleanup(ctx, aside)  # retention never prunes this run's backup from now on
        say(
            f"dropped schema {aside}; rollback of run {run_id} now restores from {way_back}", "bold"
        )
    finally:
        close_run(ctx)
