"""Step 4, backup: pg_dump to BACKUP_DIR/<run-id>/; no step past unfence runs until it is proven.

This step writes the dump, counts every table in its snapshot and checks its table of contents;
steps/prove_backup.py reads it back beside the window. What proves a dump is steps/backup_proof.py.
It runs beside deploy-schema and transform, on connections of its own: once fenced, the legacy
schema is written by nobody, and the target is built in a schema the dump leaves out. Reset, which
moves the legacy schema, waits for it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pgcutover.background import Background
from pgcutover.compare import BOOKKEEPING_SCHEMA
from pgcutover.db import DB_ERRORS, Database, connect, join_snapshot
from pgcutover.dumpfiles import (
    DUMP_NAMES,
    dump_bytes,
    dump_name,
    fsync_directory,
    fsync_dump,
    remove_dump,
)
from pgcutover.errors import CutoverError
from pgcutover.journal import iso, read_journal, runs_newest_first, utc_now
from pgcutover.migration import Migration
from pgcutover.pgtools import pg_dump, tool_major
from pgcutover.progress import Reading
from pgcutover.row_counts import count_rows
from pgcutover.run import RunContext, Step, StepOutcome
from pgcutover.settings import Settings
from pgcutover.window_jobs import window_jobs
from steps.backup_check import check_backup
from steps.backup_proof import (
    DUMP_RECORD,
    MANIFEST_NAME,
    Dumped,
    check_toc,
    dumped_intact,
    write_json_atomically,
)
from steps.backup_sessions import dump_app_name, end_dump_sessions
from steps.set_aside import sealed_by

STEP = "backup"
PARTIAL = ".partial-"  # database.dump.partial-<token>: a dump still being written


def partial_dumps(dest_dir: Path) -> list[Path]:
    """List the dumps pg_dump is writing, or was when an attempt died, in a run's directory."""
    starts = tuple(name + PARTIAL for name in DUMP_NAMES.values())
    return sorted(p for p in dest_dir.glob("database.*") if p.name.startswith(starts))


def count_in_snapshot(
    settings: Settings, snapshot: str, app_name: str, exclude: Sequence[str]
) -> dict[str, int]:
    """Count every dumped table's rows on a connection of its own, in the exported snapshot."""
    db = connect(settings.database_url, settings.db_driver, application_name=app_name, step=STEP)
    try:
        with db.transaction():
            join_snapshot(db, snapshot)
            return count_rows(db, exclude=exclude)
    finally:
        db.close()


def dump_database(
    settings: Settings,
    db: Database,
    dest_dir: Path,
    *,
    run_id: str,
    app_name: str,
    exclude: Sequence[str] = (),
    jobs: int = 1,
) -> Dumped:
    """Dump the database (bookkeeping excluded), check its TOC, and record it for the proof.

    exclude: more schemas to leave out (the target the window builds beside the dump).
    jobs: pg_dump's, in the directory format (BACKUP_FORMAT); the custom format dumps with one.
    """
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest_dir.chmod(0o700)  # the dump holds every row of production: only its owner may read it
    except OSError as exc:
        raise CutoverError(STEP, f"cannot create {dest_dir}: {exc.strerror}") from None
    name = dump_name(settings.backup_format)
    end_dump_sessions(db, app_name)
    # A path of this attempt's own: a pg_dump orphaned by an earlier, killed attempt (in a session
    # of its own, the kill missed it) may still be writing, and in the directory format it opens
    # each table's file by path. Every earlier attempt's leftover goes, in either format.
    for leftover in partial_dumps(dest_dir):
        remove_dump(leftover)
    # An attempt killed between its rename and dump.json left a whole dump under its final name
    # that nothing records (the caller dumps again only when no intact record or proof is there):
    # it goes, with any record or manifest of an earlier file, or the rename below cannot replace
    # a directory and the proof would read a record of another dump.
    for stale in (*DUMP_NAMES.values(), MANIFEST_NAME, DUMP_RECORD):
        remove_dump(dest_dir / stale)
    partial = dest_dir / f"{name}{PARTIAL}{secrets.token_hex(4)}"
    final = dest_dir / name
    with db.transaction():
        # One snapshot for the counts and the dump,
        # so the manifest describes exactly what was dumped.
        db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = db.query("SELECT pg_export_snapshot()")[0][0]
        # The counts scan every table while pg_dump does: on their own connection, beside it.
        counting = Background(
            lambda: count_in_snapshot(settings, snapshot, app_name, exclude),
            name="backup counts",
        )
        try:
            pg_dump(
                settings,
                partial,
                snapshot=snapshot,
                exclude_schemas=[BOOKKEEPING_SCHEMA, *exclude],
                app_name=app_name,
                jobs=jobs,
            )
        except CutoverError:
            # Nobody will use the counts: end their scan rather than leave it reading every
            # table in the snapshot (a paused window would keep it going).
            with suppress(*DB_ERRORS):
                end_dump_sessions(db, app_name)
            raise
        # Still inside the exporting transaction: the snapshot must live until they imported it.
        counts = counting.result()
    fsync_dump(partial)
    partial.rename(final)
    fsync_directory(dest_dir)  # the rename itself survives a crash
    # The TOC alone (milliseconds): an archive that is not one, or lacks a table's data, stops
    # the window here, before reset. Reading every block back is the proof's, beside the window.
    try:
        toc = check_toc(settings, final, counts, STEP)
    except CutoverError as exc:
        raise CutoverError(STEP, f"{exc.cause}: the backup is not usable") from None
    dumped = Dumped(
        run=run_id,
        file=final.name,
        bytes=dump_bytes(final),
        created_at=iso(utc_now()),
        server_version=str(db.query("SHOW server_version")[0][0]),
        pg_dump_major=tool_major(settings, "pg_dump", STEP),
        row_counts=counts,
        toc_entries=len(toc.entries),
        format=settings.backup_format,
    )
    write_json_atomically(dest_dir / DUMP_RECORD, asdict(dumped))
    return dumped


def run(ctx: RunContext) -> StepOutcome:
    # A run's dump is never taken again: a resumed window may be past reset.
    kept = dumped_intact(ctx.backup_dir) or proven_dump(ctx)
    dumped, jobs = (kept, 0) if kept else _dump_on_own_connection(ctx)
    rows = sum(dumped.row_counts.values())
    details: dict[str, Any] = {
        "dir": str(ctx.backup_dir),
        "bytes": dumped.bytes,
        "tables": len(dumped.row_counts),
        "rows": rows,
        "format": dumped.format,
    }
    if not kept and dumped.format == "directory":
        details["jobs"] = jobs
    return StepOutcome(
        note=f"{dumped.bytes / 2**20:.1f} MiB, {rows} rows in {len(dumped.row_counts)} tables, "
        f"a data entry for each; {'kept from earlier' if kept else 'written'}, "
        f"its proof runs {'beside the window' if ctx.overlap else 'next'}",
        details=details,
    )


def _dump_on_own_connection(ctx: RunContext) -> tuple[Dumped, int]:
    """Dump through a connection of the step's own (it runs beside deploy-schema and transform,
    whose transaction holds the window's: it never touches that one); return it with its jobs."""
    db = ctx.connect(STEP)  # named own_app_name(ctx)
    try:
        if sealed_by(db, ctx.run_id):  # its dump.json gone after reset moved the legacy schema
            raise CutoverError(
                STEP,
                f"this run's dump is gone from {ctx.backup_dir} and reset already set the legacy "
                "schema aside: a new dump would not be of the pre-window database; nothing was "
                "dumped. Roll back (the sealed set-aside schema needs no dump)",
            )
        # Beside the transform, the directory format dumps with the window's jobs but one: the
        # transform takes that one (resolved here, on this connection, if the run has not yet).
        # Measured (20,000 users, 2 cores): with all of them the two oversubscribed the cores,
        # and the window took 7.67 s at --jobs 2 against 6.18 s at --jobs 1. In line
        # (--no-overlap) the dump runs alone and takes them all.
        directory = ctx.settings.backup_format == "directory"
        beside = 1 if ctx.overlap else 0
        jobs = max(1, window_jobs(ctx, STEP, db) - beside) if directory else 1
        dumped = dump_database(
            ctx.settings,
            db,
            ctx.backup_dir,
            run_id=ctx.run_id,
            app_name=dump_app_name(ctx),
            exclude=[ctx.migration.build_schema],
            jobs=jobs,
        )
        return dumped, jobs
    finally:
        db.close()


def proven_dump(ctx: RunContext) -> Dumped | None:
    """Return a proven backup's record (a run from before dump.json existed), or None."""
    check = check_backup(ctx.settings, ctx.backup_dir, full_read=False)
    return check.manifest if check.proven else None  # a manifest is a proven dump's record


def done(ctx: RunContext) -> bool:
    """Ask the backup directory whether this run's dump is written whole (proven or not yet)."""
    return dumped_intact(ctx.backup_dir) is not None or proven_dump(ctx) is not None


def describe(settings: Settings, migration: Migration) -> list[str]:
    fmt = settings.backup_format
    jobs = (
        " --jobs <--jobs − 1, at least 1; all of them with --no-overlap>"
        if fmt == "directory"
        else ""
    )
    return [
        f"pg_dump --format={fmt}{jobs} --compress={settings.backup_compress} "
        f"--snapshot=<exported> --exclude-schema={BOOKKEEPING_SCHEMA} "
        f"--exclude-schema={migration.build_schema} "
        f"--file {settings.backup_dir}/<run-id>/{dump_name(fmt)}",
        "count every table's rows in the same snapshot (while pg_dump runs, on a second "
        "connection); pg_restore --list (a data entry per table); write dump.json",
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
    final = ctx.backup_dir / dump_name(ctx.settings.backup_format)
    try:
        partials = partial_dumps(ctx.backup_dir)  # this attempt's alone, once pg_dump started
        if partials:
            written = dump_bytes(partials[-1])
            return Reading(written, ctx.state["_dump_expected"], "bytes", "pg_dump writing")
        if final.exists():
            size = dump_bytes(final)
            return Reading(size, size, "bytes", "dump written; checking its table of contents")
    except OSError:  # renamed between the two calls: the next sample sees the new name
        return None
    return None


# Beside deploy-schema and transform, which build the target apart and never write the legacy
# schema it dumps; joined before reset, which moves that schema (and needs the run's dump whole).
JOINED_BEFORE = "reset"
BACKUP = Step(STEP, 600, run, describe, done=done, probe=probe, beside_until=JOINED_BEFORE)
