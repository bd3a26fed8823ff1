"""Deploy schema: apply the target schema's versioned SQL into the build schema, apart.

The legacy schema stays where the app left it while the backup dumps it beside this step and the
transform; reset swaps the built target in afterwards.
"""

from __future__ import annotations

from typing import Any

from pgcutover.apply_sql import all_applied, apply_in_one_transaction
from pgcutover.migration import Migration
from pgcutover.run import RunContext, Step, StepOutcome
from pgcutover.settings import Settings
from steps.set_aside import copy_table_grants

STEP = "deploy-schema"


def deploy_target(ctx: RunContext) -> list[dict[str, Any]]:
    """Apply the pending deploy-schema files into the build schema, with the legacy grants."""
    m = ctx.migration
    # The new tables get the grants their legacy namesakes had (in the same transaction as the DDL).
    return apply_in_one_transaction(
        ctx,
        STEP,
        m.deploy_schema,
        then=lambda db: copy_table_grants(db, m.app_schema, m.build_schema),
    )


def run(ctx: RunContext) -> StepOutcome:
    timings = deploy_target(ctx)
    names = ", ".join(t["file"] for t in timings) or "already applied"
    return StepOutcome(note=names, details={"files": timings})


def describe(settings: Settings, migration: Migration) -> list[str]:
    return [
        *[
            f"apply {f.name} (sha256 {f.checksum[:12]}…), recorded in pgcutover.applied_sql"
            for f in migration.deploy_schema
        ],
        f"grant on each new table what its namesake in {migration.app_schema} (legacy) granted "
        "(same transaction)",
    ]


DEPLOY_SCHEMA = Step(
    STEP, 30, run, describe, done=lambda ctx: all_applied(ctx, ctx.migration.deploy_schema)
)
