"""What running one command on a host came to, whichever host ran it."""

from __future__ import annotations

from dataclasses import dataclass

TIMED_OUT = 124


@dataclass(frozen=True)
class CommandResult:
    host: str
    exit_code: int
    stdout: str
    stderr: str
    error: str = ""  # the command could not run or finish (no connection, connection lost)
