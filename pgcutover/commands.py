"""What each task does, as typed functions that tests call without Invoke (alembic's command.py)."""
from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from steps.backup import check_backup
from pgcutover.settings import Settings
from pgcutover.db import DB_ERRORS, connect, describe_target, error_text, ident
from pgcutover.engine import (RunContext, Step, close_run, database_identity, describe_identity, open_run,
                     read_run_meta, require_same_database, run_steps, same_database, set_run_status)
from pgcutover.errors import CutoverError, Interrupted
from pgcutover.journal import completed_steps, latest_run_dir, read_journal
from pgcutover.migration import load_migration
from steps.window import MIGRATE_OFFLINE, STEP_NAMES
from steps.preflight import audit as audit_rows
from steps.set_aside import schema_exists
from steps.rollback import ROLLBACK, something_to_roll_back
from pgcutover.timeline import Timeline, console, say

Confirm = Callable[[str], bool]


def confirm_destructive(settings: Settings, step: str, action: str, *, yes: bool,
                        ask: Confirm | None = None) -> None:
    """Print the target and ask; --yes answers for scripts; no TTY and no --yes refuses."""
    target = describe_target(settings.database_url)
    say(f"{action} on {target}")
    if yes:
        return
    if ask is None:
        if not sys.stdin.isatty():
            raise CutoverError(step, "no TTY to confirm on and no --yes: refusing (nothing was changed)")
        ask = lambda prompt: input(prompt).strip().lower() in ("y", "yes")  # noqa: E731
    if not ask(f"Proceed with {action} on {target}? [y/N] "):
        raise CutoverError(step, "not confirmed: nothing was changed")


def dry_run(settings: Settings, steps: Sequence[Step]) -> None:
    """Print the plan (steps, budgets, commands and SQL files in order) and touch nothing."""
    migration = load_migration(settings.migration_dir)
    say(f"Plan for migration {migration.name!r} against {describe_target(settings.database_url)} (dry run: nothing runs)")
    total = 0.0
    for n, step in enumerate(steps, 1):
        budget = settings.budgets.get(step.name, step.budget_s)
        total += budget
        say(f"{n:2d}. {step.name}  (budget {budget:.0f}s)", "bold")
        for line in step.describe(settings, migration):
            say(f"      {line}")
    say(f"Window budget: {total:.0f}s")


ON_FAILURE = ("rollback", "pause")
RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{4}$")
MAX_JOBS = 64


def env_flag(settings: Settings) -> str:
    """Return the --env flag that reaches this profile again, for the commands we print."""
    return f" --env {settings.profile}" if settings.profile else ""


def validate(settings: Settings, step: str, *, deploys: bool = False) -> None:
    """Check every setting a task needs before anything connects or changes."""
    if settings.missing_url:
        raise CutoverError("config", f"{settings.missing_url}: set it in .env, .env.NAME (--env) or "
                                     "the environment")
    known = {s.name for s in (*MIGRATE_OFFLINE, *ROLLBACK)}
    unknown = sorted(set(settings.budgets) - known)
    if unknown:
        raise CutoverError("config", f"BUDGET_{unknown[0].upper().replace('-', '_')} names no step: use "
                                     "BUDGET_ with one of " + ", ".join(
                                         n.upper().replace("-", "_") for n in sorted(known)))
    if deploys and settings.deploy_cmd:
        # Rollback must be able to redeploy the release that runs now: know how before anything changes.
        if not settings.deploy_version:
            raise CutoverError("preflight", "DEPLOY_CMD is set but DEPLOY_VERSION is not: set the release "
                                            "to deploy, or unset DEPLOY_CMD; nothing was changed")
        if not settings.current_version_cmd:
            raise CutoverError("preflight", "DEPLOY_CMD is set but CURRENT_VERSION_CMD is not: rollback could "
                                            "not redeploy the running release; set it; nothing was changed")


def parse_jobs(raw: object) -> int | None:
    """Parse --jobs: a whole number from 1 to MAX_JOBS, or None for the default."""
    if raw is None or raw == "":
        return None
    try:
        jobs = int(str(raw).strip())
    except ValueError:
        raise CutoverError("rollback", f"--jobs {raw!r} is not a whole number: give 1 to {MAX_JOBS}; "
                                       "nothing was changed") from None
    if not 1 <= jobs <= MAX_JOBS:
        raise CutoverError("rollback", f"--jobs {jobs} is out of range: give 1 to {MAX_JOBS}; "
                                       "nothing was changed")
    return jobs


def live_identity(settings: Settings, step: str) -> dict[str, Any]:
    """Connect briefly and identify the database DATABASE_URL points at."""
    db = connect(settings.database_url, settings.db_driver, application_name="pgcutover identify", step=step)
    try:
        return database_identity(db, settings.database_url)
    finally:
        db.close()


def runs_newest_first(runs_dir: Path) -> list[Path]:
    """List run directories that have a journal, newest first (run ids sort by time)."""
    if not runs_dir.is_dir():
        return []
    return sorted((p for p in runs_dir.iterdir() if (p / "journal.jsonl").exists()), reverse=True)


def changed_something(run_dir: Path) -> bool:
    """Tell from a run's journal whether it got past its read-only preflight."""
    return any(ln.get("event") == "start" and ln.get("step") != "preflight"
               for ln in read_journal(run_dir / "journal.jsonl"))


def find_run(settings: Settings, run_id: str | None, step: str, live: dict[str, Any], *,
             allow_unchanged: bool = False) -> str:
    """Pick the named run, or this database's last run that changed something; refuse clearly."""
    if run_id is not None:
        if not RUN_ID.match(run_id):
            raise CutoverError(step, f"--run {run_id!r} is not a run id (like 20261125T024551Z-3f9a); "
                                     f"see {settings.runs_dir}")
        if not (settings.runs_dir / run_id / "journal.jsonl").exists():
            raise CutoverError(step, f"no run {run_id} in {settings.runs_dir}")
        require_same_database(step, run_id, read_run_meta(settings.runs_dir / run_id), live)
        return run_id
    other, unchanged = None, None
    for run_dir in runs_newest_first(settings.runs_dir):
        meta = read_run_meta(run_dir)
        ident_ = meta.get("identity")
        if not (isinstance(ident_, dict) and same_database(ident_, live)):
            other = other or (run_dir.name, meta)
            continue
        if changed_something(run_dir):
            return run_dir.name
        unchanged = unchanged or run_dir.name
    what = {"rollback": "roll back", "cleanup": "clean up"}.get(step, "resume")
    if unchanged is not None and allow_unchanged:  # a window refused at preflight starts over
        return unchanged
    if unchanged is not None:
        raise CutoverError(step, f"the last run of this database, {unchanged}, stopped at preflight and "
                                 f"changed nothing: nothing to {what}")
    if other is not None:
        theirs = other[1].get("identity")
        where = describe_identity(theirs) if isinstance(theirs, dict) else other[1].get("target", "?")
        raise CutoverError(step, f"no run of {describe_identity(live)} in {settings.runs_dir} (the last run "
                                 f"there, {other[0]}, belongs to {where}): nothing was changed")
    raise CutoverError(step, f"no run of {describe_identity(live)} in {settings.runs_dir}: nothing to {what}")


def run_to_resume(settings: Settings, live: dict[str, Any]) -> str:
    """Pick this database's unfinished window, or refuse naming why there is nothing to resume."""
    run_id = find_run(settings, None, "migrate-offline", live, allow_unchanged=True)
    lines = read_journal(settings.runs_dir / run_id / "journal.jsonl")
    if any(ln.get("step") in {s.name for s in ROLLBACK} for ln in lines):
        raise CutoverError("migrate-offline", f"--resume: run {run_id} was rolled back; start a new window "
                                              "without --resume; nothing was changed")
    if set(STEP_NAMES) <= set(completed_steps(lines)):
        raise CutoverError("migrate-offline", f"--resume: run {run_id} completed; there is nothing to "
                                              "resume and nothing was changed")
    return run_id


def migrate_offline(settings: Settings, *, yes: bool = False, dry: bool = False, resume: bool = False,
                    on_failure: str = "rollback", ask: Confirm | None = None) -> str:
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
    confirm_destructive(settings, "migrate-offline", "migrate-offline (maintenance window)", yes=yes, ask=ask)
    ctx = open_run(settings, command="migrate-offline", run_id=run_id)
    timeline = Timeline.for_steps(f"migrate-offline {ctx.run_id}",
                                  [(s.name, settings.budgets.get(s.name, s.budget_s)) for s in MIGRATE_OFFLINE])
    again = env_flag(settings)
    try:
        with timeline:
            run_steps(ctx, MIGRATE_OFFLINE, timeline, resume=resume)
    except Interrupted:
        set_run_status(ctx, "interrupted")
        close_run(ctx)
        say(f"Stopped safely. Resume: invoke migrate-offline --resume --yes{again}   Roll back: invoke "
            f"rollback --run {ctx.run_id} --yes{again}", "bold yellow")
        raise
    except CutoverError as exc:
        set_run_status(ctx, "failed")
        changed = something_to_roll_back(ctx)
        say(f"Journal: {ctx.journal.path}", "bold red")
        if changed and on_failure == "rollback":
            raise after_rollback(settings, ctx, exc) from exc
        close_run(ctx)
        if changed:
            say(f"Paused: maintenance stays on and the database stays fenced. Resume: invoke migrate-offline "
                f"--resume --yes{again}   Roll back: invoke rollback --run {ctx.run_id} --yes{again}",
                "bold yellow")
        raise
    except BaseException:
        close_run(ctx)
        raise
    set_run_status(ctx, "succeeded")
    close_run(ctx)
    say(f"Window complete: run {ctx.run_id}; report {ctx.run_dir / 'report.md'}; journal {ctx.journal.path}",
        "bold green")
    return ctx.run_id


def after_rollback(settings: Settings, ctx: RunContext, failure: CutoverError) -> CutoverError:
    """Roll a failed window back at once, under the same lock, and say what failed and how it ended."""
    say(f"{failure}: rolling back run {ctx.run_id}", "bold red")
    try:
        if sessions_alive(ctx):  # keep the lock: no other run can slip in between failure and rollback
            try:
                roll_back_run(ctx)
            finally:
                close_run(ctx)
        else:  # the server went away (restart): reconnect and take the lock again
            close_run(ctx)
            rollback(settings, run_id=ctx.run_id, yes=True)
    except CutoverError as exc:
        return CutoverError(failure.step, f"{failure.cause}; ROLLBACK FAILED too ({exc.cause})")
    return CutoverError(failure.step, f"{failure.cause}; rollback completed: the database is back as before "
                                      "the window")


def sessions_alive(ctx: RunContext) -> bool:
    """Tell whether both of the run's sessions still answer (the lock is held while the lock session lives)."""
    try:
        ctx.lock_db.query("SELECT 1")
        ctx.db.query("SELECT 1")
    except DB_ERRORS:
        return False
    return True


def rollback(settings: Settings, *, run_id: str | None = None, from_backup: bool = False,
             jobs: int | str | None = None, yes: bool = False, ask: Confirm | None = None) -> str:
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
        raise CutoverError(step, f"backup of run {run_id} is not usable ({check.reason}): nothing was "
                                 "changed; restore the dump and its manifest, or roll back without "
                                 "--from-backup")


ROLLBACK_PARTS = {"restore-database": "database", "redeploy-app": "previous app release",
                  "rollback-finish": "connections and site"}


def rollback_progress(ctx: RunContext, since: int) -> tuple[list[str], list[str]]:
    """Say which parts of the pre-window state are back, and which are not, after a rollback attempt."""
    lines = read_journal(ctx.journal.path)[since:]
    done = {ln["step"] for ln in lines if ln.get("event") == "end" and ln.get("outcome") in ("ok", "skipped")}
    back = [part for step, part in ROLLBACK_PARTS.items() if step in done]
    return back, [part for step, part in ROLLBACK_PARTS.items() if step not in done]


def roll_back_run(ctx: RunContext, *, from_backup: bool = False, jobs: int | None = None) -> None:
    """Run the rollback steps on an open run whose lock is held."""
    ctx.state["options"] = {"from_backup": from_backup, "jobs": jobs}
    if not something_to_roll_back(ctx):
        raise CutoverError("rollback", f"run {ctx.run_id} stopped at preflight and changed nothing: nothing to "
                                       "roll back")
    budgets = ctx.settings.budgets
    timeline = Timeline.for_steps(f"rollback {ctx.run_id}",
                                  [(s.name, budgets.get(s.name, s.budget_s)) for s in ROLLBACK])
    since = len(read_journal(ctx.journal.path))
    try:
        with timeline:
            run_steps(ctx, ROLLBACK, timeline)
    except CutoverError as exc:
        set_run_status(ctx, "rollback failed")
        back, not_back = rollback_progress(ctx, since)
        finish = f"invoke rollback --run {ctx.run_id} --yes{env_flag(ctx.settings)}"
        raise CutoverError(exc.step, f"{exc.cause}. Back: {', '.join(back) or 'nothing yet'}; NOT back: "
                                     f"{', '.join(not_back)}. Fix the cause, then finish with: {finish}"
                           ) from exc
    set_run_status(ctx, "rolled back")
    say(f"Rollback of run {ctx.run_id} complete: the database is as before the window.", "bold green")


def cleanup(settings: Settings, *, run_id: str, yes: bool = False, ask: Confirm | None = None) -> None:
    """Drop the set-aside legacy schema of a successful window (after which rollback needs the backup)."""
    validate(settings, "cleanup")
    find_run(settings, run_id, "cleanup", live_identity(settings, "cleanup"))
    confirm_destructive(settings, "cleanup", f"DROP SCHEMA of run {run_id}'s set-aside legacy data", yes=yes, ask=ask)
    ctx = open_run(settings, command="cleanup", run_id=run_id)
    try:
        status_rows = ctx.db.query("SELECT status FROM pgcutover.runs WHERE run = %s", [run_id]) \
            if ctx.db.query("SELECT to_regclass('pgcutover.runs') IS NOT NULL")[0][0] else []
        if status_rows and status_rows[0][0] == "succeeded, cleaned up":  # the same command twice
            say(f"run {run_id} was already cleaned up: nothing to do; rollback restores from {ctx.backup_dir}")
            return
        if not status_rows or status_rows[0][0] != "succeeded":
            raise CutoverError("cleanup", f"run {run_id} did not succeed "
                                          f"({status_rows[0][0] if status_rows else 'unknown'}): keeping the set-aside schema")
        aside = ctx.migration.aside_schema
        if not schema_exists(ctx.db, aside):
            say(f"schema {aside} is already gone")
            return
        ctx.db.execute(f"DROP SCHEMA {ident(aside)} CASCADE")
        ctx.db.execute("UPDATE pgcutover.runs SET status = 'succeeded, cleaned up' WHERE run = %s", [run_id])
        say(f"dropped schema {aside}; rollback of run {run_id} now restores from {ctx.backup_dir}", "bold")
    finally:
        close_run(ctx)


def list_backups(settings: Settings) -> None:
    """List every backup in BACKUP_DIR with its manifest, re-checking each dump's size and sha256."""
    table = Table(title=f"Backups in {settings.backup_dir}", title_justify="left")
    for col in ("run", "file", "MiB", "rows", "tables", "sha256", "created", "proven"):
        table.add_column(col)
    dirs = sorted(p for p in settings.backup_dir.iterdir() if p.is_dir()) if settings.backup_dir.is_dir() else []
    for d in dirs:
        # sha256 only: a full read (pg_restore) per backup would make a listing take minutes.
        check = check_backup(settings, d, full_read=False)
        verdict = "yes (sha256)" if check.proven else f"NO: {check.reason}"
        m = check.manifest
        if m is None:
            table.add_row(d.name, "-", "-", "-", "-", "-", "-", verdict)
            continue
        table.add_row(m.run, m.file, f"{m.bytes / 2**20:.1f}", str(sum(m.row_counts.values())),
                      str(len(m.row_counts)), m.sha256[:16] + "…", m.created_at, verdict)
    console.print(table)


def audit(settings: Settings) -> list[dict[str, object]]:
    """Check the live legacy schema, then count the rows rules will bend (R13); read-only."""
    from rich.text import Text

    from steps.preflight import legacy_drift, schema_state, state_text

    migration = load_migration(settings.migration_dir)
    target = describe_target(settings.database_url)
    db = connect(settings.database_url, settings.db_driver, application_name="pgcutover audit", step="audit")
    try:
        with db.transaction():
            db.execute("SET TRANSACTION READ ONLY")
            state, detail = schema_state(db, migration)
            if state != "legacy":  # the counts read legacy tables: say why there are none
                raise CutoverError("audit", f"the database {state_text(state)} ({detail}): audit "
                                            "reads the legacy schema before a window")
            drift = legacy_drift(db, migration)
            # Drift may break a count's query (a missing column): count what still can be counted.
            db.execute("SAVEPOINT pgcutover_audit")
            try:
                findings = audit_rows(db, migration)
            except DB_ERRORS as exc:
                if not drift:
                    raise
                db.execute("ROLLBACK TO SAVEPOINT pgcutover_audit")
                findings, not_counted = [], error_text(exc)
            else:
                not_counted = ""
    finally:
        db.close()
    if findings:
        table = Table(title=f"Rows the rules will bend in {target} (read-only)",
                      title_justify="left")
        for col in ("rule", "finding", "rows"):
            table.add_column(col)
        for f in findings:
            table.add_row(str(f["rule"]), str(f["finding"]), str(f["rows"]))
        console.print(table)
    if drift:
        table = Table(title=f"Drift of the legacy schema in {target} from what the migration "
                            "expects", title_justify="left")
        table.add_column("difference")
        for d in drift:
            table.add_row(Text(d))  # a name is data, never rich markup
        console.print(table)
        counts = f"; rows not counted ({not_counted})" if not_counted else ""
        raise CutoverError("audit", "the live legacy schema differs from what the migration "
                                    f"expects: {', '.join(drift)}{counts}: preflight refuses the "
                                    "window until the migration or the schema is fixed")
    return findings


def step_summary(lines: list[dict[str, object]]) -> list[tuple[str, str, str, str]]:
    """Fold journal lines into one row per step: state, time against budget, note or error."""
    rows: dict[str, tuple[str, str, str, str]] = {}
    for line in lines:
        step = str(line["step"])
        if line["event"] == "start":
            rows[step] = (step, "running (or stopped here)", f"since {line['at']}", "")
        elif line["event"] == "end":
            over = " OVER BUDGET" if line.get("over_budget") else ""
            rows[step] = (step, str(line.get("outcome")), f"{line.get('duration_s')}s / {line.get('budget_s')}s{over}",
                          str(line.get("error") or line.get("note") or ""))
    return list(rows.values())


def status(settings: Settings) -> None:
    """Show the current or last run, one row per step, from the bookkeeping schema (else RUNS_DIR)."""
    lines: list[dict[str, object]] = []
    header, source = "", ""
    try:
        db = connect(settings.database_url, settings.db_driver, application_name="pgcutover status", step="status")
        try:
            if db.query("SELECT to_regclass('pgcutover.runs') IS NOT NULL")[0][0]:
                run = db.query("SELECT run, command, status, started_at FROM pgcutover.runs "
                               "ORDER BY started_at DESC, run DESC LIMIT 1")
                if run:
                    header = f"Run {run[0][0]} ({run[0][1]}): {run[0][2]}, started {run[0][3]}"
                    lines = [json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in db.query(
                        "SELECT line FROM pgcutover.journal WHERE run = %s ORDER BY at", [run[0][0]])]
                    source = "bookkeeping schema pgcutover"
        finally:
            db.close()
    except CutoverError as exc:
        say(f"database not reachable ({exc.cause}); reading {settings.runs_dir}", "yellow")
    except DB_ERRORS as exc:
        say(f"bookkeeping not readable ({error_text(exc)}); reading {settings.runs_dir}", "yellow")
    if not lines:
        last = latest_run_dir(settings.runs_dir)
        if last is None:
            say("No run recorded yet.")
            return
        lines = list(read_journal(last / "journal.jsonl"))
        header, source = f"Run {last.name}", str(last / "journal.jsonl")
    say(header, "bold")
    table = Table(title=f"Journal ({source})", title_justify="left")
    for col in ("step", "state", "time / budget", "note"):
        table.add_column(col)
    for row in step_summary(lines):
        table.add_row(*row)
    console.print(table)
    if any(line.get("outcome") in ("failed", "interrupted") for line in lines[-2:]):
        again = env_flag(settings)
        say(f"Next: invoke migrate-offline --resume --yes{again}   or   invoke rollback --yes{again} "
            "(runbooks/rollback.md)", "bold yellow")
