"""The per-database advisory lock: one pgcutover run at a time, and who holds it."""

from __future__ import annotations

import time

from pgcutover.db import DB_ERRORS, Database, error_text
from pgcutover.errors import CutoverError
from pgcutover.journal import iso
from pgcutover.timeline import say

LOCK_KEY = 0x70676375  # 'pgcu': one advisory lock per database for every pgcutover run


def acquire_lock(lock_db: Database, step: str) -> None:
    """Take the per-database advisory lock, or fail at once naming the holder."""
    if lock_db.query("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])[0][0]:
        return
    who = lock_holder(lock_db) or "an unknown session"
    raise CutoverError(step, f"another pgcutover run holds the lock on this database: {who}")


def lock_holder(db: Database) -> str | None:
    """Name the session holding the per-database lock (None: no run holds it), read-only."""
    holder = db.query(
        "SELECT a.application_name, a.pid, a.backend_start, coalesce(host(a.client_addr), 'local') "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s AND l.database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())",
        [LOCK_KEY],
    )
    if not holder:
        return None
    name, pid, since, client = holder[0]
    return f"{name or 'unknown'} (server pid {pid} from {client}, since {iso(since)})"


# A run's sessions carry its id first (the window's "pgcutover <run-id>", its lock's, its
# pg_dump's "pgcutover <run-id> pg_dump" …), cut to the 63 characters PostgreSQL keeps.
RUN_SESSIONS = (
    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND (application_name = left(%s, 63) OR starts_with(application_name, left(%s, 63)))"
)
ORPHAN_WAIT_S = 10.0


def end_orphaned_sessions(lock_db: Database, run_id: str, step: str) -> None:
    """End the sessions an earlier, dead attempt of this run left, and say how many.

    Call it holding the lock: no live process of this run has a session then. A kill -9 of the
    window leaves each busy statement running on the server until it next talks to its client
    (a transform's INSERT … SELECT for minutes), holding its locks: a rollback's DROP SCHEMA or a
    resumed transform's index build would wait on it, silently. An idle session ends with its
    process. One the role may not end (a superuser's) is named, and the run goes on.
    """
    name = f"pgcutover {run_id}"
    try:
        ended = int(
            lock_db.query(
                f"SELECT count(*) FROM (SELECT pg_terminate_backend(pid) {RUN_SESSIONS}) t",
                [name, name + " "],
            )[0][0]
        )
    except DB_ERRORS as exc:
        say(f"{step}: could not end run {run_id}'s earlier sessions: {error_text(exc)}")
        return
    deadline = time.monotonic() + ORPHAN_WAIT_S
    # pg_terminate_backend only signals: the locks go when the backend has rolled back and exited.
    while ended and time.monotonic() < deadline:
        if not lock_db.query(f"SELECT count(*) {RUN_SESSIONS}", [name, name + " "])[0][0]:
            break
        time.sleep(0.1)
    if ended:
        say(
            f"{step}: ended {ended} session(s) an earlier attempt of run {run_id} left running "
            "on the server (its process was killed; they held its locks)",
            "bold yellow",
        )
