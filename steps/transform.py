"""Step 7, transform: move the data with set-based SQL inside the server, in one transaction."""

from __future__ import annotations

from pgcutover.apply_sql import all_applied, apply_in_one_transaction
from pgcutover.migration import RUN_PARAMETERS, Migration
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


TRANSFORM = Step(
    STEP, 900, run, describe, done=lambda ctx: all_applied(ctx, ctx.migration.transform)
)
