"""The backups task: list BACKUP_DIR's dumps, re-prove one in full; pruning is retention.py's."""

from __future__ import annotations

from datetime import datetime

from rich.table import Table
from rich.text import Text

from pgcutover import retention
from pgcutover.errors import CutoverError
from pgcutover.identity import RUN_ID
from pgcutover.journal import utc_now
from pgcutover.retention import STEP, plan, run_state, size_of
from pgcutover.settings import Settings
from pgcutover.timeline import console, say
from steps.backup_check import check_backup
from steps.backup_offhost import check_off_host, copy_record


def age_text(started: datetime, now: datetime) -> str:
    """Say an age the way an operator reads it: 3d 4h, 5h 12m, 12m."""
    minutes = max(int((now - started).total_seconds() // 60), 0)
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {mins}m" if hours else f"{mins}m"


def list_backups(settings: Settings) -> None:
    """List every backup with its run, database, size, age, proof, off-host copy and retention."""
    now = utc_now()
    table = Table(title=f"Backups in {settings.backup_dir}", title_justify="left")
    # The run id whole, whatever the terminal's width: it is what --verify RUN takes.
    table.add_column("run", no_wrap=True, min_width=len("20261202T183046Z-30d5"))
    for col in ("database", "MiB", "age", "proven", "off-host copy", "retention"):
        table.add_column(col)
    for v in plan(settings, now):
        # sha256 only: a full read (pg_restore) per backup would make a listing take minutes;
        # --verify RUN does it for one.
        check = check_backup(settings, v.path, full_read=False)
        copy = copy_record(v.path)
        table.add_row(
            v.run,
            Text(run_state(settings, v.run).database),
            f"{size_of(v.path) / 2**20:.1f}",
            age_text(v.started, now),
            "yes (sha256)" if check.proven else Text(f"NO: {check.reason}"),
            Text(f"{copy['where']} ({copy.get('checked_at', '?')})" if copy.get("where") else "-"),
            Text(("kept: " if v.keep else "would prune: ") + v.why),
        )
    console.print(table)
    if settings.backup_keep is None:
        say("No retention policy: set BACKUP_KEEP (e.g. 5,30d) for `invoke backups --prune`.")


def verify_backup(settings: Settings, run_id: str) -> None:
    """Re-prove one run's backup by reading every data block back; check its off-host copy too."""
    if not RUN_ID.match(run_id):
        raise CutoverError(
            STEP, f"--verify {run_id!r} is not a run id (like 20261125T024551Z-3f9a)"
        )
    local_dir = settings.backup_dir / run_id
    local = check_backup(settings, local_dir, full_read=True)
    say(f"{local_dir}: {'proven: ' if local.proven else 'NOT proven: '}{local.reason}")
    remote = None
    if settings.backup_copy_to is not None:
        remote = check_off_host(settings, run_id, step=STEP)
        say(f"off-host: {'proven: ' if remote.proven else 'NOT proven: '}{remote.reason}")
    if not local.proven:
        fetch = (
            "; the off-host copy is intact: `invoke rollback --from-backup` fetches it"
            if remote is not None and remote.proven
            else ""
        )
        raise CutoverError(
            STEP, f"the backup of run {run_id} in {local_dir} is not proven ({local.reason}){fetch}"
        )
    if remote is not None and not remote.proven:
        raise CutoverError(
            STEP,
            f"the backup of run {run_id} is proven here, but its off-host copy is not "
            f"({remote.reason})",
        )
    say(f"Backup of run {run_id}: every data block reads back.", "bold green")


def backups(
    settings: Settings, *, verify: str | None = None, prune: bool = False, yes: bool = False
) -> None:
    """List the backups, re-prove one (--verify RUN), or apply the retention policy (--prune)."""
    if verify is not None and prune:
        raise CutoverError(STEP, "give --verify RUN or --prune, not both; nothing was done")
    if verify is not None:
        verify_backup(settings, verify)
    elif prune:
        retention.prune(settings, yes=yes)
    else:
        list_backups(settings)
