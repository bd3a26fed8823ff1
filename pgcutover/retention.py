"""Which backups may go (BACKUP_KEEP), and which never may: any a rollback may still need.

Whatever the policy, a backup stays when it belongs to
- the last successful window of its database;
- a run whose set-aside schema cleanup dropped (its backup is then the only way back);
- a run that changed something and was not rolled back (unfinished, paused, failed, or succeeded:
  its rollback may still be asked for);
- a run RUNS_DIR has no journal for (nothing says it is not needed).
Of the others, the newest BACKUP_KEEP count and those younger than its age stay; the rest go,
here and off the host. Only `invoke backups --prune` deletes, and only after the operator's yes.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pgcutover.checks import Confirm, confirm_destructive
from pgcutover.errors import CutoverError
from pgcutover.identity import RUN_ID, read_run_meta
from pgcutover.journal import changed_something, completed_steps, read_journal, utc_now
from pgcutover.offhost import remove_copy
from pgcutover.run import RunContext
from pgcutover.settings import Settings
from pgcutover.timeline import say
from steps.backup_offhost import usable_backup
from steps.rollback import ROLLBACK
from steps.window import STEP_NAMES

STEP = "backups"
CLEANUP = "cleanup"  # the journal line (step and event) cleanup writes once the schema is dropped


@dataclass(frozen=True)
class RunState:
    """What a run's journal and run.json say about whether its backup may still be needed."""

    run: str
    known: bool  # RUNS_DIR has its journal
    database: str  # its database's name, for the operator
    identity: tuple[str, ...]  # which database: the last successful window is per database
    changed: bool
    window_ok: bool
    rolled_back: bool
    cleaned_up: bool


@dataclass(frozen=True)
class Verdict:
    """One backup and what retention does with it."""

    run: str
    path: Path
    started: datetime
    keep: bool
    why: str
    protected: bool = False


def run_state(settings: Settings, run_id: str) -> RunState:
    """Read a run's state from its journal (the record that survives the database)."""
    run_dir = settings.runs_dir / run_id
    lines = read_journal(run_dir / "journal.jsonl")
    identity = read_run_meta(run_dir).get("identity")
    ident = identity if isinstance(identity, dict) else {}
    done = completed_steps(lines)
    return RunState(
        run=run_id,
        known=bool(lines),
        database=str(ident.get("database") or "?"),
        identity=tuple(
            str(ident.get(k)) for k in ("system_identifier", "database_oid", "database")
        ),
        changed=changed_something(run_dir),
        window_ok=set(STEP_NAMES) <= set(done),
        rolled_back=ROLLBACK[-1].name in done,
        cleaned_up=any(ln.get("step") == CLEANUP and ln.get("event") == CLEANUP for ln in lines),
    )


def started_at(run_id: str) -> datetime:
    """When a run started, from its id (20261125T024551Z-3f9a)."""
    return datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


def backup_dirs(settings: Settings) -> list[Path]:
    """List BACKUP_DIR's run directories, newest first (anything else there is not ours)."""
    if not settings.backup_dir.is_dir():
        return []
    found = [p for p in settings.backup_dir.iterdir() if p.is_dir() and RUN_ID.match(p.name)]
    return sorted(found, key=lambda p: p.name, reverse=True)


def protection(state: RunState, last_ok: set[str]) -> str:
    """Say why a run's backup must stay whatever the policy ('' when nothing protects it)."""
    if not state.known:
        return "no journal in RUNS_DIR: nothing says a rollback will not need it"
    if state.run in last_ok:
        return f"the last successful window of {state.database}"
    if state.cleaned_up and not state.rolled_back:  # rolled back: no way back is needed
        return "cleanup dropped its set-aside schema: this backup is the only way back"
    if state.changed and not state.rolled_back:
        what = "succeeded" if state.window_ok else "unfinished or failed"
        return f"{what} and not rolled back: a rollback may need it"
    return ""


def plan(settings: Settings, now: datetime | None = None) -> list[Verdict]:
    """Decide, newest first, which backups BACKUP_KEEP keeps and which go (it deletes nothing)."""
    now, keep = now or utc_now(), settings.backup_keep
    dirs = backup_dirs(settings)
    states = [run_state(settings, d.name) for d in dirs]
    last_ok: dict[tuple[str, ...], str] = {}
    for state in states:  # newest first: the first successful window of a database is its last
        if state.window_ok:
            last_ok.setdefault(state.identity, state.run)
    verdicts = []
    for rank, (path, state) in enumerate(zip(dirs, states, strict=True)):
        started = started_at(path.name)
        guard = protection(state, set(last_ok.values()))
        if guard:
            verdicts.append(Verdict(path.name, path, started, True, guard, protected=True))
            continue
        if keep is None:
            why = "BACKUP_KEEP is not set"
        elif keep.count and rank < keep.count:
            why = f"among the newest {keep.count}"
        elif keep.days and now - started < timedelta(days=keep.days):
            why = f"younger than {keep.days}d"
        else:
            verdicts.append(Verdict(path.name, path, started, False, f"beyond BACKUP_KEEP={keep}"))
            continue
        verdicts.append(Verdict(path.name, path, started, True, why))
    return verdicts


def size_of(path: Path) -> int:
    """Count the bytes of a backup directory's files."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def prune(
    settings: Settings,
    *,
    yes: bool = False,
    ask: Confirm | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Delete the backups BACKUP_KEEP lets go, after saying which and asking; return their runs."""
    if settings.backup_keep is None:
        raise CutoverError(
            STEP,
            "--prune needs a retention policy: set BACKUP_KEEP (e.g. BACKUP_KEEP=5,30d); "
            "nothing was deleted",
        )
    verdicts = plan(settings, now)
    for v in verdicts:
        say(f"{'keep  ' if v.keep else 'DELETE'} {v.run}: {v.why}", "" if v.keep else "bold")
    doomed = [v for v in verdicts if not v.keep]
    if not doomed:
        say(f"Nothing to prune in {settings.backup_dir} (BACKUP_KEEP={settings.backup_keep}).")
        return []
    mib = sum(size_of(v.path) for v in doomed) / 2**20
    where = f"{settings.backup_dir}" + (
        f" and {settings.backup_copy_to.where()}" if settings.backup_copy_to else ""
    )
    action = f"delete {len(doomed)} backup(s) ({mib:.1f} MiB) from {where}"
    confirm_destructive(settings, STEP, action, yes=yes, ask=ask)
    # Decided again at the last moment: a run may have started or changed since the list above.
    still = {v.run for v in plan(settings, now) if not v.keep}
    deleted: list[str] = []
    for v in doomed:
        if v.run not in still:
            say(f"kept {v.run}: its state changed since the list above")
            continue
        if settings.backup_copy_to is not None:  # off the host first: never a copy left orphaned
            try:
                remove_copy(settings, v.run, step=STEP)
            except CutoverError as exc:
                raise CutoverError(
                    STEP,
                    f"{exc.cause}; run {v.run}'s local backup is kept too "
                    f"({len(deleted)} deleted before it): run --prune again",
                ) from None
        shutil.rmtree(v.path)
        deleted.append(v.run)
        say(f"deleted the backup of run {v.run}")
    return deleted


def require_way_back(settings: Settings, run_id: str, step: str) -> str:
    """Refuse to drop a run's set-aside schema unless its backup is intact; say where it is."""
    where, why = usable_backup(settings, run_id, step=step)
    if not where:
        raise CutoverError(
            step,
            f"the backup of run {run_id} is not usable ({why}): dropping its set-aside "
            "schema would leave no way back; nothing was changed",
        )
    return where


def record_cleanup(ctx: RunContext, schema: str) -> None:
    """Journal that cleanup dropped the run's set-aside schema: its backup is now protected."""
    ctx.journal.write(CLEANUP, CLEANUP, schema=schema)
