"""Invoke entry point: wires pgcutover's runbook tasks to the typed functions in steps/."""
from __future__ import annotations

import os
from pathlib import Path

from invoke import Collection, task

from steps import commands, sandbox as sandbox_mod
from steps.cli import operator_errors, settings_for

ENV_HELP = "profile: load .env.NAME instead of .env (default: $CUTOVER_ENV, else .env)"
DEBUG_HELP = "show the traceback on failure (default: off)"
YES_HELP = "answer the confirmation for scripts (default: ask on a TTY, refuse without one)"


@task(help={"users": "how many demo users to generate (default: 2000)",
            "down": "stop the sandbox cluster and remove .sandbox/ (default: off)",
            "debug": DEBUG_HELP})
@operator_errors("sandbox")
def sandbox(c, users=2000, down=False, debug=False):
    """Start a local PostgreSQL sandbox with legacy demo data; later tasks on the command line target it."""
    if down:
        sandbox_mod.sandbox_down(Path.cwd())
        return
    sandbox_mod.sandbox_up(Path.cwd(), users=users)
    # Tasks after this one on the same command line target the sandbox: the process environment wins.
    os.environ.update(sandbox_mod.sandbox_env(Path.cwd()))


@task(name="migrate-offline",
      help={"yes": YES_HELP, "dry-run": "print the plan (steps, commands, SQL files, budgets) and touch nothing "
                                         "(default: off)",
            "resume": "continue the last run from its last completed checkpoint (default: start a new run)",
            "env": ENV_HELP, "debug": DEBUG_HELP})
@operator_errors("migrate-offline")
def migrate_offline(c, yes=False, dry_run=False, resume=False, env=None, debug=False):
    """Run the maintenance window: preflight, maintenance, fence, backup, reset, schema, transform, verify, app."""
    commands.migrate_offline(settings_for(env), yes=yes, dry=dry_run, resume=resume)


@task(help={"env": ENV_HELP, "debug": DEBUG_HELP})
@operator_errors("status")
def status(c, env=None, debug=False):
    """Show the current or last run, step by step, from the bookkeeping schema (or RUNS_DIR)."""
    commands.status(settings_for(env))


ns = Collection(sandbox, migrate_offline, status)
