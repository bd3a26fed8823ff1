"""The rollback plan: bring back the pre-window database, the previous release and the site."""

from __future__ import annotations

from typing import Any

from pgcutover.dumpfiles import remove_dump
from pgcutover.errors import CutoverError
from pgcutover.hosts import app_hosts, open_hosts
from pgcutover.journal import changed_something, started_steps
from pgcutover.migration import Migration
from pgcutover.run import RunContext, Step, StepOutcome
from pgcutover.settings import Settings
from pgcutover.urlcheck import host_url
from steps.backup import partial_dumps
from steps.deploy_app import recorded_releases, roll_out, summary
from steps.fence import fence, unfence
from steps.maintenance import describe_switch, switch
from steps.restore_database import DISCARD, STEP, drop_swapped_out, restore_database
from steps.restore_database import probe as restore_probe


def something_to_roll_back(ctx: RunContext) -> bool:
    """Tell from the run's own journal whether it got past its read-only preflight.

    Only the journal counts: a set-aside schema may belong to another, earlier run.
    """
    return changed_something(ctx.run_dir)


def prepare(ctx: RunContext) -> StepOutcome:
    """Put the site in maintenance and fence the database again before touching it."""
    quiet = {"preflight", "maintenance-on", *(s.name for s in ROLLBACK)}
    if not started_steps(ctx.run_dir) - quiet:
        # The window never reached the database: running maintenance-on again (perhaps the very
        # command that failed) would only keep the site down. rollback-finish turns it off.
        return StepOutcome(
            note="the window stopped at maintenance-on: the database was never touched",
            skipped=True,
        )
    # No undo on failure here: the window may have left the database half migrated, so hosts
    # already in maintenance stay in it.
    on = switch(ctx, "rollback-prepare", on=True)
    fenced = (
        fence(ctx) if _bookkeeping(ctx) else StepOutcome(note="no bookkeeping: nothing was fenced")
    )
    # The fence spares sessions named pgcutover: a killed window's (its pg_dump, its transform's
    # statement) were ended when the rollback took the lock (pgcutover.lock).
    return StepOutcome(
        note=f"maintenance: {on.note}; fence: {fenced.note}",
        details={"maintenance": on.details.get("hosts", {})},
    )


def _bookkeeping(ctx: RunContext) -> bool:
    return bool(ctx.db.query("SELECT to_regclass('pgcutover.runs') IS NOT NULL")[0][0])


def redeploy_app(ctx: RunContext) -> StepOutcome:
    """Redeploy each host's recorded release, health-checked, only where deploy-app changed it."""
    s = ctx.settings
    releases = recorded_releases(ctx.db, ctx.run_id) if _bookkeeping(ctx) else []
    record = ctx.run_dir / "previous_release"
    if releases:
        targets = {r.host: r.previous for r in releases if r.changed is not False}
        if not targets:
            return StepOutcome(
                note="deploy-app changed no host: every host still runs its recorded release",
                skipped=True,
            )
    elif record.exists():  # a run recorded by an older version: one release for every host
        previous = record.read_text().strip()
        targets = {h.name: previous for h in app_hosts(s)}
    else:
        return StepOutcome(
            note="deploy-app never ran: the previous release is still deployed", skipped=True
        )
    unknown = [host for host, release in targets.items() if not release]
    if not s.deploy_cmd or unknown:
        raise CutoverError(
            "redeploy-app",
            f"cannot redeploy {summary(targets) or 'an unknown release'}: "
            "DEPLOY_CMD or the recorded release is missing",
        )
    with open_hosts(s) as hosts:
        by_name = {h.name: h for h in hosts}
        gone = [name for name in targets if name not in by_name]
        if gone:
            raise CutoverError(
                "redeploy-app",
                f"deploy-app changed {', '.join(gone)}, which APP_HOSTS no longer names: put it "
                "back in APP_HOSTS and run the rollback again",
            )
        order = [by_name[name] for name in targets]
        done = roll_out(ctx, "redeploy-app", order, targets, redeploy=True)
    return StepOutcome(
        note="redeployed " + "; ".join(done),
        details={"release": summary(targets), "hosts": targets},
    )


def finish(ctx: RunContext) -> StepOutcome:
    """Give CONNECT back, take every host out of maintenance, then drop the migrated schema."""
    restored = unfence(ctx) if _bookkeeping(ctx) else StepOutcome(note="nothing fenced")
    off = switch(ctx, "rollback-finish", on=False)
    # Last, with the site back: this drop's cost grows with the migrated data.
    dropped = drop_swapped_out(ctx.db, ctx.run_id)
    note = f"{restored.note}; maintenance: {off.note}"
    # A dump a killed attempt left half written is never a way back (never proven): with the run
    # rolled back nothing will finish it, and each is as big as the database.
    partials = partial_dumps(ctx.backup_dir) if ctx.backup_dir.is_dir() else []
    for partial in partials:
        remove_dump(partial)
    return StepOutcome(
        note=note
        + (f"; migrated schema {DISCARD} dropped" if dropped else "")
        + (f"; {len(partials)} half-written dump(s) removed" if partials else "")
    )


def _describe(*lines: str) -> Any:
    return lambda settings, migration: list(lines)


def describe_prepare(settings: Settings, migration: Migration) -> list[str]:
    return [*describe_switch(settings, on=True), "fence the database again if it was unfenced"]


def describe_redeploy(settings: Settings, migration: Migration) -> list[str]:
    if not settings.deploy_cmd:
        return ["DEPLOY_CMD not set: nothing to redeploy"]
    return [
        "only the hosts deploy-app changed (pgcutover.host_release), in rollout order:",
        *[
            f"on {h.name} ({h.target}): {settings.deploy_cmd} with {{version}} = its recorded "
            "release"
            + (
                f", then GET {host_url(settings.healthcheck_url, h)} until 2xx"
                if settings.healthcheck_url
                else ""
            )
            for h in app_hosts(settings)
        ],
    ]


def describe_finish(settings: Settings, migration: Migration) -> list[str]:
    return ["GRANT CONNECT back as recorded", *describe_switch(settings, on=False)]


ROLLBACK: tuple[Step, ...] = (
    Step("rollback-prepare", 60, prepare, describe_prepare),
    Step(
        STEP,
        600,
        restore_database,
        _describe(
            "fast path: check the set-aside schema's seal in the catalog (no table read), then one "
            "transaction: drop its guard triggers, swap it back, keep the migrated schema as "
            f"{DISCARD} (rollback-finish drops it once the site is back)",
            "slow path (--from-backup, or seal broken): move the migrated schema aside, "
            "pg_restore --jobs N into an empty one, prove tables, row counts and columns, "
            "then drop the old schemas",
        ),
        probe=restore_probe,
    ),
    Step("redeploy-app", 300, redeploy_app, describe_redeploy),
    Step("rollback-finish", 60, finish, describe_finish),
)


def describe_rollback(settings: Settings, migration: Migration) -> list[str]:
    return [line for step in ROLLBACK for line in step.describe(settings, migration)]
