"""Step 1, preflight: prove the window can start, change nothing."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pgcutover.apply_sql import set_migration_parameters
from pgcutover.db import Database, schema_exists
from pgcutover.errors import CutoverError
from pgcutover.hosts import app_hosts, open_hosts, unreachable
from pgcutover.migration import Migration
from pgcutover.offhost import reach
from pgcutover.pgtools import tool_major
from pgcutover.run import DATA_SECONDS, RunContext, Step, StepOutcome
from pgcutover.settings import Settings
from pgcutover.window_jobs import window_jobs
from pgcutover.window_session import tune_window_session
from steps.deploy_app import version_of
from steps.preflight_rights import missing_rights
from steps.restore_database import DISCARD

STEP = "preflight"


def check_client_tools(settings: Settings, server_major: int) -> dict[str, int]:
    """Require pg_dump and pg_restore at least as new as the server (older ones miss objects)."""
    found = {tool: tool_major(settings, tool, STEP) for tool in ("pg_dump", "pg_restore")}
    for tool, major in found.items():
        if major < server_major:
            raise CutoverError(
                STEP,
                f"{tool} {major} is older than the server ({server_major}): set PG_BINDIR "
                f"to PostgreSQL {server_major}+ client programs",
            )
    return found


def schema_state(db: Database, migration: Migration) -> tuple[str, str]:
    """Ask the migration's schema-state query what the app schema holds: (state, detail)."""
    state, detail = db.query(migration.schema_state.text)[0]
    return str(state), str(detail)


def state_text(state: str) -> str:
    """Say what a schema state other than 'legacy' means, after "the database"."""
    return {
        "migrated": "holds an already-migrated schema",
        "empty": "holds no application tables",
    }.get(state, "does not hold the legacy schema")


def check_schema_state(db: Database, migration: Migration) -> str:
    """Require the legacy schema in the app schema and no set-aside schema left by another run."""
    state, detail = schema_state(db, migration)
    if state != "legacy":
        raise CutoverError(STEP, f"database {state_text(state)} ({detail}); nothing was changed")
    if schema_exists(db, migration.aside_schema):
        raise CutoverError(
            STEP,
            f"schema {migration.aside_schema} already exists (left by an earlier window?): "
            "roll that run back or clean it up first",
        )
    if schema_exists(db, migration.build_schema):
        # deploy-schema builds the target there; a window that failed before reset leaves it.
        raise CutoverError(
            STEP,
            f"schema {migration.build_schema} already exists (a target built by an earlier "
            "window that stopped before reset?): roll that run back, which drops it, or resume "
            "it; nothing was changed",
        )
    if schema_exists(db, DISCARD):
        # A rollback swapped the legacy schema back but never reached rollback-finish, which
        # drops this migrated copy once the site is back; a later fast rollback would drop it
        # inside its own downtime.
        raise CutoverError(
            STEP,
            f"schema {DISCARD} is left by a rollback that did not finish: run `invoke rollback` "
            "to finish it (it drops that schema), then start the window; nothing was changed",
        )
    return str(detail)


def legacy_drift(db: Database, migration: Migration) -> list[str]:
    """Name every way the live legacy schema differs from the one the migration was written for."""
    set_migration_parameters(db, migration)  # in the caller's transaction, like audit's
    return [str(r[0]) for r in db.query(migration.drift.text)]


def check_legacy_drift(db: Database, migration: Migration) -> None:
    """Refuse a window whose transform would meet a schema it does not know (catalog only)."""
    drift = legacy_drift(db, migration)
    if drift:
        raise CutoverError(
            STEP,
            "the live legacy schema differs from what the migration expects: "
            f"{', '.join(drift)}; nothing was changed",
        )


def refused_references(db: Database, migration: Migration) -> list[tuple[str, int]]:
    """Count the legacy rows the target's keys would refuse, by kind (none: an empty list)."""
    set_migration_parameters(db, migration)  # in the caller's transaction, like drift's
    # Its branches that never run still count toward jit_above_cost: JIT would compile them all
    # (measured: 0.47 s against 35 ms with every key in place).
    tune_window_session(db, {"jit": "off"})
    return [(str(r[0]), int(r[1])) for f in migration.refused_references for r in db.query(f.text)]


def check_refused_references(db: Database, migration: Migration) -> None:
    """Refuse a window whose transform would fail on rows no key kept out of the legacy data."""
    found = refused_references(db, migration)
    if found:
        counts = "; ".join(f"{problem}: {count}" for problem, count in found)
        raise CutoverError(
            STEP,
            f"legacy rows the target's keys would refuse (a key the live schema lacks, or one "
            f"bypassed by replica role or disabled triggers, let them in): {counts}; fix or "
            "delete them before the window; "
            "nothing was changed",
        )


def check_backup_space(settings: Settings, db: Database) -> dict[str, Any]:
    """Require a writable BACKUP_DIR with at least the database's size free."""
    size = int(db.query("SELECT pg_database_size(current_database())")[0][0])
    try:
        settings.backup_dir.mkdir(parents=True, exist_ok=True)
        probe = settings.backup_dir / ".pgcutover-write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise CutoverError(
            STEP, f"BACKUP_DIR {settings.backup_dir} is not writable: {exc.strerror}"
        ) from None
    free = shutil.disk_usage(settings.backup_dir).free
    if free < size:
        raise CutoverError(
            STEP,
            f"BACKUP_DIR {settings.backup_dir} has {free // 2**20} MiB free, the database is "
            f"{size // 2**20} MiB: free space or point BACKUP_DIR elsewhere",
        )
    return {"database_bytes": size, "backup_free_bytes": free}


def audit(db: Database, migration: Migration) -> list[dict[str, Any]]:
    """Count the legacy rows that a rule has to bend (R13), in the caller's transaction."""
    # The audit reads the migration's parameters (R3's whitespace): they last as long as the
    # transaction, so the caller holds one (a read-only one: preflight and `invoke audit` alike).
    set_migration_parameters(db, migration)
    return [
        {"finding": f, "rule": r, "rows": int(n)}
        for sql in migration.audit
        for f, r, n in db.query(sql.text)
    ]


@contextmanager
def read_only(db: Database) -> Iterator[None]:
    """Hold a read-only transaction for the block: the migration's parameters last that long."""
    with db.transaction():
        db.execute("SET TRANSACTION READ ONLY")
        yield


def run(ctx: RunContext) -> StepOutcome:
    db = ctx.db
    server_major = int(db.query("SHOW server_version_num")[0][0]) // 10000
    tools = check_client_tools(ctx.settings, server_major)
    detail = check_schema_state(db, ctx.migration)
    missing = missing_rights(db, ctx.migration.app_schema)
    if missing:
        raise CutoverError(STEP, "the connected role lacks " + "; ".join(missing))
    with read_only(db):
        check_legacy_drift(db, ctx.migration)
        check_refused_references(db, ctx.migration)  # its queries assume the shape drift checked
    space = check_backup_space(ctx.settings, db)
    # A --jobs the server has no connections for is refused here, before anything changes.
    jobs = window_jobs(ctx, STEP)
    audit_started = time.monotonic()
    with read_only(db):
        findings = audit(db, ctx.migration)
    # The audit is the part of preflight that grows with the data: the forecast scales it alone.
    data_s = round(time.monotonic() - audit_started, 3)
    reached = check_app_hosts(ctx)
    copy_to = check_copy_target(ctx.settings)
    bent = sum(f["rows"] for f in findings)
    return StepOutcome(
        note=f"server {server_major}, pg_dump {tools['pg_dump']}, {detail}; "
        f"{bent} rows bent by rules; {jobs} jobs"
        + (f"; reached {', '.join(reached)}" if reached else "")
        + (f"; off-host copy target {copy_to} writable" if copy_to else ""),
        details={
            "server_major": server_major,
            "tools": tools,
            "jobs": jobs,
            **space,
            "audit": findings,
            DATA_SECONDS: data_s,
            **({"app_hosts": reached} if reached else {}),
        },
    )


def check_app_hosts(ctx: RunContext) -> list[str]:
    """Reach every APP_HOSTS host (connect, run `true`) before maintenance touches any of them,
    and when the window deploys, ask each its release (CURRENT_VERSION_CMD reads only): a
    command that cannot answer would fail deploy-app after the whole migration."""
    settings = ctx.settings
    asks = bool(settings.deploy_cmd and settings.current_version_cmd)
    if not settings.app_hosts and not asks:
        return []  # this machine runs the app commands: there is nothing to reach
    with open_hosts(settings) as hosts:
        if settings.app_hosts:
            causes = unreachable(STEP, hosts, journal=ctx.journal)
            if causes:
                raise CutoverError(STEP, f"cannot reach {'; '.join(causes)}; nothing was changed")
        for host in hosts if asks else []:
            try:
                version_of(STEP, host, settings, ctx.journal)
            except CutoverError as exc:
                raise CutoverError(
                    STEP, f"CURRENT_VERSION_CMD on {host.name}: {exc.cause}; nothing was changed"
                ) from None
    return [host.name for host in hosts] if settings.app_hosts else []


def check_copy_target(settings: Settings) -> str:
    """Reach BACKUP_COPY_TO now: a copy that cannot land would fail the window at its backup."""
    if settings.backup_copy_to is None:
        return ""
    try:
        return reach(settings, step=STEP)
    except CutoverError as exc:
        raise CutoverError(STEP, f"{exc.cause}; nothing was changed") from None


def describe(settings: Settings, migration: Migration) -> list[str]:
    return [
        "connect; check server, pg_dump and pg_restore versions (client >= server)",
        f"run {migration.schema_state.name}: the database must hold the legacy schema",
        f"run {migration.drift.name}: its tables, columns, types and enums must be the ones "
        "the migration expects (every drift is named)",
        *[
            f"run {f.name}: no legacy row the target's keys would refuse (counted only where "
            "the live schema lacks the key)"
            for f in migration.refused_references
        ],
        f"check rights, BACKUP_DIR {settings.backup_dir} writable with room for the dump, "
        "no other run (lock)",
        *[f"audit {f.name} (read-only counts of rows rules bend)" for f in migration.audit],
        *[
            f"on {h.name} ({h.target}): true (connect and run it; every host must answer)"
            for h in (app_hosts(settings) if settings.app_hosts else [])
        ],
        *(
            [f"BACKUP_COPY_TO {settings.backup_copy_to.where()}: reachable and writable"]
            if settings.backup_copy_to
            else []
        ),
    ]


PREFLIGHT = Step(STEP, 60, run, describe, read_only=True)
