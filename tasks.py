"""Invoke entry point: wires pgcutover's runbook tasks to the typed functions in steps/."""

from __future__ import annotations

import os
from pathlib import Path

from invoke.collection import Collection
from invoke.context import Context

from pgcutover import backups as backups_mod
from pgcutover import bench as bench_mod
from pgcutover import cleanup as cleanup_mod
from pgcutover import commands, reports, scaffold
from pgcutover import rehearse as rehearse_mod
from pgcutover.cli import named_settings, operator_errors, settings_for, task
from pgcutover.sandbox import demo as sandbox_mod
from pgcutover.timeline import say

ENV_HELP = "profile: load .env.NAME instead of .env (default: $CUTOVER_ENV, else .env)"
DEBUG_HELP = "show the traceback on failure (default: off)"
YES_HELP = "answer the confirmation for scripts (default: ask on a TTY, refuse without one)"


@task(
    help={
        "users": "how many demo users to generate, 40 to 1000000 (default: 2000)",
        "down": "stop the sandbox cluster and remove .sandbox/ (default: off)",
        "debug": DEBUG_HELP,
    }
)
@operator_errors("sandbox")
def sandbox(c: Context, users: str | None = None, down: bool = False, debug: bool = False) -> None:
    """Start a local PostgreSQL sandbox with demo data; later tasks on the line target it."""
    if down:
        sandbox_mod.sandbox_down(Path.cwd())
        return
    sandbox_mod.sandbox_up(Path.cwd(), users=sandbox_mod.parse_users(users))
    # Tasks after this one on the same command line target the sandbox: the process environment
    # wins.
    os.environ.update(sandbox_mod.sandbox_env(Path.cwd()))


@task(
    name="migrate-offline",
    help={
        "yes": YES_HELP,
        "dry-run": "print the plan (steps, commands, SQL files, budgets) and touch nothing "
        "(default: off)",
        "resume": "continue the last run from its last completed checkpoint "
        "(default: start a new run)",
        "on-failure": "rollback: undo a failed window at once; pause: stop in maintenance, "
        "fenced unless unfence had run, and print resume and rollback commands "
        "(default: rollback)",
        "until": "stop cleanly after this window step (journaled as paused; continue with "
        "--resume, or roll back) (default: run to maintenance-off)",
        "jobs": "connections the window's data work may use (the dump's tables, the "
        "transform's apart loads, index builds and validations, verify's tables side by side; "
        "processes per index build), 1 to 64 (default: this machine's cores, bounded by the "
        "server's free connections)",
        "overlap": "run the dump, its proof and ANALYZE beside the steps in line, as the plan "
        "says; --no-overlap runs each in line, one after the other, for a one-core server or to "
        "time each step alone (default: on)",
        "env": ENV_HELP,
        "debug": DEBUG_HELP,
    },
)
@operator_errors("migrate-offline")
def migrate_offline(
    c: Context,
    yes: bool = False,
    dry_run: bool = False,
    resume: bool = False,
    on_failure: str = "rollback",
    until: str | None = None,
    jobs: str | None = None,
    overlap: bool = True,
    env: str | None = None,
    debug: bool = False,
) -> None:
    """Run the maintenance window, preflight to maintenance off (runbooks/migrate-offline.md)."""
    commands.migrate_offline(
        settings_for(env),
        yes=yes,
        dry=dry_run,
        resume=resume,
        on_failure=on_failure,
        until=until,
        jobs=jobs,
        overlap=overlap,
    )


@task(
    help={
        "run": "the run to roll back (default: the last run in RUNS_DIR)",
        "from-backup": "restore from the run's pg_dump even if the set-aside schema is intact "
        "(default: off, swap the set-aside schema back)",
        "jobs": "parallel pg_restore jobs for a restore from backup, 1 to 64 "
        "(default: the number of cores)",
        "yes": YES_HELP,
        "env": ENV_HELP,
        "debug": DEBUG_HELP,
    }
)
@operator_errors("rollback")
def rollback(
    c: Context,
    run: str | None = None,
    from_backup: bool = False,
    jobs: str | None = None,
    yes: bool = False,
    env: str | None = None,
    debug: bool = False,
) -> None:
    """Bring back the pre-window database, the previous app release and the site."""
    commands.rollback(settings_for(env), run_id=run, from_backup=from_backup, jobs=jobs, yes=yes)


@task(
    help={
        "run": "the successful run whose set-aside legacy schema to drop; refused unless its "
        "backup (here or its off-host copy) is intact (required)",
        "yes": YES_HELP,
        "env": ENV_HELP,
        "debug": DEBUG_HELP,
    }
)
@operator_errors("cleanup")
def cleanup(
    c: Context,
    run: str | None = None,
    yes: bool = False,
    env: str | None = None,
    debug: bool = False,
) -> None:
    """Drop a successful window's set-aside legacy schema (rollback then needs the backup)."""
    # --run is a flag, not a positional argument: invoke would hand a positional one `--help`.
    cleanup_mod.cleanup(settings_for(env), run_id=run, yes=yes)


@task(
    help={
        "verify": "re-prove run ID's backup by reading every data block back (as the backup step "
        "does), and check its off-host copy's size and sha256 there (default: list them all)",
        "prune": "delete the backups BACKUP_KEEP lets go, here and off the host, after listing "
        "what goes and asking; never one a rollback may need (default: off)",
        "yes": YES_HELP,
        "env": ENV_HELP,
        "debug": DEBUG_HELP,
    }
)
@operator_errors("backups")
def backups(
    c: Context,
    verify: str | None = None,
    prune: bool = False,
    yes: bool = False,
    env: str | None = None,
    debug: bool = False,
) -> None:
    """List the backups: run, database, size, age, proof, off-host copy, retention."""
    backups_mod.backups(settings_for(env), verify=verify, prune=prune, yes=yes)


@task(help={"env": ENV_HELP, "debug": DEBUG_HELP})
@operator_errors("audit")
def audit(c: Context, env: str | None = None, debug: bool = False) -> None:
    """Count, read-only on the live database, the legacy rows the migration's rules will bend."""
    reports.audit(settings_for(env))


@task(help={"env": ENV_HELP, "debug": DEBUG_HELP})
@operator_errors("status")
def status(c: Context, env: str | None = None, debug: bool = False) -> None:
    """Show the current or last run, step by step, from the bookkeeping schema (or RUNS_DIR)."""
    reports.status(settings_for(env))


@task(
    help={
        "clone": "rehearse on a scratch copy of the database, made on the same server and dropped "
        "afterwards; the source is only read; needs CREATEDB; app commands do not run "
        "(default: off: rehearse on the profile's database, which ends migrated)",
        "keep": "with --clone: keep the scratch copy for inspection (default: off: drop it)",
        "forecast": "forecast the window of profile NAME's database (read only, never changed) "
        "from this rehearsal: RUNS_DIR/<run-id>/forecast.md and .json with BUDGET_ lines "
        "(default: no forecast)",
        "jobs": "the windows' --jobs: give the production window's (default: as migrate-offline)",
        "overlap": "the windows' --[no-]overlap: give the production window's; the forecast "
        "lays its steps out the same way (default: on)",
        "yes": YES_HELP,
        "env": ENV_HELP,
        "debug": DEBUG_HELP,
    }
)
@operator_errors("rehearse")
def rehearse(
    c: Context,
    clone: bool = False,
    keep: bool = False,
    forecast: str | None = None,
    jobs: str | None = None,
    overlap: bool = True,
    yes: bool = False,
    env: str | None = None,
    debug: bool = False,
) -> None:
    """Rehearse on staging: migrate, roll back, prove the rollback exact, migrate again."""
    rehearse_mod.rehearse(
        settings_for(env),
        clone=clone,
        keep=keep,
        yes=yes,
        forecast_for=named_settings("--forecast", forecast),
        jobs=jobs,
        overlap=overlap,
    )


@task(
    help={
        "users": "N: demo users of the main size, 40 to 1000000 (default: 100000)",
        "scale": "also time the window, fast rollback and peak RSS at N x SCALE users; 1 skips "
        "that part (default: 10; at the default N that is 1,000,000 users: about an hour on "
        "2 cores and some 35 GB of free disk)",
        "jobs": "the window's --jobs and pg_restore's jobs for the restore-path pair, 1 to 64 "
        "(default: the number of cores)",
        "out": "the JSON report (default: RUNS_DIR/bench-<UTC timestamp>.json; RUNS_DIR from "
        ".env or the environment, default runs/)",
        "backup-format": "the dump's format, as BACKUP_FORMAT: directory (pg_dump --jobs JOBS) "
        "or custom, for the window and its bare pg_dump alike (default: directory)",
        "log-skew": "give the N x SCALE database this many times N's request logs per user, 1 to "
        "10, so that it is not a scaled copy and the forecast row is checked against another "
        "shape (default: 1, a scaled copy)",
        "debug": DEBUG_HELP,
    }
)
@operator_errors("bench")
def bench(
    c: Context,
    users: str | None = None,
    scale: str | None = None,
    jobs: str | None = None,
    out: str | None = None,
    backup_format: str | None = None,
    log_skew: str | None = None,
    debug: bool = False,
) -> None:
    """Time pgcutover against its floors on a throwaway cluster of its own (.bench/, removed)."""
    bench_mod.bench_command(
        users=users,
        scale=scale,
        jobs=jobs,
        out=out,
        base_dir=Path.cwd(),
        backup_format=backup_format,
        log_skew=log_skew,
    )


@task(
    name="new-migration",
    help={
        "name": "the new migration's directory name: lowercase letters, digits and single "
        "dashes, starting with a letter, at most 40 characters (required)",
        "under": "create NAME/ in this directory (default: sql/ of this checkout)",
        "debug": DEBUG_HELP,
    },
)
@operator_errors("new-migration")
def new_migration(c: Context, name: str, under: str | None = None, debug: bool = False) -> None:
    """Scaffold a migration to fill in: plan.toml, SQL files, rules.md (docs/new-migration.md)."""
    root = Path(under) if under else scaffold.SQL_ROOT
    say(scaffold.next_steps(scaffold.new_migration(root, name)))


ns = Collection(
    sandbox,
    audit,
    rehearse,
    migrate_offline,
    rollback,
    cleanup,
    backups,
    status,
    bench,
    new_migration,
)
