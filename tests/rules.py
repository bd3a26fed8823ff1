"""Independent checks of transform-rules.md on data: Python reads both sides, redoes every rule."""

from __future__ import annotations

import json
from typing import Any

from pgcutover.db import connect, ident

KEPT = [
    "User",
    "Organization",
    "OrganizationMember",
    "McpServer",
    "Tool",
    "UserMcpServerConfig",
    "UserToolGroupTool",
    "UserToolGroup",
    "UserMcpServerInstanceToolGroup",
    "UserMcpServerInstance",
    "McpServerRequestLog",
    "McpServerRequestData",
    "McpApiKey",
]
PK = {
    "UserToolGroupTool": ("toolGroupId", "userMcpServerConfigId", "toolId"),
    "UserMcpServerInstanceToolGroup": ("mcpServerInstanceId", "toolGroupId"),
}
Rows = dict[Any, dict[str, Any]]


def snapshot(url: str, schema: str = "public") -> dict[str, Rows]:
    """Read every row of every table in a schema as JSON, keyed by primary key."""
    db = connect(url, "psycopg", application_name="tests snapshot")
    try:
        tables = [
            r[0]
            for r in db.query(
                "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace "
                "AND relkind = 'r'",
                [ident(schema)],
            )
        ]
        out: dict[str, Rows] = {}
        for t in tables:
            rows = [
                r[0] if isinstance(r[0], dict) else json.loads(r[0])
                for r in db.query(f"SELECT to_jsonb(x) FROM {ident(schema)}.{ident(t)} x")
            ]
            out[t] = {
                tuple(r[k] for k in PK.get(t, ("id",)))
                if t in PK
                else r.get("id", json.dumps(r)): r
                for r in rows
            }
        return out
    finally:
        db.close()


def personal_name(user: dict[str, Any]) -> str:
    """R3's name, the Python way: first non-blank of stripped name, stripped email, else 'User'."""
    for value in (user.get("name"), user.get("email")):
        if value is not None and value.strip():
            return value.strip() + "'s Workspace"
    return "User's Workspace"


def without(row: dict[str, Any], *cols: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in cols}


def check_rules(before: dict[str, Rows], after: dict[str, Rows]) -> None:
    """Assert R1-R10 (and R11's row accounting) between a legacy snapshot and the migrated one."""
    users, orgs, members = before["User"], before["Organization"], before["OrganizationMember"]
    assert set(after) == set(KEPT), "R10/R12: exactly the 13 target tables"
    # R1
    assert set(after["User"]) == set(users)
    for uid, u in users.items():
        assert without(after["User"][uid], "defaultOrganizationId") == without(
            u, "hasCompletedOnboarding"
        )
    # R2
    count = {oid: 0 for oid in orgs}
    for m in members.values():
        count[m["organizationId"]] += 1
    for oid, o in orgs.items():
        assert after["Organization"][oid] == {
            **o,
            "isPersonal": False,
            "maxMembers": max(count[oid], 10),
        }
    # R3
    personal = {oid: o for oid, o in after["Organization"].items() if o["isPersonal"]}
    assert len(personal) == len(users) and not set(personal) & set(orgs)
    assert set(after["Organization"]) == set(orgs) | set(personal)
    stamps = {o["createdAt"] for o in personal.values()} | {
        o["updatedAt"] for o in personal.values()
    }
    assert len(stamps) == 1, "R3: one migration timestamp per run"
    by_user = {o["createdBy"]: o for o in personal.values()}
    assert set(by_user) == set(users), "R3: exactly one personal organization per user"
    new_members = {k: m for k, m in after["OrganizationMember"].items() if k not in members}
    assert len(new_members) == len(users)
    for uid, u in users.items():
        o = by_user[uid]
        assert o["name"] == personal_name(u), (uid, o["name"])
        assert (o["maxMembers"], o["isDeleted"], o["description"], o["logoUrl"]) == (
            1,
            False,
            "Personal workspace",
            None,
        )
        assert after["User"][uid]["defaultOrganizationId"] == o["id"]
        mine = [m for m in after["OrganizationMember"].values() if m["organizationId"] == o["id"]]
        assert len(mine) == 1 and mine[0]["userId"] == uid and mine[0]["isAdmin"] is True
    # R4
    for mid, m in members.items():
        assert after["OrganizationMember"][mid] == m
    # R5 and R6
    org_of_user = {uid: o["id"] for uid, o in by_user.items()}
    for t, dropped in (
        ("UserMcpServerConfig", ("userId", "oauthScopes")),
        ("UserToolGroup", ("userId",)),
        ("UserMcpServerInstance", ("userId",)),
    ):
        assert set(after[t]) == set(before[t]), t
        for rid, r in before[t].items():
            expected = {
                **without(r, *dropped),
                # "Where it is not NULL": an empty string is kept, as any other value.
                "organizationId": r["organizationId"]
                if r["organizationId"] is not None
                else org_of_user[r["userId"]],
            }
            if "authType" in r:
                expected["authType"] = "OAUTH" if r["authType"] == "BOTH" else r["authType"]
            assert after[t][rid] == expected, (t, rid)
    for sid, s in before["McpServer"].items():
        assert after["McpServer"][sid] == {
            **s,
            "authType": "OAUTH" if s["authType"] == "BOTH" else s["authType"],
        }
    # R7
    assert set(after["McpServerRequestLog"]) == set(before["McpServerRequestLog"])
    for lid, log in before["McpServerRequestLog"].items():
        inst = after["UserMcpServerInstance"][log["mcpServerInstanceId"]]
        expected = {
            **without(log, "userId"),
            "organizationId": log["organizationId"]
            if log["organizationId"] is not None
            else inst["organizationId"],
        }
        assert after["McpServerRequestLog"][lid] == expected, lid
    # R8
    for kid, k in before["McpApiKey"].items():
        assert after["McpApiKey"][kid] == without(k, "userId")
    # R9 (McpServerRequestData byte for byte: bytea compares as its full hex text)
    for t in (
        "Tool",
        "UserToolGroupTool",
        "UserMcpServerInstanceToolGroup",
        "McpServerRequestData",
    ):
        assert after[t] == before[t], t
