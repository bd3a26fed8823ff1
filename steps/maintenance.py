"""Steps 2 and 11, maintenance on/off: the operator's own commands, run on the app hosts."""

from __future__ import annotations

from pgcutover.hosts import app_hosts, run_checked
from pgcutover.migration import Migration
from pgcutover.run import RunContext, Step, StepOutcome
from pgcutover.settings import Settings
from pgcutover.timeline import warn


def switch(ctx: RunContext, step: str, command: str, variable: str) -> StepOutcome:
    """Run the maintenance command on every app host, or skip visibly when it is not configured."""
    if not command:
        warn(
            f"{step}: {variable} is not set; skipped (the site is NOT in the state this step promises)"
        )
        return StepOutcome(
            note=f"skipped: {variable} not set",
            skipped=True,
            details={"skipped": f"{variable} not set"},
        )
    hosts = app_hosts()
    for host in hosts:
        run_checked(step, host, command, timeout_s=120)
    return StepOutcome(
        note=f"ran on {', '.join(h.name for h in hosts)}", details={"command": command}
    )


def maintenance_on(ctx: RunContext) -> StepOutcome:
    return switch(ctx, "maintenance-on", ctx.settings.maintenance_on_cmd, "MAINTENANCE_ON_CMD")


def maintenance_off(ctx: RunContext) -> StepOutcome:
    return switch(ctx, "maintenance-off", ctx.settings.maintenance_off_cmd, "MAINTENANCE_OFF_CMD")


def describe_on(settings: Settings, migration: Migration) -> list[str]:
    return [
        f"run MAINTENANCE_ON_CMD: {settings.maintenance_on_cmd}"
        if settings.maintenance_on_cmd
        else "MAINTENANCE_ON_CMD not set: will be skipped with a warning"
    ]


def describe_off(settings: Settings, migration: Migration) -> list[str]:
    return [
        f"run MAINTENANCE_OFF_CMD: {settings.maintenance_off_cmd}"
        if settings.maintenance_off_cmd
        else "MAINTENANCE_OFF_CMD not set: will be skipped with a warning"
    ]


MAINTENANCE_ON = Step("maintenance-on", 30, maintenance_on, describe_on)
MAINTENANCE_OFF = Step("maintenance-off", 30, maintenance_off, describe_off)
