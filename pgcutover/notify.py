"""Notifications: NOTIFY_CMD hears the window's events (start, each step's end, over budget,
failure, rollback, completion) as JSON on stdin and as environment variables.

It is the hook for chat or paging. It runs on a worker thread of its own, one event at a time and
in order, each bounded by NOTIFY_TIMEOUT; a notifier that fails or hangs is warned about, never a
reason to fail or slow the window.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from dataclasses import dataclass
from typing import Any

from pgcutover.children import kill_running_children
from pgcutover.db import describe_target
from pgcutover.pgtools import run_child
from pgcutover.redact import mask, mask_data
from pgcutover.run import RunContext
from pgcutover.timeline import warn

DRAIN_S = 30.0  # at the end of a run, how long to wait for events still queued
GRACE_S = 5.0  # within DRAIN_S: how long every queued event may still go out
# Once the run has ended, these may be dropped so that what it ended with goes out sooner.
ROUTINE = frozenset({"step-end"})


@dataclass(frozen=True)
class Plan:
    """The first and last step of each plan: where a window or a rollback starts and ends."""

    window_first: str
    window_last: str
    rollback_first: str
    rollback_last: str


def events_of(line: dict[str, Any], plan: Plan) -> list[str]:
    """Name the events a journal line stands for (none for most lines)."""
    step, event, outcome = line.get("step"), line.get("event"), line.get("outcome")
    if event == "start":
        if step == plan.window_first:
            return ["window-start"]
        if step == plan.rollback_first:
            return ["rollback-start"]
        return []
    if event == "paused":
        return ["window-paused"]
    if event != "end":
        return []
    found = ["step-end"]
    if line.get("over_budget"):
        found.append("over-budget")
    if outcome in ("failed", "interrupted"):
        found.append("failure")
    elif step == plan.window_last:
        found.append("window-complete")
    elif step == plan.rollback_last:
        found.append("rollback-complete")
    return found


class Notifier:
    """Run NOTIFY_CMD for each event of a run, in order, on a worker thread."""

    def __init__(self, command: str, timeout_s: float, plan: Plan, context: dict[str, str]) -> None:
        self.command, self.timeout_s, self.plan, self.context = command, timeout_s, plan, context
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._closing = False
        self._stopped = False  # the bound passed: nothing more is sent
        self._thread = threading.Thread(target=self._work, name="notify", daemon=True)
        self._thread.start()

    def __call__(self, line: dict[str, Any]) -> None:
        """Queue the events a journal line stands for; never blocks the step that wrote it."""
        for event in events_of(line, self.plan):
            self._queue.put({"event": event, **self.context, "line": mask_data(line)})

    def close(self) -> None:
        """Let the events that say how the run ended go out (bounded), then stop the worker.

        Past a grace, step ends still queued are dropped, so a slow notifier still delivers the
        outcome; one still running when the bound passes is killed, never left behind.
        """
        self._queue.put(None)
        self._thread.join(timeout=GRACE_S)
        self._closing = True  # still sending after the grace: the step ends left can wait no more
        self._thread.join(timeout=DRAIN_S - GRACE_S)
        if self._thread.is_alive():
            self._stopped = True
            kill_running_children()  # the run's steps have ended: only the notifier's is left
            self._thread.join(timeout=5.0)
            warn(
                f"notify: NOTIFY_CMD still running {DRAIN_S:.0f} s after the run ended: killed; "
                "events not yet sent were dropped"
            )

    def _work(self) -> None:
        while (event := self._queue.get()) is not None:
            if self._stopped or (self._closing and event["event"] in ROUTINE):
                continue
            self._send(event)

    def _send(self, event: dict[str, Any]) -> None:
        line = event["line"]
        env = {
            **os.environ,
            "PGCUTOVER_EVENT": event["event"],
            "PGCUTOVER_RUN": str(line.get("run", "")),
            "PGCUTOVER_STEP": str(line.get("step", "")),
            "PGCUTOVER_OUTCOME": str(line.get("outcome", "")),
            "PGCUTOVER_COMMAND": event.get("command", ""),
            "PGCUTOVER_TARGET": event.get("target", ""),
        }
        payload = json.dumps(event, ensure_ascii=False, default=str)
        try:
            proc = run_child(
                ["/bin/sh", "-c", self.command], env=env, timeout_s=self.timeout_s, stdin=payload
            )
        except subprocess.TimeoutExpired:
            warn(f"notify: NOTIFY_CMD took over {self.timeout_s:g} s on {event['event']}: killed")
            return
        except OSError as exc:
            warn(f"notify: NOTIFY_CMD could not start: {exc}")
            return
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or [""])[-1]
            warn(mask(f"notify: NOTIFY_CMD exited {proc.returncode} on {event['event']}: {last}"))


def attach_notifier(ctx: RunContext, plan: Plan) -> Notifier | None:
    """Tell NOTIFY_CMD of this run's journal lines; None when no NOTIFY_CMD is set."""
    settings = ctx.settings
    if not settings.notify_cmd:
        return None
    target = describe_target(settings.database_url)
    notifier = Notifier(
        settings.notify_cmd,
        settings.notify_timeout_s,
        plan,
        {"command": ctx.command, "target": target},
    )
    ctx.journal.listener = notifier
    return notifier
