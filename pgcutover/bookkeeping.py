"""The pgcutover schema: each run's row (bound to its database), the journal mirror, applied SQL."""

from __future__ import annotations

import json
from typing import Any

from pgcutover.db import DB_ERRORS, Database, describe_target
from pgcutover.migration import SqlFile
from pgcutover.run import RunContext
from pgcutover.settings import PROJECT_ROOT
from pgcutover.timeline import warn

# The bookkeeping DDL, in this order (never globbed); each file is idempotent.
BOOKKEEPING_SQL = (
    SqlFile(PROJECT_ROOT / "sql" / "engine" / "0001_bookkeeping.sql"),
    SqlFile(PROJECT_ROOT / "sql" / "engine" / "0002_set_aside_guard.sql"),
)


def bookkeeping_exists(db: Database) -> bool:
    return bool(db.query("SELECT to_regclass('pgcutover.journal') IS NOT NULL")[0][0])


def ensure_bookkeeping(ctx: RunContext) -> None:
    """Create the bookkeeping schema and this run's row, then mirror the journal into it.

    The run's row is written whether or not the schema already exists: a second window on the same
    database needs its own row, or its fence would be recorded nowhere and never given back.
    """
    if ctx.run_row_ready:
        return
    for f in BOOKKEEPING_SQL:
        ctx.db.run_script(f.text)
    ctx.db.execute(
        "INSERT INTO pgcutover.runs (run, command, target, started_at, migration_ts, identity) "
        "VALUES (%s, %s, %s, now(), %s::timestamp(3), %s::jsonb) "
        "ON CONFLICT (run) DO UPDATE SET status = 'running', command = EXCLUDED.command, "
        "ended_at = NULL",
        [
            ctx.run_id,
            ctx.command,
            describe_target(ctx.settings.database_url),
            ctx.migration_ts,
            json.dumps(ctx.identity),
        ],
    )
    ctx.run_row_ready = True
    if not ctx.bookkeeping_ready:
        attach_mirror(ctx)


def attach_mirror(ctx: RunContext) -> None:
    """Send journal lines to pgcutover.journal through the idle lock session."""

    def mirror(line: dict[str, Any]) -> None:
        ctx.lock_db.execute(
            "INSERT INTO pgcutover.journal (run, step, event, at, outcome, duration_s, line) "
            "VALUES (%s, %s, %s, %s::timestamptz, %s, %s, %s::jsonb)",
            [
                line["run"],
                line["step"],
                line["event"],
                line["at"],
                line.get("outcome"),
                line.get("duration_s"),
                json.dumps(line, ensure_ascii=False),
            ],
        )

    ctx.bookkeeping_ready = True
    ctx.journal.mirror = mirror
    if _mirror_has_run(ctx):
        ctx.journal.flush_mirror()
    else:
        ctx.journal.resend_all()


def _mirror_has_run(ctx: RunContext) -> bool:
    return bool(
        ctx.lock_db.query("SELECT count(*) FROM pgcutover.journal WHERE run = %s", [ctx.run_id])[0][
            0
        ]
    )


def set_run_status(ctx: RunContext, status: str) -> None:
    """Record the run's final status in the bookkeeping (best effort: the journal is the truth)."""
    if not ctx.run_row_ready:
        return
    try:
        ctx.lock_db.execute(
            "UPDATE pgcutover.runs SET status = %s, ended_at = now() WHERE run = %s",
            [status, ctx.run_id],
        )
    except DB_ERRORS:
        warn(f"could not record status {status!r} in pgcutover.runs; the journal has it")
