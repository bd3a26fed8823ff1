"""Legacy rows the target's keys would refuse are counted and refused before the downtime."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from conftest import make_settings, run_cli
from test_failures import app_env

from pgcutover import commands
from pgcutover.compare import database_fingerprint
from pgcutover.db import connect
from pgcutover.errors import CutoverError
from pgcutover.migration import load_migration
from pgcutover.sandbox.cluster import LocalCluster
from pgcutover.settings import PROJECT_ROOT

TARGET_SQL = PROJECT_ROOT / "sql" / "spec" / "target-schema.sql"
FOREIGN_KEY = re.compile(
    r'ALTER TABLE "public"\."(\w+)" ADD CONSTRAINT "[^"]+" FOREIGN KEY \("(\w+)"\) '
    r'REFERENCES "public"\."(\w+)"'
)
# Derived by the transform, never read from a legacy column: always a personal organization.
DERIVED = {("User", "defaultOrganizationId")}
# organizationId = the legacy one, else the personal organization of userId (R5).
R5 = {"UserMcpServerConfig", "UserToolGroup", "UserMcpServerInstance"}


def refused_window(tmp_path: Path, url: str) -> str:
    """Run the window, which must be refused changing nothing; return its one line."""
    before = database_fingerprint(url, "psycopg")
    with pytest.raises(CutoverError) as refused:
        commands.migrate_offline(make_settings(tmp_path, url), yes=True)
    assert database_fingerprint(url, "psycopg") == before
    return str(refused.value)


def test_every_foreign_key_of_the_target_is_counted() -> None:
    (sql,) = [f.text for f in load_migration(PROJECT_ROOT / "sql" / "migration").refused_references]
    keys = FOREIGN_KEY.findall(TARGET_SQL.read_text())
    assert len(keys) == 21
    for table, column, parent in keys:
        if (table, column) in DERIVED:
            continue
        assert f"'{table} rows whose {column} names no {parent}'" in sql, (table, column)
        if table in R5 and column == "organizationId":
            assert f"'{table} rows without organizationId whose userId names no User" in sql, table


def unique_keys() -> list[tuple[str, list[str]]]:
    """The target's primary keys and unique indexes: (table, columns)."""
    keys: list[tuple[str, list[str]]] = []
    table = ""
    for line in TARGET_SQL.read_text().splitlines():
        if created := re.match(r'CREATE TABLE "public"\."(\w+)"', line):
            table = created[1]
        if primary := re.search(r"PRIMARY KEY \(([^)]*)\)", line):
            keys.append((table, [c.strip().strip('"') for c in primary[1].split(",")]))
        if unique := re.match(r'CREATE UNIQUE INDEX "[^"]+" ON "public"\."(\w+)"\(([^)]*)\)', line):
            keys.append((unique[1], [c.strip().strip('"') for c in unique[2].split(",")]))
    return keys


def test_every_unique_key_of_the_target_is_counted() -> None:
    (sql,) = [f.text for f in load_migration(PROJECT_ROOT / "sql" / "migration").refused_references]
    keys = unique_keys()
    assert len(keys) == 20
    for table, columns in keys:
        named = columns[0] if len(columns) == 1 else f"({', '.join(columns)})"
        assert f"'{table} {named} values held by more than one row'" in sql, (table, columns)


def test_repeated_keys_a_lost_unique_index_let_in_are_refused(
    tmp_path: Path, legacy_url: str
) -> None:
    db = connect(legacy_url, "psycopg")
    try:
        db.execute('DROP INDEX "User_email_key"')
        db.execute(
            'UPDATE "User" SET email = (SELECT min(email) FROM "User") '
            'WHERE id IN (SELECT id FROM "User" WHERE email IS NOT NULL ORDER BY id DESC LIMIT 2)'
        )
        db.execute('ALTER TABLE "UserToolGroupTool" DROP CONSTRAINT "UserToolGroupTool_pkey"')
        db.execute('INSERT INTO "UserToolGroupTool" SELECT * FROM "UserToolGroupTool" LIMIT 2')
    finally:
        db.close()
    line = refused_window(tmp_path, legacy_url)
    assert "User email values held by more than one row: 1;" in line, line
    held = "UserToolGroupTool (toolGroupId, userMcpServerConfigId, toolId) values held by more"
    assert f"{held} than one row: 2" in line, line


def orphan(url: str) -> None:
    """Drop two foreign keys, as a live database may have, and break a row behind each."""
    db = connect(url, "psycopg")
    try:
        db.execute('ALTER TABLE "Tool" DROP CONSTRAINT "Tool_mcpServerId_fkey"')
        db.execute(
            'ALTER TABLE "UserMcpServerConfig" DROP CONSTRAINT "UserMcpServerConfig_userId_fkey"'
        )
        db.execute(
            'UPDATE "Tool" SET "mcpServerId" = %s WHERE id = (SELECT min(id) FROM "Tool")',
            ["no-such-server"],
        )
        db.execute(
            'UPDATE "UserMcpServerConfig" SET "userId" = %s, "organizationId" = NULL '
            'WHERE id = (SELECT min(id) FROM "UserMcpServerConfig")',
            ["no-such-user"],
        )
    finally:
        db.close()


def test_preflight_refuses_rows_the_target_would_refuse_and_changes_nothing(
    tmp_path: Path, legacy_url: str
) -> None:
    orphan(legacy_url)
    line = refused_window(tmp_path, legacy_url)
    assert line.startswith("preflight: legacy rows the target's keys would refuse"), line
    assert "Tool rows whose mcpServerId names no McpServer: 1;" in line, line
    assert "UserMcpServerConfig rows without organizationId whose userId names no User" in line
    assert line.endswith("nothing was changed")


def test_the_audit_names_them_before_the_window(tmp_path: Path, legacy_url: str) -> None:
    orphan(legacy_url)
    proc = run_cli(["audit"], cwd=tmp_path, env=app_env(tmp_path, legacy_url))
    assert proc.returncode != 0
    assert "Tool rows whose mcpServerId names no McpServer" in proc.stdout
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("audit: legacy rows the target's keys would refuse, 2 kind(s)"), last


def test_rows_written_past_a_key_still_marked_valid_are_refused(
    tmp_path: Path, legacy_url: str, cluster: LocalCluster
) -> None:
    # Replica role (logical replication's apply, some loaders) and disabled triggers
    # (pg_restore --disable-triggers) skip the foreign keys' checks; the keys stay valid.
    db = connect(cluster.superuser_url(legacy_url.rsplit("/", 1)[1]), "psycopg")
    try:
        with db.transaction():
            db.execute("SET LOCAL session_replication_role = replica")
            db.execute(
                'UPDATE "UserToolGroup" SET "userId" = %s, "organizationId" = NULL '
                'WHERE id = (SELECT min(id) FROM "UserToolGroup")',
                ["auth0|gone-user"],
            )
        db.execute('ALTER TABLE "Tool" DISABLE TRIGGER ALL')
        db.execute(
            'UPDATE "Tool" SET "mcpServerId" = %s WHERE id = (SELECT min(id) FROM "Tool")',
            ["no-such-server"],
        )
        db.execute('ALTER TABLE "Tool" ENABLE TRIGGER ALL')
    finally:
        db.close()
    line = refused_window(tmp_path, legacy_url)
    assert line.startswith("preflight: legacy rows the target's keys would refuse"), line
    assert "UserToolGroup rows without organizationId whose userId names no User" in line, line
    assert "Tool rows whose mcpServerId names no McpServer: 1" in line, line


def long_id(length: int) -> str:
    """An id of `length` bytes that pglz cannot compress (md5 hex of a counter, concatenated)."""
    text = "".join(hashlib.md5(str(i).encode()).hexdigest() for i in range(length // 32 + 1))
    return "auth0|" + text[: length - 6]


def add_user(url: str, user_id: str) -> None:
    db = connect(url, "psycopg")
    try:
        db.execute(
            'INSERT INTO "User" (id, name, "updatedAt") VALUES (%s, %s, now())',
            [user_id, "Long Id"],
        )
    finally:
        db.close()


def test_a_user_id_too_long_for_its_personal_membership_key_is_refused(
    tmp_path: Path, legacy_url: str
) -> None:
    # Legal in legacy (a user of no organization is in no (organizationId, userId) index), but
    # R3's personal membership puts it in one, whose btree entries hold at most 2704 bytes.
    add_user(legacy_url, long_id(2690))
    line = refused_window(tmp_path, legacy_url)
    assert line.startswith("preflight: legacy rows the target's keys would refuse"), line
    assert "User ids too long for the key of their personal membership (R3)" in line, line


def test_the_longest_user_id_the_key_holds_migrates(tmp_path: Path, legacy_url: str) -> None:
    add_user(legacy_url, long_id(2644))  # 2648 bytes stored with its header: the most it holds
    commands.migrate_offline(make_settings(tmp_path, legacy_url), yes=True)
    db = connect(legacy_url, "psycopg")
    try:
        rows = db.query(
            'SELECT count(*) FROM "OrganizationMember" WHERE "userId" = %s', [long_id(2644)]
        )
    finally:
        db.close()
    assert rows[0][0] == 1
