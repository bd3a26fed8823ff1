"""Where operator commands run: this machine, or every APP_HOSTS entry over SSH (ssh.py)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from pgcutover.command_result import TIMED_OUT, CommandResult
from pgcutover.errors import CutoverError
from pgcutover.journal import Journal
from pgcutover.pgtools import run_child  # the one child runner (own session, group killed)
from pgcutover.redact import mask
from pgcutover.settings import Settings
from pgcutover.ssh import SshHost

# How much of a command's output a journal line keeps: its end says what went wrong.
OUTPUT_LINES = 20
OUTPUT_CHARS = 2000
REACH_TIMEOUT_S = 30.0  # `true`, after connecting: anything slower is no usable host


class Host(Protocol):
    """Something that runs a shell command and reports its result."""

    @property
    def name(self) -> str: ...

    @property
    def url_host(self) -> str: ...

    @property
    def target(self) -> str: ...

    def run(self, command: str, *, timeout_s: float) -> CommandResult: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class LocalHost:
    """Run commands with the local shell (APP_HOSTS unset)."""

    name: str = "local"
    url_host: str = "localhost"
    target: str = "this machine"

    def run(self, command: str, *, timeout_s: float) -> CommandResult:
        """Run a shell command in its own session; a timeout kills the shell and all it started."""

        try:
            proc = run_child(["/bin/sh", "-c", command], timeout_s=timeout_s)
        except subprocess.TimeoutExpired:
            return CommandResult(self.name, TIMED_OUT, "", f"timed out after {timeout_s:.0f}s")
        return CommandResult(self.name, proc.returncode, proc.stdout, proc.stderr)

    def close(self) -> None:
        """Release nothing: a local shell holds no connection."""


def app_hosts(settings: Settings) -> list[Host]:
    """Return the hosts that app commands run on: each APP_HOSTS entry, else this machine."""
    if not settings.app_hosts:
        return [LocalHost()]
    return [
        SshHost(
            entry,
            ssh_config=settings.ssh_config,
            connect_timeout_s=settings.ssh_connect_timeout_s,
        )
        for entry in settings.app_hosts
    ]


@contextmanager
def open_hosts(settings: Settings) -> Iterator[list[Host]]:
    """Yield the app hosts for one step; each keeps one connection until the step ends."""
    hosts = app_hosts(settings)
    try:
        yield hosts
    finally:
        for host in hosts:
            host.close()


def tail(text: str) -> str:
    """Keep the end of a command's output, where its failure is said."""
    lines = text.rstrip("\n").splitlines()[-OUTPUT_LINES:]
    return "\n".join(lines)[-OUTPUT_CHARS:]


def journal_host(
    journal: Journal | None, step: str, host: Host, started: float, **fields: Any
) -> None:
    """Journal what was done on a host: one "host" line under its name, with how long it took."""
    if journal is not None:
        duration_s = round(time.monotonic() - started, 3)
        journal.write(step, "host", host=host.name, **fields, duration_s=duration_s)


def run_on(
    step: str, host: Host, command: str, *, timeout_s: float, journal: Journal | None = None
) -> CommandResult:
    """Run a command on a host and journal its outcome under the host's name."""
    started = time.monotonic()
    result = host.run(command, timeout_s=timeout_s)
    journal_host(
        journal,
        step,
        host,
        started,
        command=command,
        exit=result.exit_code,
        stdout=tail(result.stdout) or None,
        stderr=tail(result.stderr) or None,
        error=result.error or None,
    )
    return result


def failure(step: str, result: CommandResult, command: str) -> CutoverError:
    """Say in one line which host failed a command and why."""
    if result.error:
        return CutoverError(step, mask(f"{result.host}: {result.error}"))
    last = (result.stderr or result.stdout).strip().splitlines()
    return CutoverError(
        step,
        mask(
            f"{result.host}: `{command}` exited {result.exit_code}: "
            f"{last[-1] if last else 'no output'}"
        ),
    )


def run_checked(
    step: str,
    host: Host,
    command: str,
    *,
    timeout_s: float = 600,
    journal: Journal | None = None,
) -> str:
    """Run a command on a host; a non-zero exit fails the step naming the host."""
    result = run_on(step, host, command, timeout_s=timeout_s, journal=journal)
    if result.exit_code != 0 or result.error:
        raise failure(step, result, command)
    return result.stdout


def unreachable(step: str, hosts: list[Host], *, journal: Journal | None = None) -> list[str]:
    """Connect to every host and run `true`; return why each host that failed it failed."""
    causes = []
    for host in hosts:
        result = run_on(step, host, "true", timeout_s=REACH_TIMEOUT_S, journal=journal)
        if result.exit_code != 0 or result.error:
            causes.append(failure(step, result, "true").cause)
    return causes
