"""The backup's sessions on the server: its own, its pg_dump's and its counts', found by name."""

from __future__ import annotations

from pgcutover.db import Database
from pgcutover.run import RunContext

STEP = "backup"
# The sessions of this run's pg_dump and its counts (PGAPPNAME keeps 63 characters): an earlier
# attempt's, left by a kill that missed the program (it runs in a session of its own), or counts
# that a failed pg_dump left nobody to use.
DUMP_SESSIONS = (
    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND application_name = left(%s, 63)) ended"
)


def own_app_name(ctx: RunContext) -> str:
    """Return the application_name of the backup step's own session."""
    return f"{ctx.app_name} {STEP}"  # what ctx.connect(STEP) names it


def dump_app_name(ctx: RunContext) -> str:
    """Return the application_name of this run's pg_dump and its counting session."""
    return f"{ctx.app_name} pg_dump"


def end_dump_sessions(db: Database, app_name: str) -> int:
    """End every other session named app_name (this run's pg_dump); return how many there were.

    An orphan still reads every table, sharing the server with a resumed dump, and its snapshot
    and AccessShare locks would outlive the window (or a rollback). Without its sessions pg_dump
    fails and exits.
    """
    return int(db.query(DUMP_SESSIONS, [app_name])[0][0])


def backup_running(db: Database, ctx: RunContext) -> bool:
    """Tell whether this run's backup step has a session open: its own (it holds the dump's
    snapshot until the dump is written and checked), pg_dump's or its count's."""
    rows = db.query(
        "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
        "AND application_name IN (left(%s, 63), left(%s, 63))",  # what the server keeps of one
        [own_app_name(ctx), dump_app_name(ctx)],
    )
    return int(rows[0][0]) > 0
