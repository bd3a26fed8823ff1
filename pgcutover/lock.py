"""The per-database advisory lock: one pgcutover run at a time, and who holds it."""

from __future__ import annotations

from pgcutover.db import Database
from pgcutover.errors import CutoverError
from pgcutover.journal import iso

LOCK_KEY = 0x70676375  # 'pgcu': one advisory lock per database for every pgcutover run


def acquire_lock(lock_db: Database, step: str) -> None:
    """Take the per-database advisory lock, or fail at once naming the holder."""
    if lock_db.query("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])[0][0]:
        return
    holder = lock_db.query(
        "SELECT a.application_name, a.pid, a.backend_start, coalesce(host(a.client_addr), 'local') "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s AND l.database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())",
        [LOCK_KEY],
    )
    who = (
        f"{holder[0][0] or 'unknown'} (server pid {holder[0][1]} from {holder[0][3]}, "
        f"since {iso(holder[0][2])})"
        if holder
        else "an unknown session"
    )
    raise CutoverError(step, f"another pgcutover run holds the lock on this database: {who}")
