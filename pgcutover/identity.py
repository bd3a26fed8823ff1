"""Which database a run belongs to: its identity, recorded at preflight and checked ever after."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pgcutover.db import Database, connect, describe_target
from pgcutover.errors import CutoverError
from pgcutover.journal import changed_something, runs_newest_first
from pgcutover.settings import Settings

RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{4}$")


IDENTITY_SQL = (
    "SELECT s.system_identifier::text, d.oid::bigint, d.datname, "
    "coalesce(host(inet_server_addr()), 'local socket'), current_setting('port') "
    "FROM pg_control_system() s, pg_database d WHERE d.datname = current_database()"
)


def database_identity(db: Database, dsn: str) -> dict[str, Any]:
    """Identify the connected database: cluster system identifier, database oid and name, host."""
    system_id, oid, name, addr, port = db.query(IDENTITY_SQL)[0]
    return {
        "system_identifier": system_id,
        "database_oid": int(oid),
        "database": name,
        "server": f"{addr}:{port}",
        "target": describe_target(dsn),
    }


def same_database(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Tell whether two identities name one database (the host name may differ: DNS, failover)."""
    keys = ("system_identifier", "database_oid", "database")
    return all(a.get(k) == b.get(k) for k in keys)


def describe_identity(identity: dict[str, Any]) -> str:
    """Name a database for the operator: target, and the identifiers that tell it apart."""
    return (
        f"{identity.get('target', '?')} (database {identity.get('database', '?')}, oid "
        f"{identity.get('database_oid', '?')}, cluster {identity.get('system_identifier', '?')})"
    )


def read_run_meta(run_dir: Path) -> dict[str, Any]:
    """Read a run's run.json (empty when it has none)."""
    path = run_dir / "run.json"
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def require_same_database(
    step: str, run_id: str, meta: dict[str, Any], live: dict[str, Any]
) -> None:
    """Refuse to act on a run from another database, naming both."""
    recorded = meta.get("identity")
    if isinstance(recorded, dict) and same_database(recorded, live):
        return
    theirs = (
        describe_identity(recorded) if isinstance(recorded, dict) else meta.get("target", "unknown")
    )
    raise CutoverError(
        step,
        f"run {run_id} belongs to {theirs}, but DATABASE_URL points at "
        f"{describe_identity(live)}: nothing was changed; point DATABASE_URL "
        "(or --env) at the run's database, or name a run of this one",
    )


def live_identity(settings: Settings, step: str) -> dict[str, Any]:
    """Connect briefly and identify the database DATABASE_URL points at."""
    db = connect(
        settings.database_url, settings.db_driver, application_name="pgcutover identify", step=step
    )
    try:
        return database_identity(db, settings.database_url)
    finally:
        db.close()


def find_run(
    settings: Settings,
    run_id: str | None,
    step: str,
    live: dict[str, Any],
    *,
    allow_unchanged: bool = False,
) -> str:
    """Pick the named run, or this database's last run that changed something; refuse clearly."""
    if run_id is not None:
        if not RUN_ID.match(run_id):
            raise CutoverError(
                step,
                f"--run {run_id!r} is not a run id (like 20261125T024551Z-3f9a); "
                f"see {settings.runs_dir}",
            )
        if not (settings.runs_dir / run_id / "journal.jsonl").exists():
            raise CutoverError(step, f"no run {run_id} in {settings.runs_dir}")
        require_same_database(step, run_id, read_run_meta(settings.runs_dir / run_id), live)
        return run_id
    other, unchanged = None, None
    for run_dir in runs_newest_first(settings.runs_dir):
        meta = read_run_meta(run_dir)
        ident_ = meta.get("identity")
        if not (isinstance(ident_, dict) and same_database(ident_, live)):
            other = other or (run_dir.name, meta)
            continue
        if changed_something(run_dir):
            return run_dir.name
        unchanged = unchanged or run_dir.name
    what = {"rollback": "roll back", "cleanup": "clean up"}.get(step, "resume")
    if unchanged is not None and allow_unchanged:  # a window refused at preflight starts over
        return unchanged
    if unchanged is not None:
        raise CutoverError(
            step,
            f"the last run of this database, {unchanged}, stopped at preflight and "
            f"changed nothing: nothing to {what}",
        )
    if other is not None:
        theirs = other[1].get("identity")
        where = (
            describe_identity(theirs) if isinstance(theirs, dict) else other[1].get("target", "?")
        )
        raise CutoverError(
            step,
            f"no run of {describe_identity(live)} in {settings.runs_dir} (the last run "
            f"there, {other[0]}, belongs to {where}): nothing was changed",
        )
    raise CutoverError(
        step, f"no run of {describe_identity(live)} in {settings.runs_dir}: nothing to {what}"
    )
