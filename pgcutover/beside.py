"""Steps that run beside the window's own: each on a thread, joined before a later step.

A step may run beside the others only if it reads frozen data and needs no database session of
the window's (the backup dumps the fenced legacy schema on connections of its own; its proof reads
the dump file). The plan says where it is joined
(Step.beside_until): the window never passes that step until the work beside it ended, and a
failure there fails the window at that point. On any way out of the run loop every thread is
waited for first, so its end line is written and nothing (a rollback) runs under it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

from pgcutover.background import Background
from pgcutover.checkpoints import as_step_error, write_end
from pgcutover.children import kill_running_children
from pgcutover.errors import CutoverError
from pgcutover.faults import inject_fault
from pgcutover.progress import Watcher
from pgcutover.run import RunContext, Step
from pgcutover.timeline import Timeline, say


@dataclass
class _Running:
    step: Step
    work: Background[CutoverError | None]


class BesideSteps:
    """The steps running beside the window's own: each journals its start when it is started,
    or, when it needs another one's work (Step.beside_after), once that one has ended."""

    def __init__(
        self,
        ctx: RunContext,
        timeline: Timeline,
        watch: Callable[[Step], Watcher],
        stopping: Callable[[], str | None],
    ) -> None:
        self.ctx, self.timeline, self._watch, self._stopping = ctx, timeline, watch, stopping
        self._running: list[_Running] = []
        self._leaving = False  # the window failed or was stopped: work not yet begun stays undone
        # Steps a second Ctrl-C abandoned: journaled as interrupted then; their threads, which may
        # end later (a killed program's error, a statement finishing), write nothing after it.
        self._abandoned: set[str] = set()
        self._started: dict[str, float] = {}
        self._journaled: set[str] = set()
        self._ends = threading.Lock()

    def start(self, step: Step) -> None:
        """Run the step on a thread of its own, which journals its start (after the step it
        needs, if that one runs beside the window too)."""
        prior = next((r for r in self._running if r.step.name == step.beside_after), None)
        if prior is None:  # in plan order, before the steps after it start
            self._journal_start(step)
        work = Background(lambda: self._run(step, prior), name=step.name)
        self._running.append(_Running(step, work))

    def _journal_start(self, step: Step) -> None:
        self._journaled.add(step.name)
        budget = step.budget(self.ctx.settings)
        self.ctx.journal.write(step.name, "start", budget_s=budget, beside_until=step.beside_until)
        self.timeline.start(step.name)

    def _run(self, step: Step, prior: _Running | None) -> CutoverError | None:
        budget = step.budget(self.ctx.settings)
        failed, signal, leaving = False, None, self._leaving
        if prior is not None:  # it starts once what it needs has ended
            failed = prior.work.result() is not None
            # Whether to begin is settled before its start line is written: a stop that comes
            # after that line finds the step under way, and it ends as a running one does.
            signal = self._stopping()
            leaving = self._leaving
            with self._ends:
                if step.name in self._abandoned:
                    return None  # never started: no line at all
                self._journal_start(step)
        if failed or signal or leaving:
            # What it needs failed (that fails the window at its own join), or the window is
            # stopping or failing: work not begun stays undone, as a step in line would.
            why = (
                f"{step.beside_after} failed" if failed
                else f"stopped by {signal}" if signal
                else "the window failed first"
            )  # fmt: skip
            with self._ends:
                if step.name not in self._abandoned:
                    write_end(
                        self.ctx, self.timeline, step.name, "interrupted", time.monotonic(),
                        budget, error=f"{why} before this step started; resume runs it",
                        beside=step.beside_until,
                    )  # fmt: skip
            return None
        started = self._started[step.name] = time.monotonic()
        try:
            inject_fault(self.ctx, step.name, "before")
            # A step with a probe (the dump's size) shows it as the steps in line show theirs.
            with self._watch(step) if step.probe else nullcontext():
                outcome = step.run(self.ctx)
            inject_fault(self.ctx, step.name, "after")
        except Exception as exc:  # the thread's one report: its end line, and the error it returns
            err = as_step_error(step.name, exc)
            with self._ends:
                if step.name not in self._abandoned:
                    write_end(
                        self.ctx, self.timeline, step.name, "failed", started, budget,
                        error=err.cause, beside=step.beside_until,
                    )  # fmt: skip
            return err
        with self._ends:
            if step.name in self._abandoned:
                return None
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
        self._leaving = True
        if self._running:
            with self._ends:  # their end lines first: what the kill makes them raise is ours
                for r in self._running:
                    if not r.work.running():
                        continue
                    self._abandoned.add(r.step.name)
                    if r.step.name in self._journaled:
                        write_end(
                            self.ctx, self.timeline, r.step.name, "interrupted",
                            self._started.get(r.step.name, time.monotonic()),
                            r.step.budget(self.ctx.settings),
                            error="abandoned by a second Ctrl-C: resume runs it again",
                            beside=r.step.beside_until,
                        )  # fmt: skip
            kill_running_children()
            names = ", ".join(r.step.name for r in self._running)
            say(f"  abandoned {names}, beside the window: resume runs it again", "bold yellow")
        self._running = []

    def wait_quietly(self) -> None:
        """On the way out of a failure: wait for the work beside it, whatever it ends with."""
        self._leaving = True
        for r in self._running:
            r.work.result()
        self._running = []

    def _wait(self, r: _Running, waiting: str) -> CutoverError | None:
        if r.work.running():
            say(f"  {waiting} waits for {r.step.name}, running beside the window")
        return r.work.result()
