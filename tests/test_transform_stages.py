"""The transform in stages: loads, index builds side by side, foreign keys; judged on data."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from conftest import fingerprint, make_settings, run_cli
from rules import check_rules, snapshot
from test_ctrl_c import slow_pg_dump, start_cli, wait_for
from test_failures import app_env, assert_rolled_back, without_bookkeeping

from pgcutover import commands
from pgcutover.db import connect
from pgcutover.errors import CutoverError
from pgcutover.migration import load_migration
from pgcutover.settings import PROJECT_ROOT

MIGRATION = PROJECT_ROOT / "sql" / "migration"
KEYS = "0007_target_keys_and_indexes.sql"


def transform_end(run_dir: Path) -> dict:
    """The transform's last end line in a run's journal."""
    lines = [json.loads(x) for x in (run_dir / "journal.jsonl").read_text().splitlines() if x]
    return [ln for ln in lines if ln["step"] == "transform" and ln["event"] == "end"][-1]


def test_the_window_gives_autovacuum_back_and_builds_every_key(
    tmp_path: Path, legacy_url: str
) -> None:
    run_id = commands.migrate_offline(make_settings(tmp_path, legacy_url), yes=True)
    db = connect(legacy_url, "psycopg")
    try:
        held = db.query(
            "SELECT c.relname, c.reloptions, t.reloptions FROM pg_class c "
            "LEFT JOIN pg_class t ON t.oid = c.reltoastrelid "
            "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' "
            "AND (c.reloptions IS NOT NULL OR t.reloptions IS NOT NULL)"
        )
        keys = db.query(
            "SELECT count(*) FILTER (WHERE contype = 'p'), count(*) FILTER (WHERE contype = 'f'), "
            "bool_and(convalidated) FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
        )[0]
        indexes = db.query(
            "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relnamespace = 'public'::regnamespace AND i.indisvalid"
        )[0][0]
    finally:
        db.close()
    assert held == []  # no table keeps autovacuum off
    assert keys == (13, 21, True)  # every primary and foreign key, validated
    assert indexes == 13 + 9  # the primary keys' and the spec's other indexes
    end = transform_end(tmp_path / "runs" / run_id)
    assert [f["file"] for f in end["details"]["files"]] == [
        f.name for f in load_migration(MIGRATION).transform
    ]
    assert end["details"]["started_over"] is False


def test_a_transform_killed_among_its_side_by_side_statements_starts_over_on_resume(
    tmp_path: Path, legacy_url: str
) -> None:
    before = snapshot(legacy_url)
    env = app_env(tmp_path, legacy_url, CUTOVER_FAULT="transform:keys:kill")
    assert run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env).returncode == -9
    db = connect(legacy_url, "psycopg")
    try:  # the loads committed and some keys were built: the state resume must not trust
        loaded = db.query('SELECT count(*) FROM cutover_target."User"')[0][0]
        built = db.query(
            "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relnamespace = 'cutover_target'::regnamespace"
        )[0][0]
    finally:
        db.close()
    assert loaded == len(before["User"]) and 0 < built < 22
    env.pop("CUTOVER_FAULT")
    proc = run_cli(["migrate-offline", "--resume", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check_rules(before, snapshot(legacy_url))
    (run_dir,) = (tmp_path / "runs").iterdir()
    end = transform_end(run_dir)
    assert end["details"]["started_over"] is True and "started over" in end["note"]


def bad_key_migration(tmp_path: Path) -> Path:
    """The shipped migration with one index build the data refuses (a role is no user's own)."""
    dst = tmp_path / "migration"
    shutil.copytree(MIGRATION, dst)
    keys = dst / KEYS
    keys.write_text(
        keys.read_text()
        + '\nCREATE UNIQUE INDEX "User_role_key" ON "cutover_target"."User"("role");\n'
    )
    return dst


def test_a_failed_index_build_names_itself_and_the_window_rolls_back(
    tmp_path: Path, legacy_url: str
) -> None:
    original = fingerprint(legacy_url)
    env = app_env(tmp_path, legacy_url, MIGRATION_DIR=str(bad_key_migration(tmp_path)))
    proc = run_cli(["migrate-offline", "--yes", "--jobs", "2"], cwd=tmp_path, env=env)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"transform: {KEYS}: CREATE UNIQUE INDEX \"User_role_key\"") and (
        "rollback completed" in last
    ), last
    assert_rolled_back(tmp_path, legacy_url, original)


@pytest.mark.parametrize(
    "listed, statement, says",
    [
        ("0005_request_logs.sql", None, "is neither an index build"),
        ("0010_analyze.sql", None, "which [transform] files does not list"),
        (
            KEYS,
            'ALTER TABLE "cutover_target"."Tool" ADD CONSTRAINT "k" UNIQUE ("id"), '
            'ADD CONSTRAINT "f" FOREIGN KEY ("mcpServerId") '
            'REFERENCES "cutover_target"."McpServer"("id")',
            "statement 23 (",
        ),
    ],
)
def test_a_side_by_side_file_must_hold_side_by_side_statements_only(
    tmp_path: Path, legacy_url: str, listed: str, statement: str | None, says: str
) -> None:
    dst = tmp_path / "migration"
    shutil.copytree(MIGRATION, dst)
    plan = dst / "plan.toml"
    plan.write_text(
        plan.read_text().replace(f'side_by_side = ["{KEYS}"', f'side_by_side = ["{listed}"')
    )
    if statement:
        (dst / KEYS).write_text((dst / KEYS).read_text() + statement + ";\n")
    before = fingerprint(legacy_url)
    with pytest.raises(CutoverError, match=r"^config: .*side_by_side names ") as refused:
        commands.migrate_offline(
            make_settings(tmp_path, legacy_url, MIGRATION_DIR=str(dst)), yes=True
        )
    assert says in str(refused.value)
    assert fingerprint(legacy_url) == before


SLOW_FUNCTION = """
CREATE SCHEMA tests_slow;
CREATE FUNCTION tests_slow.slow(text) RETURNS text IMMUTABLE LANGUAGE sql
AS $$ SELECT $1 || pg_sleep(0.05)::text $$;
GRANT USAGE ON SCHEMA tests_slow TO PUBLIC;
"""


def test_a_second_ctrl_c_among_the_side_by_side_statements_cancels_them(
    tmp_path: Path, legacy_url: str
) -> None:
    db = connect(legacy_url, "psycopg")
    try:
        db.run_script(SLOW_FUNCTION)  # 50 ms per user: an index build that takes a while
    finally:
        db.close()
    original = fingerprint(legacy_url)
    dst = bad_key_migration(tmp_path)
    (dst / KEYS).write_text(
        (MIGRATION / KEYS).read_text()
        + 'CREATE INDEX "User_slow_idx" ON "cutover_target"."User" (tests_slow.slow("id"));\n'
        + 'CREATE INDEX "Tool_slow_idx" ON "cutover_target"."Tool" (tests_slow.slow("id"));\n'
    )
    env = app_env(tmp_path, legacy_url, MIGRATION_DIR=str(dst))
    # In line: with the dump beside them the builds would take one connection, not two.
    args = ["migrate-offline", "--yes", "--jobs", "2", "--no-overlap"]
    proc = start_cli(args, cwd=tmp_path, env=env)
    try:
        wait_for("the slow index builds", lambda: len(slow_builds(legacy_url)) == 2, proc=proc)
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole foreground group
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert err.strip().splitlines()[-1].startswith("transform: interrupted"), out + err
    assert slow_builds(legacy_url) == []  # cancelled, not left running on the server
    rolled = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert without_bookkeeping(fingerprint(legacy_url)) == without_bookkeeping(original)


def slow_builds(url: str) -> list[str]:
    """The index builds of the slow function the server is running."""
    db = connect(url, "psycopg")
    try:
        rows = db.query(
            "SELECT query FROM pg_stat_activity WHERE state = 'active' "
            "AND query LIKE 'CREATE INDEX %%slow_idx%%' AND pid <> pg_backend_pid()"
        )
    finally:
        db.close()
    return [r[0] for r in rows]


@pytest.mark.parametrize("overlap", [True, False])
def test_the_side_by_side_stages_leave_the_dump_beside_them_its_jobs(
    tmp_path: Path, legacy_url: str, overlap: bool
) -> None:
    """While the dump runs beside the transform it holds --jobs − 1: the stages take one."""
    bindir, _ = slow_pg_dump(tmp_path)  # the dump outlasts the transform
    env = app_env(tmp_path, legacy_url, PG_BINDIR=str(bindir))
    args = ["migrate-offline", "--yes", "--jobs", "2", *([] if overlap else ["--no-overlap"])]
    proc = run_cli(args, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    side = [
        f["connections"] for f in transform_end(run_dir)["details"]["files"] if "connections" in f
    ]
    assert side == ([1, 1] if overlap else [2, 2])


def test_a_stage_begun_beside_the_dump_takes_the_other_jobs_once_the_dump_ends(
    tmp_path: Path, legacy_url: str
) -> None:
    db = connect(legacy_url, "psycopg")
    try:
        db.run_script(SLOW_FUNCTION)
    finally:
        db.close()
    dst = bad_key_migration(tmp_path)
    (dst / KEYS).write_text(  # slow builds (verify then refuses these extra indexes: no matter)
        (MIGRATION / KEYS).read_text()
        + 'CREATE INDEX "User_slow_idx" ON "cutover_target"."User" (tests_slow.slow("id"));\n'
        + 'CREATE INDEX "Tool_slow_idx" ON "cutover_target"."Tool" (tests_slow.slow("id"));\n'
    )
    bindir, _ = slow_pg_dump(tmp_path)  # the dump begins 3 s late: the stage starts beside it
    env = app_env(tmp_path, legacy_url, MIGRATION_DIR=str(dst), PG_BINDIR=str(bindir))
    run_cli(["migrate-offline", "--yes", "--jobs", "2"], cwd=tmp_path, env=env)
    (run_dir,) = (tmp_path / "runs").iterdir()
    files = transform_end(run_dir)["details"]["files"]
    keys = next(f for f in files if f["file"] == KEYS)
    assert keys["duration_s"] > 4 and keys["connections"] == 2, files


def test_a_failed_load_names_its_file_and_the_window_rolls_back(
    tmp_path: Path, legacy_url: str
) -> None:
    original = fingerprint(legacy_url)
    dst = tmp_path / "migration"
    shutil.copytree(MIGRATION, dst)
    loads = dst / "0004_organization_scoped_tables.sql"
    loads.write_text(loads.read_text() + "SELECT 1 / 0;\n")
    env = app_env(tmp_path, legacy_url, MIGRATION_DIR=str(dst))
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode != 0 and "rollback completed" in last, last
    assert last.startswith("transform: 0004_organization_scoped_tables.sql: division by zero"), last
    assert_rolled_back(tmp_path, legacy_url, original)
