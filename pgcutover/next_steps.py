"""The commands a stopped window or rollback prints for the operator's next move."""

from __future__ import annotations

from pgcutover.settings import Settings, env_flag


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
