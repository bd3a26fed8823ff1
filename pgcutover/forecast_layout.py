"""Lay a window's measured steps out as the run loop runs them: in line, and beside each other."""

from __future__ import annotations

from collections.abc import Sequence

from pgcutover.run import Step


def window_seconds(steps: dict[str, float], plan: Sequence[Step], *, overlap: bool = True) -> float:
    """Lay the plan's steps out as the run loop runs them and return where the last one ends.

    A step in line starts when the one before it ended and every step beside the window joined
    before it has ended too (the wait at its join). A step beside the window starts with the step
    after it in the plan, or once the step it needs (beside_after) has ended. Without the overlap
    (--no-overlap) every step is in line.
    """
    clock = 0.0
    ends: dict[str, float] = {}
    joins: dict[str, list[float]] = {}
    for step in plan:
        took = steps.get(step.name, 0.0)
        if step.runs_beside(overlap):
            assert step.beside_until is not None  # what runs_beside checked
            begins = max(clock, ends.get(step.beside_after or "", 0.0))
            ends[step.name] = begins + took
            joins.setdefault(step.beside_until, []).append(ends[step.name])
            continue
        clock = max([clock, *joins.pop(step.name, [])]) + took
        ends[step.name] = clock
    return max([clock, *(end for waiting in joins.values() for end in waiting)])
