"""A load apart: the request payloads load on a connection of their own; judged on data."""

from __future__ import annotations

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
from test_transform_stages import transform_end

from pgcutover import commands
from pgcutover.db import connect
from pgcutover.errors import CutoverError
from pgcutover.settings import PROJECT_ROOT

MIGRATION = PROJECT_ROOT / "sql" / "migration"
PAYLOADS = "0006_request_payloads.sql"


def apart_of(run_dir: Path) -> list[str]:
    """The transform files the run loaded apart, from its journal."""
    return [f["file"] for f in transform_end(run_dir)["details"]["files"] if f.get("apart")]


@pytest.mark.parametrize(
    "args, apart",
    [
        (["--jobs", "2", "--no-overlap"], [PAYLOADS]),
        (["--jobs", "1", "--no-overlap"], []),  # one connection: the stage's one transaction
    ],
)
def test_the_payloads_load_apart_and_every_rule_holds(
    tmp_path: Path, legacy_url: str, args: list[str], apart: list[str]
) -> None:
    before = snapshot(legacy_url)
    # The stage's transaction holds 2 s in its middle: a busy machine cannot let it end before
    # the load apart has taken its connection (it would then load on the stage's, as it may).
    env = app_env(tmp_path, legacy_url, CUTOVER_FAULT="transform:middle:sleep")
    proc = run_cli(["migrate-offline", "--yes", *args], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check_rules(before, snapshot(legacy_url))
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert apart_of(run_dir) == apart


def test_a_load_apart_waits_for_the_dump_beside_it_or_runs_after_its_stage(
    tmp_path: Path, legacy_url: str
) -> None:
    """While the dump holds the other jobs the payloads do not take a third connection."""
    before = snapshot(legacy_url)
    bindir, _ = slow_pg_dump(tmp_path)  # the dump outlasts the loads
    env = app_env(tmp_path, legacy_url, PG_BINDIR=str(bindir))
    proc = run_cli(["migrate-offline", "--yes", "--jobs", "2"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check_rules(before, snapshot(legacy_url))
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert apart_of(run_dir) == []  # loaded on the step's own connection, after the others


def test_a_stage_killed_after_its_load_apart_committed_starts_over_on_resume(
    tmp_path: Path, legacy_url: str
) -> None:
    before = snapshot(legacy_url)
    # The stage's transaction holds 2 s in its middle; the payloads commit beside it meanwhile.
    env = app_env(tmp_path, legacy_url, CUTOVER_FAULT="transform:middle:sleep")
    proc = start_cli(["migrate-offline", "--yes", "--no-overlap"], cwd=tmp_path, env=env)
    try:
        wait_for("the payloads to commit apart", lambda: payloads_recorded(legacy_url), proc=proc)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    db = connect(legacy_url, "psycopg")
    try:  # half a stage committed: the state resume must never continue from
        counts = db.query(
            'SELECT (SELECT count(*) FROM cutover_target."McpServerRequestData"), '
            '(SELECT count(*) FROM cutover_target."User")'
        )[0]
    finally:
        db.close()
    assert counts == (len(before["McpServerRequestData"]), 0)
    env.pop("CUTOVER_FAULT")
    proc2 = run_cli(["migrate-offline", "--resume", "--yes"], cwd=tmp_path, env=env)
    assert proc2.returncode == 0, proc2.stdout + proc2.stderr
    check_rules(before, snapshot(legacy_url))
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert transform_end(run_dir)["details"]["started_over"] is True


def payloads_recorded(url: str) -> bool:
    """Tell whether the payloads' load apart has committed (it records itself as it does)."""
    db = connect(url, "psycopg")
    try:
        return bool(
            db.query(
                "SELECT to_regclass('pgcutover.applied_sql') IS NOT NULL AND EXISTS "
                "(SELECT FROM pgcutover.applied_sql WHERE file = %s)",
                [PAYLOADS],
            )[0][0]
        )
    except Exception:
        return False  # the bookkeeping table is not there yet
    finally:
        db.close()


def test_a_load_apart_that_fails_names_itself_and_the_window_rolls_back(
    tmp_path: Path, legacy_url: str
) -> None:
    original = fingerprint(legacy_url)
    dst = tmp_path / "migration"
    shutil.copytree(MIGRATION, dst)
    (dst / PAYLOADS).write_text((dst / PAYLOADS).read_text() + "SELECT 1 / 0;\n")
    env = app_env(  # the stage's transaction held 2 s: the file loads apart, as it would
        tmp_path, legacy_url, MIGRATION_DIR=str(dst), CUTOVER_FAULT="transform:middle:sleep"
    )
    proc = run_cli(
        ["migrate-offline", "--yes", "--jobs", "2", "--no-overlap"], cwd=tmp_path, env=env
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"transform: {PAYLOADS}: division by zero"), last
    assert "rollback completed" in last, last
    assert_rolled_back(tmp_path, legacy_url, original)


@pytest.mark.parametrize(
    "apart, extra, says",
    [
        ("0005_request_logs.sql", None, "which reads UserMcpServerInstance of cutover_target"),
        ("0003_catalog_tables.sql", None, "shares pg_temp.cutover_auth_type with 0004_"),
        ("0007_target_keys_and_indexes.sql", None, "which side_by_side names too"),
        ("0010_analyze.sql", None, "which [transform] files does not list"),
        (
            PAYLOADS,
            'DELETE FROM cutover_target."McpServerRequestData" WHERE false;\n',
            "named by 0005_request_logs.sql",
        ),
    ],
)
def test_a_load_apart_must_be_a_load_of_its_own(
    tmp_path: Path, legacy_url: str, apart: str, extra: str | None, says: str
) -> None:
    dst = tmp_path / "migration"
    shutil.copytree(MIGRATION, dst)
    plan = dst / "plan.toml"
    plan.write_text(plan.read_text().replace(f'apart = ["{PAYLOADS}"]', f'apart = ["{apart}"]'))
    if extra:  # another load of the stage names the payloads' table
        logs = dst / "0005_request_logs.sql"
        logs.write_text(logs.read_text() + extra)
    before = fingerprint(legacy_url)
    with pytest.raises(CutoverError, match=r"^config: .*\[transform\] apart names ") as refused:
        commands.migrate_offline(
            make_settings(tmp_path, legacy_url, MIGRATION_DIR=str(dst)), yes=True
        )
    assert says in str(refused.value), str(refused.value)
    assert fingerprint(legacy_url) == before


def test_a_second_ctrl_c_during_a_load_apart_cancels_it(tmp_path: Path, legacy_url: str) -> None:
    original = fingerprint(legacy_url)
    dst = tmp_path / "migration"
    shutil.copytree(MIGRATION, dst)
    # First: the server shows a query's first 1 kB only (track_activity_query_size).
    (dst / PAYLOADS).write_text("SELECT pg_sleep(60);\n" + (dst / PAYLOADS).read_text())
    env = app_env(tmp_path, legacy_url, MIGRATION_DIR=str(dst))
    args = ["migrate-offline", "--yes", "--jobs", "2", "--no-overlap"]
    proc = start_cli(args, cwd=tmp_path, env=env)
    try:
        wait_for("the load apart", lambda: sleeping(legacy_url) == 1, proc=proc)
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole foreground group
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert err.strip().splitlines()[-1].startswith("transform: interrupted"), out + err
    assert sleeping(legacy_url) == 0  # cancelled, not left running on the server
    rolled = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert without_bookkeeping(fingerprint(legacy_url)) == without_bookkeeping(original)


def sleeping(url: str) -> int:
    """Count the sessions running the load apart's long statement."""
    db = connect(url, "psycopg")
    try:
        return int(
            db.query(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND query LIKE '%%pg_sleep(60)%%' AND pid <> pg_backend_pid()"
            )[0][0]
        )
    finally:
        db.close()


def test_a_load_apart_anywhere_in_its_stage_is_journaled_in_plan_order(
    tmp_path: Path, legacy_url: str
) -> None:
    before = snapshot(legacy_url)
    dst = tmp_path / "migration"
    shutil.copytree(MIGRATION, dst)
    plan = dst / "plan.toml"
    plan.write_text(  # the payloads first among the loads: the plan, not the file name, orders
        plan.read_text()
        .replace(f'    "{PAYLOADS}",\n', "")
        .replace('    "0002_users', f'    "{PAYLOADS}",\n    "0002_users')
    )
    env = app_env(
        tmp_path, legacy_url, MIGRATION_DIR=str(dst), CUTOVER_FAULT="transform:middle:sleep"
    )
    proc = run_cli(["migrate-offline", "--yes", "--no-overlap"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check_rules(before, snapshot(legacy_url))
    (run_dir,) = (tmp_path / "runs").iterdir()
    files = [f["file"] for f in transform_end(run_dir)["details"]["files"]]
    assert files[:2] == [PAYLOADS, "0002_users_and_organizations.sql"], files
    assert apart_of(run_dir) == [PAYLOADS]
