"""The bench's row-by-row peer: what a hand-written migration script does, timed on a sample.

It reads each legacy row through the driver and writes it with one upsert, computing the rules
in Python as such scripts do. It upserts into the target tables as the spec declares them, keyed,
so its tables get their primary keys before it starts (the migration adds them after its load).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from typing import Any

from pgcutover.db import Database, ident
from pgcutover.migration import Migration
from pgcutover.sql_text import rough_statements

# The legacy tables the row-by-row peer migrates, parents first; _ToolToUserMcpServerConfig is
# dropped by design (R10). R5 gives these three their personal organization.
PEER_TABLES = (
    "User",
    "Organization",
    "OrganizationMember",
    "McpServer",
    "Tool",
    "UserMcpServerConfig",
    "UserToolGroup",
    "UserMcpServerInstance",
    "UserToolGroupTool",
    "UserMcpServerInstanceToolGroup",
    "McpApiKey",
    "McpServerRequestLog",
    "McpServerRequestData",
)
OWNED = ("UserMcpServerConfig", "UserToolGroup", "UserMcpServerInstance")
Row = dict[str, Any]


# A transform statement that adds a table's primary key (the migration's last file holds them).
PRIMARY_KEY = re.compile(r"ALTER\s+TABLE\b.*\bPRIMARY\s+KEY\b", re.IGNORECASE | re.DOTALL)


def add_primary_keys(db: Database, migration: Migration) -> None:
    """Add to the empty target tables the primary keys the migration adds after its load."""
    with db.transaction():
        for f in migration.transform:
            for statement in rough_statements(f.text):
                if PRIMARY_KEY.match(statement):
                    db.execute(statement)


def row_by_row(db: Database, migration: Migration, *, users: int, sample: int) -> dict[str, Any]:
    """Time a row-by-row migration of sample/users of every legacy table, extrapolated to users.

    Each legacy row is read through the driver and written with one upsert, all in one
    transaction (kinder to the peer than a commit per row), into the primary-key-only tables
    add_primary_keys makes (kinder again: no other index or key is maintained, or built afterwards).
    """
    legacy, app = migration.app_schema, migration.build_schema  # before reset swaps them
    share = {
        t: math.ceil(
            int(db.query(f"SELECT count(*) FROM {ident(legacy)}.{ident(t)}")[0][0]) * sample / users
        )
        for t in PEER_TABLES
    }
    reads = {t: reader(db, legacy, t) for t in PEER_TABLES}
    writes = {t: upserter(db, app, t) for t in PEER_TABLES}
    written = 0

    def run() -> None:
        nonlocal written
        with db.transaction():
            for table in PEER_TABLES:
                names, sql = reads[table]
                for values in db.query(sql, [share[table]]):
                    for target, row in target_rows(
                        db, legacy, table, dict(zip(names, values, strict=True))
                    ):
                        cols, upsert = writes[target]
                        db.execute(upsert, [row[c] for c in cols])
                        written += 1

    started = time.monotonic()
    run()
    seconds = time.monotonic() - started
    return {
        "sample_users": sample,
        "seconds": seconds,
        "rows_read": sum(share.values()),
        "rows_written": written,
        "extrapolated_s": seconds * users / sample,
    }


def personal_org(user_id: str) -> str:
    """A user's personal organization id, as the floor's SQL makes it."""
    return "porg_" + hashlib.md5(user_id.encode("utf-8")).hexdigest()


def target_rows(db: Database, legacy: str, table: str, row: Row) -> list[tuple[str, Row]]:
    """What one legacy row becomes in the target, computed in the script as such scripts do."""
    if row.get("authType") == "BOTH":  # R6
        row = {**row, "authType": "OAUTH"}
    if table in OWNED and row["organizationId"] is None:  # R5
        row = {**row, "organizationId": personal_org(row["userId"])}
    if table == "User":  # R1, R3
        org, now = personal_org(row["id"]), row["updatedAt"]
        name = (row["name"] or row["email"] or "User") + "'s Workspace"
        return [
            ("User", {**row, "defaultOrganizationId": org}),
            ("Organization", {"id": org, "name": name, "description": "Personal workspace",
                              "logoUrl": None, "isDeleted": False, "isPersonal": True,
                              "maxMembers": 1, "createdBy": row["id"], "createdAt": now,
                              "updatedAt": now}),
            ("OrganizationMember", {"id": "pmem_" + org[5:], "organizationId": org,
                                    "userId": row["id"], "isAdmin": True, "createdAt": now,
                                    "updatedAt": now}),
        ]  # fmt: skip
    if table == "Organization":  # R2, with the one count query per row such scripts make
        members = db.query(
            f'SELECT count(*) FROM {ident(legacy)}."OrganizationMember" '
            'WHERE "organizationId" = %s',
            [row["id"]],
        )[0][0]
        row = {**row, "isPersonal": False, "maxMembers": max(int(members), 10)}
    if table == "McpServerRequestLog" and row["organizationId"] is None:  # R7: a lookup per log
        org, user = db.query(
            f'SELECT "organizationId", "userId" FROM {ident(legacy)}."UserMcpServerInstance" '
            "WHERE id = %s",
            [row["mcpServerInstanceId"]],
        )[0]
        row = {**row, "organizationId": org or personal_org(user)}
    return [(table, row)]


def columns(db: Database, schema: str, table: str) -> list[tuple[str, str, bool]]:
    """List a table's columns in order: name, SQL type, part of the primary key."""
    return [
        (str(name), str(kind), bool(key))
        for name, kind, key in db.query(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), EXISTS (SELECT 1 FROM "
            "pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary AND "
            "a.attnum = ANY (i.indkey)) FROM pg_attribute a WHERE a.attrelid = %s::regclass "
            "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            [f"{ident(schema)}.{ident(table)}"],
        )
    ]


def reader(db: Database, legacy: str, table: str) -> tuple[list[str], str]:
    """The SELECT reading the first rows of a legacy table in key order, and its column names."""
    cols = columns(db, legacy, table)
    # jsonb arrives as a dict, which the driver will not send back as it is: read it as text.
    exprs = ", ".join(
        ident(c) + ("::text" if kind in ("json", "jsonb") else "") for c, kind, _ in cols
    )
    order = ", ".join(ident(c) for c, _, key in cols if key)
    sql = f"SELECT {exprs} FROM {ident(legacy)}.{ident(table)} ORDER BY {order} LIMIT %s"
    return [c for c, _, _ in cols], sql


def upserter(db: Database, schema: str, table: str) -> tuple[list[str], str]:
    """The one-row INSERT ... ON CONFLICT DO UPDATE of a target table, and its column names."""
    cols = columns(db, schema, table)
    names = ", ".join(ident(c) for c, _, _ in cols)
    # A cast per bound value: the driver sends text where the table wants enums, jsonb, arrays.
    values = ", ".join(f"CAST(%s AS {kind})" for _, kind, _ in cols)
    key = ", ".join(ident(c) for c, _, is_key in cols if is_key)
    rest = [ident(c) for c, _, is_key in cols if not is_key]
    action = (
        "DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in rest) if rest else "DO NOTHING"
    )
    sql = (
        f"INSERT INTO {ident(schema)}.{ident(table)} ({names}) VALUES ({values}) "
        f"ON CONFLICT ({key}) {action}"
    )
    return [c for c, _, _ in cols], sql
