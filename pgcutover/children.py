"""The programs pgcutover is running, so that a second Ctrl-C can end the ones beside the window.

Each child runs in a session of its own (pgtools.run_child): a terminal's Ctrl-C never reaches it.
The thread that started a child kills its group when that thread is interrupted; a step running
beside the window has no such interrupt, so the run loop ends its children through this list.

A pgcutover killed outright (SIGKILL, the OOM killer) cannot end them: a deploy or maintenance
command would run on and undo a rollback that came after it. So while a run is open each child is
also written to a ledger (RUNS_DIR/<run>/children, a file per child, removed when it ends), and
the next command on that RUNS_DIR ends the process groups whose owner is dead.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_RUNNING: set[subprocess.Popen[str]] = set()
_LOCK = threading.Lock()
_LEDGER: list[Path] = []  # the directory children are written to while a run is open (or none)


def keep_ledger(directory: Path) -> None:
    """Write each child started from now on to directory (made on the first) until it ends."""
    _LEDGER[:] = [directory]


def start_ticks(pid: int) -> int | None:
    """Return when a process started (clock ticks since boot), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name, which may hold spaces: state is 3rd, starttime 22nd.
    return int(stat.rsplit(")", 1)[1].split()[19])


def _write_entry(proc: subprocess.Popen[str]) -> Path | None:
    """Record a child in the ledger: its group, when it started, its owner (us)."""
    if not _LEDGER:
        return None
    args = proc.args if isinstance(proc.args, list) else [str(proc.args)]
    entry = {
        "pid": proc.pid,
        "start": start_ticks(proc.pid),
        "program": os.path.basename(str(args[0])) if args else "?",  # never its arguments
        "owner": os.getpid(),
        "owner_start": start_ticks(os.getpid()),
    }
    path = _LEDGER[0] / str(proc.pid)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entry))
    except OSError:  # the ledger is a safety net: never a reason to fail the program
        return None
    return path


@contextmanager
def running_child(proc: subprocess.Popen[str]) -> Iterator[None]:
    """Keep a child on the list while its owner waits for it."""
    with _LOCK:
        _RUNNING.add(proc)
    entry = _write_entry(proc)
    try:
        yield
    finally:
        with _LOCK:
            _RUNNING.discard(proc)
        if entry is not None:
            entry.unlink(missing_ok=True)


def kill_running_children() -> None:
    """SIGKILL every listed child's process group (its owner reaps it)."""
    with _LOCK:
        running = [p for p in _RUNNING if p.returncode is None]
    for proc in running:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def end_orphaned_programs(runs_dir: Path) -> list[str]:
    """End the process groups a dead pgcutover left running (per its runs' ledgers); name them."""
    ended: list[str] = []
    for path in sorted(runs_dir.glob("*/children/[0-9]*")):
        try:
            entry = json.loads(path.read_text())
            pid, owner = int(entry["pid"]), int(entry["owner"])
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if owner == os.getpid() or start_ticks(owner) == entry.get("owner_start"):
            continue  # its owner is alive (this process, or another pgcutover): not an orphan
        # The group's id is its leader's pid, which no new process gets while the group lives:
        # a leader still there must be the same process (same start), one gone leaves its group.
        leader = start_ticks(pid)
        if leader is None or leader == entry.get("start"):
            if _kill_group(pid):
                ended.append(f"{entry.get('program', '?')} (process group {pid})")
        path.unlink(missing_ok=True)
    return ended


def _kill_group(pgid: int) -> bool:
    """SIGKILL a process group and wait (5 s at most) until it is gone; say if it was there."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    deadline = time.monotonic() + 5
    while _group_runs(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def _group_runs(pgid: int) -> bool:
    """Tell whether a process of the group still runs (a zombie is dead, only unreaped: an
    orphan's new parent may never reap it, and signal 0 would still find it)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # state ppid pgrp …
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False
