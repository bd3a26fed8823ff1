"""Steps 3 and 9, fence/unfence: take other roles' CONNECT, end their sessions; restore exactly."""

from __future__ import annotations

import json
import time
from typing import Any

from pgcutover.db import Database, ident
from pgcutover.errors import CutoverError
from pgcutover.migration import Migration
from pgcutover.run import RunContext, Step, StepOutcome
from pgcutover.settings import Settings

# Sessions of our own run carry this application_name prefix and are never ended.
# Other client sessions on this database. backend_type is NULL in the rows a non-superuser may
# not fully see, so it is coalesced;
# sessions of our own run carry the 'pgcutover' application_name prefix.
OTHER_SESSIONS = (
    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND usesysid IS NOT NULL AND coalesce(backend_type, 'client backend') = 'client backend' "
    "AND coalesce(application_name, '') NOT LIKE 'pgcutover%'"
)


def current_fence(db: Database, run_id: str) -> dict[str, Any] | None:
    """Return what this run's fence took away, as recorded in the bookkeeping schema."""
    rows = db.query("SELECT fence FROM pgcutover.runs WHERE run = %s", [run_id])
    if not rows or rows[0][0] is None:
        return None
    value = rows[0][0]
    return json.loads(value) if isinstance(value, str) else dict(value)


def record_fence(db: Database, run_id: str, recorded: dict[str, Any]) -> None:
    """Store what the fence took away in the run's row; no row means no way back, so refuse."""
    if not db.query(
        "UPDATE pgcutover.runs SET fence = %s::jsonb WHERE run = %s RETURNING run",
        [json.dumps(recorded), run_id],
    ):
        raise CutoverError(
            "fence",
            f"run {run_id} has no row in pgcutover.runs: the fence cannot be "
            "recorded, so nothing was revoked",
        )


def connect_grantees(db: Database) -> list[dict[str, Any]]:
    """List who may CONNECT to this database besides us (PUBLIC included), with grant options."""
    rows = db.query(
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, "
        "a.is_grantable "
        "FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a "
        "WHERE d.datname = current_database() AND a.privilege_type = 'CONNECT' "
        "AND a.grantee <> (SELECT oid FROM pg_roles WHERE rolname = current_user) ORDER BY 1"
    )
    return [{"grantee": g, "grantable": bool(opt)} for g, opt in rows]


def _target(grantee: str) -> str:
    if grantee == "PUBLIC":
        return "PUBLIC"
    if not grantee.startswith('"'):
        return ident(grantee)
    return grantee


def other_sessions(db: Database) -> list[tuple[int, str, str]]:
    return [
        (int(p), str(u), str(a or ""))
        for p, u, a in db.query("SELECT pid, usename, application_name " + OTHER_SESSIONS)
    ]


def fence(ctx: RunContext) -> StepOutcome:
    db, dbname = ctx.db, ident(ctx.db.query("SELECT current_database()")[0][0])
    recorded = current_fence(db, ctx.run_id)
    if recorded is None or recorded.get("restored"):  # a rollback may fence again after an unfence
        revoked = connect_grantees(db)
        with (
            db.transaction()
        ):  # REVOKE is transactional: the record and the revocation land together
            for g in revoked:
                db.execute(
                    f"REVOKE CONNECT ON DATABASE {dbname} FROM {_target(g['grantee'])} CASCADE"
                )
            recorded = {"revoked": revoked, "restored": False}
            record_fence(db, ctx.run_id, recorded)
    ended = db.query(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) " + OTHER_SESSIONS + ") t"
    )[0][0]
    deadline = time.monotonic() + ctx.settings.fence_wait_s
    while (left := other_sessions(db)) and time.monotonic() < deadline:
        db.query("SELECT pg_terminate_backend(pid) " + OTHER_SESSIONS)
        time.sleep(0.2)
    if left:
        who = ", ".join(f"{u} ({a or 'no app name'}, pid {p})" for p, u, a in left[:5])
        raise CutoverError(
            "fence",
            f"{len(left)} other sessions remain after {ctx.settings.fence_wait_s:.0f}s: {who}; "
            "stop the clients that use the migration role (maintenance mode) and resume",
        )
    names = ", ".join(g["grantee"] for g in recorded["revoked"]) or "nobody else had it"
    return StepOutcome(
        note=f"CONNECT revoked from {names}; {ended} sessions ended",
        details={"revoked": recorded["revoked"], "sessions_ended": int(ended)},
    )


def fenced(ctx: RunContext) -> bool:
    f = current_fence(ctx.db, ctx.run_id)
    return f is not None and not f.get("restored")


def unfence(ctx: RunContext) -> StepOutcome:
    db = ctx.db
    recorded = current_fence(db, ctx.run_id)
    if recorded is None or recorded.get("restored"):
        return StepOutcome(note="nothing to restore")
    dbname = ident(db.query("SELECT current_database()")[0][0])
    with db.transaction():
        for g in recorded["revoked"]:
            grant = " WITH GRANT OPTION" if g["grantable"] else ""
            db.execute(f"GRANT CONNECT ON DATABASE {dbname} TO {_target(g['grantee'])}{grant}")
        recorded["restored"] = True
        record_fence(db, ctx.run_id, recorded)
    names = ", ".join(g["grantee"] for g in recorded["revoked"]) or "nobody"
    return StepOutcome(
        note=f"CONNECT restored to {names}", details={"restored": recorded["revoked"]}
    )


def unfenced(ctx: RunContext) -> bool:
    f = current_fence(ctx.db, ctx.run_id)
    return f is None or bool(f.get("restored"))


def describe_fence(settings: Settings, migration: Migration) -> list[str]:
    return [
        "REVOKE CONNECT ON DATABASE … FROM PUBLIC and every other role that has it "
        "(recorded in pgcutover.runs)",
        f"pg_terminate_backend() every other session; wait up to {settings.fence_wait_s:.0f}s "
        "until none remain",
    ]


def describe_unfence(settings: Settings, migration: Migration) -> list[str]:
    return [
        "GRANT CONNECT back to exactly the grantees the fence recorded (grant options included)"
    ]


def fence_done(ctx: RunContext) -> bool:
    """Tell whether this run's fence holds, or held and was already given back by unfence."""
    f = current_fence(ctx.db, ctx.run_id)
    return f is not None and (bool(f.get("restored")) or not other_sessions(ctx.db))


FENCE = Step("fence", 30, fence, describe_fence, done=fence_done)
UNFENCE = Step("unfence", 10, unfence, describe_unfence, done=unfenced)
