"""Steps that run beside the window's own: each on a thread, joined before a later step.

A step may run beside the others only if it reads frozen data and needs no database session of
the window's (the backup's proof reads the dump file). The plan says where it is joined
(Step.beside_until): the window never passes that step until the work beside it ended, and a
failure there fails the window at that point. On any way out of the run loop every thread is
waited for first, so its end line is written and nothing (a rollback) runs under it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pgcutover.background import Background
from pgcutover.checkpoints import as_step_error, write_end
from pgcutover.children import kill_running_children
from pgcutover.errors import CutoverError
from pgcutover.faults import inject_fault
from pgcutover.run import RunContext, Step
from pgcutover.timeline import Timeline, say


@dataclass
class _Running:
    step: Step
    work: Background[CutoverError | None]


class BesideSteps:
    """The steps running beside the window's own, each with its start line already written."""

    def __init__(self, ctx: RunContext, timeline: Timeline) -> None:
        self.ctx, self.timeline = ctx, timeline
        self._running: list[_Running] = []

    def start(self, step: Step) -> None:
        """Journal the step's start and run it on a thread of its own."""
        budget = step.budget(self.ctx.settings)
        self.ctx.journal.write(step.name, "start", budget_s=budget, beside_until=step.beside_until)
        self.timeline.start(step.name)
        work = Background(lambda: self._run(step, budget), name=step.name)
        self._running.append(_Running(step, work))

    def _run(self, step: Step, budget: float) -> CutoverError | None:
        started = time.monotonic()
        try:
            inject_fault(self.ctx, step.name, "before")
            outcome = step.run(self.ctx)
            inject_fault(self.ctx, step.name, "after")
        except Exception as exc:  # the thread's one report: its end line, and the error it returns
            err = as_step_error(step.name, exc)
            write_end(
                self.ctx, self.timeline, step.name, "failed", started, budget,
                error=err.cause, beside=step.beside_until,
            )  # fmt: skip
            return err
        self.ctx.state.setdefault(step.name, {}).update(outcome.details)
        write_end(
            self.ctx, self.timeline, step.name, "skipped" if outcome.skipped else "ok",
            started, budget, note=outcome.note, details=outcome.details,
            beside=step.beside_until,
        )  # fmt: skip
        return None

    def join_before(self, name: str, waiting: str = "") -> None:
        """Wait for the steps the plan joins before step `name`; raise the first one's failure."""
        due = [r for r in self._running if r.step.beside_until == name]
        errors = [self._wait(r, waiting or name) for r in due]
        # Only once they ended: a second Ctrl-C while waiting must still find them to abandon.
        self._running = [r for r in self._running if r not in due]
        failed = next((e for e in errors if e is not None), None)
        if failed is not None:
            raise failed

    def join_all(self) -> None:
        """Wait for every step still beside the window (the plan ended before its join)."""
        for name in {r.step.beside_until or "" for r in self._running}:
            self.join_before(name, "the window, cut short before " + name + ",")

    def abandon(self) -> None:
        """End the work beside the window now (a second Ctrl-C): kill its programs, wait no more."""
        if self._running:
            kill_running_children()
            names = ", ".join(r.step.name for r in self._running)
            say(f"  abandoned {names}, beside the window: resume runs it again", "bold yellow")
        self._running = []

    def wait_quietly(self) -> None:
        """On the way out of a failure: wait for the work beside it, whatever it ends with."""
        for r in self._running:
            r.work.result()
        self._running = []

    def _wait(self, r: _Running, waiting: str) -> CutoverError | None:
        if r.work.running():
            say(f"  {waiting} waits for {r.step.name}, running beside the window")
        return r.work.result()
