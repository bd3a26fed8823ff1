"""How many connections the window's data work may use (`--jobs`), bounded by the server.

Verify checks tables on this many read-only connections side by side, and the transform builds
its indexes on as many (fewer when the dump beside it holds connections: connections_free_now),
each with this many processes (the leader and jobs − 1 parallel workers). The default is
this machine's cores: in the sandbox and on a database host that is the server's; run from
elsewhere, pass the server's cores. Either way it is bounded by the connections the server has
free once the fence has ended the app's sessions, so a window never fails half-way for want of
a connection slot.
"""

from __future__ import annotations

from pgcutover.db import Database
from pgcutover.errors import CutoverError
from pgcutover.pgtools import default_restore_jobs, parse_restore_jobs
from pgcutover.run import RunContext

# Connections the window holds besides its jobs, at its busiest (the backup beside the transform):
# the transform's, the lock's, the transform's progress probe, the backup's own (it exports the
# snapshot), its counts, and pg_dump's leader (the directory format adds one per job). Later, the
# statistics step's beside verify takes one of these.
OWN_CONNECTIONS = 6
FREE_SLOTS_SQL = """
SELECT current_setting('max_connections')::int
       - current_setting('superuser_reserved_connections')::int
       - count(*) FILTER (WHERE datname <> current_database()
                          -- another role's session shows no backend_type: count it (a
                          -- worker among them only makes the bound safer)
                          AND coalesce(backend_type, 'client backend') = 'client backend'),
       current_setting('max_connections')::int
FROM pg_stat_activity
"""


def parse_window_jobs(raw: object, step: str = "migrate-offline") -> int | None:
    """Parse --jobs: a whole number from 1 to 64, or None when unset (then: the default)."""
    return parse_restore_jobs(raw, step)


def free_connections(db: Database) -> tuple[int, int]:
    """Return (slots the window may use, max_connections), counting the app's sessions to this
    database as free: the fence ends them before any step that uses jobs."""
    free, most = db.query(FREE_SLOTS_SQL)[0]
    return int(free) - OWN_CONNECTIONS, int(most)


def resolve_jobs(db: Database, asked: int | None, step: str) -> int:
    """Return the jobs to use: the asked number if the server has room for it, else refuse;
    unasked, the default bounded by the free connections (at least 1)."""
    free, most = free_connections(db)
    if free < 1:
        raise CutoverError(
            step,
            f"the server has no connection free for the window's work (max_connections {most}, "
            f"less reserved slots, other databases' sessions and the window's own "
            f"{OWN_CONNECTIONS}): end sessions to other databases or raise max_connections",
        )
    if asked is None:
        return min(default_restore_jobs(), free)  # pg_restore's default: this machine's cores
    if asked > free:
        raise CutoverError(
            step,
            f"--jobs {asked} needs {asked} connections but the server has {free} free for "
            f"them (max_connections {most}, less reserved slots, other databases' sessions and "
            f"the window's own {OWN_CONNECTIONS}): give --jobs {free} or fewer",
        )
    return asked


FREE_NOW_SQL = """
SELECT current_setting('max_connections')::int
       - current_setting('superuser_reserved_connections')::int
       - count(*) FILTER (WHERE coalesce(backend_type, 'client backend') = 'client backend')
FROM pg_stat_activity
"""
# Slots left for what the window may still open while it builds: the transform's progress probe,
# a reconnect, the statistics step's connection.
SPARE_SLOTS = 3


def connections_free_now(db: Database, wanted: int) -> int:
    """Return how many of `wanted` more connections the server has room for now (maybe 0).

    The window's bound (resolve_jobs) counts its own connections once; the transform's index
    builds run while the dump beside them may hold --jobs connections too, so they take what is
    free at that moment, keeping SPARE_SLOTS for the rest of the window.
    """
    free = int(db.query(FREE_NOW_SQL)[0][0]) - SPARE_SLOTS
    return max(0, min(wanted, free))


def window_jobs(ctx: RunContext, step: str, db: Database | None = None) -> int:
    """Return this run's jobs, resolved once per process (a resumed run resolves them again).

    db: the connection to ask on, when not the window's (a step beside the window has its own).
    """
    if "jobs" not in ctx.state:
        asked = ctx.state.get("options", {}).get("jobs")
        ctx.state["jobs"] = resolve_jobs(db or ctx.db, asked, step)
    jobs: int = ctx.state["jobs"]
    return jobs


def set_index_workers(db: Database, jobs: int) -> None:
    """Inside the open transaction, build indexes with `jobs` processes (jobs − 1 workers)."""
    db.query("SELECT set_config('max_parallel_maintenance_workers', %s, true)", [str(jobs - 1)])
