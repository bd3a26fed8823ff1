"""Fault injection, the one seam tests switch on: CUTOVER_FAULT=step:point:kind fails a run on cue.

Production never sets CUTOVER_FAULT; with it unset every call here returns at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from pgcutover.errors import CutoverError
from pgcutover.run import RunContext


def inject_fault(ctx: RunContext, step: str, point: str) -> None:
    """Test-only hook: CUTOVER_FAULT=step:point:kind[,step:point:kind…] acts there on purpose."""
    for fault in ctx.settings.fault.split(",") if ctx.settings.fault else ():
        f_step, _, rest = fault.strip().partition(":")
        f_point, _, kind = rest.partition(":")
        if f_step == step and f_point == point:
            _act(step, point, kind)


def _act(step: str, point: str, kind: str) -> None:
    """Do one fault: kill, term, restart, oserror, sleep (2 s: hold a step mid-way) or error."""
    if kind == "sleep":  # keeps work beside the window running while another step fails
        time.sleep(2.0)
        return
    if kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if (
        kind == "term"
    ):  # as if the operator's terminal sent SIGTERM: the run must stop at a safe point
        os.kill(os.getpid(), signal.SIGTERM)
        return
    if kind == "restart":  # the tests' command restarts the server under the run's feet
        subprocess.run(["/bin/sh", "-c", os.environ.get("CUTOVER_FAULT_CMD", "false")], check=True)
        return
    if (
        kind == "oserror"
    ):  # an error outside the domain (a full disk, a bug) must still fail the step
        raise OSError(28, f"injected OSError at {step}:{point} (CUTOVER_FAULT)")
    raise CutoverError(step, f"injected fault at {point} (CUTOVER_FAULT)")
