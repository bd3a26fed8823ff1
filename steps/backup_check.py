"""Checking a backup against its manifest, and the refusals built on that check.

steps/backup_proof.py says what a proven backup is (its records, the read-back); this module asks
whether one still is: every part there, its size and sha256 as recorded, and with a full read every
data block. It needs no run and no database, so `invoke backups`, prune, cleanup, the restore path
and the window's destructive steps all ask it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pgcutover.dumpfiles import dump_parts, listing_sha256, sha256_of
from pgcutover.errors import CutoverError
from pgcutover.journal import read_journal
from pgcutover.run import RunContext
from pgcutover.settings import Settings
from steps.backup_proof import (
    MANIFEST_NAME,
    Manifest,
    dumped_intact,
    names_its_own_parts,
    read_back,
    read_dumped,
    read_manifest,
)

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

    if not backup_dir.is_dir():
        return fail("file missing", f"{backup_dir} does not exist")
    try:
        manifest = read_manifest(backup_dir)
    except (OSError, ValueError, TypeError) as exc:  # ValueError: bad JSON; TypeError: bad keys
        return fail(
            "manifest unreadable",
            f"{MANIFEST_NAME} is unreadable: {getattr(exc, 'strerror', None) or exc}",
        )
    if manifest is None:
        return fail("manifest missing", f"no {MANIFEST_NAME}: the dump was never proven")
    if not names_its_own_parts(manifest):
        return fail(
            "manifest unreadable",
            f"{MANIFEST_NAME} names {manifest.file!r}, not a file of this directory",
            manifest,
        )
    edited = manifest_problem(settings, backup_dir, manifest)
    if edited:
        return fail("manifest unreadable", edited, manifest)
    dump = backup_dir / manifest.file
    try:
        if not dump.exists():
            raise FileNotFoundError(dump)
        differs = compare_dump(manifest, dump)
    except FileNotFoundError:  # or removed while it was read
        return fail("file missing", f"{manifest.file} is missing", manifest)
    except OSError as exc:
        return fail("file missing", f"{manifest.file} cannot be read: {exc.strerror}", manifest)
    if differs is not None:
        return fail(*differs, manifest)
    if not full_read:
        return BackupCheck(
            backup_dir, True, "size and sha256 match the manifest", None, manifest, full_read
        )
    try:
        read_back(settings, dump, manifest.row_counts)
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


def recorded_sha256(settings: Settings, run_id: str) -> str | None:
    """Return the dump's sha256 as the run's journal recorded it when the backup was proven."""
    found = None
    for line in read_journal(settings.runs_dir / run_id / "journal.jsonl"):
        details = line.get("details") or {}
        ok = line.get("outcome") == "ok" and details.get("sha256")
        if line.get("step") in ("backup", "backup-proof") and ok:  # older runs proved in backup
            found = str(details["sha256"])
    return found


def manifest_problem(settings: Settings, backup_dir: Path, manifest: Manifest) -> str:
    """Say why a manifest is not the one the run's proof wrote ('' when nothing says so): a
    directory's parts that do not hash to its sha256, or a sha256 the journal did not record."""
    if manifest.parts is not None and listing_sha256(manifest.digests()) != manifest.sha256:
        return f"{MANIFEST_NAME}'s parts do not hash to its sha256: it was edited or is corrupt"
    dumped = read_dumped(backup_dir)
    if dumped is not None and dumped.row_counts != manifest.row_counts:
        return f"{MANIFEST_NAME}'s row counts are not the ones the dump recorded: it was edited"
    recorded = recorded_sha256(settings, backup_dir.name)
    if recorded and manifest.sha256 != recorded:
        return (
            f"{MANIFEST_NAME} says sha256 {manifest.sha256[:12]}…, the run's journal "
            f"recorded {recorded[:12]}…"
        )
    return ""


def compare_dump(manifest: Manifest, dump: Path) -> tuple[Problem, str] | None:
    """Say how a dump on disk differs from its manifest (None when it matches): its parts, its
    size, then each part's sha256 (read only when everything else matches)."""
    want, on_disk = manifest.digests(), dump_parts(dump)
    missing = [name for name in want if name not in on_disk]
    if missing:
        return "file missing", f"{missing[0]} is missing"
    extra = [name for name in on_disk if name not in want]
    if extra:
        return "size mismatch", f"{extra[0]} is not in the manifest"
    size = sum(path.stat().st_size for path in on_disk.values())
    if size != manifest.bytes:
        return (
            "size mismatch",
            f"{manifest.file} is {size} bytes, the manifest says {manifest.bytes}",
        )
    for name, path in on_disk.items():  # listed and sized above: hash each, stop at the first
        sha = sha256_of(path)
        if sha != want[name][1]:
            return (
                "sha256 mismatch",
                f"{name} has sha256 {sha[:12]}…, the manifest says {want[name][1][:12]}…",
            )
    return None


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


def require_dumped(ctx: RunContext, step: str) -> None:
    """Refuse unless this run's dump is proven, or written whole with its proof still to come.

    Enough for reset, which destroys nothing: the legacy schema stays, sealed, until cleanup, and
    the window cannot pass unfence before the proof ends.
    """
    if dumped_intact(ctx.backup_dir) is not None:
        return
    require_proven(ctx, step)
