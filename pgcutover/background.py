"""Work beside the step's own: a daemon thread whose result the step collects when it needs it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Background(Generic[T]):
    """Run fn on a daemon thread from now; result() waits for it and raises what it raised.

    Daemon, and never joined on the way out of a failure: a step that fails or is interrupted
    does not wait for work beside it (a read-only count, a hash) that nobody will use.
    """

    def __init__(self, fn: Callable[[], T], name: str) -> None:
        self._box: dict[str, Any] = {}
        # Its own flag, not Thread.is_alive()/join(): a join that a Ctrl-C interrupts can leave
        # the thread marked stopped while it still runs (CPython's bpo-45274 handling), and the
        # second Ctrl-C would then take running work for ended work.
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(fn,), name=name, daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], T]) -> None:
        try:
            self._box["value"] = fn()
        except BaseException as exc:  # handed to result(): the caller decides what it means
            self._box["error"] = exc
        finally:
            self._done.set()

    def running(self) -> bool:
        """Tell whether the work is still going."""
        return not self._done.is_set()

    def result(self) -> T:
        """Wait for the work; return its value or raise its error."""
        self._done.wait()
        if "error" in self._box:
            raise self._box["error"]
        value: T = self._box["value"]
        return value
