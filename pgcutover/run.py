"""What a run is: its context, a step, and a step's outcome (shared by engine, lock and steps)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgcutover.db import Database, connect
from pgcutover.journal import Journal
from pgcutover.migration import Migration
from pgcutover.progress import Progress, Reading
from pgcutover.settings import Settings

# A step's detail: how many seconds of its time read the data (so grow with it); the forecast
# scales that part and keeps the rest fixed.
DATA_SECONDS = "data_s"
WAL_BYTES = "wal_bytes"  # WAL the step wrote (an end line's details): the forecast's checkpoints


@dataclass
class StepOutcome:
    """What a step reports: a short note for the timeline, details for the journal."""

    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False


@dataclass(frozen=True)
class Step:
    """One runbook step: name, budget, how to run it, how to ask the world whether it is done.

    Going back is its own plan (steps/rollback.py), not per-step undo: after a crash the world, not
    the list of completed steps, says what must be restored (the set-aside schema, the fence record,
    the release).
    """

    name: str
    budget_s: float
    run: Callable[[RunContext], StepOutcome]
    describe: Callable[[Settings, Migration], list[str]]
    read_only: bool = False
    done: Callable[[RunContext], bool] | None = None
    # What only the system sees while the step runs (a file growing, a relation, an index build),
    # read by the progress watcher's thread: never through the step's own connection.
    probe: Callable[[RunContext], Reading | None] | None = None
    # Set on a step that reads only frozen data: it runs on a thread of its own beside the steps
    # after it, and the window waits for it (and fails if it failed) before the step named here.
    beside_until: str | None = None
    # A step beside the window that needs another one's work (the proof needs the dump): its thread
    # waits for that step, started beside it in this run, before it starts.
    beside_after: str | None = None

    def runs_beside(self, overlap: bool) -> bool:
        """Tell whether the step runs beside the window: the plan says so, --no-overlap is off."""
        return bool(self.beside_until) and overlap

    def budget(self, settings: Settings) -> float:
        """The step's time budget: the operator's BUDGET_<STEP> setting, else its own."""
        return settings.budgets.get(self.name, self.budget_s)


@dataclass
class RunContext:
    """Everything a step may use during one run."""

    settings: Settings
    migration: Migration
    run_id: str
    run_dir: Path
    journal: Journal
    db: Database
    lock_db: Database
    command: str
    migration_ts: str
    state: dict[str, Any] = field(default_factory=dict)
    bookkeeping_ready: bool = False  # the journal is mirrored into pgcutover.journal
    run_row_ready: bool = (
        False  # this run has its row in pgcutover.runs (fence and release live there)
    )
    identity: dict[str, Any] = field(default_factory=dict)
    progress: Progress = field(default_factory=Progress)  # the running step's own account

    @property
    def backup_dir(self) -> Path:
        return self.settings.backup_dir / self.run_id

    @property
    def overlap(self) -> bool:
        """Whether the steps the plan puts beside the window run beside it (else each in line)."""
        return bool(self.state.get("options", {}).get("overlap", True))

    @property
    def app_name(self) -> str:
        return f"pgcutover {self.run_id}"

    def connect(self, step: str, purpose: str | None = None) -> Database:
        """Open another connection of this run's, shown in pg_stat_activity as the app name and
        the purpose (the step's name by default); a refusal names the step."""
        db: Database = connect(
            self.settings.database_url,
            self.settings.db_driver,
            application_name=f"{self.app_name} {purpose or step}",
            step=step,
        )
        return db
