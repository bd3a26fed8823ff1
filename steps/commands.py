"""What each task does, as typed functions that tests call without Invoke (alembic's command.py)."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence

from rich.table import Table

from .backup import read_manifest
from .config import Settings
from .db import DB_ERRORS, connect, describe_target, error_text, ident
from .engine import RunContext, Step, close_run, open_run, run_steps, set_run_status
from .errors import CutoverError, Interrupted
from .journal import latest_run_dir, read_journal
from .migration import load_migration
from .plan import MIGRATE_OFFLINE
from .preflight import audit as audit_rows
from .reset import schema_exists
from .rollback import ROLLBACK, something_to_roll_back
from .timeline import Timeline, console, say

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


def migrate_offline(settings: Settings, *, yes: bool = False, dry: bool = False, resume: bool = False,
                    on_failure: str = "rollback", ask: Confirm | None = None) -> str:
    """Run the whole window; return the run id, or raise CutoverError naming the failed step."""
    if on_failure not in ON_FAILURE:
        raise CutoverError("config", f"--on-failure must be rollback or pause, not {on_failure!r}")
    if dry:
        dry_run(settings, MIGRATE_OFFLINE)
        return ""
    run_id = None
    if resume:
        last = latest_run_dir(settings.runs_dir, changed_only=True) or latest_run_dir(settings.runs_dir)
        if last is None:
            raise CutoverError("migrate-offline", f"--resume: no run to resume in {settings.runs_dir}")
        run_id = last.name
        if any(ln.get("step") in {s.name for s in ROLLBACK} for ln in read_journal(last / "journal.jsonl")):
            raise CutoverError("migrate-offline", f"--resume: run {run_id} was rolled back; start a new window "
                                                  "without --resume")
    confirm_destructive(settings, "migrate-offline", "migrate-offline (maintenance window)", yes=yes, ask=ask)
    ctx = open_run(settings, command="migrate-offline", run_id=run_id)
    timeline = Timeline.for_steps(f"migrate-offline {ctx.run_id}",
                                  [(s.name, settings.budgets.get(s.name, s.budget_s)) for s in MIGRATE_OFFLINE])
    try:
        with timeline:
            run_steps(ctx, MIGRATE_OFFLINE, timeline, resume=resume)
    except Interrupted:
        set_run_status(ctx, "interrupted")
        close_run(ctx)
        say(f"Stopped safely. Resume: invoke migrate-offline --resume   Roll back: invoke rollback --run {ctx.run_id}",
            "bold yellow")
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
                f"--resume   Roll back: invoke rollback --run {ctx.run_id} --yes", "bold yellow")
        raise
    except BaseException:
        close_run(ctx)
        raise
    set_run_status(ctx, "succeeded")
    close_run(ctx)
    say(f"Window complete: run {ctx.run_id}; report {ctx.run_dir / 'report.md'}; journal {ctx.journal.path}", "bold green")
    return ctx.run_id


def after_rollback(settings: Settings, ctx: RunContext, failure: CutoverError) -> CutoverError:
    """Roll a failed window back at once, under the same lock, and say what failed and how the rollback ended."""
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
        return CutoverError(failure.step, f"{failure.cause}; ROLLBACK FAILED too ({exc}): "
                                          f"see runbooks/rollback.md, run invoke rollback --run {ctx.run_id}")
    return CutoverError(failure.step, f"{failure.cause}; rollback completed: the database is back as before the window")


def sessions_alive(ctx: RunContext) -> bool:
    """Tell whether both of the run's sessions still answer (the lock is held while the lock session lives)."""
    try:
        ctx.lock_db.query("SELECT 1")
        ctx.db.query("SELECT 1")
    except DB_ERRORS:
        return False
    return True


def find_run(settings: Settings, run_id: str | None, step: str) -> str:
    """Pick the named run, or the last one in RUNS_DIR, or refuse clearly."""
    if run_id:
        if not (settings.runs_dir / run_id / "journal.jsonl").exists():
            raise CutoverError(step, f"no run {run_id} in {settings.runs_dir}")
        return run_id
    last = latest_run_dir(settings.runs_dir, changed_only=True) or latest_run_dir(settings.runs_dir)
    if last is None:
        raise CutoverError(step, f"no run in {settings.runs_dir}: nothing to roll back")
    return last.name


def rollback(settings: Settings, *, run_id: str | None = None, from_backup: bool = False, jobs: int | None = None,
             yes: bool = False, ask: Confirm | None = None) -> str:
    """Bring back the pre-window database, the previous release and the site; safe to run twice."""
    run_id = find_run(settings, run_id, "rollback")
    confirm_destructive(settings, "rollback", f"rollback of run {run_id}", yes=yes, ask=ask)
    ctx = open_run(settings, command="rollback", run_id=run_id)
    try:
        roll_back_run(ctx, from_backup=from_backup, jobs=jobs)
    finally:
        close_run(ctx)
    return run_id


def roll_back_run(ctx: RunContext, *, from_backup: bool = False, jobs: int | None = None) -> None:
    """Run the rollback steps on an open run whose lock is held."""
    ctx.state["options"] = {"from_backup": from_backup, "jobs": jobs}
    if not something_to_roll_back(ctx):
        raise CutoverError("rollback", f"run {ctx.run_id} stopped at preflight and changed nothing: nothing to roll back")
    budgets = ctx.settings.budgets
    timeline = Timeline.for_steps(f"rollback {ctx.run_id}", [(s.name, budgets.get(s.name, s.budget_s)) for s in ROLLBACK])
    try:
        with timeline:
            run_steps(ctx, ROLLBACK, timeline)
    except CutoverError:
        set_run_status(ctx, "rollback failed")
        raise
    set_run_status(ctx, "rolled back")
    say(f"Rollback of run {ctx.run_id} complete: the database is as before the window.", "bold green")


def cleanup(settings: Settings, *, run_id: str, yes: bool = False, ask: Confirm | None = None) -> None:
    """Drop the set-aside legacy schema of a successful window (after which rollback needs the backup)."""
    find_run(settings, run_id, "cleanup")
    confirm_destructive(settings, "cleanup", f"DROP SCHEMA of run {run_id}'s set-aside legacy data", yes=yes, ask=ask)
    ctx = open_run(settings, command="cleanup", run_id=run_id)
    try:
        status_rows = ctx.db.query("SELECT status FROM pgcutover.runs WHERE run = %s", [run_id]) \
            if ctx.db.query("SELECT to_regclass('pgcutover.runs') IS NOT NULL")[0][0] else []
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
    """List every backup in BACKUP_DIR with its manifest."""
    table = Table(title=f"Backups in {settings.backup_dir}", title_justify="left")
    for col in ("run", "file", "MiB", "rows", "tables", "sha256", "created", "proven"):
        table.add_column(col)
    dirs = sorted(p for p in settings.backup_dir.iterdir() if p.is_dir()) if settings.backup_dir.is_dir() else []
    for d in dirs:
        m = read_manifest(d)
        if m is None:
            table.add_row(d.name, "-", "-", "-", "-", "-", "-", "no manifest")
            continue
        table.add_row(m.run, m.file, f"{m.bytes / 2**20:.1f}", str(sum(m.row_counts.values())), str(len(m.row_counts)),
                      m.sha256[:16] + "…", m.created_at, "yes" if (d / m.file).exists() else "file missing")
    console.print(table)


def audit(settings: Settings) -> list[dict[str, object]]:
    """Count, read-only, the live legacy rows that a rule will bend (R13), before any window starts."""
    migration = load_migration(settings.migration_dir)
    db = connect(settings.database_url, settings.db_driver, application_name="pgcutover audit", step="audit")
    try:
        with db.transaction():
            db.execute("SET TRANSACTION READ ONLY")
            findings = audit_rows(db, migration)
    finally:
        db.close()
    table = Table(title=f"Rows the rules will bend in {describe_target(settings.database_url)} (read-only)",
                  title_justify="left")
    for col in ("rule", "finding", "rows"):
        table.add_column(col)
    for f in findings:
        table.add_row(str(f["rule"]), str(f["finding"]), str(f["rows"]))
    console.print(table)
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
                run = db.query("SELECT run, command, status, started_at FROM pgcutover.runs ORDER BY run DESC LIMIT 1")
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
        say("Next: invoke migrate-offline --resume   or   invoke rollback --yes (runbooks/rollback.md)", "bold yellow")
