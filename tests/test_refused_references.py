"""Legacy rows the target's keys would refuse are counted and refused before the downtime."""

from __future__ import annotations

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


def test_every_foreign_key_of_the_target_is_counted() -> None:
    (sql,) = [f.text for f in load_migration(PROJECT_ROOT / "sql" / "migration").refused_references]
    keys = FOREIGN_KEY.findall(TARGET_SQL.read_text())
    assert len(keys) == 21
    for table, column, parent in keys:
        if (table, column) in DERIVED:
            continue
        assert f"'{table}.{column} names no {parent}'" in sql, (table, column)
        if table in R5 and column == "organizationId":
            assert f"'{table} without organizationId whose userId names no User" in sql, table


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
    before = database_fingerprint(legacy_url, "psycopg")
    with pytest.raises(CutoverError) as refused:
        commands.migrate_offline(make_settings(tmp_path, legacy_url), yes=True)
    line = str(refused.value)
    assert line.startswith("preflight: legacy rows the target's keys would refuse"), line
    assert "Tool.mcpServerId names no McpServer: 1 row;" in line
    assert "UserMcpServerConfig without organizationId whose userId names no User" in line
    assert line.endswith("nothing was changed")
    assert database_fingerprint(legacy_url, "psycopg") == before


def test_the_audit_names_them_before_the_window(tmp_path: Path, legacy_url: str) -> None:
    orphan(legacy_url)
    proc = run_cli(["audit"], cwd=tmp_path, env=app_env(tmp_path, legacy_url))
    assert proc.returncode != 0
    assert "Tool.mcpServerId names no McpServer" in proc.stdout
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("audit: 2 legacy rows the target's keys would refuse"), last
