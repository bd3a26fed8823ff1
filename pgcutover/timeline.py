"""The operator's view: one masked console and the live timeline of steps against budgets."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from pgcutover.redact import mask

console = Console(highlight=False, soft_wrap=True)
PROGRESS_LINE_EVERY_S = 10.0  # without a TTY, a running step prints its progress this often at most

STYLE = {
    "pending": "dim",
    "running": "bold cyan",
    "ok": "green",
    "skipped": "yellow",
    "failed": "bold red",
    "interrupted": "bold red",
    "done earlier": "green",
}


def say(message: str, style: str | None = None) -> None:
    """Print one line, secrets masked."""
    show(Text(mask(message), style=style or ""))


def show(renderable: RenderableType) -> None:
    """Print to the console; a terminal that hung up (EIO) sends it to /dev/null instead."""
    with quiet_if_hung_up():
        console.print(renderable)


@contextmanager
def quiet_if_hung_up() -> Iterator[None]:
    """Send the console to /dev/null when a write to it fails (EIO: the terminal hung up)."""
    try:
        yield
    except OSError:
        # What was being written is lost to the screen only: the journal keeps every event.
        silence_console()


def silence_console(fds: tuple[int, ...] = (1, 2)) -> None:
    """Point stdout and stderr (or those of fds) at /dev/null: the terminal has hung up."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def warn(message: str) -> None:
    say(f"warning: {message}", "yellow")


@dataclass
class Row:
    name: str
    budget_s: float
    state: str = "pending"
    started: float | None = None
    elapsed_s: float = 0.0
    note: str = ""
    fraction: float | None = None  # how far a running step is, when it says
    said_at: float = 0.0  # when its progress was last printed (no TTY)
    beside: bool = False  # runs beside the other steps: its budget overlaps theirs


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m:d}:{s:02d}"


@dataclass
class Timeline:
    """Each step's state and time against its budget: live on a TTY, else one line per event."""

    title: str
    rows: list[Row]
    live: Live | None = None
    started: float = field(default_factory=time.monotonic)
    # A resumed window began before this attempt: the seconds between (0: a new run).
    before_s: float = 0.0

    @classmethod
    def for_steps(
        cls, title: str, budgets: list[tuple[str, float]], beside: frozenset[str] = frozenset()
    ) -> Timeline:
        return cls(title, [Row(n, b, beside=n in beside) for n, b in budgets])

    def row(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)

    def __enter__(self) -> Timeline:
        if console.is_terminal:
            self.live = Live(self, console=console, refresh_per_second=4, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            with quiet_if_hung_up():  # its last frame may go to a terminal that hung up
                self.live.__exit__(None, None, None)
            self.live = None
        show(self.table())

    def start(self, name: str) -> None:
        r = self.row(name)
        r.state, r.started, r.note = "running", time.monotonic(), ""
        if self.live is None:
            beside = " beside the steps after it" if r.beside else ""
            say(f"+ {name} .. started{beside} (budget {_clock(r.budget_s)})")

    def progress(self, name: str, text: str, fraction: float | None) -> None:
        """Show how far a running step is: in its row on a TTY, else a line every 10 s at most."""
        r = self.row(name)
        r.note, r.fraction = text, fraction
        now = time.monotonic()
        if self.live is None and now - r.said_at >= PROGRESS_LINE_EVERY_S:
            r.said_at = now
            say(f"  {name} .. {text}")

    def finish(self, name: str, state: str, note: str = "", *, took_s: float | None = None) -> None:
        """End a step's row; took_s: the time it took in an earlier attempt (done earlier)."""
        r = self.row(name)
        r.fraction = None
        if r.started is not None:
            r.elapsed_s = time.monotonic() - r.started
        elif took_s is not None:
            r.elapsed_s = took_s
        r.state, r.note = state, note
        if self.live is None:
            over = "  OVER BUDGET" if r.elapsed_s > r.budget_s else ""
            say(
                f"+ {name} .. {state} {_clock(r.elapsed_s)}/{_clock(r.budget_s)}{over}"
                + (f"  {note}" if note else ""),
                STYLE.get(state),
            )

    def table(self) -> Table:
        total = time.monotonic() - self.started
        budget = sum(r.budget_s for r in self.rows if not r.beside)
        # A resumed window counts from its first attempt's start: that is the downtime.
        window = (
            f"window {_clock(self.before_s + total)} since its first attempt began (this "
            f"attempt {_clock(total)})"
            if self.before_s
            else f"window {_clock(total)}"
        )
        t = Table(
            title=f"{self.title} — {window} of {_clock(budget)} budgeted",
            title_justify="left",
        )
        for col in ("step", "state", "time / budget", "note"):
            t.add_column(col)
        for r in self.rows:
            elapsed = (
                time.monotonic() - r.started if r.state == "running" and r.started else r.elapsed_s
            )
            over = elapsed > r.budget_s
            when = (
                f"{_clock(elapsed)} / {_clock(r.budget_s)}"
                if r.started
                else f"- / {_clock(r.budget_s)}"
            )
            note: RenderableType = mask(r.note)
            if r.state == "running" and r.fraction is not None:
                bar = ProgressBar(total=1.0, completed=min(max(r.fraction, 0.0), 1.0), width=24)
                note = Group(bar, note)
            t.add_row(
                f"{r.name} (beside)" if r.beside else r.name,
                Text(r.state, style=STYLE.get(r.state, "")),
                Text(when + (" over" if over else ""), style="bold red" if over else ""),
                note,
            )
        return t

    def __rich__(self) -> Table:
        return self.table()
