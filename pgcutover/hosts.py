"""Where operator commands run: the local machine now; fabric Connections plug in here later."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Protocol

from pgcutover.errors import CutoverError
from pgcutover.pgtools import (
    run_child,
)  # the one child runner (own session, group killed and reaped)
from pgcutover.redact import mask


@dataclass(frozen=True)
class CommandResult:
    host: str
    exit_code: int
    stdout: str
    stderr: str


class Host(Protocol):
    """Something that runs a shell command and reports its result."""

    @property
    def name(self) -> str: ...

    def run(self, command: str, *, timeout_s: float) -> CommandResult: ...


@dataclass(frozen=True)
class LocalHost:
    """Run commands with the local shell (the app-hosts-over-SSH issue adds a fabric-backed Host)."""

    name: str = "local"

    def run(self, command: str, *, timeout_s: float) -> CommandResult:
        """Run a shell command in its own session; a timeout kills the shell and all it started."""

        try:
            proc = run_child(["/bin/sh", "-c", command], timeout_s=timeout_s)
        except subprocess.TimeoutExpired:
            return CommandResult(self.name, 124, "", f"timed out after {timeout_s:.0f}s")
        return CommandResult(self.name, proc.returncode, proc.stdout, proc.stderr)


def run_checked(step: str, host: Host, command: str, *, timeout_s: float = 600) -> str:
    """Run a command on a host; a non-zero exit fails the step with its last stderr line."""
    result = host.run(command, timeout_s=timeout_s)
    if result.exit_code != 0:
        last = (result.stderr or result.stdout).strip().splitlines()
        raise CutoverError(
            step,
            mask(
                f"{host.name}: `{command}` exited {result.exit_code}: "
                f"{last[-1] if last else 'no output'}"
            ),
        )
    return result.stdout


def app_hosts() -> list[Host]:
    """Return the hosts that app commands run on (today: this machine)."""
    return [LocalHost()]
