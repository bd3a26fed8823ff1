"""Run a file's statements side by side: one statement per transaction, on --jobs connections.

A file listed under plan.toml's [transform] side_by_side holds only index builds (CREATE INDEX,
or ALTER TABLE … ADD … PRIMARY KEY/UNIQUE) or constraint validations (ALTER TABLE … VALIDATE
CONSTRAINT): each only reads the rows committed before it, and two wait on each other only on
the same table, so they run at once on separate connections, the biggest table's first. In one
transaction they would run one after the other, and PostgreSQL validates a foreign key on one
process only.

The rows they read are committed before they start, so autovacuum could pick those tables up and
then lose a second to each statement that has to cancel it: the transform holds autovacuum off
its build tables until its last transaction (hold_autovacuum, release_autovacuum).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

from pgcutover.db import DB_ERRORS, Database, error_text, ident
from pgcutover.errors import CutoverError
from pgcutover.faults import inject_fault
from pgcutover.migration import SqlFile
from pgcutover.run import RunContext
from pgcutover.sql_text import side_by_side_statements
from pgcutover.window_jobs import connections_free_now, set_index_workers
from pgcutover.window_session import MIN_BYTES, SIZE, UNITS, tune_window_session


def build_tables(db: Database, schema: str) -> list[str]:
    """Return the build schema's tables, quoted and qualified."""
    rows = db.query(
        "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace AND relkind = 'r' "
        "ORDER BY 1",
        [ident(schema)],
    )
    return [f"{ident(schema)}.{ident(name)}" for (name,) in rows]


def hold_autovacuum(db: Database, schema: str) -> None:
    """Inside the open transaction, keep autovacuum off the build schema's tables."""
    for table in build_tables(db, schema):
        db.execute(
            f"ALTER TABLE {table} SET (autovacuum_enabled = false, "
            "toast.autovacuum_enabled = false)"
        )


def release_autovacuum(db: Database, schema: str) -> None:
    """Inside the open transaction, give autovacuum back the build schema's tables."""
    for table in build_tables(db, schema):
        db.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled, toast.autovacuum_enabled)")


def biggest_first(db: Database, builds: list[tuple[str, str]]) -> list[str]:
    """Order the statements by the size of the table each one indexes, biggest first."""
    rows = db.query(
        "SELECT n FROM unnest(%s::text[]) WITH ORDINALITY AS b(name, n) "
        "ORDER BY coalesce(pg_relation_size(to_regclass(b.name)), 0) DESC, n",
        [[table for _, table in builds]],
    )
    return [builds[int(n) - 1][0] for (n,) in rows]


def apply_side_by_side(
    ctx: RunContext,
    step: str,
    f: SqlFile,
    *,
    jobs: int,
    counted: tuple[int, int] = (0, 1),
    allowed: Callable[[], int] | None = None,
) -> dict[str, Any]:
    """Run each statement of f in a transaction of its own, on up to `jobs` connections.

    counted: (files before f, files in the whole step): progress counts in the step's files, f
    done by the share of its statements done, so the step's rate and ETA keep one unit.
    allowed: how many connections the stage may use now (asked every half second: a stage that
    starts on one while the dump beside it runs takes more once the dump is done).

    A failure stops the others from starting another statement and fails the step, naming the
    statement; a second Ctrl-C cancels the statements running. Each connection runs with its
    share of the maintenance memory (WINDOW_MAINTENANCE_WORK_MEM is the window's whole). With
    one job, or no connection free, the statements run one after the other on the step's own.
    """
    todo = biggest_first(ctx.db, side_by_side_statements(f.text))
    total, done, failed = len(todo), [0], threading.Event()
    wanted = min(jobs, total)

    def now() -> int:
        """Return how many connections the stage may use at this moment."""
        return wanted if allowed is None else min(max(allowed(), 1), wanted)

    workers = connections_free_now(ctx.db, now()) if wanted > 1 else 0
    lock, pids = threading.Lock(), list[int]()
    settings = shared_memory(ctx.settings.window_session, wanted)
    used = [max(workers, 1)]

    def take(db: Database) -> None:
        """Run the next statements on db until none is left or one has failed."""
        while not failed.is_set():
            with lock:
                if not todo:
                    return
                statement = todo.pop(0)
            build(db, step, f.name, statement, settings, jobs)
            with lock:
                done[0] += 1
                n = len(pids)
                side = f"on {n} connection{'s' * (n > 1)}" if workers else "one after the other"
                label = f"{f.name}: {done[0]}/{total} statements done, {side}"
                ctx.progress.update(
                    counted[0] + done[0] / total, counted[1], unit="files", label=label
                )
                halfway = done[0] == total // 2
            if halfway:
                inject_fault(ctx, step, "keys")  # test hook: some statements committed

    def work() -> None:
        db = ctx.connect(step)
        try:
            with lock:
                pids.append(int(db.query("SELECT pg_backend_pid()")[0][0]))
            take(db)
        except BaseException:
            failed.set()
            raise
        finally:
            db.close()

    started = time.monotonic()
    if not workers:
        take(ctx.db)
    else:
        pool = ThreadPoolExecutor(max_workers=wanted, thread_name_prefix=step)
        futures = [pool.submit(work) for _ in range(workers)]
        try:
            while True:
                ended, running = wait(futures, timeout=0.5, return_when=FIRST_EXCEPTION)
                for future in ended:
                    future.result()  # the first failure fails the step
                if not running:
                    break
                with lock:
                    more = min(len(todo), now() - len(futures))
                for _ in range(connections_free_now(ctx.db, more) if more > 0 else 0):
                    futures.append(pool.submit(work))
                used[0] = max(used[0], len(futures))
        except BaseException:
            failed.set()
            cancel(ctx.db, pids)  # a Ctrl-C or a failure: the statements still running stop too
            raise
        finally:
            pool.shutdown(wait=True)
    took = round(time.monotonic() - started, 3)
    return {"file": f.name, "sha256": f.checksum, "duration_s": took, "connections": used[0]}


def build(
    db: Database, step: str, file: str, statement: str, settings: dict[str, str], jobs: int
) -> None:
    """Run one statement in its own transaction, naming it when the server refuses it."""
    try:
        with db.transaction():
            tune_window_session(db, settings)
            set_index_workers(db, jobs)
            db.execute(statement)
    except DB_ERRORS as exc:
        first = " ".join(statement.split())[:120]
        raise CutoverError(step, f"{file}: {first}: {error_text(exc)}") from None


def shared_memory(settings: dict[str, str], workers: int) -> dict[str, str]:
    """Give each of `workers` side-by-side builds its share of the window's maintenance memory."""
    match = SIZE.fullmatch(settings.get("maintenance_work_mem", ""))
    if match is None or workers <= 1:
        return settings
    share = max(MIN_BYTES, int(match[1]) * UNITS[match[2]] // workers) // 1024
    return {**settings, "maintenance_work_mem": f"{share}kB"}


def cancel(db: Database, pids: list[int]) -> None:
    """Cancel what the side-by-side connections are running (the same role may)."""
    for pid in list(pids):
        try:
            db.query("SELECT pg_cancel_backend(%s)", [pid])
        except DB_ERRORS:
            pass  # the connection is going anyway: the step fails or stops either way
