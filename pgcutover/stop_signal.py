"""Turn the operator's signals into a stop at the next safe point, between steps."""

from __future__ import annotations

import os
import signal
from typing import Any

from pgcutover.timeline import say, silence_console

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopSignal:
    """Turn SIGINT, SIGTERM and SIGHUP into a stop at the next safe point (between steps).

    SIGHUP is a terminal that went away (an SSH session dropped at 2 a.m.): the run stops as on a
    first Ctrl-C, with the console sent to /dev/null, because writing to a hung-up terminal fails
    (EIO) and would end the run mid-step. The journal keeps every line; `invoke status` shows where
    it stopped. A hang-up never means "now": the kernel and the shell may each send one.
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self.abandoned = False  # a second signal came: the step, and any work beside it, ends now
        self._old: dict[int, Any] = {}
        self._terminals: tuple[int, ...] = ()

    def __enter__(self) -> StopSignal:
        # Only the outputs that are a terminal go when it hangs up: a log file stays a log file.
        self._terminals = tuple(fd for fd in (1, 2) if os.isatty(fd))
        for sig in STOP_SIGNALS:
            # A signal ignored from the start stays ignored: `nohup` asked for the run to go on.
            if signal.getsignal(sig) is not signal.SIG_IGN:
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            silence_console(self._terminals)
            if self.received:
                return
        elif self.received:  # a second signal means "now": the step's transaction rolls back
            self.abandoned = True
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name
        # A repeated SIGHUP never abandons (above): only Ctrl-C or SIGTERM does.
        again = "Ctrl-C or SIGTERM" if signum == signal.SIGHUP else "send it again"
        say(
            f"{self.received} received: stopping after the current step finishes safely "
            f"({again} to abandon the step now; its transaction rolls back)",
            "bold yellow",
        )

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
