"""A pg_dump the window's kill missed (it runs in a session of its own) is ended by the next
attempt or by the rollback: it would hold its snapshot and locks, and slow the resumed dump."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from conftest import fingerprint, make_settings, run_cli
from rules import check_rules, snapshot
from test_backup_proof import real_bindir
from test_failures import app_env, app_state, assert_rolled_back, fake_bindir

from pgcutover.db import connect
from pgcutover.errors import CutoverError
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


def dump_sessions(url: str) -> int:
    db = connect(url, "psycopg", application_name="tests orphans")
    try:
        return int(db.query(ORPHANS)[0][0])
    finally:
        db.close()


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
            assert "orphaned pg_dump" in done.stdout
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
