"""The backup's off-host copy (BACKUP_COPY_TO): send it, check it there, fetch it back.

pgcutover/offhost.py moves the bytes; this module knows what they are. A copy is trusted only when
its manifest names the run, carries the sha256 the run's journal recorded when the backup step
proved the dump (when the journal is there to ask), and the dump matches it in size and sha256.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pgcutover.dumpfiles import dump_parts, sha256_of
from pgcutover.errors import CutoverError
from pgcutover.journal import iso, utc_now
from pgcutover.offhost import copy_files, digests_at, fetch_files
from pgcutover.offhost_ssh import OnBytes
from pgcutover.run import RunContext
from pgcutover.settings import Settings
from pgcutover.timeline import warn
from steps.backup_check import check_backup, recorded_sha256, require_proven
from steps.backup_proof import (
    MANIFEST_NAME,
    Manifest,
    names_its_own_parts,
    proof_pending,
    prove_dump,
    read_manifest,
)

MARKER = "offhost.json"  # beside the dump: where its copy went, once checked there


@dataclass(frozen=True)
class OffHostCheck:
    """The verdict on a run's off-host copy, in one line."""

    proven: bool
    reason: str
    where: str


def copy_backup(
    settings: Settings, backup_dir: Path, manifest: Manifest, *, step: str, on_bytes: OnBytes
) -> str:
    """Copy a proven dump's files, then its manifest, off the host, checked there; return where."""
    assert settings.backup_copy_to is not None
    manifest_path = backup_dir / MANIFEST_NAME
    files = {name: (backup_dir / name, want) for name, want in manifest.digests().items()}
    files[MANIFEST_NAME] = (manifest_path, (manifest_path.stat().st_size, sha256_of(manifest_path)))
    where = copy_files(settings, manifest.run, files, step=step, on_bytes=on_bytes)
    marker = {
        "to": settings.backup_copy_to.raw,
        "where": where,
        "sha256": manifest.sha256,
        "checked_at": iso(utc_now()),
    }
    (backup_dir / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    return where


def copy_record(backup_dir: Path) -> dict[str, str]:
    """Read where a backup's off-host copy went (empty when it was never copied)."""
    try:
        return dict(json.loads((backup_dir / MARKER).read_text()))
    except (OSError, ValueError, TypeError):
        return {}


def copied(settings: Settings, backup_dir: Path, manifest: Manifest) -> bool:
    """Tell whether this very dump was copied to the BACKUP_COPY_TO set now and checked there."""
    record = copy_record(backup_dir)
    target = settings.backup_copy_to
    return (
        target is not None
        and record.get("to") == target.raw
        and (record.get("sha256") == manifest.sha256)
    )


def trust_problem(settings: Settings, run_id: str, manifest: Manifest) -> str:
    """Say why a manifest from off the host is not this run's proven one ('' when it is)."""
    recorded = recorded_sha256(settings, run_id)
    if manifest.run != run_id:
        return f"its manifest is run {manifest.run}'s"
    if recorded and manifest.sha256 != recorded:
        return (
            f"its manifest says sha256 {manifest.sha256[:12]}…, the run's journal "
            f"recorded {recorded[:12]}…"
        )
    return ""


def remote_manifest(settings: Settings, run_id: str, *, step: str) -> Manifest:
    """Fetch and read a run's off-host manifest, or fail saying why in one line."""
    assert settings.backup_copy_to is not None
    where = settings.backup_copy_to.where(run_id)
    with tempfile.TemporaryDirectory(prefix="pgcutover-manifest-") as tmp:
        fetch_files(settings, run_id, [MANIFEST_NAME], Path(tmp), step=step)
        try:
            manifest = read_manifest(Path(tmp))
        except (ValueError, TypeError):  # bad JSON, or keys a manifest does not have
            manifest = None
    if manifest is None or not names_its_own_parts(manifest):
        raise CutoverError(step, f"the {MANIFEST_NAME} at {where} is unreadable")
    return manifest


def check_off_host(settings: Settings, run_id: str, *, step: str) -> OffHostCheck:
    """Check a run's off-host copy where it is: its manifest, the dump's size and sha256 there."""
    assert settings.backup_copy_to is not None
    where = settings.backup_copy_to.where(run_id)
    try:
        manifest = remote_manifest(settings, run_id, step=step)
        problem = trust_problem(settings, run_id, manifest)
        want = manifest.digests()
        got = digests_at(settings, run_id, list(want), step=step)
    except CutoverError as exc:  # unreachable or missing: a verdict, not a crash
        return OffHostCheck(False, exc.cause, where)
    missing = [name for name in want if name not in got]
    differ = [name for name in want if name in got and got[name] != want[name]]
    if not problem and missing:
        problem = f"{missing[0]} is missing"
    elif not problem and differ:
        problem = f"{differ[0]} there does not match its manifest (size or sha256)"
    if problem:
        return OffHostCheck(False, f"the copy at {where}: {problem}", where)
    return OffHostCheck(True, f"the copy at {where}: size and sha256 match the manifest", where)


def usable_backup(settings: Settings, run_id: str, *, step: str) -> tuple[str, str]:
    """Return where the run's intact backup is (here, else off the host), or ('', why neither)."""
    local = check_backup(settings, settings.backup_dir / run_id, full_read=False)
    if local.proven:
        return str(settings.backup_dir / run_id), ""
    if settings.backup_copy_to is None:
        return "", local.reason
    remote = check_off_host(settings, run_id, step=step)
    if remote.proven:
        return f"the off-host copy {remote.where} (fetched back when needed)", ""
    return "", f"here: {local.reason}; off the host: {remote.reason}"


def proven_here(ctx: RunContext, *, step: str, on_bytes: OnBytes) -> tuple[Manifest, str]:
    """Return the run's proven local backup, fetched back from off the host when not intact.

    Each path hashes the dump once: a large dump is not read twice before a restore.
    """
    settings = ctx.settings
    if proof_pending(ctx.backup_dir):
        # The window stopped while the dump's proof ran beside it: prove it now, or refuse.
        warn(f"{step}: run {ctx.run_id}'s dump was never proven; reading every block back first")
        prove_dump(settings, ctx.backup_dir, step)
    if settings.backup_copy_to is None:
        return require_proven(ctx, step), ""
    local = check_backup(settings, ctx.backup_dir, full_read=False)
    if local.proven and local.manifest is not None:
        return local.manifest, ""
    where = settings.backup_copy_to.where(ctx.run_id)
    warn(f"{step}: run {ctx.run_id}'s backup here is not usable ({local.reason}); fetching {where}")
    manifest = remote_manifest(settings, ctx.run_id, step=step)
    # The dump first, the manifest last: a fetch cut short never looks like a whole backup.
    names = [*manifest.digests(), MANIFEST_NAME]
    fetch_files(
        settings,
        ctx.run_id,
        names,
        ctx.backup_dir,
        step=step,
        on_bytes=on_bytes,
        total_bytes=manifest.bytes,
    )
    # Fetched whole: a file the manifest does not name goes (the local dump stayed until now).
    for name, path in dump_parts(ctx.backup_dir / manifest.file).items():
        if name not in names:
            path.unlink()
    check = check_backup(settings, ctx.backup_dir, full_read=False)
    problem = trust_problem(settings, ctx.run_id, check.manifest) if check.manifest else ""
    if not check.proven or check.manifest is None or problem:
        raise CutoverError(
            step, f"the copy fetched from {where} is not usable ({problem or check.reason})"
        )
    return check.manifest, f"fetched from {where}; size and sha256 checked"
