"""Step 7, transform: move the data with set-based SQL inside the server, then build its keys.

The plan's transform files run in order (pgcutover/transform_plan.py). Consecutive files run in
one transaction, but a file listed under [transform] apart (a load of tables of its own) runs in
one of its own, on a connection of its own, beside them; a file listed under side_by_side (index
builds and constraint validations only) runs its statements side by side, each in a transaction
of its own, on --jobs connections. The shipped plan: the loads (0002-0005) in one transaction
with the request payloads (0006) apart beside them, the primary keys and indexes (0007) side by
side, the foreign keys added NOT VALID (0008) in one, and validated (0009) side by side.

A transform that stopped part-way (a crash, a kill, a failed statement, then --resume) is never
continued: it starts over from an empty build schema, as one transaction would have. Every file
is recorded in pgcutover.applied_sql in the transaction that ends its work, so "part-way" is
read from the bookkeeping, and the legacy rows are loaded again, never trusted from before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pgcutover.apart import apply_stage
from pgcutover.apply_sql import all_applied, applied_files, pending_files, record_applied
from pgcutover.db import Database, ident
from pgcutover.migration import RUN_PARAMETERS, Migration
from pgcutover.progress import Reading
from pgcutover.run import RunContext, Step, StepOutcome
from pgcutover.settings import Settings
from pgcutover.side_by_side import apply_side_by_side, hold_autovacuum, release_autovacuum
from pgcutover.sql_text import side_by_side_statements
from pgcutover.transform_plan import stages
from pgcutover.window_jobs import window_jobs
from steps.backup_sessions import backup_running
from steps.deploy_schema import STEP as DEPLOY_STEP
from steps.deploy_schema import deploy_target

STEP = "transform"


def allowed_now(ctx: RunContext) -> Callable[[], int]:
    """Return how many connections a side-by-side stage may use at the moment it asks: --jobs,
    or one while the dump beside the transform still runs (it holds the others: steps/backup.py
    gives it --jobs − 1). A stage that starts beside the dump takes the rest once it ends.

    Measured at 20,000 users on 2 cores, the window overlapped: with both of the stages'
    connections busy beside the dump (three busy processes on two cores) the transform took
    2.64 s where it took 1.90 s alone.
    """
    jobs = window_jobs(ctx, STEP)
    return lambda: 1 if dump_beside(ctx, ctx.db) else jobs


def dump_beside(ctx: RunContext, db: Database) -> bool:
    """Tell, asking on db, whether the dump still runs beside the transform, holding the
    window's other jobs: the stages and the apart loads then take no connection more."""
    return ctx.overlap and backup_running(db, ctx)


def start_over_if_part_done(ctx: RunContext) -> bool:
    """Drop a transform that stopped part-way, with the build schema, and deploy it again."""
    m, db = ctx.migration, ctx.db
    pending_files(ctx, STEP, m.transform)  # a changed file is drift: say so, never start over
    names = {f.name for f in m.transform}
    done = names & set(applied_files(db, ctx.run_id))
    if not done or done == names:
        return False
    with db.transaction():
        db.execute(f"DROP SCHEMA IF EXISTS {ident(m.build_schema)} CASCADE")
        db.execute(
            "DELETE FROM pgcutover.applied_sql WHERE run = %s AND step IN (%s, %s)",
            [ctx.run_id, DEPLOY_STEP, STEP],
        )
    deploy_target(ctx)
    return True


def run(ctx: RunContext) -> StepOutcome:
    m = ctx.migration
    started_over = start_over_if_part_done(ctx)
    plan = stages(m)
    timings: list[dict[str, Any]] = []

    def release(db: Database) -> None:
        release_autovacuum(db, m.build_schema)

    if len(plan) > 1 and len(pending_files(ctx, STEP, m.transform)) == len(m.transform):
        # Rows committed before their keys are built would draw autovacuum, and each build
        # would wait a second for it to cancel: held off until the last stage's transaction.
        with ctx.db.transaction():
            hold_autovacuum(ctx.db, m.build_schema)
    for n, (side, files) in enumerate(plan):
        last = n == len(plan) - 1 and len(plan) > 1
        counted = (sum(len(fs) for _, fs in plan[:n]), len(m.transform))  # for progress
        if not side:
            timings += apply_stage(
                ctx,
                STEP,
                files,
                jobs=window_jobs(ctx, STEP),
                then=release if last else None,
                counted=counted if len(plan) > 1 else None,
                may_start=lambda db: not dump_beside(ctx, db),
            )
            continue
        if not pending_files(ctx, STEP, files):
            continue
        timing = apply_side_by_side(
            ctx,
            STEP,
            files[0],
            jobs=window_jobs(ctx, STEP),
            counted=counted,
            allowed=allowed_now(ctx),
        )
        with ctx.db.transaction():
            recorded = record_applied(ctx, ctx.db, STEP, files[0], timing["duration_s"])
            timings.append({**recorded, "connections": timing["connections"]})
            if last:
                release(ctx.db)
    slowest = max(timings, key=lambda t: t["duration_s"], default=None)
    note = f"{len(timings)} files in {len(plan)} stage{'s' if len(plan) > 1 else ''}" + (
        f"; slowest {slowest['file']} {slowest['duration_s']:.1f}s" if slowest else ""
    )
    if started_over:
        note += "; started over (the transform had stopped part-way)"
    return StepOutcome(note=note, details={"files": timings, "started_over": started_over})


def describe(settings: Settings, migration: Migration) -> list[str]:
    names = ", ".join(f"pgcutover.{n}" for n in (*RUN_PARAMETERS, *migration.sql_parameters))
    lines = [
        "a transform that stopped part-way starts over: drop the build schema, deploy it again"
    ]
    plan = stages(migration)
    if len(plan) > 1:
        lines.append(f"hold autovacuum off the tables of {migration.build_schema}")
    for n, (side, files) in enumerate(plan):
        if side:
            lines.append(
                f"apply {files[0].name} (sha256 {files[0].checksum[:12]}…): "
                f"{len(side_by_side_statements(files[0].text))} statements side by side on --jobs "
                "connections, each in a transaction of its own, biggest table first"
            )
            continue
        lines += [
            f"on a connection of its own while the transaction below runs: BEGIN; set {names}; "
            f"apply {f.name} (sha256 {f.checksum[:12]}…); COMMIT (with --jobs 1, or no "
            "connection to spare, in the transaction below)"
            for f in files
            if f.name in migration.apart
        ]
        lines += [
            f"BEGIN; set {names} for the transaction",
            *[
                f"apply {f.name} (sha256 {f.checksum[:12]}…)"
                for f in files
                if f.name not in migration.apart
            ],
        ]
        if n == len(plan) - 1 and len(plan) > 1:
            lines.append(f"give autovacuum back the tables of {migration.build_schema}")
        lines.append("COMMIT")
    return lines


def probe(ctx: RunContext) -> Reading | None:
    """Add what PostgreSQL shows to the step's file: the database growing, index builds, ANALYZE.

    On its own short connection, with a lock timeout: pg_database_size reads directories and the
    progress view takes no lock, so the step's transaction never waits for the probe.
    """
    own = ctx.progress.read()
    db = ctx.connect(STEP, "probe")
    try:
        db.execute("SET lock_timeout = '200ms'")
        db.execute("SET statement_timeout = '2s'")
        size = int(db.query("SELECT pg_database_size(current_database())")[0][0])
        builds = db.query(  # one row per build: side by side, several run at once
            "SELECT relid::regclass::text, phase, blocks_done, blocks_total "
            "FROM pg_stat_progress_create_index WHERE datname = current_database() ORDER BY pid"
        )
        analyze = db.query(
            "SELECT relid::regclass::text, phase, sample_blks_scanned, sample_blks_total "
            "FROM pg_stat_progress_analyze WHERE datname = current_database() LIMIT 1"
        )
    finally:
        db.close()
    label = own.label if own else "transform"
    label += f"; database {size / 2**20:.0f} MiB"
    for table, phase, done, total in builds[:3]:
        label += f"; index build on {table}: {phase}" + (
            f" {100 * done // total}%" if total else ""
        )
    if len(builds) > 3:
        label += f"; {len(builds) - 3} more index builds"
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
