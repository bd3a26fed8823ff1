"""What each task does, as typed functions that tests call without Invoke (alembic's command.py)."""

from __future__ import annotations

from typing import Any

from pgcutover.bookkeeping import set_run_status
from pgcutover.checks import Confirm, confirm_destructive, parse_jobs, validate
from pgcutover.db import DB_ERRORS, ident
from pgcutover.dry_run import dry_run
from pgcutover.engine import close_run, open_run, run_steps
from pgcutover.errors import CutoverError, Interrupted
from pgcutover.identity import find_run, live_identity
from pgcutover.journal import completed_steps, read_journal
from pgcutover.run import RunContext
from pgcutover.settings import Settings, env_flag
from pgcutover.timeline import Timeline, say
from steps.backup_proof import check_backup
from steps.maintenance import window_went_further
from steps.rollback import ROLLBACK, something_to_roll_back
from steps.set_aside import schema_exists
from steps.window import MIGRATE_OFFLINE, STEP_NAMES

ON_FAILURE = ("rollback", "pause")


def run_to_resume(settings: Settings, live: dict[str, Any]) -> str:
    """Pick this database's unfinished window, or refuse naming why there is nothing to resume."""
    run_id = find_run(settings, None, "migrate-offline", live, allow_unchanged=True)
    lines = read_journal(settings.runs_dir / run_id / "journal.jsonl")
    if any(ln.get("step") in {s.name for s in ROLLBACK} for ln in lines):
        raise CutoverError(
            "migrate-offline",
            f"--resume: run {run_id} was rolled back; start a new window "
            "without --resume; nothing was changed",
        )
    if set(STEP_NAMES) <= set(completed_steps(lines)):
        raise CutoverError(
            "migrate-offline",
            f"--resume: run {run_id} completed; there is nothing to resume and nothing was changed",
        )
    return run_id


def migrate_offline(
    settings: Settings,
    *,
    yes: bool = False,
    dry: bool = False,
    resume: bool = False,
    on_failure: str = "rollback",
    ask: Confirm | None = None,
) -> str:
    """Run the whole window; return the run id, or raise CutoverError naming the failed step."""
    if on_failure not in ON_FAILURE:
        raise CutoverError("config", f"--on-failure must be rollback or pause, not {on_failure!r}")
    validate(settings, "migrate-offline", deploys=True)
    if dry:
        dry_run(settings, MIGRATE_OFFLINE)
        return ""
    run_id = None
    if resume:
        run_id = run_to_resume(settings, live_identity(settings, "migrate-offline"))
    confirm_destructive(
        settings, "migrate-offline", "migrate-offline (maintenance window)", yes=yes, ask=ask
    )
    ctx = open_run(settings, command="migrate-offline", run_id=run_id)
    timeline = Timeline.for_steps(
        f"migrate-offline {ctx.run_id}", [(s.name, s.budget(settings)) for s in MIGRATE_OFFLINE]
    )
    again = env_flag(settings)
    try:
        with timeline:
            run_steps(ctx, MIGRATE_OFFLINE, timeline, resume=resume)
    except Interrupted:
        set_run_status(ctx, "interrupted")
        close_run(ctx)
        say(
            f"Stopped safely. Resume: invoke migrate-offline --resume --yes{again}   "
            f"Roll back: invoke rollback --run {ctx.run_id} --yes{again}",
            "bold yellow",
        )
        raise
    except CutoverError as exc:
        set_run_status(ctx, "failed")
        changed = something_to_roll_back(ctx)
        say(f"Journal: {ctx.journal.path}", "bold red")
        if changed and on_failure == "rollback":
            raise after_rollback(settings, ctx, exc) from exc
        close_run(ctx)
        if changed:
            where = (
                "maintenance-on failed: the database was not touched"
                if exc.step == "maintenance-on" and not window_went_further(ctx)
                else "maintenance stays on and the database stays fenced"
            )
            say(
                f"Paused: {where}. Resume: invoke migrate-offline --resume --yes{again}   "
                f"Roll back: invoke rollback --run {ctx.run_id} --yes{again}",
                "bold yellow",
            )
        raise
    except BaseException:
        close_run(ctx)
        raise
    set_run_status(ctx, "succeeded")
    close_run(ctx)
    say(
        f"Window complete: run {ctx.run_id}; report {ctx.run_dir / 'report.md'}; "
        f"journal {ctx.journal.path}",
        "bold green",
    )
    return ctx.run_id


def after_rollback(settings: Settings, ctx: RunContext, failure: CutoverError) -> CutoverError:
    """Roll a failed window back at once, under the same lock; say what failed and how it ended."""
    say(f"{failure}: rolling back run {ctx.run_id}", "bold red")
    try:
        if sessions_alive(
            ctx
        ):  # keep the lock: no other run can slip in between failure and rollback
            try:
                roll_back_run(ctx)
            finally:
                close_run(ctx)
        else:  # the server went away (restart): reconnect and take the lock again
            close_run(ctx)
            rollback(settings, run_id=ctx.run_id, yes=True)
    except CutoverError as exc:
        return CutoverError(failure.step, f"{failure.cause}; ROLLBACK FAILED too ({exc.cause})")
    return CutoverError(
        failure.step,
        f"{failure.cause}; rollback completed: the database is back as before the window",
    )


def sessions_alive(ctx: RunContext) -> bool:
    """Tell whether both of the run's sessions answer (the lock lives as long as its session)."""
    try:
        ctx.lock_db.query("SELECT 1")
        ctx.db.query("SELECT 1")
    except DB_ERRORS:
        return False
    return True


def rollback(
    settings: Settings,
    *,
    run_id: str | None = None,
    from_backup: bool = False,
    jobs: int | str | None = None,
    yes: bool = False,
    ask: Confirm | None = None,
) -> str:
    """Bring back the pre-window database, the previous release and the site; safe to run twice."""
    validate(settings, "rollback")
    n_jobs = parse_jobs(jobs)
    run_id = find_run(settings, run_id, "rollback", live_identity(settings, "rollback"))
    if from_backup:  # the slow path starts only from a dump that still matches its manifest
        require_intact_backup(settings, run_id, "rollback")
    confirm_destructive(settings, "rollback", f"rollback of run {run_id}", yes=yes, ask=ask)
    ctx = open_run(settings, command="rollback", run_id=run_id)
    try:
        roll_back_run(ctx, from_backup=from_backup, jobs=n_jobs)
    finally:
        close_run(ctx)
    return run_id


def require_intact_backup(settings: Settings, run_id: str, step: str) -> None:
    """Refuse unless the run's dump still has the size and sha256 its manifest recorded."""
    check = check_backup(settings, settings.backup_dir / run_id, full_read=False)
    if not check.proven:
        raise CutoverError(
            step,
            f"backup of run {run_id} is not usable ({check.reason}): nothing was "
            "changed; restore the dump and its manifest, or roll back without "
            "--from-backup",
        )


ROLLBACK_PARTS = {
    "restore-database": "database",
    "redeploy-app": "previous app release",
    "rollback-finish": "connections and site",
}


def rollback_progress(ctx: RunContext, since: int) -> tuple[list[str], list[str]]:
    """Say which parts of the pre-window state are back, and which not, after a rollback attempt."""
    lines = read_journal(ctx.journal.path)[since:]
    done = {
        ln["step"]
        for ln in lines
        if ln.get("event") == "end" and ln.get("outcome") in ("ok", "skipped")
    }
    back = [part for step, part in ROLLBACK_PARTS.items() if step in done]
    return back, [part for step, part in ROLLBACK_PARTS.items() if step not in done]


def roll_back_run(ctx: RunContext, *, from_backup: bool = False, jobs: int | None = None) -> None:
    """Run the rollback steps on an open run whose lock is held."""
    ctx.state["options"] = {"from_backup": from_backup, "jobs": jobs}
    if not something_to_roll_back(ctx):
        raise CutoverError(
            "rollback",
            f"run {ctx.run_id} stopped at preflight and changed nothing: nothing to roll back",
        )
    timeline = Timeline.for_steps(
        f"rollback {ctx.run_id}", [(s.name, s.budget(ctx.settings)) for s in ROLLBACK]
    )
    since = len(read_journal(ctx.journal.path))
    try:
        with timeline:
            run_steps(ctx, ROLLBACK, timeline)
    except CutoverError as exc:
        set_run_status(ctx, "rollback failed")
        back, not_back = rollback_progress(ctx, since)
        finish = f"invoke rollback --run {ctx.run_id} --yes{env_flag(ctx.settings)}"
        raise CutoverError(
            exc.step,
            f"{exc.cause}. Back: {', '.join(back) or 'nothing yet'}; NOT back: "
            f"{', '.join(not_back)}. Fix the cause, then finish with: {finish}",
        ) from exc
    set_run_status(ctx, "rolled back")
    say(
        f"Rollback of run {ctx.run_id} complete: the database is as before the window.",
        "bold green",
    )


def cleanup(
    settings: Settings, *, run_id: str, yes: bool = False, ask: Confirm | None = None
) -> None:
    """Drop a successful window's set-aside legacy schema (rollback then needs the backup)."""
    validate(settings, "cleanup")
    find_run(settings, run_id, "cleanup", live_identity(settings, "cleanup"))
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
            say(
                f"run {run_id} was already cleaned up: nothing to do; rollback restores from "
                f"{ctx.backup_dir}"
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
            say(f"schema {aside} is already gone")
            return
        ctx.db.execute(f"DROP SCHEMA {ident(aside)} CASCADE")
        ctx.db.execute(
            "UPDATE pgcutover.runs SET status = 'succeeded, cleaned up' WHERE run = %s", [run_id]
        )
        say(
            f"dropped schema {aside}; rollback of run {run_id} now restores from {ctx.backup_dir}",
            "bold",
        )
    finally:
        close_run(ctx)
