"""The run loop: open a run, hold its lock, walk a plan of steps as journaled, timed checkpoints."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Sequence
from typing import Any

from pgcutover.beside import BesideSteps
from pgcutover.bookkeeping import attach_mirror, bookkeeping_exists, ensure_bookkeeping
from pgcutover.checkpoints import as_step_error, write_end
from pgcutover.children import end_orphaned_programs, keep_ledger
from pgcutover.db import DB_ERRORS, Database, connect, describe_target
from pgcutover.errors import Interrupted
from pgcutover.faults import inject_fault
from pgcutover.forecast_report import run_forecast
from pgcutover.identity import database_identity, read_run_meta, require_same_database
from pgcutover.journal import Journal, completed_steps, iso, new_run_id, utc_now
from pgcutover.lock import acquire_lock, end_orphaned_sessions
from pgcutover.migration import load_migration
from pgcutover.progress import Progress, Watcher
from pgcutover.run import WAL_BYTES, RunContext, Step
from pgcutover.settings import Settings
from pgcutover.stop_signal import StopSignal
from pgcutover.timeline import Timeline, say


def open_run(settings: Settings, *, command: str, run_id: str | None = None) -> RunContext:
    """Create the run directory and journal, connect, take the lock, check the run's database."""
    migration = load_migration(settings.migration_dir)
    step = "preflight" if command == "migrate-offline" else command
    run_id = run_id or new_run_id()
    run_dir = settings.runs_dir / run_id
    fresh = not run_dir.exists()
    journal = Journal(run_dir, run_id)
    journal.open()
    app = f"pgcutover {run_id} {command} pid {os.getpid()}@{socket.gethostname()}"
    try:
        lock_db = connect(
            settings.database_url, settings.db_driver, application_name=app, step=step
        )
        try:
            live = database_identity(lock_db, settings.database_url)
            if not fresh:  # an existing run acts only on the database it was bound to at preflight
                require_same_database(step, run_id, read_run_meta(run_dir), live)
            acquire_lock(lock_db, step)
            end_orphaned_sessions(lock_db, run_id, step)
            # A killed run's programs (a deploy, a maintenance command, pg_dump) end before this
            # run acts: left running, one would undo what this run does after it.
            for program in end_orphaned_programs(settings.runs_dir):
                say(f"{step}: ended {program}, left running by a pgcutover that was killed")
            keep_ledger(run_dir / "children")
            db = connect(
                settings.database_url,
                settings.db_driver,
                application_name=f"pgcutover {run_id}",
                step=step,
            )
        except BaseException:
            lock_db.close()
            raise
    except BaseException:
        if (
            fresh
        ):  # a run that could not even start leaves no directory to be mistaken for the last run
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    meta_path = run_dir / "run.json"
    meta = read_run_meta(run_dir) or {
        "run": run_id,
        "command": command,
        "target": describe_target(settings.database_url),
        "identity": live,
        "driver": settings.db_driver,
        "started_at": iso(utc_now()),
        "migration": migration.name,
        "migration_ts": utc_now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        "backup_dir": str(settings.backup_dir / run_id),
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    ctx = RunContext(
        settings,
        migration,
        run_id,
        run_dir,
        journal,
        db,
        lock_db,
        command,
        meta["migration_ts"],
        identity=live,
    )
    for line in journal.lines():  # a resumed run gets back what its steps remembered
        if line.get("event") == "end" and line.get("details"):
            ctx.state.setdefault(line["step"], {}).update(line["details"])
    if bookkeeping_exists(db):
        attach_mirror(ctx)
    return ctx


def close_run(ctx: RunContext) -> None:
    """Close both connections; closing the lock session releases the lock."""
    ctx.db.close()
    ctx.lock_db.close()


def done_earlier(ctx: RunContext, step: Step, earlier: dict[str, dict[str, Any]]) -> bool:
    """Ask the world whether a step's work is done; the journal alone decides only read-only steps.

    A step without done() (maintenance, deploy: idempotent commands) runs again on resume, and so
    does verify: a resumed window is never taken live on an earlier verify's word.
    """
    if step.done is not None:
        return step.done(ctx)
    return step.read_only and step.name in earlier


def run_steps(
    ctx: RunContext, steps: Sequence[Step], timeline: Timeline, *, resume: bool = False
) -> None:
    """Run steps in plan order as journaled checkpoints; resume skips what the world shows done.

    A step the plan runs beside the others starts on its own thread and is joined before the step
    it names; the loop never leaves (failed, interrupted or done) with such a thread still running.
    """
    earlier = completed_steps(ctx.journal.lines()) if resume else {}
    with StopSignal() as stop:
        beside = BesideSteps(
            ctx,
            timeline,
            lambda step: watch(ctx, step, timeline, Progress()),
            stopping=lambda: stop.received,
        )
        try:
            for step in steps:
                _join(beside, step.name)
                _run_step(ctx, step, timeline, beside, stop, earlier if resume else None)
            beside.join_all()  # a plan cut short (--until) still ends with its proof
        finally:
            _leave(beside, stop)


def _leave(beside: BesideSteps, stop: StopSignal) -> None:
    """Wait for the work beside the window on the way out, unless a second Ctrl-C said "now"."""
    if stop.abandoned:
        beside.abandon()
        return
    try:
        beside.wait_quietly()
    except KeyboardInterrupt:  # "now", while waiting: resume runs the read-only work again
        beside.abandon()


def _join(beside: BesideSteps, name: str) -> None:
    """Wait for the steps joined before step `name`; a second Ctrl-C while waiting stops the run."""
    try:
        beside.join_before(name)
    except KeyboardInterrupt:
        raise Interrupted(
            name, "interrupted while waiting for the work beside the window; resume runs it again"
        ) from None


def _run_step(
    ctx: RunContext,
    step: Step,
    timeline: Timeline,
    beside: BesideSteps,
    stop: StopSignal,
    earlier: dict[str, dict[str, Any]] | None,
) -> None:
    """Run one step of the plan (or start it beside the others), unless it was done earlier."""
    if not step.read_only:  # done() reads the bookkeeping; a resumed run may predate it
        ensure_bookkeeping(ctx)
    if earlier is not None and done_earlier(ctx, step, earlier):
        line = earlier.get(step.name, {})
        note = line.get("note") or "its work is in the database"
        took = line.get("duration_s")
        timeline.finish(
            step.name, "done earlier", str(note), took_s=float(took) if took is not None else None
        )
        return
    if stop.received:
        ctx.journal.write(step.name, "start", budget_s=step.budget(ctx.settings))
        ctx.journal.write(
            step.name,
            "end",
            outcome="interrupted",
            duration_s=0.0,
            error=f"stopped by {stop.received} before this step started",
        )
        timeline.finish(step.name, "interrupted", f"{stop.received}: not started")
        raise Interrupted(step.name, f"stopped by {stop.received} before this step started")
    if step.runs_beside(ctx.overlap):
        beside.start(step)
        return
    inject_fault(ctx, step.name, "before")
    budget = step.budget(ctx.settings)
    ctx.journal.write(step.name, "start", budget_s=budget)
    timeline.start(step.name)
    started = time.monotonic()
    wal_at = wal_position(ctx.db)
    try:
        with watch(ctx, step, timeline) as watcher:
            outcome = step.run(ctx)
        if watcher.samples:  # what watching cost, for the bench's ≤ 2 % check
            outcome.details["progress_s"] = round(watcher.spent_s, 3)
        written = wal_since(ctx.db, wal_at)
        if written:
            outcome.details[WAL_BYTES] = written
        inject_fault(ctx, step.name, "after")
    except KeyboardInterrupt:
        write_end(ctx, timeline, step.name, "interrupted", started, budget, error="interrupted")
        raise Interrupted(
            step.name, "interrupted while running; its work was rolled back or is resumable"
        ) from None
    except Exception as exc:  # a bug or an OS error is still a step failure: end line, policy
        err = as_step_error(step.name, exc)
        write_end(ctx, timeline, step.name, "failed", started, budget, error=err.cause)
        raise err from (None if err is exc else exc)
    ctx.state.setdefault(step.name, {}).update(outcome.details)
    state = "skipped" if outcome.skipped else "ok"
    write_end(
        ctx, timeline, step.name, state, started, budget, note=outcome.note, details=outcome.details
    )


def wal_position(db: Database) -> str | None:
    """Return the server's WAL insert position, or None where it cannot say (a standby, a
    lost connection): measuring must never fail a step."""
    try:
        return str(db.query("SELECT pg_current_wal_lsn()::text")[0][0])
    except DB_ERRORS:
        return None


def wal_since(db: Database, position: str | None) -> int | None:
    """Return the WAL bytes written server-wide since position (other sessions' too: in the
    window, fenced, there are few), or None."""
    if position is None:
        return None
    try:
        return int(
            db.query(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)::bigint", [position]
            )[0][0]
        )
    except DB_ERRORS:
        return None


def watch(
    ctx: RunContext, step: Step, timeline: Timeline, progress: Progress | None = None
) -> Watcher:
    """Watch a step's progress while it runs: journal lines every 5 s, its row on the timeline.

    progress: the step's own account; a step beside the window gets one of its own, since the
    run's (ctx.progress) is the step in line's.
    """
    probe = step.probe
    seconds = (run_forecast(ctx).get("steps") or {}).get(step.name)
    return Watcher(
        step.name,
        ctx.progress if progress is None else progress,
        ctx.journal.append,
        lambda text, fraction: timeline.progress(step.name, text, fraction),
        probe=(lambda: probe(ctx)) if probe else None,
        forecast_s=float(seconds) if isinstance(seconds, (int, float)) else None,
    )
