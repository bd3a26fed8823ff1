"""The engine: open a run, hold its lock, and walk a plan of steps as journaled, timed checkpoints."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgcutover.settings import PROJECT_ROOT, Settings
from pgcutover.db import DB_ERRORS, Database, connect, describe_target, error_text
from pgcutover.errors import CutoverError, Interrupted
from pgcutover.journal import Journal, completed_steps, iso, new_run_id, utc_now
from pgcutover.migration import Migration, SqlFile, load_migration
from pgcutover.timeline import Timeline, say, warn

LOCK_KEY = 0x70676375  # 'pgcu': one advisory lock per database for every pgcutover run
# The bookkeeping DDL, in this order (never globbed); each file is idempotent.
BOOKKEEPING_SQL = (SqlFile(PROJECT_ROOT / "sql" / "engine" / "0001_bookkeeping.sql"),
                  SqlFile(PROJECT_ROOT / "sql" / "engine" / "0002_set_aside_guard.sql"))


@dataclass
class StepOutcome:
    """What a step reports: a short note for the timeline, details for the journal."""

    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False


@dataclass(frozen=True)
class Step:
    """One runbook step: name, budget, how to run it, how to ask the world whether it is done.

    Going back is its own plan (steps/rollback.py), not per-step undo: after a crash the world, not the
    list of completed steps, says what must be restored (the set-aside schema, the fence record, the release).
    """

    name: str
    budget_s: float
    run: Callable[[RunContext], StepOutcome]
    describe: Callable[[Settings, Migration], list[str]]
    read_only: bool = False
    done: Callable[[RunContext], bool] | None = None


@dataclass
class RunContext:
    """Everything a step may use during one run."""

    settings: Settings
    migration: Migration
    run_id: str
    run_dir: Path
    journal: Journal
    db: Database
    lock_db: Database
    command: str
    migration_ts: str
    state: dict[str, Any] = field(default_factory=dict)
    bookkeeping_ready: bool = False  # the journal is mirrored into pgcutover.journal
    run_row_ready: bool = False  # this run has its row in pgcutover.runs (fence and release live there)
    identity: dict[str, Any] = field(default_factory=dict)

    @property
    def backup_dir(self) -> Path:
        return self.settings.backup_dir / self.run_id

    @property
    def app_name(self) -> str:
        return f"pgcutover {self.run_id}"


def acquire_lock(lock_db: Database, step: str) -> None:
    """Take the per-database advisory lock, or fail at once naming the holder."""
    if lock_db.query("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])[0][0]:
        return
    holder = lock_db.query(
        "SELECT a.application_name, a.pid, a.backend_start, coalesce(host(a.client_addr), 'local') "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s AND l.database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())", [LOCK_KEY])
    who = (f"{holder[0][0] or 'unknown'} (server pid {holder[0][1]} from {holder[0][3]}, since {iso(holder[0][2])})"
           if holder else "an unknown session")
    raise CutoverError(step, f"another pgcutover run holds the lock on this database: {who}")


IDENTITY_SQL = ("SELECT s.system_identifier::text, d.oid::bigint, d.datname, "
                "coalesce(host(inet_server_addr()), 'local socket'), current_setting('port') "
                "FROM pg_control_system() s, pg_database d WHERE d.datname = current_database()")


def database_identity(db: Database, dsn: str) -> dict[str, Any]:
    """Identify the connected database: cluster system identifier, database oid and name, host."""
    system_id, oid, name, addr, port = db.query(IDENTITY_SQL)[0]
    return {"system_identifier": system_id, "database_oid": int(oid), "database": name,
            "server": f"{addr}:{port}", "target": describe_target(dsn)}


def same_database(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Tell whether two identities name one database (the host name may differ: DNS, failover)."""
    keys = ("system_identifier", "database_oid", "database")
    return all(a.get(k) == b.get(k) for k in keys)


def describe_identity(identity: dict[str, Any]) -> str:
    """Name a database for the operator: target, and the identifiers that tell it apart."""
    return (f"{identity.get('target', '?')} (database {identity.get('database', '?')}, oid "
            f"{identity.get('database_oid', '?')}, cluster {identity.get('system_identifier', '?')})")


def read_run_meta(run_dir: Path) -> dict[str, Any]:
    """Read a run's run.json (empty when it has none)."""
    path = run_dir / "run.json"
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def require_same_database(step: str, run_id: str, meta: dict[str, Any], live: dict[str, Any]) -> None:
    """Refuse to act on a run from another database, naming both."""
    recorded = meta.get("identity")
    if isinstance(recorded, dict) and same_database(recorded, live):
        return
    theirs = describe_identity(recorded) if isinstance(recorded, dict) else meta.get("target", "unknown")
    raise CutoverError(step, f"run {run_id} belongs to {theirs}, but DATABASE_URL points at "
                             f"{describe_identity(live)}: nothing was changed; point DATABASE_URL "
                             "(or --env) at the run's database, or name a run of this one")


def open_run(settings: Settings, *, command: str, run_id: str | None = None) -> RunContext:
    """Create the run directory and journal, connect, take the lock, check the run's database."""
    migration = load_migration(settings.migration_dir)
    step = "preflight" if command == "migrate-offline" else command
    run_id = run_id or new_run_id()
    run_dir = settings.runs_dir / run_id
    fresh = not run_dir.exists()
    journal = Journal(run_dir, run_id)
    journal.open()
    app = f"pgcutover {run_id} {command} pid {os.getpid()}@{socket.gethostname()}"
    try:
        lock_db = connect(settings.database_url, settings.db_driver, application_name=app, step=step)
        try:
            live = database_identity(lock_db, settings.database_url)
            if not fresh:  # an existing run acts only on the database it was bound to at preflight
                require_same_database(step, run_id, read_run_meta(run_dir), live)
            acquire_lock(lock_db, step)
            db = connect(settings.database_url, settings.db_driver,
                         application_name=f"pgcutover {run_id}", step=step)
        except BaseException:
            lock_db.close()
            raise
    except BaseException:
        if fresh:  # a run that could not even start leaves no directory to be mistaken for the last run
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    meta_path = run_dir / "run.json"
    meta = read_run_meta(run_dir) or {
        "run": run_id, "command": command, "target": describe_target(settings.database_url),
        "identity": live, "driver": settings.db_driver, "started_at": iso(utc_now()),
        "migration": migration.name,
        "migration_ts": utc_now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        "backup_dir": str(settings.backup_dir / run_id)}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    ctx = RunContext(settings, migration, run_id, run_dir, journal, db, lock_db, command,
                     meta["migration_ts"], identity=live)
    for line in journal.lines():  # a resumed run gets back what its steps remembered
        if line.get("event") == "end" and line.get("details"):
            ctx.state.setdefault(line["step"], {}).update(line["details"])
    if bookkeeping_exists(db):
        attach_mirror(ctx)
    return ctx


def close_run(ctx: RunContext) -> None:
    """Close both connections; closing the lock session releases the lock."""
    ctx.db.close()
    ctx.lock_db.close()


def bookkeeping_exists(db: Database) -> bool:
    return bool(db.query("SELECT to_regclass('pgcutover.journal') IS NOT NULL")[0][0])


def ensure_bookkeeping(ctx: RunContext) -> None:
    """Create the bookkeeping schema and this run's row, then mirror the journal into it.

    The run's row is written whether or not the schema already exists: a second window on the same
    database needs its own row, or its fence would be recorded nowhere and never given back.
    """
    if ctx.run_row_ready:
        return
    for f in BOOKKEEPING_SQL:
        ctx.db.run_script(f.text)
    ctx.db.execute(
        "INSERT INTO pgcutover.runs (run, command, target, started_at, migration_ts, identity) "
        "VALUES (%s, %s, %s, now(), %s::timestamp(3), %s::jsonb) "
        "ON CONFLICT (run) DO UPDATE SET status = 'running', command = EXCLUDED.command, ended_at = NULL",
        [ctx.run_id, ctx.command, describe_target(ctx.settings.database_url), ctx.migration_ts,
         json.dumps(ctx.identity)])
    ctx.run_row_ready = True
    if not ctx.bookkeeping_ready:
        attach_mirror(ctx)


def attach_mirror(ctx: RunContext) -> None:
    """Send journal lines to pgcutover.journal through the idle lock session."""

    def mirror(line: dict[str, Any]) -> None:
        ctx.lock_db.execute(
            "INSERT INTO pgcutover.journal (run, step, event, at, outcome, duration_s, line) "
            "VALUES (%s, %s, %s, %s::timestamptz, %s, %s, %s::jsonb)",
            [line["run"], line["step"], line["event"], line["at"], line.get("outcome"),
             line.get("duration_s"), json.dumps(line, ensure_ascii=False)])

    ctx.bookkeeping_ready = True
    ctx.journal.mirror = mirror
    if _mirror_has_run(ctx):
        ctx.journal.flush_mirror()
    else:
        ctx.journal.resend_all()


def _mirror_has_run(ctx: RunContext) -> bool:
    return bool(ctx.lock_db.query("SELECT count(*) FROM pgcutover.journal WHERE run = %s", [ctx.run_id])[0][0])


def set_run_status(ctx: RunContext, status: str) -> None:
    """Record the run's final status in the bookkeeping schema (best effort: the journal is the truth)."""
    if not ctx.run_row_ready:
        return
    try:
        ctx.lock_db.execute("UPDATE pgcutover.runs SET status = %s, ended_at = now() WHERE run = %s",
                            [status, ctx.run_id])
    except DB_ERRORS:
        warn(f"could not record status {status!r} in pgcutover.runs; the journal has it")


class _StopSignal:
    """Turn SIGINT/SIGTERM into a stop at the next safe point (between steps)."""

    def __init__(self) -> None:
        self.received: str | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopSignal:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.received:  # a second signal means "now": the step's transaction rolls back
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name
        say(f"{self.received} received: stopping after the current step finishes safely "
            "(send it again to abandon the step now; its transaction rolls back)", "bold yellow")

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def inject_fault(ctx: RunContext, step: str, point: str) -> None:
    """Test-only hook: CUTOVER_FAULT=step:point:kind (kind error or kill) fails there on purpose."""
    if not ctx.settings.fault:
        return
    f_step, _, rest = ctx.settings.fault.partition(":")
    f_point, _, kind = rest.partition(":")
    if f_step != step or f_point != point:
        return
    if kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "term":  # as if the operator's terminal sent SIGTERM: the run must stop at a safe point
        os.kill(os.getpid(), signal.SIGTERM)
        return
    if kind == "restart":  # the tests' command restarts the server under the run's feet
        subprocess.run(["/bin/sh", "-c", os.environ.get("CUTOVER_FAULT_CMD", "false")], check=True)
        return
    if kind == "oserror":  # an error outside the domain (a full disk, a bug) must still fail the step
        raise OSError(28, f"injected OSError at {step}:{point} (CUTOVER_FAULT)")
    raise CutoverError(step, f"injected fault at {point} (CUTOVER_FAULT)")


def done_earlier(ctx: RunContext, step: Step, earlier: dict[str, dict[str, Any]]) -> bool:
    """Ask the world whether a step's work is done; the journal alone decides only read-only steps.

    A step without done() (maintenance, deploy: idempotent commands) runs again on resume, and so
    does verify: a resumed window is never taken live on an earlier verify's word.
    """
    if step.done is not None:
        return step.done(ctx)
    return step.read_only and step.name in earlier


def run_steps(ctx: RunContext, steps: Sequence[Step], timeline: Timeline, *, resume: bool = False) -> None:
    """Run each step in plan order as a journaled checkpoint; on resume skip what the world says is done."""
    earlier = completed_steps(ctx.journal.lines()) if resume else {}
    with _StopSignal() as stop:
        for step in steps:
            if not step.read_only:  # done() reads the bookkeeping; a resumed run may predate it
                ensure_bookkeeping(ctx)
            if resume and done_earlier(ctx, step, earlier):
                note = earlier.get(step.name, {}).get("note") or "its work is in the database"
                timeline.finish(step.name, "done earlier", str(note))
                continue
            if stop.received:
                ctx.journal.write(step.name, "start", budget_s=ctx.settings.budgets.get(step.name, step.budget_s))
                ctx.journal.write(step.name, "end", outcome="interrupted", duration_s=0.0,
                                  error=f"stopped by {stop.received} before this step started")
                timeline.finish(step.name, "interrupted", f"{stop.received}: not started")
                raise Interrupted(step.name, f"stopped by {stop.received} before this step started")
            inject_fault(ctx, step.name, "before")
            budget = ctx.settings.budgets.get(step.name, step.budget_s)
            ctx.journal.write(step.name, "start", budget_s=budget)
            timeline.start(step.name)
            started = time.monotonic()
            try:
                outcome = step.run(ctx)
                inject_fault(ctx, step.name, "after")
            except CutoverError as exc:
                _end(ctx, timeline, step.name, "failed", started, budget, error=exc.cause)
                raise
            except DB_ERRORS as exc:
                err = CutoverError(step.name, error_text(exc))
                _end(ctx, timeline, step.name, "failed", started, budget, error=err.cause)
                raise err from exc
            except KeyboardInterrupt:
                _end(ctx, timeline, step.name, "interrupted", started, budget, error="interrupted")
                raise Interrupted(step.name, "interrupted while running; its work was rolled back or is resumable") from None
            except Exception as exc:  # a bug or an OS error is still a step failure: end line, policy
                err = CutoverError(step.name, f"unexpected {type(exc).__name__}: {exc}")
                _end(ctx, timeline, step.name, "failed", started, budget, error=err.cause)
                raise err from exc
            ctx.state.setdefault(step.name, {}).update(outcome.details)
            _end(ctx, timeline, step.name, "skipped" if outcome.skipped else "ok", started, budget,
                 note=outcome.note, details=outcome.details)


def _end(ctx: RunContext, timeline: Timeline, name: str, outcome: str, started: float, budget: float,
         *, note: str = "", error: str | None = None, details: dict[str, Any] | None = None) -> None:
    duration = round(time.monotonic() - started, 3)
    ctx.journal.write(name, "end", outcome=outcome, duration_s=duration, budget_s=budget,
                      over_budget=duration > budget, note=note or None, error=error, details=details or None)
    timeline.finish(name, outcome, note or error or "")
