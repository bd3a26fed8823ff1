"""Step 7, transform: move the data with set-based SQL inside the server, in one transaction."""

from __future__ import annotations

from pgcutover.apply_sql import all_applied, apply_in_one_transaction
from pgcutover.db import connect
from pgcutover.migration import RUN_PARAMETERS, Migration
from pgcutover.progress import Reading
from pgcutover.run import RunContext, Step, StepOutcome
from pgcutover.settings import Settings

STEP = "transform"


def run(ctx: RunContext) -> StepOutcome:
    timings = apply_in_one_transaction(ctx, STEP, ctx.migration.transform)
    slowest = max(timings, key=lambda t: t["duration_s"], default=None)
    note = f"{len(timings)} files in one transaction" + (
        f"; slowest {slowest['file']} {slowest['duration_s']:.1f}s" if slowest else ""
    )
    return StepOutcome(note=note, details={"files": timings})


def describe(settings: Settings, migration: Migration) -> list[str]:
    names = ", ".join(f"pgcutover.{n}" for n in (*RUN_PARAMETERS, *migration.sql_parameters))
    return [
        f"BEGIN; set {names} for the transaction",
        *[f"apply {f.name} (sha256 {f.checksum[:12]}…)" for f in migration.transform],
        "COMMIT",
    ]


def probe(ctx: RunContext) -> Reading | None:
    """Add what PostgreSQL shows to the step's file: the database growing, index builds, ANALYZE.

    On its own short connection, with a lock timeout: pg_database_size reads directories and the
    progress view takes no lock, so the step's transaction never waits for the probe.
    """
    own = ctx.progress.read()
    db = connect(
        ctx.settings.database_url, ctx.settings.db_driver, application_name=f"{ctx.app_name} probe"
    )
    try:
        db.execute("SET lock_timeout = '200ms'")
        db.execute("SET statement_timeout = '2s'")
        size = int(db.query("SELECT pg_database_size(current_database())")[0][0])
        index = db.query(
            "SELECT phase, blocks_done, blocks_total FROM pg_stat_progress_create_index "
            "WHERE datname = current_database() LIMIT 1"
        )
        analyze = db.query(
            "SELECT relid::regclass::text, phase, sample_blks_scanned, sample_blks_total "
            "FROM pg_stat_progress_analyze WHERE datname = current_database() LIMIT 1"
        )
    finally:
        db.close()
    label = own.label if own else "transform"
    label += f"; database {size / 2**20:.0f} MiB"
    if index:
        phase, done, total = index[0]
        label += f"; index build: {phase}" + (f" {100 * done // total}%" if total else "")
    if analyze:
        table, phase, done, total = analyze[0]
        label += f"; ANALYZE {table}: {phase}" + (f" {100 * done // total}%" if total else "")
    if own is None:
        return Reading(0, None, "files", label)
    return Reading(own.done, own.total, own.unit, label)


TRANSFORM = Step(
    STEP,
    900,
    run,
    describe,
    done=lambda ctx: all_applied(ctx, ctx.migration.transform),
    probe=probe,
)
