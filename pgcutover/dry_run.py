"""A task's dry run: its plan printed (steps, budgets, commands per host, SQL files in order).

Nothing connects and nothing runs: each step says what it would do from the settings and the
migration's files alone (Step.describe).
"""

from __future__ import annotations

from collections.abc import Sequence

from pgcutover.db import describe_target
from pgcutover.hosts import app_hosts
from pgcutover.migration import load_migration
from pgcutover.run import Step
from pgcutover.settings import Settings
from pgcutover.timeline import say
from steps.rollback import ROLLBACK


def dry_run(settings: Settings, steps: Sequence[Step]) -> None:
    """Print the plan (steps, budgets, commands per host, SQL files in order); touch nothing."""
    migration = load_migration(settings.migration_dir)
    say(
        f"Plan for migration {migration.name!r} against "
        f"{describe_target(settings.database_url)} (dry run: nothing runs)"
    )
    hosts = ", ".join(f"{h.name} ({h.target})" for h in app_hosts(settings))
    say(f"App commands run on: {hosts}")
    total = 0.0
    for n, step in enumerate(steps, 1):
        budget = step.budget(settings)
        total += budget
        say(f"{n:2d}. {step.name}  (budget {budget:.0f}s)", "bold")
        for line in step.describe(settings, migration):
            say(f"      {line}")
    say(f"Window budget: {total:.0f}s")
    say("On failure (--on-failure rollback) or `invoke rollback`:", "bold")
    for step in ROLLBACK:
        say(f"    {step.name}", "bold")
        for line in step.describe(settings, migration):
            say(f"      {line}")
