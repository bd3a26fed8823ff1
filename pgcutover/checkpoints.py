"""A step's end line, and what any failure inside a step becomes: shared by the run loop and the
steps it runs beside the window."""

from __future__ import annotations

import time
from typing import Any

from pgcutover.db import DB_ERRORS, error_text
from pgcutover.errors import CutoverError
from pgcutover.run import RunContext
from pgcutover.timeline import Timeline


def as_step_error(step: str, exc: Exception) -> CutoverError:
    """Turn what a step raised into its one-line failure (a bug or an OS error still fails it)."""
    if isinstance(exc, CutoverError):
        return exc
    if isinstance(exc, DB_ERRORS):
        return CutoverError(step, error_text(exc))
    return CutoverError(step, f"unexpected {type(exc).__name__}: {exc}")


def write_end(
    ctx: RunContext,
    timeline: Timeline,
    name: str,
    outcome: str,
    started: float,
    budget: float,
    *,
    note: str = "",
    error: str | None = None,
    details: dict[str, Any] | None = None,
    beside: str | None = None,
) -> None:
    """Journal a step's end line (duration against budget) and show it on the timeline."""
    duration = round(time.monotonic() - started, 3)
    ctx.journal.write(
        name,
        "end",
        outcome=outcome,
        duration_s=duration,
        budget_s=budget,
        over_budget=duration > budget,
        note=note or None,
        error=error,
        details=details or None,
        beside_until=beside,
    )
    timeline.finish(name, outcome, note or error or "")
