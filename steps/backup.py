"""Step 4, backup: pg_dump to BACKUP_DIR/<run-id>/, proven; nothing destructive runs without it.

What proves a dump (its manifest, and checking it again later) is in steps/backup_proof.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pgcutover.compare import BOOKKEEPING_SCHEMA
from pgcutover.db import Database, ident, select_each
from pgcutover.errors import CutoverError
from pgcutover.journal import iso, utc_now
from pgcutover.migration import Migration
from pgcutover.pgtools import pg_dump, tool_major
from pgcutover.run import RunContext, Step, StepOutcome
from pgcutover.settings import Settings
from steps.backup_proof import Manifest, read_back, require_proven, sha256_of, write_manifest

STEP = "backup"
DUMP_NAME = "database.dump"


def count_rows(db: Database, schema: str | None = None) -> dict[str, int]:
    """Count rows of every table (of one schema, or all but the bookkeeping one) as schema.table.

    Exact counts, in one query (the caller's snapshot): a count(*) per table, each a subquery.
    """
    tables = db.query(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema', %s) "
        "AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%' "
        "AND (%s::text IS NULL OR n.nspname = %s) ORDER BY 1, 2",
        [BOOKKEEPING_SCHEMA, schema, schema],
    )
    counts = select_each(db, [f"SELECT count(*) FROM {ident(s)}.{ident(t)}" for s, t in tables])
    return {f"{s}.{t}": int(n) for (s, t), n in zip(tables, counts, strict=True)}


def dump_database(
    settings: Settings, db: Database, dest_dir: Path, *, run_id: str, app_name: str
) -> Manifest:
    """Dump the database (bookkeeping excluded) and write a manifest that proves the dump."""
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest_dir.chmod(0o700)  # the dump holds every row of production: only its owner may read it
    except OSError as exc:
        raise CutoverError(STEP, f"cannot create {dest_dir}: {exc.strerror}") from None
    partial, final = dest_dir / (DUMP_NAME + ".partial"), dest_dir / DUMP_NAME
    # A fresh inode: a pg_dump orphaned by an earlier, killed attempt
    # may still hold the old one open.
    partial.unlink(missing_ok=True)
    with db.transaction():
        # One snapshot for the counts and the dump,
        # so the manifest describes exactly what was dumped.
        db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = db.query("SELECT pg_export_snapshot()")[0][0]
        counts = count_rows(db)
        pg_dump(
            settings,
            partial,
            snapshot=snapshot,
            exclude_schemas=[BOOKKEEPING_SCHEMA],
            app_name=app_name,
        )
    with partial.open("rb") as fh:
        os.fsync(fh.fileno())
    partial.rename(final)
    manifest = prove_dump(
        settings,
        final,
        run_id=run_id,
        counts=counts,
        server_version=str(db.query("SHOW server_version")[0][0]),
    )
    write_manifest(dest_dir, manifest)
    return manifest


def prove_dump(
    settings: Settings, dump: Path, *, run_id: str, counts: dict[str, int], server_version: str
) -> Manifest:
    """Read the whole archive back, then hash it: only a dump that reads back in full is proven."""
    try:
        toc = read_back(settings, dump, counts, STEP)
    except CutoverError as exc:
        raise CutoverError(STEP, f"{exc.cause}: the backup is not proven") from None
    return Manifest(
        run=run_id,
        file=dump.name,
        bytes=dump.stat().st_size,
        sha256=sha256_of(dump),
        created_at=iso(utc_now()),
        server_version=server_version,
        pg_dump_major=tool_major(settings, "pg_dump", STEP),
        row_counts=counts,
        toc_entries=len(toc.entries),
    )


def run(ctx: RunContext) -> StepOutcome:
    manifest = dump_database(
        ctx.settings, ctx.db, ctx.backup_dir, run_id=ctx.run_id, app_name=f"{ctx.app_name} pg_dump"
    )
    rows = sum(manifest.row_counts.values())
    details: dict[str, Any] = {
        "dir": str(ctx.backup_dir),
        "bytes": manifest.bytes,
        "sha256": manifest.sha256,
        "tables": len(manifest.row_counts),
        "rows": rows,
    }
    return StepOutcome(
        note=f"{manifest.bytes / 2**20:.1f} MiB, {rows} rows in "
        f"{len(manifest.row_counts)} tables, sha256 {manifest.sha256[:12]}…, "
        "every data block read back",
        details=details,
    )


def done(ctx: RunContext) -> bool:
    try:
        require_proven(ctx, STEP)
    except CutoverError:
        return False
    return True


def describe(settings: Settings, migration: Migration) -> list[str]:
    return [
        f"pg_dump --format=custom --snapshot=<exported> --exclude-schema={BOOKKEEPING_SCHEMA} "
        f"--file {settings.backup_dir}/<run-id>/{DUMP_NAME}",
        "count every table's rows in the same snapshot; pg_restore --list (a data entry per "
        "table); pg_restore --file=/dev/null (every data block read and inflated); sha256; "
        "write manifest.json",
    ]


BACKUP = Step(STEP, 600, run, describe, done=done)
