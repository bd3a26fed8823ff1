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


def dry_run(settings: Settings, steps: Sequence[Step], *, overlap: bool = True) -> None:
    """Print the plan (steps, budgets, commands per host, SQL files in order); touch nothing.

    overlap: as migrate-offline's --overlap: say which steps run beside the others, and leave
    their budgets out of the window's (they overlap the steps in line), as the timeline does.
    """
    migration = load_migration(settings.migration_dir)
    say(
        f"Plan for migration {migration.name!r} against "
        f"{describe_target(settings.database_url) if settings.database_url else 'no database'}"
        " (dry run: nothing runs)"
    )
    hosts = ", ".join(f"{h.name} ({h.target})" for h in app_hosts(settings))
    say(f"App commands run on: {hosts}")
    total = 0.0
    for n, step in enumerate(steps, 1):
        budget = step.budget(settings)
        beside = step.runs_beside(overlap)
        total += 0.0 if beside else budget
        say(f"{n:2d}. {step.name}  (budget {budget:.0f}s{_beside(step) if beside else ''})", "bold")
        for line in step.describe(settings, migration):
            say(f"      {line}")
    say(f"Window budget: {total:.0f}s" + (" (the steps in line)" if overlap else ""))
    say("On failure (--on-failure rollback) or `invoke rollback`:", "bold")
    for step in ROLLBACK:
        say(f"    {step.name}", "bold")
        for line in step.describe(settings, migration):
            say(f"      {line}")


def _beside(step: Step) -> str:
    """Say when a step beside the window starts and where the window waits for it."""
    after = f" once {step.beside_after} ends" if step.beside_after else ""
    return f", beside the steps after it{after}, joined before {step.beside_until}"
