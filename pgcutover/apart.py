"""Run a stage of loads with its apart files beside it, each on a connection of its own.

A stage's files share one transaction. A file plan.toml names under [transform] apart loads
tables no other file of its stage names, from the legacy schema only (pgcutover/transform_plan.py
refuses the plan otherwise), so it can load in a transaction of its own while the stage's
transaction loads the rest: PostgreSQL runs an INSERT … SELECT on one process, and on two cores
the other one idled. Measured at 20,000 users: the loads took 1.46 s in one transaction, 1.21 s
with the request payloads apart.

The stage commits in two or more transactions, so it can stop with some committed: the transform
then starts over from an empty build schema on --resume (steps/transform.py), as it does for any
stop part-way. A failure on either side cancels the other, and the first one is the one named.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from pgcutover.apply_sql import (
    apply_file,
    apply_in_one_transaction,
    pending_files,
    prepare_transaction,
)
from pgcutover.db import Database
from pgcutover.errors import CutoverError
from pgcutover.migration import SqlFile
from pgcutover.run import RunContext
from pgcutover.side_by_side import cancel
from pgcutover.window_jobs import connections_free_now


def apply_stage(
    ctx: RunContext,
    step: str,
    files: Sequence[SqlFile],
    *,
    jobs: int,
    then: Callable[[Database], object] | None = None,
    counted: tuple[int, int] | None = None,
    may_start: Callable[[Database], bool] = lambda db: True,
) -> list[dict[str, Any]]:
    """Apply a stage's pending files: its apart files each beside the others, the rest in one
    transaction on the step's connection; return their timings.

    may_start(db): whether an apart file may start now, asked on its own connection every half
    second (the transform's: not while the dump beside it holds the other connections). One
    that has not started when the rest commit runs after them, on the step's connection. With
    one job, or no connection free, the whole stage runs in one transaction, as without apart.
    """
    todo = pending_files(ctx, step, files)
    beside = [f for f in todo if f.name in ctx.migration.apart]
    free = connections_free_now(ctx.db, len(beside)) if beside and jobs > 1 else 0
    if not free:
        return apply_in_one_transaction(ctx, step, todo, then, counted=counted)
    lanes = beside[:free]
    rest = [f for f in todo if f not in lanes]
    main_pid = int(ctx.db.query("SELECT pg_backend_pid()")[0][0])
    lock, stop = threading.Lock(), threading.Event()
    claimed: set[str] = set()
    pids: list[int] = []
    first_failure: list[BaseException] = []

    def claim(f: SqlFile) -> bool:
        """Take f to load: True once, for whichever side asks first."""
        with lock:
            if f.name in claimed or stop.is_set():
                return False
            claimed.add(f.name)
            return True

    def lane(f: SqlFile) -> dict[str, Any] | None:
        try:
            db = ctx.connect(step)
        except CutoverError:
            return None  # the server filled up since it was asked: the stage's connection loads f
        try:
            with lock:
                pids.append(int(db.query("SELECT pg_backend_pid()")[0][0]))
            while not stop.is_set() and f.name not in claimed and not may_start(db):
                stop.wait(0.5)
            return load_apart(ctx, db, step, f) if claim(f) else None
        except BaseException as exc:
            with lock:
                first = not stop.is_set() and not first_failure
                if first:
                    first_failure.append(exc)
            if first:
                cancel(db, [main_pid])  # the stage's transaction stops too: it starts over
            raise
        finally:
            db.close()

    pool = ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix=f"{step} apart")
    futures = [pool.submit(lane, f) for f in lanes]
    try:
        timings = apply_in_one_transaction(ctx, step, rest, then, counted=counted)
        before, total = counted or (0, len(todo))
        for f in lanes:
            if claim(f):  # it never got a connection's turn: load it here, on its own
                # Counted among the step's files, as the rest were (not as "file 1/1").
                done = before + len(timings)
                timings += apply_in_one_transaction(ctx, step, [f], counted=(done, total))
        label = f"waiting for {', '.join(f.name for f in lanes)}, loading apart"
        ctx.progress.update(before + len(rest), total, unit="files", label=label)
        while wait(futures, timeout=0.5).not_done:
            pass  # a short wait at a time, so that a Ctrl-C is heard
        timings += [t for t in (future.result() for future in futures) if t is not None]
        order = {f.name: n for n, f in enumerate(todo)}
        timings.sort(key=lambda t: order[t["file"]])  # the plan's order, as the journal reads
    except BaseException:
        with lock:
            stop.set()
            cause = first_failure[0] if first_failure else None
        cancel(ctx.db, pids)
        pool.shutdown(wait=True)
        if cause is not None:
            raise cause from None  # the step's transaction was cancelled because of it
        raise
    pool.shutdown(wait=True)
    return timings


def load_apart(ctx: RunContext, db: Database, step: str, f: SqlFile) -> dict[str, Any]:
    """Load f in a transaction of its own on db, recording it there; name f when it fails."""
    with db.transaction():
        prepare_transaction(ctx, db, step)
        return {**apply_file(ctx, db, step, f), "apart": True}
