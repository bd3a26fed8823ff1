"""Refusals before a task connects or changes anything: settings, --jobs, the operator's yes."""

from __future__ import annotations

import sys
from collections.abc import Callable

from pgcutover.db import describe_target
from pgcutover.errors import CutoverError
from pgcutover.pgtools import parse_restore_jobs
from pgcutover.settings import Settings
from pgcutover.timeline import say, warn
from steps.rollback import ROLLBACK
from steps.window import MIGRATE_OFFLINE

Confirm = Callable[[str], bool]


def confirm_destructive(
    settings: Settings, step: str, action: str, *, yes: bool, ask: Confirm | None = None
) -> None:
    """Print the target and ask; --yes answers for scripts; no TTY and no --yes refuses."""
    target = describe_target(settings.database_url)
    say(f"{action} on {target}")
    if yes:
        return
    if ask is None:
        if not sys.stdin.isatty():
            raise CutoverError(
                step, "no TTY to confirm on and no --yes: refusing (nothing was changed)"
            )
        ask = lambda prompt: input(prompt).strip().lower() in ("y", "yes")  # noqa: E731
    try:
        confirmed = ask(f"Proceed with {action} on {target}? [y/N] ")
    except (EOFError, KeyboardInterrupt):  # Ctrl-D or Ctrl-C at the prompt is a "no"
        say("")
        confirmed = False
    if not confirmed:
        raise CutoverError(step, "not confirmed: nothing was changed")


def validate(
    settings: Settings, step: str, *, deploys: bool = False, connects: bool = True
) -> None:
    """Check every setting a task needs before anything connects or changes.

    connects: False for a dry run, which prints the plan without a database.
    """
    if settings.missing_url and connects:
        raise CutoverError(
            "config",
            f"{settings.missing_url}: set it in .env, .env.NAME (--env) or the environment",
        )
    known = {s.name for s in (*MIGRATE_OFFLINE, *ROLLBACK)}
    unknown = sorted(set(settings.budgets) - known)
    if unknown:
        raise CutoverError(
            "config",
            f"BUDGET_{unknown[0].upper().replace('-', '_')} names no step: use "
            "BUDGET_ with one of " + ", ".join(n.upper().replace("-", "_") for n in sorted(known)),
        )
    validate_app_hosts(settings)
    if bool(settings.maintenance_on_cmd) != bool(settings.maintenance_off_cmd):
        given, missing = (
            ("MAINTENANCE_ON_CMD", "MAINTENANCE_OFF_CMD")
            if settings.maintenance_on_cmd
            else ("MAINTENANCE_OFF_CMD", "MAINTENANCE_ON_CMD")
        )
        # One without the other leaves the site in maintenance at the end (or never puts it
        # there) while the window says it is live.
        raise CutoverError(
            "config",
            f"{given} is set but {missing} is not: set both, or neither; nothing was changed",
        )
    if settings.deploy_cmd and "{version}" not in settings.deploy_cmd:
        # The rollback redeploys each host's own release through it: without {version} it
        # would deploy DEPLOY_CMD's fixed release again and call the host rolled back.
        raise CutoverError(
            "config",
            "DEPLOY_CMD has no {version}: it must install the release it is given (the window's "
            "DEPLOY_VERSION, each host's own on rollback); nothing was changed",
        )
    if deploys and settings.deploy_cmd:
        # Rollback must be able to redeploy the release that runs now: know how before anything
        # changes.
        if not settings.deploy_version:
            raise CutoverError(
                "preflight",
                "DEPLOY_CMD is set but DEPLOY_VERSION is not: set the release "
                "to deploy, or unset DEPLOY_CMD; nothing was changed",
            )
        if not settings.current_version_cmd:
            raise CutoverError(
                "preflight",
                "DEPLOY_CMD is set but CURRENT_VERSION_CMD is not: rollback could "
                "not redeploy the running release; set it; nothing was changed",
            )


def validate_app_hosts(settings: Settings) -> None:
    """Check the SSH side (hosts were parsed with the settings) before anything connects."""
    if settings.ssh_config is not None:
        copy = settings.backup_copy_to
        if not settings.app_hosts and not (copy and copy.host):  # the off-host copy may use it
            warn("config: SSH_CONFIG is set but APP_HOSTS is not: app commands run on this machine")
        elif not settings.ssh_config.is_file():
            raise CutoverError(
                "config",
                f"SSH_CONFIG={settings.ssh_config} is not a file: fix the path, or unset it to "
                "use ~/.ssh/config; nothing was changed",
            )
    if len(settings.app_hosts) > 1:
        for name in ("HEALTHCHECK_URL", "MAINTENANCE_CHECK_URL"):
            url = getattr(settings, name.lower())
            if url and "{host}" not in url:
                warn(f"config: {name} has no {{host}}: every host is checked at the same {url}")


def parse_jobs(raw: object) -> int | None:
    """Refuse a bad --jobs before the rollback connects (the one rule: parse_restore_jobs)."""
    return parse_restore_jobs(raw, "rollback")
