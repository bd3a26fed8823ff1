"""What a killed window leaves running on the server is ended by the next attempt or the rollback.

A pg_dump the window's kill missed (it runs in a session of its own) would hold its snapshot and
locks, and slow the resumed dump; the transform's statement runs on until it next talks to its
dead client, holding the target's locks, so a rollback's DROP SCHEMA would wait on it.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from conftest import fingerprint, make_settings, run_cli
from rules import check_rules, snapshot
from test_backup_proof import real_bindir
from test_ctrl_c import start_cli, wait_for
from test_failures import app_env, app_state, assert_rolled_back, fake_bindir
from test_progress import slow_migration
from test_rollback_paths import superuser

from pgcutover.db import DB_ERRORS, connect
from pgcutover.errors import CutoverError
from pgcutover.sandbox.cluster import LocalCluster
from steps.backup import dump_database

# Once: the real pg_dump starts in a session of its own, writing into a FIFO nobody reads, so it
# stalls mid-dump with its server session open; once it is past its snapshot, the window dies.
ORPHAN_THEN_KILL = """if [ ! -e {marker} ]; then
  touch {marker}
  mkfifo {fifo}
  setsid sleep 600 < {fifo} > /dev/null 2>&1 &
  echo $! >> {pids}
  setsid {real}/pg_dump "$@" --file={fifo} > /dev/null 2>&1 &
  echo $! >> {pids}
  sleep 3
  kill -9 $PPID
  sleep 5
  exit 1
fi
exec {real}/pg_dump "$@"
"""
APP_NAME = "pgcutover r1 pg_dump"  # a run's pg_dump and its counts, as the backup names them
ORPHANS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND application_name LIKE 'pgcutover % pg_dump'"
)


def count_of(url: str, sql: str) -> int:
    db = connect(url, "psycopg", application_name="tests orphans")
    try:
        return int(db.query(sql)[0][0])
    finally:
        db.close()


def dump_sessions(url: str) -> int:
    return count_of(url, ORPHANS)


@pytest.mark.parametrize("then", ["resume", "rollback"])
def test_an_orphaned_pg_dump_is_ended_by_the_next_attempt_or_the_rollback(
    tmp_path: Path, legacy_url: str, then: str
) -> None:
    before, prints = snapshot(legacy_url), fingerprint(legacy_url)
    pids = tmp_path / "orphan.pids"
    body = ORPHAN_THEN_KILL.format(
        real=real_bindir(), marker=tmp_path / "once", fifo=tmp_path / "stall", pids=pids
    )
    # The custom format: the orphan's --file is the FIFO, which a directory dump cannot write.
    env = app_env(
        tmp_path, legacy_url, BACKUP_FORMAT="custom", PG_BINDIR=str(fake_bindir(tmp_path, body))
    )
    try:
        killed = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
        assert killed.returncode != 0 and (tmp_path / "once").exists()
        assert dump_sessions(legacy_url) >= 1, "the orphan's session must outlive the window"
        args = (
            ["migrate-offline", "--resume", "--yes"] if then == "resume" else ["rollback", "--yes"]
        )
        done = run_cli(args, cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        deadline = time.monotonic() + 10
        while dump_sessions(legacy_url) and time.monotonic() < deadline:
            time.sleep(0.2)  # pg_terminate_backend signals; the session ends a moment later
        assert dump_sessions(legacy_url) == 0
        if then == "resume":
            check_rules(before, snapshot(legacy_url))
            assert app_state(tmp_path) == ("v2", False)
        else:
            assert_rolled_back(tmp_path, legacy_url, prints)
            # Ended when the rollback took the lock (or, in the same process, by its prepare).
            said = done.stdout
            assert "an earlier attempt of run" in said or "orphaned pg_dump" in said, said
    finally:
        for pid in pids.read_text().split() if pids.exists() else []:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_failed_pg_dump_leaves_no_count_running(tmp_path: Path, legacy_url: str) -> None:
    # The counts beside pg_dump wait for a lock another session holds; pg_dump fails (after the
    # counts have taken the snapshot: a snapshot gone before they join it ends them anyway).
    settings = make_settings(
        tmp_path,
        legacy_url,
        BACKUP_FORMAT="custom",
        PG_BINDIR=str(fake_bindir(tmp_path, "sleep 2\nexit 1\n")),
    )
    holder = connect(legacy_url, "psycopg", application_name="tests lock holder")
    db = connect(legacy_url, "psycopg", application_name="tests backup")
    try:
        with holder.transaction():
            holder.execute('LOCK TABLE public."User" IN ACCESS EXCLUSIVE MODE')
            with pytest.raises(CutoverError, match="pg_dump"):
                dump_database(
                    settings, db, tmp_path / "backups" / "r1", run_id="r1", app_name=APP_NAME
                )
            deadline = time.monotonic() + 10
            while dump_sessions(legacy_url) and time.monotonic() < deadline:
                time.sleep(0.2)
            # Still under the lock: the counts' session was ended, not left waiting for it.
            assert dump_sessions(legacy_url) == 0
    finally:
        db.close()
        holder.close()


# While tests_marker.sleep_once exists, the transform's last file sleeps ten minutes on the server.
SLEEP_ONCE = "SELECT pg_sleep(600) WHERE to_regclass('tests_marker.sleep_once') IS NOT NULL;\n"
SLEEPING = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND application_name LIKE 'pgcutover %' AND query LIKE '%pg_sleep(600)%'"
)


def sleeping(url: str) -> int:
    """Count the window's sleeping statements (0 when the fence ended this session first)."""
    try:
        return count_of(url, SLEEPING)
    except (CutoverError, *DB_ERRORS):  # ended while connecting, or while asking
        return 0


@pytest.mark.parametrize("then", ["rollback", "resume"])
def test_a_transform_left_running_by_a_killed_window_is_ended_by_the_next_attempt(
    tmp_path: Path, legacy_url: str, then: str
) -> None:
    marker = connect(legacy_url, "psycopg", application_name="tests marker")
    try:
        marker.execute("CREATE SCHEMA tests_marker")
        marker.execute("CREATE TABLE tests_marker.sleep_once ()")
    finally:
        marker.close()
    before, prints = snapshot(legacy_url), fingerprint(legacy_url)
    migration = slow_migration(tmp_path, 600)
    (migration / "0010_slow.sql").write_text(SLEEP_ONCE)
    env = {**app_env(tmp_path, legacy_url), "MIGRATION_DIR": str(migration)}
    window = start_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    try:
        wait_for("the transform to sleep", lambda: sleeping(legacy_url), proc=window)
        os.killpg(window.pid, signal.SIGKILL)  # the whole foreground group, as kill -9 would
    finally:
        window.kill()
        window.communicate(timeout=30)  # reaped, its pipes closed
    assert count_of(legacy_url, SLEEPING) == 1, "the server runs the dead window's statement on"
    if then == "resume":
        marker = connect(legacy_url, "psycopg", application_name="tests marker")
        try:
            marker.execute("DROP SCHEMA tests_marker CASCADE")
        finally:
            marker.close()
    args = ["rollback", "--yes"] if then == "rollback" else ["migrate-offline", "--resume", "--yes"]
    # Without ending it, the rollback's DROP SCHEMA (or the resumed transform's keys) would wait
    # the ten minutes out.
    done = run_cli(args, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ended 1 session(s) an earlier attempt" in done.stdout + done.stderr
    assert count_of(legacy_url, SLEEPING) == 0
    if then == "rollback":
        assert_rolled_back(tmp_path, legacy_url, prints)
    else:
        check_rules(before, snapshot(legacy_url))
        assert app_state(tmp_path) == ("v2", False)


def test_a_session_of_the_run_it_may_not_end_is_named_and_the_rollback_goes_on(
    tmp_path: Path, legacy_url: str, cluster: LocalCluster
) -> None:
    prints = fingerprint(legacy_url)
    env = app_env(tmp_path, legacy_url)
    paused = run_cli(["migrate-offline", "--yes", "--until", "fence"], cwd=tmp_path, env=env)
    assert paused.returncode == 0, paused.stdout + paused.stderr
    (run_dir,) = [d for d in (tmp_path / "runs").iterdir() if d.is_dir()]
    # A superuser's session under the run's name: the app role may not end it.
    other = superuser(cluster, legacy_url)
    other.execute(f"SET application_name = 'pgcutover {run_dir.name} by hand'")
    try:
        done = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"could not end run {run_dir.name}'s earlier sessions" in done.stdout
        assert other.query("SELECT 1")[0][0] == 1  # still there
    finally:
        other.close()
    assert_rolled_back(tmp_path, legacy_url, prints)
