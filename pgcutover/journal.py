"""The run's journal: RUNS_DIR/<run-id>/journal.jsonl, mirrored into the bookkeeping schema."""

from __future__ import annotations

import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pgcutover.errors import CutoverError
from pgcutover.redact import mask_data


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_id(now: datetime | None = None) -> str:
    """Make a sortable, unique run id such as 20261125T024551Z-3f9a."""
    now = now or utc_now()
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


@dataclass
class Journal:
    """Append-only checkpoint log; a step's start is written before it acts, its end after."""

    run_dir: Path
    run_id: str
    mirror: Any = None  # a callable(line: dict) that copies a line into the database, once it can
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    listener: Any = None  # a callable(line: dict) told of every line written (notifications)

    @property
    def path(self) -> Path:
        return self.run_dir / "journal.jsonl"

    def open(self) -> None:
        """Create the run directory or fail naming RUNS_DIR."""
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8"):
                pass
        except OSError as exc:
            raise CutoverError(
                "config", f"RUNS_DIR {self.run_dir.parent} is not writable: {exc.strerror}"
            ) from None

    def write(self, step: str, event: str, **fields: Any) -> dict[str, Any]:
        """Append one checkpoint line (fsynced) and mirror it; fields that are None are left out."""
        return self.append(step, event, fields)

    def append(
        self, step: str, event: str, fields: dict[str, Any], keep_none: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Append one line (fsynced) and mirror it; None fields named in keep_none stay as null."""
        line: dict[str, Any] = {
            "run": self.run_id,
            "step": step,
            "event": event,
            "at": iso(utc_now()),
        }
        line.update({k: v for k, v in fields.items() if v is not None or k in keep_none})
        # Mask each value before serializing: masking the JSON text could cut a line's syntax.
        text = json.dumps(mask_data(line), ensure_ascii=False, default=str)
        # The progress watcher writes from its own thread: one line, and one mirror, at a time.
        with self._lock:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(text + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            written = json.loads(text)
            self._pending.append(written)
            self.flush_mirror()
        if self.listener is not None:
            try:
                self.listener(written)
            except Exception:  # a listener only listens: it never fails the run
                pass
        return line

    def resend_all(self) -> None:
        """Queue every line of the file for the mirror (it was created after they were written)."""
        self._pending = self.lines()
        self.flush_mirror()

    def flush_mirror(self) -> None:
        """Copy pending lines into the bookkeeping schema; the file stays the truth if it cannot."""
        if self.mirror is None:
            return
        with self._lock:  # a step beside the window writes its lines from its own thread
            self._flush_pending()

    def _flush_pending(self) -> None:
        while self._pending:
            try:
                self.mirror(self._pending[0])
            except Exception:  # the mirror is a copy; a dead connection must not fail the step
                return
            self._pending.pop(0)

    def lines(self) -> list[dict[str, Any]]:
        """Read back every line written so far."""
        return read_journal(self.path)


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Parse a journal file, ignoring a torn last line left by a crash."""
    out: list[dict[str, Any]] = []
    if not path.exists():
        return out
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(raw))
        except json.JSONDecodeError:
            continue
    return out


def completed_steps(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Map each step to its last end line whose outcome counts as done (ok or skipped)."""
    done: dict[str, dict[str, Any]] = {}
    for line in lines:
        if line.get("event") == "end" and line.get("outcome") in ("ok", "skipped"):
            done[line["step"]] = line
        elif line.get("event") == "end":
            done.pop(line["step"], None)
    return done


def moment(at: object) -> datetime:
    """Return a journal line's `at` (ISO 8601, UTC, ending in Z) as an aware datetime."""
    return datetime.fromisoformat(str(at).replace("Z", "+00:00"))


def seconds_since_first_start(lines: list[dict[str, Any]]) -> float:
    """Return the seconds from a run's first start line until now (0 when it has none)."""
    starts = [str(ln["at"]) for ln in lines if ln.get("event") == "start" and ln.get("at")]
    if not starts:
        return 0.0
    return max(0.0, (datetime.now(timezone.utc) - moment(min(starts))).total_seconds())


def span_seconds(lines: list[dict[str, Any]], first: str, last: str) -> float:
    """Return the wall-clock seconds from step first's last start line to step last's last end
    line: a window's time, with steps beside it and the waits between steps counted once."""
    starts = [ln["at"] for ln in lines if ln.get("step") == first and ln.get("event") == "start"]
    ends = [ln["at"] for ln in lines if ln.get("step") == last and ln.get("event") == "end"]
    if not starts or not ends:
        return 0.0
    return round((moment(ends[-1]) - moment(starts[-1])).total_seconds(), 3)


def runs_newest_first(runs_dir: Path) -> list[Path]:
    """List run directories that have a journal, newest first (run ids sort by time)."""
    if not runs_dir.is_dir():
        return []
    return sorted((p for p in runs_dir.iterdir() if (p / "journal.jsonl").exists()), reverse=True)


def latest_run_dir(runs_dir: Path) -> Path | None:
    """Return the newest run with a journal, or None."""
    runs = runs_newest_first(runs_dir)
    return runs[0] if runs else None


def changed_something(run_dir: Path) -> bool:
    """Tell from a run's journal whether it got past its read-only preflight."""
    return any(
        ln.get("event") == "start" and ln.get("step") != "preflight"
        for ln in read_journal(run_dir / "journal.jsonl")
    )


def started_steps(run_dir: Path) -> set[str]:
    """Return the steps a run's journal shows started."""
    return {
        ln["step"] for ln in read_journal(run_dir / "journal.jsonl") if ln.get("event") == "start"
    }
