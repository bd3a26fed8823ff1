"""Step statistics: the planner's statistics for the loaded tables, gathered beside verify.

Once the transform commits nothing writes the target tables until unfence, so ANALYZE (plan.toml
[statistics]) reads frozen data: it runs on a connection of its own beside verify, and the plan
joins it before unfence, so the app never meets tables without statistics. Verify needs none (its
checksums scan every table whatever the plan). The files are safe to repeat: with no record in the
database, a resumed window runs them again.
"""

from __future__ import annotations

import time

from pgcutover.apply_sql import set_run_parameters
from pgcutover.migration import Migration
from pgcutover.run import RunContext, Step, StepOutcome
from pgcutover.settings import Settings
from pgcutover.window_session import tune_window_session

STEP = "statistics"
JOINED_BEFORE = "unfence"


def gather_statistics(ctx: RunContext) -> list[dict[str, object]]:
    """Run the migration's statistics files in one transaction on a connection of their own."""
    s = ctx.settings
    db = ctx.connect(STEP)
    timings: list[dict[str, object]] = []
    try:
        with db.transaction():
            set_run_parameters(ctx, db)
            tune_window_session(db, s.window_session)
            for f in ctx.migration.statistics:
                started = time.monotonic()
                db.run_script(f.text)
                took = round(time.monotonic() - started, 3)
                timings.append({"file": f.name, "sha256": f.checksum, "duration_s": took})
    finally:
        db.close()
    return timings


def run(ctx: RunContext) -> StepOutcome:
    if not ctx.migration.statistics:
        return StepOutcome(note="the migration names no [statistics] files", skipped=True)
    started = time.monotonic()
    timings = gather_statistics(ctx)
    took = round(time.monotonic() - started, 3)
    # The forecast scales each file by the tables it names (ANALYZE: by its capped sample).
    where = ", beside verify" if ctx.overlap else ""
    return StepOutcome(
        note=f"{len(timings)} file(s) in {took:.1f}s{where}", details={"files": timings}
    )


def describe(settings: Settings, migration: Migration) -> list[str]:
    if not migration.statistics:
        return ["no files in plan.toml [statistics]: nothing to run"]
    return [
        "on a connection of its own: "
        + ", ".join(f"apply {f.name} (sha256 {f.checksum[:12]}…)" for f in migration.statistics)
    ]


STATISTICS = Step(STEP, 300, run, describe, beside_until=JOINED_BEFORE)
