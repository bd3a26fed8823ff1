"""Step 10, deploy app: record the running release, deploy the new one, health-check it."""

from __future__ import annotations

import shlex
import time
import urllib.error
import urllib.request

from pgcutover.errors import CutoverError
from pgcutover.hosts import app_hosts, run_checked
from pgcutover.migration import Migration
from pgcutover.run import RunContext, Step, StepOutcome
from pgcutover.settings import Settings
from pgcutover.timeline import warn

STEP = "deploy-app"


def current_release(ctx: RunContext) -> str:
    """Ask CURRENT_VERSION_CMD which release runs now (rollback redeploys it)."""
    if not ctx.settings.current_version_cmd:
        return ""
    return run_checked(STEP, app_hosts()[0], ctx.settings.current_version_cmd, timeout_s=60).strip()


def deploy(step: str, settings: Settings, version: str) -> None:
    """Run DEPLOY_CMD with {version} filled in (shell-quoted) on every app host, in order."""
    command = settings.deploy_cmd.replace("{version}", shlex.quote(version))
    for host in app_hosts():
        run_checked(step, host, command, timeout_s=1800)


def health_check(step: str, url: str, timeout_s: float) -> str:
    """Poll HEALTHCHECK_URL until it answers 2xx, or fail with the last answer."""
    deadline, last = time.monotonic() + timeout_s, "no answer"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - the operator's own URL
                if 200 <= resp.status < 300:
                    return f"{url} answered {resp.status}"
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        if time.monotonic() >= deadline:
            raise CutoverError(step, f"health check {url} failed for {timeout_s:.0f}s: {last}")
        time.sleep(1)


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
    record = ctx.run_dir / "previous_release"
    previous = record.read_text().strip() if record.exists() else current_release(ctx)
    # Record the running release before touching anything, so rollback can redeploy it.
    record.write_text(previous + "\n")
    ctx.db.execute(
        "UPDATE pgcutover.runs SET app_release = %s WHERE run = %s", [previous, ctx.run_id]
    )
    deploy(STEP, s, s.deploy_version)
    health = (
        health_check(STEP, s.healthcheck_url, s.healthcheck_timeout_s)
        if s.healthcheck_url
        else "no HEALTHCHECK_URL"
    )
    if not s.healthcheck_url:
        warn(f"{STEP}: HEALTHCHECK_URL is not set; the new release was not health-checked")
    return StepOutcome(
        note=f"{previous or 'unknown'} -> {s.deploy_version}; {health}",
        details={"previous_release": previous, "deployed": s.deploy_version},
    )


def describe(settings: Settings, migration: Migration) -> list[str]:
    if not settings.deploy_cmd:
        return ["DEPLOY_CMD not set: will be skipped with a warning"]
    return [
        f"record the running release: {settings.current_version_cmd or '(CURRENT_VERSION_CMD not set)'}",
        f"deploy: {settings.deploy_cmd.replace('{version}', shlex.quote(settings.deploy_version))}",
        f"health check: {settings.healthcheck_url or '(HEALTHCHECK_URL not set)'}",
    ]


DEPLOY_APP = Step(STEP, 300, run, describe)
