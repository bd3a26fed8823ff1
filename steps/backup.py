"""Step 4, backup: pg_dump to BACKUP_DIR/<run-id>/, proven; nothing destructive runs without it.

What proves a dump (its manifest, and checking it again later) is in steps/backup_proof.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pgcutover.background import Background
from pgcutover.compare import BOOKKEEPING_SCHEMA
from pgcutover.db import Database, connect, ident, join_snapshot, select_each
from pgcutover.errors import CutoverError
from pgcutover.journal import iso, read_journal, runs_newest_first, utc_now
from pgcutover.migration import Migration
from pgcutover.pgtools import pg_dump, tool_major
from pgcutover.progress import Reading, read_position
from pgcutover.run import RunContext, Step, StepOutcome
from pgcutover.settings import Settings
from steps.backup_offhost import copied, copy_backup
from steps.backup_proof import (
    Manifest,
    check_backup,
    read_back,
    require_proven,
    sha256_of,
    write_manifest,
)

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


def count_in_snapshot(settings: Settings, snapshot: str, app_name: str) -> dict[str, int]:
    """Count every table's rows on a connection of its own, in the exported snapshot."""
    db = connect(settings.database_url, settings.db_driver, application_name=app_name, step=STEP)
    try:
        with db.transaction():
            join_snapshot(db, snapshot)
            return count_rows(db)
    finally:
        db.close()


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
        # The counts scan every table while pg_dump does: on their own connection, beside it.
        counting = Background(
            lambda: count_in_snapshot(settings, snapshot, app_name), name="backup counts"
        )
        pg_dump(
            settings,
            partial,
            snapshot=snapshot,
            exclude_schemas=[BOOKKEEPING_SCHEMA],
            app_name=app_name,
        )
        # Still inside the exporting transaction: the snapshot must live until they imported it.
        counts = counting.result()
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
    # The hash reads the file while pg_restore reads it back: two cores, one pass of time.
    hashing = Background(lambda: sha256_of(dump), name="backup sha256")
    try:
        toc = read_back(settings, dump, counts, STEP)
    except CutoverError as exc:
        raise CutoverError(STEP, f"{exc.cause}: the backup is not proven") from None
    return Manifest(
        run=run_id,
        file=dump.name,
        bytes=dump.stat().st_size,
        sha256=hashing.result(),
        created_at=iso(utc_now()),
        server_version=server_version,
        pg_dump_major=tool_major(settings, "pg_dump", STEP),
        row_counts=counts,
        toc_entries=len(toc.entries),
    )


def run(ctx: RunContext) -> StepOutcome:
    # A run's proven dump is never taken again: a resumed window may be past reset, and only the
    # off-host copy (done() says) may be missing.
    kept = check_backup(ctx.settings, ctx.backup_dir, full_read=False)
    manifest = kept.manifest if kept.proven and kept.manifest else None
    manifest = manifest or dump_database(
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
    copy_note = ""
    if ctx.settings.backup_copy_to is not None:  # only a proven dump leaves the host
        where = copy_backup(
            ctx.settings,
            ctx.backup_dir,
            manifest,
            step=STEP,
            on_bytes=lambda n, total: ctx.progress.update(
                n, total, unit="bytes", label="copying off the host"
            ),
        )
        details["copied_to"] = where
        copy_note = f"; copied to {where} and checked there (size, sha256)"
    return StepOutcome(
        note=f"{manifest.bytes / 2**20:.1f} MiB, {rows} rows in "
        f"{len(manifest.row_counts)} tables, sha256 {manifest.sha256[:12]}…, "
        f"every data block read back{copy_note}",
        details=details,
    )


def done(ctx: RunContext) -> bool:
    try:
        manifest = require_proven(ctx, STEP)
    except CutoverError:
        return False
    # A resumed window must not go on with a backup that never left the host when it should have.
    return ctx.settings.backup_copy_to is None or copied(ctx.settings, ctx.backup_dir, manifest)


def describe(settings: Settings, migration: Migration) -> list[str]:
    return [
        f"pg_dump --format=custom --snapshot=<exported> --exclude-schema={BOOKKEEPING_SCHEMA} "
        f"--file {settings.backup_dir}/<run-id>/{DUMP_NAME}",
        "count every table's rows in the same snapshot (beside pg_dump, on a second "
        "connection); pg_restore --list (a data entry per table); pg_restore --file=/dev/null "
        "(every data block read and inflated) with sha256 beside it; write manifest.json",
        *describe_copy(settings),
    ]


def describe_copy(settings: Settings) -> list[str]:
    """Say where the proven dump is copied, if anywhere (the dry run's plan)."""
    target = settings.backup_copy_to
    if target is None:
        return []
    there = "sha256sum on the host" if target.host else "read back there"
    return [
        f"copy the dump, then manifest.json, to {target.where('<run-id>')}; check size and "
        f"sha256 ({there}) before renaming them into place"
    ]


def expected_dump_bytes(ctx: RunContext) -> float | None:
    """Guess the dump's size: this database's size times the dump-to-database ratio of an earlier
    run in RUNS_DIR (a rehearsal's, typically); None when no earlier run says."""
    size = (ctx.state.get("preflight") or {}).get("database_bytes")
    if not size:
        return None
    for run_dir in runs_newest_first(ctx.settings.runs_dir)[:20]:
        if run_dir.name == ctx.run_id:
            continue
        ends = {
            ln.get("step"): ln.get("details") or {}
            for ln in read_journal(run_dir / "journal.jsonl")
            if ln.get("event") == "end" and ln.get("outcome") == "ok"
        }
        dumped, measured = (
            ends.get("backup", {}).get("bytes"),
            ends.get("preflight", {}).get("database_bytes"),
        )
        if dumped and measured:
            return float(size) * float(dumped) / float(measured)
    return None


def probe(ctx: RunContext) -> Reading | None:
    """Read the dump's size as pg_dump writes it (the file system; no connection)."""
    if "_dump_expected" not in ctx.state:
        ctx.state["_dump_expected"] = expected_dump_bytes(ctx)
    partial, final = ctx.backup_dir / (DUMP_NAME + ".partial"), ctx.backup_dir / DUMP_NAME
    try:
        if partial.exists():
            written = partial.stat().st_size
            return Reading(written, ctx.state["_dump_expected"], "bytes", "pg_dump writing")
        if final.exists():
            if ctx.progress.read() is not None:  # the off-host copy counts its own bytes
                return None
            size = final.stat().st_size
            read = read_position(final)  # pg_restore reading it back, if it is at it
            if read is None:
                return Reading(size, size, "bytes", "dump written; proving it")
            return Reading(read, size, "bytes", "reading every block back (proof)")
    except OSError:  # renamed between the two calls: the next sample sees the new name
        return None
    return None


BACKUP = Step(STEP, 600, run, describe, done=done, probe=probe)
