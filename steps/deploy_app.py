"""Step 10, deploy app: record each host's release, then roll the new one out host by host."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from pgcutover.db import Database
from pgcutover.errors import CutoverError
from pgcutover.hosts import Host, app_hosts, open_hosts, run_checked, run_on
from pgcutover.journal import Journal
from pgcutover.migration import Migration
from pgcutover.run import RunContext, Step, StepOutcome
from pgcutover.settings import Settings
from pgcutover.timeline import warn
from pgcutover.urlcheck import check_url, host_url

STEP = "deploy-app"
VERSION_TIMEOUT_S = 60.0
DEPLOY_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class Release:
    """One host's row in pgcutover.host_release."""

    host: str
    previous: str
    deployed: str | None
    changed: bool | None  # None: its deploy started and its outcome is unknown
    redeployed: str | None


def recorded_releases(db: Database, run_id: str) -> list[Release]:
    """Read the run's per-host releases in rollout order (none before deploy-app recorded them)."""
    if not db.query("SELECT to_regclass('pgcutover.host_release') IS NOT NULL")[0][0]:
        return []
    return [
        Release(str(h), str(p), d, c, r)
        for h, p, d, c, r in db.query(
            "SELECT host, previous, deployed, changed, redeployed FROM pgcutover.host_release "
            "WHERE run = %s ORDER BY position, host",
            [run_id],
        )
    ]


def note_release(ctx: RunContext, step: str, host: str, **values: object) -> None:
    """Update a host's release row and journal the change under the host's name."""
    sets = ", ".join(f"{column} = %s" for column in values)
    ctx.db.execute(
        f"UPDATE pgcutover.host_release SET {sets}, updated_at = now() "
        "WHERE run = %s AND host = %s",
        [*values.values(), ctx.run_id, host],
    )
    # None is "unknown" in the row; the journal drops None values, so it says so in words.
    ctx.journal.write(
        step, "release", host=host, **{k: "unknown" if v is None else v for k, v in values.items()}
    )


def version_of(step: str, host: Host, settings: Settings, journal: Journal) -> str:
    """Ask CURRENT_VERSION_CMD which release a host runs (its last line of output)."""
    command = settings.current_version_cmd
    out = run_checked(step, host, command, timeout_s=VERSION_TIMEOUT_S, journal=journal)
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    if not lines:
        raise CutoverError(
            step, f"{host.name}: `{command}` printed no release: rollback could not redeploy it"
        )
    return lines[-1]


def deploy_command(settings: Settings, version: str) -> str:
    """Fill DEPLOY_CMD's {version}, shell-quoted."""
    return settings.deploy_cmd.replace("{version}", shlex.quote(version))


def health(step: str, host: Host, settings: Settings, journal: Journal) -> str:
    """Poll the host's HEALTHCHECK_URL until it answers 2xx, or fail naming the host."""
    if not settings.healthcheck_url:
        return "no HEALTHCHECK_URL"
    return check_url(
        step,
        host,
        host_url(settings.healthcheck_url, host),
        expect="2xx",
        timeout_s=settings.healthcheck_timeout_s,
        journal=journal,
    )


def record_previous(ctx: RunContext, hosts: list[Host]) -> dict[str, str]:
    """Record each host's running release before any host changes; a resume keeps the first."""
    recorded = {r.host: r.previous for r in recorded_releases(ctx.db, ctx.run_id)}
    legacy = ctx.run_dir / "previous_release"  # written by single-host runs of older versions
    for position, host in enumerate(hosts):
        if host.name in recorded:
            continue
        if len(hosts) == 1 and legacy.exists() and legacy.read_text().strip():
            previous = legacy.read_text().strip()
        else:
            previous = version_of(STEP, host, ctx.settings, ctx.journal)
        ctx.db.execute(
            "INSERT INTO pgcutover.host_release (run, host, position, previous) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (run, host) DO NOTHING",
            [ctx.run_id, host.name, position, previous],
        )
        ctx.journal.write(STEP, "release", host=host.name, previous=previous, changed=False)
        recorded[host.name] = previous
    releases = {h.name: recorded[h.name] for h in hosts}
    if len(hosts) == 1:  # what older rollbacks read, and a human looks for first
        legacy.write_text(releases[hosts[0].name] + "\n")
    ctx.db.execute(
        "UPDATE pgcutover.runs SET app_release = %s WHERE run = %s",
        [summary(releases), ctx.run_id],
    )
    return releases


def summary(releases: dict[str, str]) -> str:
    """Say which release the hosts ran: one name when they agree, else host=release pairs."""
    if len(set(releases.values())) == 1:
        return next(iter(releases.values()))
    return ", ".join(f"{host}={release}" for host, release in releases.items())


def roll_out(
    ctx: RunContext,
    step: str,
    hosts: list[Host],
    targets: dict[str, str],
    *,
    redeploy: bool = False,
) -> list[str]:
    """Deploy each host's target release and health-check it before the next host starts.

    The first failure stops the rollout: hosts after it are never touched. A host whose deploy
    command failed is asked which release it runs now, so rollback redeploys only changed hosts.
    """
    s, done = ctx.settings, []
    for n, host in enumerate(hosts):
        version = targets[host.name]
        label = f"host {n + 1}/{len(hosts)} {host.name}"
        ctx.progress.update(n, len(hosts), unit="hosts", label=label)
        rest = [h.name for h in hosts[n + 1 :]]
        untouched = f"; not touched: {', '.join(rest)}" if rest else ""
        if not redeploy:  # from here until we know better, rollback must redeploy this host
            note_release(ctx, step, host.name, changed=None)
        command = deploy_command(s, version)
        try:
            run_checked(step, host, command, timeout_s=DEPLOY_TIMEOUT_S, journal=ctx.journal)
        except CutoverError as exc:
            if not redeploy:
                exc = CutoverError(step, exc.cause + after_failed_deploy(ctx, step, host))
            raise CutoverError(step, exc.cause + untouched) from exc
        if redeploy:
            note_release(ctx, step, host.name, redeployed=version)
        else:
            note_release(ctx, step, host.name, deployed=version, changed=True)
        try:
            checked = health(step, host, s, ctx.journal)
        except CutoverError as exc:
            raise CutoverError(step, exc.cause + untouched) from exc
        done.append(f"{host.name}: {version} ({checked})")
    return done


def after_failed_deploy(ctx: RunContext, step: str, host: Host) -> str:
    """Ask a host whose deploy failed which release it runs, and record whether it changed."""
    previous = next(
        r.previous for r in recorded_releases(ctx.db, ctx.run_id) if r.host == host.name
    )
    command = ctx.settings.current_version_cmd
    result = run_on(step, host, command, timeout_s=VERSION_TIMEOUT_S, journal=ctx.journal)
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    if result.exit_code != 0 or result.error or not lines:
        return f"; {host.name} may be half deployed (its release is unknown): rollback redeploys it"
    now = lines[-1]
    note_release(ctx, step, host.name, changed=now != previous)
    if now == previous:
        return f"; {host.name} still runs {previous}"
    return f"; {host.name} now runs {now}: rollback redeploys {previous}"


def run(ctx: RunContext) -> StepOutcome:
    s = ctx.settings
    if not s.deploy_cmd:
        warn(f"{STEP}: DEPLOY_CMD is not set; skipped (the app was NOT deployed)")
        return StepOutcome(
            note="skipped: DEPLOY_CMD not set",
            skipped=True,
            details={"skipped": "DEPLOY_CMD not set"},
        )
    if not s.deploy_version:
        raise CutoverError(
            STEP, "DEPLOY_CMD is set but DEPLOY_VERSION is not: which release should be deployed?"
        )
    if not s.healthcheck_url:
        warn(f"{STEP}: HEALTHCHECK_URL is not set; the new release is not health-checked")
    with open_hosts(s) as hosts:
        # Record every host's running release before touching any, so rollback can redeploy it.
        previous = record_previous(ctx, hosts)
        done = roll_out(ctx, STEP, hosts, {h.name: s.deploy_version for h in hosts})
    first = previous[hosts[0].name]
    return StepOutcome(
        note=f"{summary(previous)} -> {s.deploy_version}; " + "; ".join(done),
        details={
            "previous_release": first if len(hosts) == 1 else summary(previous),
            "deployed": s.deploy_version,
            "hosts": {
                name: {"previous": release, "deployed": s.deploy_version}
                for name, release in previous.items()
            },
        },
    )


def describe(settings: Settings, migration: Migration) -> list[str]:
    if not settings.deploy_cmd:
        return ["DEPLOY_CMD not set: will be skipped with a warning"]
    hosts = app_hosts(settings)
    version = settings.current_version_cmd or "(CURRENT_VERSION_CMD not set)"
    lines = [f"on {h.name} ({h.target}): {version}  (record its running release)" for h in hosts]
    for h in hosts:
        lines.append(
            f"on {h.name} ({h.target}): {deploy_command(settings, settings.deploy_version)}"
        )
        lines.append(
            f"  then GET {host_url(settings.healthcheck_url, h)} until 2xx "
            f"(within {settings.healthcheck_timeout_s:g}s), before the next host"
            if settings.healthcheck_url
            else "  (HEALTHCHECK_URL not set: no health check)"
        )
    return lines


DEPLOY_APP = Step(STEP, 300, run, describe)
