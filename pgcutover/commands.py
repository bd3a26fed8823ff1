"""What each task does, as typed functions that tests call without Invoke (alembic's command.py)."""

from __future__ import annotations

from pgcutover.bookkeeping import set_run_status
from pgcutover.checks import Confirm, confirm_destructive, parse_jobs, validate
from pgcutover.db import DB_ERRORS
from pgcutover.dry_run import dry_run
from pgcutover.engine import close_run, open_run, run_steps
from pgcutover.errors import CutoverError, Interrupted
from pgcutover.identity import find_run, live_identity
from pgcutover.journal import completed_steps, read_journal, seconds_since_first_start
from pgcutover.next_steps import finish_rollback, ways_on
from pgcutover.notify import Plan, attach_notifier
from pgcutover.retention import run_state
from pgcutover.run import RunContext
from pgcutover.run_record import (
    rollback_completed_at,
    rollback_progress,
    run_to_resume,
    write_run_page,
)
from pgcutover.settings import Settings, env_flag
from pgcutover.timeline import Timeline, say, warn
from pgcutover.window_jobs import parse_window_jobs
from steps.backup_offhost import usable_backup
from steps.backup_proof import proof_pending, prove_dump
from steps.maintenance import window_went_further
from steps.rollback import ROLLBACK, something_to_roll_back
from steps.window import BESIDE, MIGRATE_OFFLINE, STEP_NAMES

ON_FAILURE = ("rollback", "pause")
# Where NOTIFY_CMD's window and rollback events begin and end: the plans' first and last steps.
NOTIFY_PLAN = Plan(STEP_NAMES[0], STEP_NAMES[-1], ROLLBACK[0].name, ROLLBACK[-1].name)


def migrate_offline(
    settings: Settings,
    *,
    yes: bool = False,
    dry: bool = False,
    resume: bool = False,
    on_failure: str = "rollback",
    until: str | None = None,
    jobs: object = None,
    overlap: bool = True,
    ask: Confirm | None = None,
) -> str:
    """Run the window (through step `until` only, if given); return the run id, or raise
    CutoverError naming the failed step. jobs: the connections its data work may use.

    overlap: run the steps the plan puts beside the window (the dump, its proof, ANALYZE) beside
    it; False runs each in line where the plan lists it (one core, or to time each step alone).
    """
    asked_jobs = parse_window_jobs(jobs)
    if on_failure not in ON_FAILURE:
        raise CutoverError("config", f"--on-failure must be rollback or pause, not {on_failure!r}")
    if until is not None and until not in STEP_NAMES:
        raise CutoverError(
            "config", f"--until must name a window step ({', '.join(STEP_NAMES)}), not {until!r}"
        )
    plan = MIGRATE_OFFLINE[: plan_end(until)] if until else MIGRATE_OFFLINE
    validate(settings, "migrate-offline", deploys=True, connects=not dry)
    if dry:
        dry_run(settings, MIGRATE_OFFLINE, overlap=overlap)
        return ""
    run_id = None
    if resume:
        run_id = run_to_resume(settings, live_identity(settings, "migrate-offline"))
    confirm_destructive(
        settings, "migrate-offline", "migrate-offline (maintenance window)", yes=yes, ask=ask
    )
    ctx = open_run(settings, command="migrate-offline", run_id=run_id)
    ctx.state["options"] = {"jobs": asked_jobs, "overlap": overlap}
    timeline = Timeline.for_steps(
        f"migrate-offline {ctx.run_id}",
        [(s.name, s.budget(settings)) for s in MIGRATE_OFFLINE],
        beside=BESIDE if overlap else frozenset(),
    )
    if resume:
        timeline.before_s = seconds_since_first_start(ctx.journal.lines())
    again = env_flag(settings)
    notifier = attach_notifier(ctx, NOTIFY_PLAN)
    try:
        with timeline:
            run_steps(ctx, plan, timeline, resume=resume)
        if len(plan) < len(MIGRATE_OFFLINE):
            ctx.journal.write(until or plan[-1].name, "paused", note="--until: stopped as asked")
    except Interrupted:
        set_run_status(ctx, "interrupted")
        close_run(ctx)
        unfenced = "unfence" in completed_steps(ctx.journal.lines())
        state = (
            " Maintenance stays on, but the database is NOT fenced (unfence ran): its clients "
            "can connect to the migrated schema."
            if unfenced
            else ""
        )
        say(f"Stopped safely.{state} {ways_on(settings, ctx.run_id)}", "bold yellow")
        raise
    except CutoverError as exc:
        set_run_status(ctx, "failed")
        changed = something_to_roll_back(ctx)
        say(f"Journal: {ctx.journal.path}", "bold red")
        # The last step takes the site out of maintenance host by host: when it fails part-way,
        # hosts it turned off may already serve the migrated database, and an automatic rollback
        # would throw away what their users wrote. Pause instead; the operator decides.
        going_live = exc.step == STEP_NAMES[-1]
        if changed and on_failure == "rollback" and not going_live:
            raise after_rollback(settings, ctx, exc) from exc
        close_run(ctx)
        if changed:
            where = (
                f"{exc.step} failed part-way, so no rollback was started: hosts it took out of "
                "maintenance may already serve the migrated database (a rollback drops what "
                "their users wrote since); the host lines above say which"
                if going_live
                else "maintenance-on failed: the database was not touched"
                if exc.step == "maintenance-on" and not window_went_further(ctx)
                else "maintenance stays on and the database stays fenced"
                if "unfence" not in completed_steps(ctx.journal.lines())
                # deploy-app, smoke or maintenance-off failed: the window had given CONNECT back
                else "maintenance stays on, but the database is NOT fenced (unfence ran): its "
                "clients can connect to the migrated schema"
            )
            say(
                f"Paused: {where}. {ways_on(settings, ctx.run_id)}",
                "bold yellow",
            )
        raise
    except BaseException:
        close_run(ctx)
        raise
    finally:
        write_run_page(ctx)  # every window, failed or not, leaves its report.html
        if notifier is not None:
            notifier.close()
    if len(plan) < len(MIGRATE_OFFLINE):
        set_run_status(ctx, "paused")
        close_run(ctx)
        say(
            f"Paused after {until or plan[-1].name} as asked (--until). "
            f"{ways_on(settings, ctx.run_id)}"
            if something_to_roll_back(ctx)
            # --until preflight: a read-only check passed; nothing to resume or roll back.
            else f"Preflight passed and nothing was changed. The window: invoke migrate-offline "
            f"--yes{again}",
            "bold yellow",
        )
        return ctx.run_id
    set_run_status(ctx, "succeeded")
    close_run(ctx)
    say(
        f"Window complete: run {ctx.run_id}; report {ctx.run_dir / 'report.md'}; "
        f"journal {ctx.journal.path}",
        "bold green",
    )
    return ctx.run_id


def plan_end(until: str) -> int:
    """Return where a window cut after step `until` ends: past the steps that run beside it
    (--until backup ends with the backup proven)."""
    end = STEP_NAMES.index(until) + 1
    while end < len(MIGRATE_OFFLINE) and MIGRATE_OFFLINE[end].beside_until:
        end += 1
    return end


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
    done_at = rollback_completed_at(read_journal(settings.runs_dir / run_id / "journal.jsonl"))
    if done_at is not None:
        # Its rollback completed: the site has been back on the legacy schema since, perhaps
        # written to. Running it again would put the site in maintenance, end sessions and
        # redeploy the old release (over one deployed since); --from-backup would replace what
        # the app wrote since with the dump.
        if from_backup:
            raise CutoverError(
                "rollback",
                f"run {run_id} was already rolled back at {done_at}: the database has held the "
                "legacy schema since, and --from-backup would replace what the app wrote since "
                "with the dump; nothing was changed (restore it by hand with pg_restore if you "
                "mean to)",
            )
        say(f"rollback: run {run_id} was already rolled back at {done_at}: nothing to do")
        return run_id
    # The slow path starts only from a dump that still matches its manifest; after cleanup it is
    # the only path, so a dump that does not is refused here, before maintenance and the fence.
    cleaned_up = run_state(settings, run_id).cleaned_up
    if from_backup or cleaned_up:
        require_intact_backup(settings, run_id, "rollback", only_way=cleaned_up)
    confirm_destructive(settings, "rollback", f"rollback of run {run_id}", yes=yes, ask=ask)
    ctx = open_run(settings, command="rollback", run_id=run_id)
    notifier = attach_notifier(ctx, NOTIFY_PLAN)
    try:
        roll_back_run(ctx, from_backup=from_backup, jobs=n_jobs)
    finally:
        close_run(ctx)
        write_run_page(ctx)
        if notifier is not None:
            notifier.close()
    return run_id


def require_intact_backup(
    settings: Settings, run_id: str, step: str, *, only_way: bool = False
) -> None:
    """Refuse unless the run's dump, here or off the host, still matches its manifest; a dump
    written whole whose proof never ended is proven now, before anything moves.

    only_way: cleanup dropped the set-aside schema, so there is no fast way back to suggest.
    """
    backup_dir = settings.backup_dir / run_id
    if proof_pending(backup_dir):
        warn(f"{step}: run {run_id}'s dump was never proven; reading every block back first")
        try:
            prove_dump(settings, backup_dir, step)
            return
        except CutoverError as exc:
            where, why = "", exc.cause
    else:
        where, why = usable_backup(settings, run_id, step=step)  # the restore fetches it
    if not where:
        advice = (
            "cleanup dropped the set-aside schema, so this backup is the only way back: put "
            "back an intact copy of the dump and its manifest"
            if only_way
            else "restore the dump and its manifest, or roll back without --from-backup"
        )
        raise CutoverError(
            step, f"backup of run {run_id} is not usable ({why}): nothing was changed; {advice}"
        )


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
        finish = finish_rollback(ctx.settings, ctx.run_id)
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
