"""The programs pgcutover is running, so that a second Ctrl-C can end the ones beside the window.

Each child runs in a session of its own (pgtools.run_child): a terminal's Ctrl-C never reaches it.
The thread that started a child kills its group when that thread is interrupted; a step running
beside the window has no such interrupt, so the run loop ends its children through this list.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_RUNNING: set[subprocess.Popen[str]] = set()
_LOCK = threading.Lock()


@contextmanager
def running_child(proc: subprocess.Popen[str]) -> Iterator[None]:
    """Keep a child on the list while its owner waits for it."""
    with _LOCK:
        _RUNNING.add(proc)
    try:
        yield
    finally:
        with _LOCK:
            _RUNNING.discard(proc)


def kill_running_children() -> None:
    """SIGKILL every listed child's process group (its owner reaps it)."""
    with _LOCK:
        running = [p for p in _RUNNING if p.returncode is None]
    for proc in running:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
