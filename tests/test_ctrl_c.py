"""The operator's Ctrl-C reaches pgcutover alone: its children finish, or pgcutover kills them."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import fingerprint, invoke_argv, operator_env, run_cli
from rules import check_rules, snapshot
from terminal import Terminal
from test_failures import app_env, app_state, fake_bindir, without_bookkeeping

from pgcutover.hosts import LocalHost
from pgcutover.pgtools import run_child
from pgcutover.settings import default_pg_bindir
from steps.backup_proof import DUMP_RECORD, MANIFEST_NAME


def slow_pg_dump(tmp_path: Path) -> tuple[Path, Path]:
    """A PG_BINDIR whose pg_dump sleeps 3 s first (no trap: it dies of any signal it gets)."""
    real, pid_file = default_pg_bindir(), tmp_path / "pg_dump.pid"
    assert real is not None
    # It records its pid and process group (field 5 of /proc/PID/stat), then sleeps.
    body = (
        f'echo "$$ $(cut -d" " -f5 /proc/$$/stat)" > {pid_file}.tmp\n'
        f'mv {pid_file}.tmp {pid_file}\nsleep 3\nexec {real}/pg_dump "$@"\n'
    )
    return fake_bindir(tmp_path, body), pid_file


def start_cli(args: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start `invoke <args>` as the foreground job of its own terminal session would be."""
    return subprocess.Popen(
        invoke_argv(args),
        cwd=cwd,
        env=operator_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def journal(tmp_path: Path) -> list[dict[str, object]]:
    found = list((tmp_path / "runs").glob("*/journal.jsonl"))
    if not found:
        return []
    return [json.loads(line) for line in found[0].read_text().splitlines() if line.endswith("}")]


def wait_for(
    what: str,
    ready: Callable[[], object],
    timeout_s: float = 60,
    proc: subprocess.Popen[str] | None = None,
) -> None:
    """Poll until ready() is true; fail on timeout, or at once if proc ended first."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"pgcutover exited {proc.returncode} before {what}:\n{out}{err}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def ends(lines: list[dict[str, object]], step: str) -> list[dict[str, object]]:
    return [ln for ln in lines if ln["step"] == step and ln["event"] == "end"]


def group_alive(pgid: int) -> list[str]:
    """List the processes of a process group that still run (zombies are dead, only unreaped)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()  # state ppid pgrp …, after "pid (comm)"
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(text[: text.rindex(")") + 1])
    return alive


def is_alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_ctrl_c_finishes_the_step_then_stops(tmp_path: Path, legacy_url: str) -> None:
    before = snapshot(legacy_url)
    bindir, pid_file = slow_pg_dump(tmp_path)
    env = app_env(tmp_path, legacy_url, PG_BINDIR=str(bindir))
    proc = start_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    try:
        wait_for(
            "the backup to start",
            lambda: any(
                ln["step"] == "backup" and ln["event"] == "start" for ln in journal(tmp_path)
            ),
            proc=proc,
        )
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole foreground group
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode != 0
    # The dump runs beside the steps in line: the one running finished, and the stop came at the
    # next boundary, at reset at the latest (after waiting for the dump), before the legacy
    # schema moved.
    last = err.strip().splitlines()[-1]
    stop = r"(backup-proof|deploy-schema|transform|reset): stopped by SIGINT before this step"
    assert re.match(stop, last), err
    lines = journal(tmp_path)
    assert [ln["outcome"] for ln in ends(lines, "backup")] == ["ok"], lines
    # Its proof had not begun: it stays undone, as a step in line would.
    proof = [ln for ln in lines if ln["step"] == "backup-proof"]
    assert [ln.get("outcome") for ln in proof] == [None, "interrupted"], proof
    assert "stopped by SIGINT before this step started" in str(proof[-1]["error"])
    assert not [ln for ln in ends(lines, "reset") if ln["outcome"] != "interrupted"]
    assert snapshot(legacy_url) == before, "the legacy schema never left public"
    backup_dir = next((tmp_path / "backups").iterdir())
    assert (backup_dir / DUMP_RECORD).exists() and not (backup_dir / MANIFEST_NAME).exists()
    assert not is_alive(int(pid_file.read_text().split()[0]))

    resumed = run_cli(["migrate-offline", "--resume", "--yes"], cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    check_rules(before, snapshot(legacy_url))
    assert app_state(tmp_path) == ("v2", False)
    assert (backup_dir / MANIFEST_NAME).exists()  # the resumed window proved it


def hang_up_mid_backup(
    tmp_path: Path, legacy_url: str, *, nohup: bool = False
) -> tuple[int, dict[str, str], Any, Path]:
    """Run the window on a terminal that hangs up once pg_dump started; return its exit code,
    its environment, the legacy snapshot before it, and the slow pg_dump's pid file."""
    before = snapshot(legacy_url)
    bindir, pid_file = slow_pg_dump(tmp_path)
    env = app_env(tmp_path, legacy_url, PG_BINDIR=str(bindir))
    term = Terminal(["migrate-offline", "--yes"], cwd=tmp_path, env=env, nohup=nohup)
    try:
        wait_for("pg_dump to start", pid_file.exists, proc=None)
        assert term.proc.poll() is None
        # The SSH session drops: the terminal hangs up (SIGHUP, then EIO on every later write to
        # it) while the live timeline is drawing on it.
        term.hang_up()
        return term.proc.wait(timeout=120), env, before, pid_file
    finally:
        term.proc.kill()


def test_a_terminal_that_hangs_up_stops_the_window_at_a_safe_point(
    tmp_path: Path, legacy_url: str
) -> None:
    code, env, before, pid_file = hang_up_mid_backup(tmp_path, legacy_url)
    assert code != 0
    lines = journal(tmp_path)
    assert [ln["outcome"] for ln in ends(lines, "backup")] == ["ok"], lines
    # The step in line stopped at its boundary, and the backup's proof (beside) never began.
    stopped = [ln for ln in lines if ln.get("outcome") == "interrupted"]
    assert "backup-proof" in [ln["step"] for ln in stopped], stopped
    for ln in stopped:
        assert "stopped by SIGHUP before this step started" in str(ln["error"]), stopped
    assert not [ln for ln in lines if ln.get("outcome") == "failed"], lines
    assert snapshot(legacy_url) == before, "the legacy schema never left public"
    assert not is_alive(int(pid_file.read_text().split()[0]))

    resumed = run_cli(["migrate-offline", "--resume", "--yes"], cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    check_rules(before, snapshot(legacy_url))
    assert app_state(tmp_path) == ("v2", False)


def test_a_window_under_nohup_goes_on_when_its_terminal_hangs_up(
    tmp_path: Path, legacy_url: str
) -> None:
    code, _, before, _ = hang_up_mid_backup(tmp_path, legacy_url, nohup=True)
    assert code == 0, (tmp_path / "nohup.out").read_text()
    assert not [ln for ln in journal(tmp_path) if ln.get("outcome") in ("interrupted", "failed")]
    assert "Window complete" in (tmp_path / "nohup.out").read_text()  # its log stayed a log
    check_rules(before, snapshot(legacy_url))
    assert app_state(tmp_path) == ("v2", False)


def test_second_ctrl_c_abandons_the_step_and_kills_its_children(
    tmp_path: Path, legacy_url: str
) -> None:
    original = fingerprint(legacy_url)
    bindir, pid_file = slow_pg_dump(tmp_path)
    env = app_env(tmp_path, legacy_url, PG_BINDIR=str(bindir))
    proc = start_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    try:
        # pg_dump's wrapper wrote its pid: it is asleep for 3 s, in the process group it leads.
        wait_for("pg_dump to start", pid_file.exists, proc=proc)
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0
    # The second Ctrl-C abandoned the dump beside the window, wherever the step in line was.
    last = err.strip().splitlines()[-1]
    # (or the first one stopped the window before the second came, while it waited for the dump)
    assert re.match(
        r"(backup-proof|deploy-schema|transform|reset): (interrupted|stopped by SIGINT)", last
    ), out + err
    assert "abandoned backup" in out, out
    assert not [ln for ln in ends(journal(tmp_path), "backup") if ln["outcome"] == "ok"]
    child, group = (int(n) for n in pid_file.read_text().split())
    assert group == child != proc.pid  # pg_dump led a process group of its own: Ctrl-C missed it
    assert group_alive(group) == [], "the abandoned step left pg_dump or its sleep running"
    assert not list((tmp_path / "backups").glob("*/" + MANIFEST_NAME)), "no backup was proven"

    rolled = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert without_bookkeeping(fingerprint(legacy_url)) == without_bookkeeping(original)
    assert app_state(tmp_path) == ("v1", False)


def test_timed_out_command_loses_its_whole_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "background.pid"
    started = time.monotonic()
    # The background sleep holds stdout open: killing only the shell would leave it, and the wait.
    result = LocalHost().run(f"sleep 60 & echo $! > {pid_file}; sleep 60", timeout_s=1)
    assert (result.exit_code, result.stderr) == (124, "timed out after 1s")
    assert time.monotonic() - started < 30  # far below the 60 s sleep: the group was cut
    wait_for("the background sleep to die", lambda: not is_alive(int(pid_file.read_text())), 5)


def test_abandoned_child_is_killed_and_reaped(tmp_path: Path) -> None:
    shell_pid, sleep_pid = tmp_path / "shell.pid", tmp_path / "sleep.pid"

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # as StopSignal does on the second Ctrl-C

    old = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(KeyboardInterrupt):
            run_child(
                ["/bin/sh", "-c", f"echo $$ > {shell_pid}; sleep 60 & echo $! > {sleep_pid}; wait"]
            )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    with pytest.raises(ChildProcessError):  # reaped already: no zombie left behind by us
        os.waitpid(int(shell_pid.read_text()), os.WNOHANG)
    wait_for("the grandchild to die", lambda: not is_alive(int(sleep_pid.read_text())), 5)


def test_a_killed_windows_deploy_is_ended_before_the_rollback_redeploys(
    tmp_path: Path, legacy_url: str
) -> None:
    original = fingerprint(legacy_url)
    site = tmp_path / "site"
    # The new release takes 3 s to go out; SIGKILL reaches pgcutover, not the deploy's own
    # session, which would write v2 after the rollback put v1 back.
    env = app_env(
        tmp_path,
        legacy_url,
        DEPLOY_CMD=(
            f'case {{version}} in v2) touch {site}/deploying; sleep 3;; esac; '
            f"echo {{version}} > {site}/release"
        ),
    )
    proc = start_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    wait_for("the deploy", (site / "deploying").exists, proc=proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    ledger = list((tmp_path / "runs").glob("*/children/[0-9]*"))
    assert len(ledger) == 1, "the deploy is on the ledger while it runs"
    pgid = int(ledger[0].name)
    assert group_alive(pgid), "the deploy outlived pgcutover"
    back = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert back.returncode == 0, back.stdout + back.stderr
    assert f"ended sh (process group {pgid}), left running by a pgcutover that was killed" in (
        back.stdout
    )
    assert not group_alive(pgid)
    time.sleep(3.5)  # past the moment the killed deploy would have written v2
    assert app_state(tmp_path) == ("v1", False)
    assert without_bookkeeping(fingerprint(legacy_url)) == without_bookkeeping(original)
    assert not list((tmp_path / "runs").glob("*/children/[0-9]*"))
