"""What each task does, as typed functions that tests call without Invoke (alembic's command.py)."""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from .config import Settings
from .db import DB_ERRORS, connect, describe_target, error_text
from .engine import (Step, close_run, open_run, run_steps, set_run_status)
from .errors import CutoverError, Interrupted
from .journal import latest_run_dir, read_journal
from .migration import load_migration
from .plan import MIGRATE_OFFLINE
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


def migrate_offline(settings: Settings, *, yes: bool = False, dry: bool = False, resume: bool = False,
                    ask: Confirm | None = None) -> str:
    """Run the whole window; return the run id, or raise CutoverError naming the failed step."""
    if dry:
        dry_run(settings, MIGRATE_OFFLINE)
        return ""
    run_id = None
    if resume:
        last = latest_run_dir(settings.runs_dir)
        if last is None:
            raise CutoverError("migrate-offline", f"--resume: no run to resume in {settings.runs_dir}")
        run_id = last.name
    confirm_destructive(settings, "migrate-offline", "migrate-offline (maintenance window)", yes=yes, ask=ask)
    ctx = open_run(settings, command="migrate-offline", run_id=run_id)
    timeline = Timeline.for_steps(f"migrate-offline {ctx.run_id}",
                                  [(s.name, settings.budgets.get(s.name, s.budget_s)) for s in MIGRATE_OFFLINE])
    try:
        with timeline:
            run_steps(ctx, MIGRATE_OFFLINE, timeline, resume=resume)
    except Interrupted:
        set_run_status(ctx, "interrupted")
        say(f"Stopped safely. Resume: invoke migrate-offline --resume   Roll back: invoke rollback --run {ctx.run_id}",
            "bold yellow")
        raise
    except CutoverError:
        set_run_status(ctx, "failed")
        say(f"Journal: {ctx.journal.path}", "bold red")
        raise
    else:
        set_run_status(ctx, "succeeded")
    finally:
        close_run(ctx)
    say(f"Window complete: run {ctx.run_id}; report {ctx.run_dir / 'report.md'}; journal {ctx.journal.path}", "bold green")
    return ctx.run_id


def status(settings: Settings) -> None:
    """Show the current or last run: from the bookkeeping schema, else from RUNS_DIR."""
    lines: list[dict[str, object]] = []
    source = ""
    try:
        db = connect(settings.database_url, settings.db_driver, application_name="pgcutover status", step="status")
        try:
            if db.query("SELECT to_regclass('pgcutover.runs') IS NOT NULL")[0][0]:
                run = db.query("SELECT run, command, status, started_at FROM pgcutover.runs ORDER BY run DESC LIMIT 1")
                if run:
                    say(f"Run {run[0][0]} ({run[0][1]}): {run[0][2]}, started {run[0][3]}", "bold")
                    lines = [{"step": s, "event": e, "outcome": o, "duration_s": d, "at": str(a)} for s, e, o, d, a in
                             db.query("SELECT step, event, outcome, duration_s, at FROM pgcutover.journal "
                                      "WHERE run = %s ORDER BY at", [run[0][0]])]
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
        lines = read_journal(last / "journal.jsonl")
        source = str(last / "journal.jsonl")
    from rich.table import Table

    table = Table(title=f"Journal ({source})", title_justify="left")
    for col in ("step", "event", "outcome", "duration_s", "at"):
        table.add_column(col)
    for line in lines:
        table.add_row(*(str(line.get(c) if line.get(c) is not None else "") for c in ("step", "event", "outcome", "duration_s", "at")))
    console.print(table)
