"""Step backup-proof: read every block of the run's dump back and hash it, beside the window.

Once the dump is on disk, nothing writes to it: its proof needs no database session, so it runs on
a thread beside the window from the moment the backup step (beside it too) ends, through the
transform, reset and verify. The plan joins it before unfence: the window never unfences,
deploys or goes live on an unproven backup, and a failed proof fails the window there (rollback
takes the sealed set-aside schema back, which needs no dump). A proven dump is copied off the
host (BACKUP_COPY_TO) here.
"""

from __future__ import annotations

import time

from pgcutover.errors import CutoverError
from pgcutover.migration import Migration
from pgcutover.run import DATA_SECONDS, RunContext, Step, StepOutcome
from pgcutover.settings import Settings
from steps.backup_check import check_backup, require_proven
from steps.backup_offhost import copied, copy_backup
from steps.backup_proof import prove_dump

STEP = "backup-proof"
JOINED_BEFORE = "unfence"


def run(ctx: RunContext) -> StepOutcome:
    started = time.monotonic()
    kept = check_backup(ctx.settings, ctx.backup_dir, full_read=False)
    manifest = kept.manifest if kept.proven and kept.manifest else None
    proved = manifest is None
    manifest = manifest or prove_dump(ctx.settings, ctx.backup_dir, STEP)
    details = {"sha256": manifest.sha256, "bytes": manifest.bytes}
    if proved:  # all of it reads the dump: the forecast scales it with the data
        details[DATA_SECONDS] = round(time.monotonic() - started, 3)
    copy_note = ""
    if ctx.settings.backup_copy_to is not None:  # only a proven dump leaves the host
        # No progress of its own: the step in the foreground owns the timeline's progress.
        where = copy_backup(
            ctx.settings, ctx.backup_dir, manifest, step=STEP, on_bytes=lambda n, total: None
        )
        details["copied_to"] = where
        copy_note = f"; copied to {where} and checked there (size, sha256)"
    return StepOutcome(
        note=f"sha256 {manifest.sha256[:12]}…, "
        + ("every data block read back" if proved else "proven earlier")
        + copy_note,
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
        "pg_restore --file=/dev/null (every data block read and inflated) with the sha256 "
        "computed alongside; write manifest.json",
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


BACKUP_PROOF = Step(
    STEP, 600, run, describe, done=done, beside_until=JOINED_BEFORE, beside_after="backup"
)
