"""The rollback plan: bring back the pre-window database, the previous release and the site."""

from __future__ import annotations

from typing import Any

from pgcutover.errors import CutoverError
from pgcutover.journal import read_journal
from pgcutover.migration import Migration
from pgcutover.run import RunContext, Step, StepOutcome
from pgcutover.settings import Settings
from steps.deploy_app import deploy, health_check
from steps.fence import fence, unfence
from steps.maintenance import maintenance_off, maintenance_on
from steps.restore_database import STEP, restore_database


def started_steps(ctx: RunContext) -> set[str]:
    return {line["step"] for line in read_journal(ctx.journal.path) if line.get("event") == "start"}


def something_to_roll_back(ctx: RunContext) -> bool:
    """Tell from the run's own journal whether it got past its read-only preflight.

    Only the journal counts: a set-aside schema may belong to another, earlier run.
    """
    return bool(started_steps(ctx) - {"preflight"})


def prepare(ctx: RunContext) -> StepOutcome:
    """Put the site in maintenance and fence the database again before touching it."""
    if not started_steps(ctx) - {"preflight", "maintenance-on", *(s.name for s in ROLLBACK)}:
        # The window never reached the database: running maintenance-on again (perhaps the very
        # command that failed) would only keep the site down. rollback-finish turns it off.
        return StepOutcome(
            note="the window stopped at maintenance-on: the database was never touched",
            skipped=True,
        )
    on = maintenance_on(ctx)
    fenced = (
        fence(ctx) if _bookkeeping(ctx) else StepOutcome(note="no bookkeeping: nothing was fenced")
    )
    return StepOutcome(note=f"maintenance: {on.note}; fence: {fenced.note}")


def _bookkeeping(ctx: RunContext) -> bool:
    return bool(ctx.db.query("SELECT to_regclass('pgcutover.runs') IS NOT NULL")[0][0])


def redeploy_app(ctx: RunContext) -> StepOutcome:
    """Redeploy the release recorded before deploy-app, if that step had started."""
    record = ctx.run_dir / "previous_release"
    if not record.exists():
        return StepOutcome(
            note="deploy-app never ran: the previous release is still deployed", skipped=True
        )
    previous = record.read_text().strip()
    s = ctx.settings
    if not s.deploy_cmd or not previous:
        raise CutoverError(
            "redeploy-app",
            f"cannot redeploy {previous or 'an unknown release'}: "
            "DEPLOY_CMD or the recorded release is missing",
        )
    deploy("redeploy-app", s, previous)
    health = (
        health_check("redeploy-app", s.healthcheck_url, s.healthcheck_timeout_s)
        if s.healthcheck_url
        else "no HEALTHCHECK_URL"
    )
    return StepOutcome(note=f"redeployed {previous}; {health}", details={"release": previous})


def finish(ctx: RunContext) -> StepOutcome:
    """Give CONNECT back and take the site out of maintenance."""
    restored = unfence(ctx) if _bookkeeping(ctx) else StepOutcome(note="nothing fenced")
    off = maintenance_off(ctx)
    return StepOutcome(note=f"{restored.note}; maintenance: {off.note}")


def _describe(*lines: str) -> Any:
    return lambda settings, migration: list(lines)


ROLLBACK: tuple[Step, ...] = (
    Step("rollback-prepare", 60, prepare, _describe("MAINTENANCE_ON_CMD; fence again if unfenced")),
    Step(
        STEP,
        600,
        restore_database,
        _describe(
            "fast path: check the set-aside schema's seal in the catalog (no table read), then one "
            "transaction: drop its guard triggers, swap it back, drop the migrated schema",
            "slow path (--from-backup, or seal broken): move the migrated schema aside, "
            "pg_restore --jobs N into an empty one, prove tables, row counts and columns, "
            "then drop the old schemas",
        ),
    ),
    Step(
        "redeploy-app",
        300,
        redeploy_app,
        _describe("DEPLOY_CMD with the release recorded before deploy-app; health check"),
    ),
    Step(
        "rollback-finish",
        60,
        finish,
        _describe("GRANT CONNECT back as recorded; MAINTENANCE_OFF_CMD"),
    ),
)


def describe_rollback(settings: Settings, migration: Migration) -> list[str]:
    return [line for step in ROLLBACK for line in step.describe(settings, migration)]
