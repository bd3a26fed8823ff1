"""The backup's proof beside the window, real PostgreSQL: faults in it, or beside it, end in a
proven rollback or a correct resume (a corrupt block stopping it: tests/test_backup_proof.py; the
dump itself beside the transform: tests/test_overlap.py)."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest
from conftest import fingerprint, run_cli
from rules import snapshot
from test_ctrl_c import group_alive, journal, start_cli, wait_for
from test_failures import app_env, app_state, assert_migrated, assert_rolled_back

from pgcutover.forecast_layout import window_seconds
from pgcutover.settings import default_pg_bindir
from steps.backup_proof import DUMP_RECORD, MANIFEST_NAME
from steps.window import MIGRATE_OFFLINE


def backup_dir(work: Path) -> Path:
    return next((work / "backups").iterdir())


def ends_of(work: Path, step: str) -> list[dict[str, object]]:
    return [ln for ln in lines_of(work, step) if ln["event"] == "end"]


def lines_of(work: Path, step: str) -> list[dict[str, object]]:
    return [ln for ln in journal(work) if ln["step"] == step]


def test_verify_failing_while_the_proof_runs(tmp_path: Path, legacy_url: str) -> None:
    original = fingerprint(legacy_url)
    # The proof sleeps 2 s first: verify fails while it is still running.
    fault = "backup-proof:before:sleep,verify:before:error"
    env = app_env(tmp_path, legacy_url, CUTOVER_FAULT=fault)
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("verify: injected fault"), proc.stderr
    assert_rolled_back(tmp_path, legacy_url, original)
    lines = journal(tmp_path)
    at = {(ln["step"], ln["event"]): i for i, ln in enumerate(lines)}
    # The failure waited for the proof: its end line comes before the rollback's first.
    proof_end = at[("backup-proof", "end")]
    assert at[("reset", "end")] < proof_end < at[("rollback-prepare", "start")]
    assert lines[at[("backup-proof", "end")]]["outcome"] == "ok"
    assert (backup_dir(tmp_path) / MANIFEST_NAME).exists()


def test_killed_during_the_proof_then_resumed(tmp_path: Path, legacy_url: str) -> None:
    before = snapshot(legacy_url)
    env = app_env(tmp_path, legacy_url, CUTOVER_FAULT="backup-proof:before:kill")
    assert run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env).returncode != 0
    assert (backup_dir(tmp_path) / DUMP_RECORD).exists()
    assert not (backup_dir(tmp_path) / MANIFEST_NAME).exists()
    env.pop("CUTOVER_FAULT")
    wide = {**env, "COLUMNS": "400"}  # one table row per line
    stopped = run_cli(["status"], cwd=tmp_path, env=wide).stdout
    row = next(ln for ln in stopped.splitlines() if "backup-proof" in ln)
    assert "backup-proof (beside, joined before unfence)" in row, stopped
    assert "running beside the window (or stopped)" in row, row
    resumed = run_cli(["migrate-offline", "--resume", "--yes"], cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    status = run_cli(["status"], cwd=tmp_path, env=wide).stdout
    row = next(ln for ln in status.splitlines() if "backup-proof" in ln)
    assert "(beside, joined before unfence)" in row and " ok " in row, status
    assert_migrated(legacy_url, before)
    assert app_state(tmp_path) == ("v2", False)
    proof = lines_of(tmp_path, "backup-proof")
    assert [ln.get("outcome") for ln in proof] == [None, None, "ok"], proof  # run again, whole
    manifest = json.loads((backup_dir(tmp_path) / MANIFEST_NAME).read_text())
    assert (
        manifest["row_counts"]
        == json.loads((backup_dir(tmp_path) / DUMP_RECORD).read_text())["row_counts"]
    )


def test_ctrl_c_with_the_proof_running(tmp_path: Path, legacy_url: str) -> None:
    before, original = snapshot(legacy_url), fingerprint(legacy_url)
    env = app_env(tmp_path, legacy_url, CUTOVER_FAULT="backup-proof:before:sleep")
    proc = start_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    try:
        wait_for(
            "the proof to start",
            lambda: any(ln["step"] == "backup-proof" for ln in journal(tmp_path)),
            proc=proc,
        )
        os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole foreground group
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert "stopped by SIGINT" in err.strip().splitlines()[-1], out + err
    # The stop waited for the proof: it ended, proven, before the run let go.
    assert [ln.get("outcome") for ln in lines_of(tmp_path, "backup-proof")] == [None, "ok"]
    assert (backup_dir(tmp_path) / MANIFEST_NAME).exists()
    # The stop came before unfence at the latest (the join there waits for the proof first).
    assert [ln.get("outcome") for ln in ends_of(tmp_path, "unfence")] in ([], ["interrupted"])
    env.pop("CUTOVER_FAULT")
    rolled = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert_rolled_back(tmp_path, legacy_url, original)
    again = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)  # a new run, same db
    assert again.returncode == 0, again.stdout + again.stderr
    assert_migrated(legacy_url, before)


def test_server_restart_with_the_proof_running(
    tmp_path: Path, legacy_url: str, restart_cmd: str
) -> None:
    original = fingerprint(legacy_url)
    env = app_env(
        tmp_path,
        legacy_url,
        CUTOVER_FAULT="backup-proof:before:sleep,verify:before:restart",
        CUTOVER_FAULT_CMD=restart_cmd,
    )
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode != 0
    assert "rollback completed" in proc.stderr.strip().splitlines()[-1], proc.stderr
    assert_rolled_back(tmp_path, legacy_url, original)
    assert [ln.get("outcome") for ln in lines_of(tmp_path, "backup-proof")] == [None, "ok"]


def test_the_forecast_counts_a_beside_step_only_past_its_join() -> None:
    steps = {"deploy-schema": 0.1, "transform": 4.0, "reset": 0.1, "verify": 1.5}
    inside = {"backup": 3.0, "backup-proof": 1.0, "statistics": 0.5}
    assert abs(window_seconds({**steps, **inside}, MIGRATE_OFFLINE) - sum(steps.values())) < 1e-9
    # A dump longer than deploy-schema and transform (4.1 s) holds reset back by the difference;
    # its proof, which starts when it ends (5.1 s), holds unfence back past verify's end (6.7 s).
    longer = window_seconds(
        {**steps, **inside, "backup": 5.1, "backup-proof": 2.6}, MIGRATE_OFFLINE
    )
    assert abs(longer - (sum(steps.values()) + 1.0 + 1.0)) < 1e-9
    # With --no-overlap every step is in line: the window is their sum.
    every = {**steps, **inside}
    in_line = window_seconds(every, MIGRATE_OFFLINE, overlap=False)
    assert abs(in_line - sum(every.values())) < 1e-9


def test_restore_path_proves_a_dump_whose_proof_never_ended(
    tmp_path: Path, legacy_url: str
) -> None:
    original = fingerprint(legacy_url)
    env = app_env(
        tmp_path, legacy_url, CUTOVER_FAULT="backup-proof:before:sleep,verify:before:kill"
    )
    assert run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env).returncode != 0
    assert not (backup_dir(tmp_path) / MANIFEST_NAME).exists()  # killed with the proof running
    env.pop("CUTOVER_FAULT")
    proc = run_cli(["rollback", "--yes", "--from-backup"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "was never proven; reading every block back first" in proc.stderr + proc.stdout
    assert (backup_dir(tmp_path) / MANIFEST_NAME).exists()
    assert_rolled_back(tmp_path, legacy_url, original)


def slow_read_back_bindir(work: Path, pid_file: Path) -> Path:
    """A PG_BINDIR whose pg_restore, reading a dump back to /dev/null, first writes its pid and
    process group, then sleeps 60 s (the rest are the real programs)."""
    real = default_pg_bindir()
    assert real is not None
    d = work / "bin"
    d.mkdir()
    for tool in real.iterdir():
        if tool.name != "pg_restore":
            (d / tool.name).symlink_to(tool)
    script = d / "pg_restore"
    script.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do [ "$a" = /dev/null ] && '
        f'{{ echo "$$ $(cut -d" " -f5 /proc/$$/stat)" > {pid_file}; sleep 60; }}; done\n'
        f'exec {real}/pg_restore "$@"\n'
    )
    script.chmod(0o755)
    return d


@pytest.mark.parametrize("where", ["in a step", "at the join"])
def test_second_ctrl_c_ends_the_proof_beside_the_window(
    tmp_path: Path, legacy_url: str, where: str
) -> None:
    original = fingerprint(legacy_url)
    pid_file = tmp_path / "pg_restore.pid"
    env = app_env(tmp_path, legacy_url, PG_BINDIR=str(slow_read_back_bindir(tmp_path, pid_file)))
    proc = start_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    try:
        wait_for("the proof's pg_restore to start", pid_file.exists, proc=proc)
        if where == "at the join":  # verify ended: the window waits for the proof before unfence
            wait_for("verify to end", lambda: bool(ends_of(tmp_path, "verify")), proc=proc)
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)  # not the 60 s the read-back would take
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert "stopped by SIGINT" in err or "interrupted" in err, out + err
    # The backup's thread may still be ending when the second Ctrl-C comes: then both are named.
    assert re.search(r"abandoned (backup, )?backup-proof\b", out), out
    child, group = (int(n) for n in pid_file.read_text().split())
    assert group == child != proc.pid
    assert group_alive(group) == [], "the abandoned proof left pg_restore or its sleep running"
    assert not (backup_dir(tmp_path) / MANIFEST_NAME).exists()
    # Journaled as what it is, once: abandoned, not failed by the kill that abandoning sent.
    proof = ends_of(tmp_path, "backup-proof")
    assert [e["outcome"] for e in proof] == ["interrupted"], proof
    assert "second Ctrl-C" in str(proof[0]["error"])
    rolled = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert_rolled_back(tmp_path, legacy_url, original)
