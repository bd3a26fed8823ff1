"""Progress inside a long step: how far it is, its rate and time left, so slow never looks hung.

A step reports what it knows in-process (`ctx.progress.update(3, 6, unit="files")`); a probe may
read what only the system sees (a dump file's size, a relation growing, an index build) from the
file system or its own connection. A watcher thread samples both every few seconds, journals a
`progress` line, and shows it on the timeline. It never touches the step's connection or locks.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

JOURNAL_EVERY_S = 5.0  # the floor: a progress line at least this often while a step runs
MIN_ELAPSED_S = 10.0  # below this, a rate says nothing: no time left from data alone
MIN_FRACTION = 0.02
UNITS = ("bytes", "rows", "files", "tables", "entries", "hosts")


@dataclass(frozen=True)
class Reading:
    """One sample of how far a step is."""

    done: float
    total: float | None
    unit: str
    label: str = ""


class Progress:
    """What the running step says it has done; written by the step, read by the watcher."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reading: Reading | None = None

    def update(self, done: float, total: float | None, *, unit: str, label: str = "") -> None:
        """Record how far the step is (thread-safe; cheap enough to call per file or table)."""
        if unit not in UNITS:
            raise ValueError(f"progress unit {unit!r} is not one of {', '.join(UNITS)}")
        with self._lock:
            self._reading = Reading(
                float(done), None if total is None else float(total), unit, label
            )

    def reset(self) -> None:
        with self._lock:
            self._reading = None

    def read(self) -> Reading | None:
        with self._lock:
            return self._reading


@dataclass(frozen=True)
class Eta:
    """Time left with its range; None when there is too little to say anything."""

    seconds: float | None
    low: float | None = None
    high: float | None = None


def estimate(
    elapsed: float, reading: Reading, forecast_s: float | None, first: tuple[float, float] | None
) -> Eta:
    """Blend the rate so far with the forecast; never a confident figure from seconds of data.

    first is (elapsed, done) of the first sample with work done: the rate is measured from there,
    so a step's fixed start-up (connecting, planning) does not pass for its speed.
    """
    remaining_forecast = max(forecast_s - elapsed, 0.0) if forecast_s else None
    fraction = reading.done / reading.total if reading.total else None
    data_eta: float | None = None
    if (
        fraction is not None
        and first is not None
        and elapsed >= MIN_ELAPSED_S
        and fraction >= MIN_FRACTION
        and elapsed > first[0]
        and reading.done > first[1]
    ):
        rate = (reading.done - first[1]) / (elapsed - first[0])
        data_eta = (reading.total - reading.done) / rate if reading.total and rate > 0 else None
    if data_eta is None and remaining_forecast is None:
        return Eta(None)
    if data_eta is None:
        assert remaining_forecast is not None
        # Only the forecast: as sure as it was, which is not very once the step is running.
        return Eta(remaining_forecast, remaining_forecast * 0.5, remaining_forecast * 1.5 + 10)
    weight = min(max(fraction or 0.0, 0.0), 1.0)  # the further along, the more the rate counts
    blended = (
        data_eta
        if remaining_forecast is None
        else (weight * data_eta + (1 - weight) * remaining_forecast)
    )
    doubt = (1 - weight) * 0.5 + 0.1  # ±60 % early, ±10 % near the end
    return Eta(blended, blended * (1 - doubt), blended * (1 + doubt))


def describe(reading: Reading, eta: Eta, rate: float | None) -> str:
    """Say a reading in a few words: done of total, rate, time left with its range."""
    done = _amount(reading.done, reading.unit)
    text = f"{done} of {_amount(reading.total, reading.unit)}" if reading.total else done
    if reading.total:
        text += f" ({100 * reading.done / reading.total:.0f}%)"
    if rate and reading.unit == "bytes":
        text += f", {_amount(rate, 'bytes')}/s"
    if eta.seconds is not None and eta.low is not None and eta.high is not None:
        text += f", ~{_clock(eta.seconds)} left ({_clock(eta.low)}–{_clock(eta.high)})"
    return f"{reading.label}: {text}" if reading.label else text


def _whole(value: float) -> float | int:
    """Write 6 files as 6, not 6.0; keep a fraction where there is one."""
    return int(value) if float(value).is_integer() else round(value, 3)


def _amount(value: float | None, unit: str) -> str:
    if value is None:
        return "?"
    if unit == "bytes":
        return f"{value / 2**20:.0f} MiB" if value >= 2**20 else f"{value / 1024:.0f} KiB"
    return f"{int(value)} {unit}"


def _clock(seconds: float) -> str:
    m, s = divmod(int(math.ceil(seconds)), 60)
    return f"{m}:{s:02d}"


Probe = Callable[[], Reading | None]


def read_position(path: Path) -> int | None:
    """Return how far a process of ours has read a file (Linux /proc); None if none has it open.

    A reader such as pg_restore says nothing while it reads: its open file's offset does.
    """
    try:
        target = path.resolve()
        for fd in Path("/proc").glob("[0-9]*/fd/*"):
            try:
                if Path(os.readlink(fd)) != target:
                    continue
                info = (fd.parent.parent / "fdinfo" / fd.name).read_text()
            except OSError:  # gone, or not ours to read: the next one
                continue
            for line in info.splitlines():
                if line.startswith("pos:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Watcher:
    """Sample a running step's progress every few seconds: journal it and show it."""

    def __init__(
        self,
        step: str,
        progress: Progress,
        emit: Callable[..., Any],
        show: Callable[[str, float | None], None],
        *,
        probe: Probe | None = None,
        forecast_s: float | None = None,
        every_s: float = JOURNAL_EVERY_S,
    ) -> None:
        self.step, self.progress, self.emit, self.show = step, progress, emit, show
        self.probe, self.forecast_s, self.every_s = probe, forecast_s, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"progress {step}", daemon=True)
        self._started = time.monotonic()
        self._first: tuple[float, float] | None = None
        self._last: tuple[float, float] | None = None
        # What sampling cost, wall clock: the bench holds it against the step's time (≤ 2 %).
        self.spent_s = 0.0
        self.samples = 0

    def __enter__(self) -> Watcher:
        self.progress.reset()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every_s + 5)

    def sample(self) -> Reading | None:
        """Read the step's own account, else the probe's; a failing probe says nothing."""
        reading = self.progress.read()
        if self.probe is not None:
            try:
                probed = self.probe()
            except Exception:  # a probe is a window onto the step, never a reason to fail it
                probed = None
            if probed is not None and reading is not None and not probed.label:
                probed = replace(probed, label=reading.label)
            reading = probed or reading
        return reading

    def tick(self) -> dict[str, Any] | None:
        """Take one sample; journal and show it; return the journaled fields."""
        reading = self.sample()
        if reading is None:
            return None
        elapsed = time.monotonic() - self._started
        if self._first is None and reading.done > 0:
            self._first = (elapsed, reading.done)
        rate = None
        if self._last is not None and elapsed > self._last[0]:
            rate = max(reading.done - self._last[1], 0.0) / (elapsed - self._last[0])
        self._last = (elapsed, reading.done)
        eta = estimate(elapsed, reading, self.forecast_s, self._first)
        fields = {
            "done": _whole(reading.done),
            "total": None if reading.total is None else _whole(reading.total),
            "unit": reading.unit,
            "eta_s": None if eta.seconds is None else round(eta.seconds, 1),
            "eta_low_s": None if eta.low is None else round(eta.low, 1),
            "eta_high_s": None if eta.high is None else round(eta.high, 1),
            "label": reading.label or None,
        }
        # total and eta_s are part of the line's contract even when unknown: written as null.
        self.emit(self.step, "progress", fields, ("total", "eta_s"))
        fraction = reading.done / reading.total if reading.total else None
        self.show(describe(reading, eta, rate), fraction)
        return fields

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            began = time.monotonic()
            try:
                self.tick()
            except Exception:  # progress must never take the window down
                pass
            self.spent_s += time.monotonic() - began
            self.samples += 1
