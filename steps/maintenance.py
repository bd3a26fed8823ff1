"""Steps 2 and 11, maintenance on/off: the operator's own commands, run on every app host."""

from __future__ import annotations

from pgcutover.errors import CutoverError
from pgcutover.hosts import Host, app_hosts, open_hosts, run_checked
from pgcutover.journal import read_journal
from pgcutover.migration import Migration
from pgcutover.run import RunContext, Step, StepOutcome
from pgcutover.settings import Settings
from pgcutover.timeline import warn
from pgcutover.urlcheck import check_url, host_url

COMMAND_TIMEOUT_S = 120.0
# What the maintenance check expects from each host's page: the maintenance page, or the site.
EXPECT = {True: "503", False: "2xx"}


def _command(settings: Settings, on: bool) -> tuple[str, str]:
    """Return the maintenance command for on or off, and the variable that sets it."""
    if on:
        return settings.maintenance_on_cmd, "MAINTENANCE_ON_CMD"
    return settings.maintenance_off_cmd, "MAINTENANCE_OFF_CMD"


def switch(ctx: RunContext, step: str, *, on: bool, undo_on_failure: bool = False) -> StepOutcome:
    """Turn maintenance on or off on every app host, proving it with MAINTENANCE_CHECK_URL.

    On: stops at the first host that fails; with undo_on_failure, maintenance goes off again on
    the hosts where it went on. Off: goes on to the other hosts, so every host it can reach is
    back, then fails naming each host that is not.
    """
    s = ctx.settings
    command, variable = _command(s, on)
    if not command:
        warn(
            f"{step}: {variable} is not set; skipped (the site is NOT in the state this step "
            "promises)"
        )
        return StepOutcome(
            note=f"skipped: {variable} not set",
            skipped=True,
            details={"skipped": f"{variable} not set"},
        )
    state = "on" if on else "off"
    with open_hosts(s) as hosts:
        switched: list[Host] = []  # the command succeeded there (even if its check did not)
        failures: dict[str, str] = {}
        for host in hosts:
            try:
                run_checked(step, host, command, timeout_s=COMMAND_TIMEOUT_S, journal=ctx.journal)
                switched.append(host)
                prove(ctx, step, host, on=on)
            except CutoverError as exc:
                if not on:
                    failures[host.name] = exc.cause
                    continue
                undone = undo(ctx, step, switched) if undo_on_failure else ""
                raise CutoverError(step, exc.cause + undone) from exc
        if failures:
            back = [h.name for h in hosts if h.name not in failures]
            raise CutoverError(
                step,
                "; ".join(failures.values())
                + (f" (maintenance is off on {', '.join(back)})" if back else ""),
            )
    checked = f", proven by {s.maintenance_check_url}" if s.maintenance_check_url else ""
    return StepOutcome(
        note=f"{state} on {', '.join(h.name for h in hosts)}{checked}",
        details={"command": command, "hosts": {h.name: state for h in hosts}},
    )


def prove(ctx: RunContext, step: str, host: Host, *, on: bool) -> None:
    """Check the host's page answers 503 (on) or 2xx (off), when MAINTENANCE_CHECK_URL is set."""
    s = ctx.settings
    if s.maintenance_check_url:
        check_url(
            step,
            host,
            host_url(s.maintenance_check_url, host),
            expect=EXPECT[on],
            timeout_s=s.maintenance_check_timeout_s,
            journal=ctx.journal,
        )


def undo(ctx: RunContext, step: str, hosts: list[Host]) -> str:
    """Turn maintenance off again on the hosts where it went on; say how that went."""
    if not hosts:
        return ""
    command, _ = _command(ctx.settings, False)
    if not command:
        return (
            f"; MAINTENANCE_OFF_CMD is not set: maintenance stays on on "
            f"{', '.join(h.name for h in hosts)}"
        )
    back, stuck = [], []
    for host in reversed(hosts):
        try:
            run_checked(step, host, command, timeout_s=COMMAND_TIMEOUT_S, journal=ctx.journal)
            prove(ctx, step, host, on=False)
            back.append(host.name)
        except CutoverError as exc:
            stuck.append(exc.cause)
    said = f"; maintenance off again on {', '.join(back)}" if back else ""
    return said + (f"; turning it off again FAILED: {'; '.join(stuck)}" if stuck else "")


def window_went_further(ctx: RunContext) -> bool:
    """Tell whether this run ever started a step after maintenance-on (the journal says)."""
    early = {"preflight", "maintenance-on"}
    return any(
        line.get("event") == "start" and line.get("step") not in early
        for line in read_journal(ctx.journal.path)
    )


def maintenance_on(ctx: RunContext) -> StepOutcome:
    # Undo a partial maintenance-on only when nothing else has happened yet: on a resumed window
    # the database may be half migrated, and the site must stay in maintenance.
    return switch(ctx, "maintenance-on", on=True, undo_on_failure=not window_went_further(ctx))


def maintenance_off(ctx: RunContext) -> StepOutcome:
    return switch(ctx, "maintenance-off", on=False)


def describe_switch(settings: Settings, *, on: bool) -> list[str]:
    """List the maintenance command (and its check) per host, for the dry run."""
    command, variable = _command(settings, on)
    if not command:
        return [f"{variable} not set: will be skipped with a warning"]
    lines = []
    for host in app_hosts(settings):
        lines.append(f"on {host.name} ({host.target}): {command}")
        if settings.maintenance_check_url:
            lines.append(
                f"  then GET {host_url(settings.maintenance_check_url, host)} must answer "
                f"{EXPECT[on]} (within {settings.maintenance_check_timeout_s:g}s)"
            )
    return lines


def describe_on(settings: Settings, migration: Migration) -> list[str]:
    lines = describe_switch(settings, on=True)
    if settings.maintenance_on_cmd and settings.app_hosts:
        lines.append("a host that fails stops the window: maintenance goes off where it went on")
    return lines


def describe_off(settings: Settings, migration: Migration) -> list[str]:
    return describe_switch(settings, on=False)


MAINTENANCE_ON = Step("maintenance-on", 30, maintenance_on, describe_on)
MAINTENANCE_OFF = Step("maintenance-off", 30, maintenance_off, describe_off)
