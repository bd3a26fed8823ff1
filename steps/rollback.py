"""`invoke rollback`: bring back the pre-window database, the previous release and the site."""
from __future__ import annotations

import os
from typing import Any

from .backup import Manifest, count_rows, read_manifest, require_proven
from .config import Settings
from .db import Database, ident
from .deploy_app import deploy, health_check
from .engine import RunContext, Step, StepOutcome
from .errors import CutoverError
from .fence import fence, unfence
from .journal import read_journal
from .maintenance import maintenance_off, maintenance_on
from .migration import Migration
from .pgtools import pg_restore
from .reset import copy_schema_rights, schema_exists
from .timeline import warn

STEP = "restore-database"
DISCARD = "cutover_discard"  # the migrated schema on its way out; dropped once the legacy one is back


def started_steps(ctx: RunContext) -> set[str]:
    return {line["step"] for line in read_journal(ctx.journal.path) if line.get("event") == "start"}


def something_to_roll_back(ctx: RunContext) -> bool:
    """Tell from the run's own journal whether it got past its read-only preflight.

    Only the journal counts: a set-aside schema may belong to another, earlier run.
    """
    return bool(started_steps(ctx) - {"preflight"})


def table_counts(db: Database, schema: str) -> dict[str, int]:
    """Count one schema's rows per table, keyed by bare table name (to compare across schema names)."""
    return {name.split(".", 1)[1]: n for name, n in count_rows(db, schema).items()}


def expected_counts(manifest: Manifest, app_schema: str) -> dict[str, int]:
    prefix = app_schema + "."
    return {k[len(prefix):]: v for k, v in manifest.row_counts.items() if k.startswith(prefix)}


def aside_is_intact(ctx: RunContext, manifest: Manifest | None) -> bool:
    """Check that the set-aside schema has every backed-up table with the backed-up row count."""
    m = ctx.migration
    if not schema_exists(ctx.db, m.aside_schema):
        return False
    if manifest is None:  # reset cannot run without a manifest; be safe and trust only what can be checked
        return False
    return table_counts(ctx.db, m.aside_schema) == expected_counts(manifest, m.app_schema)


def swap_back(db: Database, app_schema: str, aside_schema: str) -> None:
    """Put the set-aside schema back in place and drop the migrated one, in one transaction (seconds)."""
    with db.transaction():
        if schema_exists(db, app_schema):
            db.execute(f"ALTER SCHEMA {ident(app_schema)} RENAME TO {ident(DISCARD)}")
        db.execute(f"ALTER SCHEMA {ident(aside_schema)} RENAME TO {ident(app_schema)}")
        db.execute(f"DROP SCHEMA IF EXISTS {ident(DISCARD)} CASCADE")


def restore_from_backup(ctx: RunContext, jobs: int) -> Manifest:
    """Restore the app schema from the run's proven dump, then check row counts against its manifest."""
    m, db = ctx.migration, ctx.db
    manifest = require_proven(ctx, STEP)
    with db.transaction():
        if schema_exists(db, DISCARD):  # an earlier restore attempt failed: its partial schema goes
            db.execute(f"DROP SCHEMA IF EXISTS {ident(m.app_schema)} CASCADE")
        elif schema_exists(db, m.app_schema):
            db.execute(f"ALTER SCHEMA {ident(m.app_schema)} RENAME TO {ident(DISCARD)}")
        db.execute(f"CREATE SCHEMA {ident(m.app_schema)}")
        copy_schema_rights(db, DISCARD, m.app_schema)
    pg_restore(ctx.settings, ctx.backup_dir / manifest.file, jobs=jobs, schema=m.app_schema,
               app_name=f"{ctx.app_name} pg_restore", step=STEP)
    got, want = table_counts(db, m.app_schema), expected_counts(manifest, m.app_schema)
    if got != want:
        diff = [f"{t}: {got.get(t)} restored, {n} in manifest" for t, n in want.items() if got.get(t) != n]
        raise CutoverError(STEP, "restored row counts differ from the backup manifest: " + "; ".join(diff[:5]))
    with db.transaction():
        db.execute(f"DROP SCHEMA IF EXISTS {ident(DISCARD)} CASCADE")
        db.execute(f"DROP SCHEMA IF EXISTS {ident(m.aside_schema)} CASCADE")
    return manifest


def restore_database(ctx: RunContext) -> StepOutcome:
    m, db = ctx.migration, ctx.db
    options: dict[str, Any] = ctx.state.get("options", {})
    manifest = read_manifest(ctx.backup_dir)
    state = db.query(m.schema_state.text)[0][0] if schema_exists(db, m.app_schema) else "missing"
    aside = schema_exists(db, m.aside_schema)
    if not options.get("from_backup"):
        if not aside and state == "legacy" and not schema_exists(db, DISCARD):
            return StepOutcome(note=f"{m.app_schema} already holds the legacy schema: nothing to restore",
                               details={"path": "none"})
        if aside_is_intact(ctx, manifest):
            swap_back(db, m.app_schema, m.aside_schema)
            return StepOutcome(note=f"fast path: {m.aside_schema} swapped back to {m.app_schema}",
                               details={"path": "swap"})
        warn(f"{STEP}: {m.aside_schema} is missing or differs from the backup manifest; restoring from the backup")
    jobs = int(options.get("jobs") or os.cpu_count() or 1)
    restored = restore_from_backup(ctx, jobs)
    rows = sum(restored.row_counts.values())
    return StepOutcome(note=f"restored from {ctx.backup_dir / restored.file} with {jobs} jobs; row counts match "
                            f"the manifest", details={"path": "backup", "jobs": jobs, "rows": rows})


def prepare(ctx: RunContext) -> StepOutcome:
    """Put the site in maintenance and fence the database again before touching it."""
    on = maintenance_on(ctx)
    fenced = fence(ctx) if _bookkeeping(ctx) else StepOutcome(note="no bookkeeping: nothing was fenced")
    return StepOutcome(note=f"maintenance: {on.note}; fence: {fenced.note}")


def _bookkeeping(ctx: RunContext) -> bool:
    return bool(ctx.db.query("SELECT to_regclass('pgcutover.runs') IS NOT NULL")[0][0])


def redeploy_app(ctx: RunContext) -> StepOutcome:
    """Redeploy the release recorded before deploy-app, if that step had started."""
    record = ctx.run_dir / "previous_release"
    if not record.exists():
        return StepOutcome(note="deploy-app never ran: the previous release is still deployed", skipped=True)
    previous = record.read_text().strip()
    s = ctx.settings
    if not s.deploy_cmd or not previous:
        raise CutoverError("redeploy-app", f"cannot redeploy {previous or 'an unknown release'}: "
                                           "DEPLOY_CMD or the recorded release is missing")
    deploy("redeploy-app", s, previous)
    health = health_check("redeploy-app", s.healthcheck_url, s.healthcheck_timeout_s) if s.healthcheck_url else \
        "no HEALTHCHECK_URL"
    return StepOutcome(note=f"redeployed {previous}; {health}", details={"release": previous})


def finish(ctx: RunContext) -> StepOutcome:
    """Give CONNECT back and take the site out of maintenance."""
    restored = unfence(ctx) if _bookkeeping(ctx) else StepOutcome(note="nothing fenced")
    off = maintenance_off(ctx)
    return StepOutcome(note=f"{restored.note}; maintenance: {off.note}")


def _describe(*lines: str) -> Any:
    return lambda settings, migration: list(lines)


ROLLBACK: tuple[Step, ...] = (
    Step("rollback-prepare", 60, prepare, _describe("MAINTENANCE_ON_CMD; fence again if unfenced")),
    Step(STEP, 600, restore_database, _describe(
        "fast path: swap the set-aside schema back (checked against the manifest's row counts)",
        "slow path (--from-backup, or set-aside schema gone/damaged): pg_restore --jobs N, counts vs manifest")),
    Step("redeploy-app", 300, redeploy_app, _describe("DEPLOY_CMD with the release recorded before deploy-app; health check")),
    Step("rollback-finish", 60, finish, _describe("GRANT CONNECT back as recorded; MAINTENANCE_OFF_CMD")),
)


def describe_rollback(settings: Settings, migration: Migration) -> list[str]:
    return [line for step in ROLLBACK for line in step.describe(settings, migration)]
