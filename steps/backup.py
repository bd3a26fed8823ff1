"""Step 4, backup: pg_dump to BACKUP_DIR/<run-id>/, proven; nothing destructive runs without it."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pgcutover.db import Database, ident
from pgcutover.errors import CutoverError
from pgcutover.journal import iso, utc_now
from pgcutover.migration import Migration
from pgcutover.pgtools import ArchiveToc, pg_dump, pg_restore_list, pg_restore_read_all, tool_major
from pgcutover.run import RunContext, Step, StepOutcome
from pgcutover.settings import Settings

STEP = "backup"
DUMP_NAME = "database.dump"
MANIFEST_NAME = "manifest.json"
BOOKKEEPING_SCHEMA = "pgcutover"


@dataclass(frozen=True)
class Manifest:
    """What proves a backup: the file's sha256 and row counts taken in the dump's own snapshot."""

    run: str
    file: str
    bytes: int
    sha256: str
    created_at: str
    server_version: str
    pg_dump_major: int
    row_counts: dict[str, int]
    toc_entries: int


def sha256_of(path: Path) -> str:
    """Hash a file in 1 MiB chunks (memory stays flat whatever its size)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def count_rows(db: Database, schema: str | None = None) -> dict[str, int]:
    """Count rows of every table (of one schema, or all but the bookkeeping one) as schema.table."""
    tables = db.query(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema', %s) "
        "AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%' "
        "AND (%s::text IS NULL OR n.nspname = %s) ORDER BY 1, 2",
        [BOOKKEEPING_SCHEMA, schema, schema],
    )
    return {
        f"{s}.{t}": int(db.query(f"SELECT count(*) FROM {ident(s)}.{ident(t)}")[0][0])
        for s, t in tables
    }


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


def read_back(settings: Settings, dump: Path, tables: Iterable[str], step: str) -> ArchiveToc:
    """Require a data entry for every table in the TOC, then read and inflate every data block."""
    try:
        toc = pg_restore_list(settings, dump, step)
    except CutoverError as exc:
        raise CutoverError(
            step, f"the table of contents of {dump.name} is unreadable: {exc.cause}"
        ) from None
    if not toc.compressed:
        # An uncompressed block carries no checksum: pg_restore would read flipped bytes as data.
        raise CutoverError(
            step,
            f"{dump.name} is uncompressed, so a corrupt data block cannot be "
            "detected (is pg_dump built without zlib?)",
        )
    # A TOC data line: "<id>; <oid> <oid> TABLE DATA <schema> <table> <owner>".
    data = {
        e.split(" TABLE DATA ", 1)[1].rsplit(" ", 1)[0] for e in toc.entries if " TABLE DATA " in e
    }
    missing = [t for t in tables if " ".join(t.split(".", 1)) not in data]
    if missing:
        raise CutoverError(step, f"{dump.name} has no data for {', '.join(missing[:5])}")
    try:
        pg_restore_read_all(settings, dump, step)
    except CutoverError as exc:
        raise CutoverError(
            step, f"a data block of {dump.name} is unreadable: {exc.cause}"
        ) from None
    return toc


def write_manifest(dest_dir: Path, manifest: Manifest) -> None:
    """Write the manifest atomically: its presence is what "proven" means."""
    tmp = dest_dir / (MANIFEST_NAME + ".tmp")
    tmp.write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    tmp.rename(dest_dir / MANIFEST_NAME)


def read_manifest(dest_dir: Path) -> Manifest | None:
    path = dest_dir / MANIFEST_NAME
    if not path.exists():
        return None
    return Manifest(**json.loads(path.read_text()))


Problem = Literal[
    "manifest missing",
    "manifest unreadable",
    "file missing",
    "size mismatch",
    "sha256 mismatch",
    "unreadable",
]


@dataclass(frozen=True)
class BackupCheck:
    """The verdict on one backup directory: proven or not, and why, in one line."""

    backup_dir: Path
    proven: bool
    reason: str
    problem: Problem | None = None
    manifest: Manifest | None = None
    full_read: bool = False


def check_backup(settings: Settings, backup_dir: Path, *, full_read: bool) -> BackupCheck:
    """Check a backup against its manifest: size and sha256, and with full_read every data block.

    Needs no run and no database: settings only say where pg_restore is (for full_read).
    """

    def fail(problem: Problem, reason: str, manifest: Manifest | None = None) -> BackupCheck:
        return BackupCheck(backup_dir, False, reason, problem, manifest, full_read)

    try:
        manifest = read_manifest(backup_dir)
    except (OSError, ValueError, TypeError) as exc:  # ValueError: bad JSON; TypeError: bad keys
        return fail(
            "manifest unreadable",
            f"{MANIFEST_NAME} is unreadable: {getattr(exc, 'strerror', None) or exc}",
        )
    if manifest is None:
        return fail("manifest missing", f"no {MANIFEST_NAME}: the dump was never proven")
    if not manifest.file or Path(manifest.file).name != manifest.file:
        return fail(
            "manifest unreadable",
            f"{MANIFEST_NAME} names {manifest.file!r}, not a file of this directory",
            manifest,
        )
    dump = backup_dir / manifest.file
    try:
        size = dump.stat().st_size
        digest = sha256_of(dump) if size == manifest.bytes else ""
    except FileNotFoundError:
        return fail("file missing", f"{manifest.file} is missing", manifest)
    except OSError as exc:
        return fail("file missing", f"{manifest.file} cannot be read: {exc.strerror}", manifest)
    if size != manifest.bytes:
        return fail(
            "size mismatch",
            f"{manifest.file} is {size} bytes, the manifest says {manifest.bytes}",
            manifest,
        )
    if digest != manifest.sha256:
        return fail(
            "sha256 mismatch",
            f"{manifest.file} has sha256 {digest[:12]}…, the manifest says {manifest.sha256[:12]}…",
            manifest,
        )
    if not full_read:
        return BackupCheck(
            backup_dir, True, "size and sha256 match the manifest", None, manifest, full_read
        )
    try:
        read_back(settings, dump, manifest.row_counts, STEP)
    except CutoverError as exc:
        return fail("unreadable", exc.cause, manifest)
    return BackupCheck(
        backup_dir,
        True,
        "size and sha256 match the manifest; every data block reads back",
        None,
        manifest,
        full_read,
    )


def require_proven(ctx: RunContext, step: str) -> Manifest:
    """Refuse a destructive step unless this run's backup exists and still matches its manifest."""
    check = check_backup(ctx.settings, ctx.backup_dir, full_read=False)
    if not check.proven or check.manifest is None:
        raise CutoverError(
            step,
            f"no proven backup for run {ctx.run_id} in {ctx.backup_dir} "
            f"({check.reason}): refusing to go on",
        )
    return check.manifest


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
