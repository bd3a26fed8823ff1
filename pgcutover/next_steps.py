"""The commands a stopped window or rollback prints for the operator's next move."""

from __future__ import annotations

from typing import Any

from pgcutover.journal import completed_steps
from pgcutover.run_record import rollback_completed_at
from pgcutover.settings import Settings, env_flag
from steps.rollback import ROLLBACK
from steps.window import STEP_NAMES

STOPPED = ("failed", "interrupted")


def on_scratch_copy(settings: Settings) -> str:
    """Say why no command is printed on a rehearsal's copy ('' for any other database)."""
    if not settings.scratch_copy:
        return ""
    # --env would reach the profile's own database, not the copy: never print it here.
    return (
        f"this is rehearse's scratch copy {settings.scratch_copy}, not the profile's database: "
        "rehearse drops it (unless --keep); run the rehearsal again"
    )


def ways_on(settings: Settings, run_id: str) -> str:
    """Return the two ways on from a window that stopped: resume it, or roll it back."""
    again = env_flag(settings)
    return on_scratch_copy(settings).capitalize() or (
        f"Resume: invoke migrate-offline --resume --yes{again}   "
        f"Roll back: invoke rollback --run {run_id} --yes{again}"
    )


def finish_rollback(settings: Settings, run_id: str) -> str:
    """Return the command that finishes a rollback that failed part-way."""
    return on_scratch_copy(settings) or f"invoke rollback --run {run_id} --yes{env_flag(settings)}"


def next_move(settings: Settings, run_id: str, lines: list[dict[str, Any]], status: str) -> str:
    """Say what the operator runs next for a run ('' when nothing is due): status is the
    bookkeeping's (running, failed, paused, rollback failed …; 'gone': running with no process),
    or '' when only the journal was read."""
    rollback_steps = {s.name for s in ROLLBACK}
    rolling_back = any(ln.get("step") in rollback_steps for ln in lines)
    if rollback_completed_at(lines) is not None or status in ("succeeded", "rolled back"):
        return ""
    if rolling_back:  # once a rollback began, only finishing it is a way on
        ends = [ln for ln in lines if ln.get("step") in rollback_steps and ln.get("event") == "end"]
        stopped = status in ("rollback failed", "gone") or (
            not status and bool(ends) and ends[-1].get("outcome") in STOPPED
        )
        return f"finish the rollback: {finish_rollback(settings, run_id)}" if stopped else ""
    if set(STEP_NAMES) <= set(completed_steps(lines)):
        return ""
    stopped = status in ("failed", "interrupted", "paused", "gone") or (
        not status
        and any(ln.get("outcome") in STOPPED or ln.get("event") == "paused" for ln in lines)
    )
    return ways_on(settings, run_id) if stopped else ""
