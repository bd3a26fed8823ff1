"""The whole window and its rollback against real app hosts (sshd + nginx on loopback), by CLI."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import fingerprint, run_cli
from lab import AppLab, http_get
from rules import check_rules, snapshot
from test_ctrl_c import start_cli, wait_for
from test_failures import without_bookkeeping

from pgcutover.db import connect

A, B = "127.0.0.1", "127.0.0.2"


def hosts_env(lab: AppLab, tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    """An operator's environment: both lab hosts over SSH, their scripts, their URLs."""
    return {
        "DATABASE_URL": url,
        "BACKUP_DIR": str(tmp_path / "backups"),
        "RUNS_DIR": str(tmp_path / "runs"),
        "FENCE_WAIT": "5",
        "APP_HOSTS": lab.app_hosts,
        "SSH_CONFIG": str(lab.ssh_config),
        "SSH_CONNECT_TIMEOUT": "5",
        "MAINTENANCE_ON_CMD": '"$APP_ROOT/bin/maintenance" on',
        "MAINTENANCE_OFF_CMD": '"$APP_ROOT/bin/maintenance" off',
        "MAINTENANCE_CHECK_URL": lab.url_template + "/",
        "CURRENT_VERSION_CMD": '"$APP_ROOT/bin/version"',
        "DEPLOY_CMD": '"$APP_ROOT/bin/deploy" {version}',
        "DEPLOY_VERSION": "v2",
        "HEALTHCHECK_URL": lab.url_template + "/health",
        "HEALTHCHECK_TIMEOUT": "10",
        **extra,
    }


class Watcher:
    """Watch both hosts' sites from outside while pgcutover runs: page status and /version."""

    def __init__(self, lab: AppLab) -> None:
        self.lab = lab
        self.samples: list[tuple[tuple[int, str], tuple[int, str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _look(self, host: str) -> tuple[int, str]:
        status = http_get(self.lab.url(host, "/"), timeout=2)[0]
        return status, http_get(self.lab.url(host, "/version"), timeout=2)[1].strip()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.samples.append((self._look(A), self._look(B)))
            time.sleep(0.005)

    def versions(self) -> list[tuple[str, str]]:
        """The releases seen, (A, B), each change once, in order."""
        seen: list[tuple[str, str]] = []
        for a, b in self.samples:
            if not seen or seen[-1] != (a[1], b[1]):
                seen.append((a[1], b[1]))
        return seen

    def statuses(self, host: str) -> set[int]:
        return {(a if host == A else b)[0] for a, b in self.samples}


@contextmanager
def watching(lab: AppLab) -> Iterator[Watcher]:
    w = Watcher(lab)
    w._thread.start()
    try:
        yield w
    finally:
        time.sleep(0.05)
        w._stop.set()
        w._thread.join(10)


def journal_of(tmp_path: Path) -> list[dict[str, Any]]:
    (path,) = (tmp_path / "runs").glob("*/journal.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def host_lines(lines: list[dict[str, Any]], step: str) -> list[tuple[str, str]]:
    """What ran where in a step, in order: (host, command or checked URL)."""
    return [
        (ln["host"], ln.get("command") or f"GET {ln['check']}")
        for ln in lines
        if ln["event"] == "host" and ln["step"] == step
    ]


def last_line(proc: Any) -> str:
    return proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""


def release_rows(shown: Any) -> list[str]:
    """The rows of `invoke status`'s releases-per-host table."""
    table = shown.stdout.split("App releases per host")[1]
    return [ln for ln in table.splitlines() if A in ln or B in ln]


def host_releases(url: str) -> list[tuple[Any, ...]]:
    db = connect(url, "psycopg")
    try:
        return db.query(
            "SELECT host, previous, deployed, changed, redeployed FROM pgcutover.host_release "
            "ORDER BY position"
        )
    finally:
        db.close()


def assert_sites(lab: AppLab, release: str = "v1", maintenance: bool = False) -> None:
    """Both hosts run release, with the maintenance page on or off, as seen over HTTP too."""
    for host in (A, B):
        assert lab.release_of(host) == release and lab.in_maintenance(host) == maintenance, host
        assert http_get(lab.url(host, "/version"))[1].strip() == release
        assert http_get(lab.url(host, "/"))[0] == (503 if maintenance else 200)


def test_window_and_rollback_on_two_hosts(
    fresh_app_lab: AppLab, tmp_path: Path, legacy_url: str
) -> None:
    lab = fresh_app_lab
    original, before = fingerprint(legacy_url), snapshot(legacy_url)
    env = hosts_env(lab, tmp_path, legacy_url)

    logins = [h.sshd_log.read_text().count("Accepted publickey") for h in lab.hosts]
    plan = run_cli(["migrate-offline", "--dry-run"], cwd=tmp_path, env=env)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    for h in lab.hosts:
        on = f"on {h.address} (ssh {lab.user}@{h.address}:{h.ssh_port}): "
        for command in (
            "true",
            '"$APP_ROOT/bin/maintenance" on',
            '"$APP_ROOT/bin/version"',
            '"$APP_ROOT/bin/deploy" v2',
            '"$APP_ROOT/bin/maintenance" off',
        ):
            assert on + command in plan.stdout, (command, plan.stdout)
        assert f"GET http://{h.address}:{lab.http_port}/health until 2xx" in plan.stdout
    assert [h.sshd_log.read_text().count("Accepted publickey") for h in lab.hosts] == logins
    assert fingerprint(legacy_url) == original

    with watching(lab) as window:
        proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check_rules(before, snapshot(legacy_url))
    assert_sites(lab, "v2")
    # Host by host: A changed while B still ran v1, never the other way round; behind the page.
    assert window.versions() == [("v1", "v1"), ("v2", "v1"), ("v2", "v2")]
    assert window.statuses(A) == {200, 503} and window.statuses(B) == {200, 503}
    assert all(a[0] == b[0] == 503 for a, b in window.samples if (a[1], b[1]) == ("v2", "v1"))

    lines = journal_of(tmp_path)
    health = f":{lab.http_port}/health"
    # Each host reached, then asked its release (CURRENT_VERSION_CMD reads only).
    version = '"$APP_ROOT/bin/version"'
    assert host_lines(lines, "preflight") == [(A, "true"), (B, "true"), (A, version), (B, version)]
    assert host_lines(lines, "maintenance-on") == [
        (A, '"$APP_ROOT/bin/maintenance" on'),
        (A, f"GET http://{A}:{lab.http_port}/"),
        (B, '"$APP_ROOT/bin/maintenance" on'),
        (B, f"GET http://{B}:{lab.http_port}/"),
    ]
    assert host_lines(lines, "deploy-app") == [
        (A, '"$APP_ROOT/bin/version"'),
        (B, '"$APP_ROOT/bin/version"'),
        (A, '"$APP_ROOT/bin/deploy" v2'),
        (A, f"GET http://{A}{health}"),
        (B, '"$APP_ROOT/bin/deploy" v2'),
        (B, f"GET http://{B}{health}"),
    ]
    deployed = [
        ln for ln in lines if ln["event"] == "host" and ln.get("command", "").endswith("v2")
    ]
    assert [ln["stdout"] for ln in deployed] == ["deployed v2", "deployed v2"]
    assert host_releases(legacy_url) == [(A, "v1", "v2", True, None), (B, "v1", "v2", True, None)]
    shown = run_cli(["status"], cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    rows = release_rows(shown)
    assert len(rows) == 2 and all(r.split()[-2] == "v2" for r in rows), shown.stdout

    with watching(lab) as back:
        proc = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert without_bookkeeping(fingerprint(legacy_url)) == without_bookkeeping(original)
    assert_sites(lab, "v1")
    assert back.versions() == [("v2", "v2"), ("v1", "v2"), ("v1", "v1")]
    assert back.statuses(A) == {200, 503} and back.statuses(B) == {200, 503}
    assert host_lines(journal_of(tmp_path), "redeploy-app") == [
        (A, '"$APP_ROOT/bin/deploy" v1'),
        (A, f"GET http://{A}{health}"),
        (B, '"$APP_ROOT/bin/deploy" v1'),
        (B, f"GET http://{B}{health}"),
    ]
    assert host_releases(legacy_url) == [(A, "v1", "v2", True, "v1"), (B, "v1", "v2", True, "v1")]
    shown = run_cli(["status"], cwd=tmp_path, env=env)
    rows = release_rows(shown)
    assert len(rows) == 2 and all(r.split()[-2] == "v1" for r in rows), shown.stdout


def test_host_refusing_ssh_stops_the_window_at_preflight(
    fresh_app_lab: AppLab, tmp_path: Path, legacy_url: str
) -> None:
    lab = fresh_app_lab
    original = fingerprint(legacy_url)
    env = hosts_env(lab, tmp_path, legacy_url)
    with lab.refuse_ssh(B), watching(lab) as window:
        proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    line = last_line(proc)
    assert proc.returncode != 0 and line.startswith(f"preflight: cannot reach {B}: "), proc.stderr
    assert "connection refused" in line and line.endswith("nothing was changed"), line
    assert A not in line, "only the unreachable host is named"
    assert "Traceback" not in proc.stdout + proc.stderr
    assert fingerprint(legacy_url) == original  # not even the bookkeeping schema
    assert_sites(lab, "v1")
    assert window.statuses(A) == {200} and window.statuses(B) == {200}
    assert {ln["step"] for ln in journal_of(tmp_path)} == {"preflight"}
    again = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert again.returncode != 0 and "nothing to roll back" in last_line(again), again.stderr


def test_deploy_failing_on_the_second_host_rolls_back_the_first(
    fresh_app_lab: AppLab, tmp_path: Path, legacy_url: str
) -> None:
    lab = fresh_app_lab
    lab.fail_deploy(B, "disk full on app2")
    original = fingerprint(legacy_url)
    env = hosts_env(lab, tmp_path, legacy_url)
    with watching(lab) as window:
        proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    line = last_line(proc)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert line.startswith(f'deploy-app: {B}: `"$APP_ROOT/bin/deploy" v2` exited 3: '), line
    assert "disk full on app2" in line and f"{B} still runs v1" in line, line
    assert "rollback completed" in line and "ROLLBACK FAILED" not in line, line
    assert without_bookkeeping(fingerprint(legacy_url)) == without_bookkeeping(original)
    assert_sites(lab, "v1")
    assert window.versions() == [("v1", "v1"), ("v2", "v1"), ("v1", "v1")]
    lines = journal_of(tmp_path)
    assert host_lines(lines, "redeploy-app") == [
        (A, '"$APP_ROOT/bin/deploy" v1'),
        (A, f"GET http://{A}:{lab.http_port}/health"),
    ]
    assert host_releases(legacy_url) == [(A, "v1", "v2", True, "v1"), (B, "v1", None, False, None)]


def test_release_that_never_turns_healthy_stops_at_the_first_host(
    fresh_app_lab: AppLab, tmp_path: Path, legacy_url: str
) -> None:
    lab = fresh_app_lab
    original = fingerprint(legacy_url)
    env = hosts_env(
        lab, tmp_path, legacy_url, DEPLOY_VERSION="v2-unhealthy", HEALTHCHECK_TIMEOUT="2"
    )
    with watching(lab) as window:
        proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    line = last_line(proc)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert line.startswith(
        f"deploy-app: {A}: http://{A}:{lab.http_port}/health answered HTTP 500, not 2xx, for 2s; "
        f"not touched: {B}"
    ), line
    assert "rollback completed" in line, line
    assert without_bookkeeping(fingerprint(legacy_url)) == without_bookkeeping(original)
    assert_sites(lab, "v1")
    assert not lab.is_unhealthy(A) and not lab.is_unhealthy(B)
    assert window.versions() == [("v1", "v1"), ("v2-unhealthy", "v1"), ("v1", "v1")]
    lines = journal_of(tmp_path)
    assert not [ln for ln in lines if ln.get("host") == B and "deploy" in ln.get("command", "")], (
        "the second host's deploy never ran"
    )
    assert host_lines(lines, "redeploy-app") == [
        (A, '"$APP_ROOT/bin/deploy" v1'),
        (A, f"GET http://{A}:{lab.http_port}/health"),
    ]


def test_maintenance_failing_on_one_host_is_undone_on_the_others(
    fresh_app_lab: AppLab, tmp_path: Path, legacy_url: str
) -> None:
    lab = fresh_app_lab
    original = fingerprint(legacy_url)
    # The load balancer API of the second host is down: its maintenance command fails.
    failing_on_b = (
        f'case "$APP_ROOT" in *{B}*) echo "lb api: 502" >&2; exit 1;; esac; '
        '"$APP_ROOT/bin/maintenance" on'
    )
    env = hosts_env(lab, tmp_path, legacy_url, MAINTENANCE_ON_CMD=failing_on_b)
    with watching(lab) as window:
        proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    line = last_line(proc)
    assert proc.returncode != 0 and line.startswith(f"maintenance-on: {B}: "), proc.stderr
    assert "lb api: 502" in line and f"maintenance off again on {A}" in line, line
    assert "rollback completed" in line, line
    assert without_bookkeeping(fingerprint(legacy_url)) == without_bookkeeping(original)
    assert_sites(lab, "v1")
    assert window.statuses(A) == {200, 503} and window.statuses(B) == {200}
    steps = [ln["step"] for ln in journal_of(tmp_path) if ln["event"] == "start"]
    assert "fence" not in steps and "backup" not in steps, steps


@pytest.mark.parametrize("entry", ["bad host", "app1,,app2", "[::1"])
def test_bad_app_hosts_change_nothing(
    app_lab: AppLab, tmp_path: Path, legacy_url: str, entry: str
) -> None:
    original = fingerprint(legacy_url)
    env = hosts_env(app_lab, tmp_path, legacy_url, APP_HOSTS=entry)
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode != 0 and last_line(proc).startswith("config: APP_HOSTS"), proc.stderr
    assert fingerprint(legacy_url) == original and not (tmp_path / "runs").exists()


def test_a_remote_deploy_ends_with_a_killed_pgcutover(
    fresh_app_lab: AppLab, tmp_path: Path, legacy_url: str
) -> None:
    # OpenSSH sends nothing to a command without a terminal when its channel goes: this deploy
    # would write v2 on A three seconds after pgcutover died, over the rollback's v1.
    lab = fresh_app_lab
    original = fingerprint(legacy_url)
    deploying = lab.app_roots[A] / "deploying"
    deploy = 'touch "$APP_ROOT/deploying"; sleep 3; "$APP_ROOT/bin/deploy" {version}'
    env = hosts_env(lab, tmp_path, legacy_url, DEPLOY_CMD=deploy)
    proc = start_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    wait_for("the deploy on A", deploying.exists, proc=proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    time.sleep(3.5)  # past the moment the cut deploy would have written v2
    assert lab.release_of(A) == "v1", "the deploy ran on after pgcutover died"
    back = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert back.returncode == 0, back.stdout + back.stderr
    assert_sites(lab, "v1")
    assert without_bookkeeping(fingerprint(legacy_url)) == without_bookkeeping(original)
