"""Operators' real paths: second windows, wrong targets, silly flags, resume that asks the DB."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import READER, READER_PASSWORD, app_url, fingerprint, fresh_database, run_cli
from rules import check_rules, snapshot
from test_failures import app_env, app_state, assert_rolled_back, without_bookkeeping

from pgcutover.db import connect


def last_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def assert_refused(proc: subprocess.CompletedProcess[str], step: str, *causes: str) -> None:
    line = last_line(proc)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert line.startswith(f"{step}: "), proc.stdout + proc.stderr
    for cause in causes:
        assert cause in line, line
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "unexpected" not in line, line


def database_acl(url: str) -> object:
    return fingerprint(url)["database"]["current"]["acl"]


def status_of(work: Path, env: dict[str, str]) -> str:
    proc = run_cli(["status"], cwd=work, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def newest_run(work: Path) -> str:
    return sorted(p.name for p in (work / "runs").iterdir())[-1]


def test_every_window_gives_back_the_connect_grants_it_took(
    tmp_path: Path, legacy_url: str
) -> None:
    original = fingerprint(legacy_url)
    acl = original["database"]["current"]["acl"]
    env = app_env(tmp_path, legacy_url)
    before = snapshot(legacy_url)
    for attempt in range(3):
        proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
        assert proc.returncode == 0, f"window {attempt + 1}: " + proc.stdout + proc.stderr
        assert database_acl(legacy_url) == acl, f"window {attempt + 1} kept CONNECT from someone"
        check_rules(before, snapshot(legacy_url))
        run_id = newest_run(tmp_path)
        shown = status_of(tmp_path, env)
        assert f"Run {run_id} (migrate-offline): succeeded" in shown, shown
        if attempt == 2:
            break
        back = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
        assert back.returncode == 0, back.stdout + back.stderr
        assert_rolled_back(tmp_path, legacy_url, original)
        shown = status_of(tmp_path, env)
        assert f"Run {run_id} (rollback): rolled back" in shown, shown
    # the app's own role can connect after the third window
    reader = connect(
        legacy_url.replace(legacy_url.split("@")[0], f"postgresql://{READER}:{READER_PASSWORD}"),
        "psycopg",
    )
    try:
        assert reader.query('SELECT count(*) FROM public."User"')[0][0] == len(before["User"])
    finally:
        reader.close()


def test_a_run_is_bound_to_its_database(
    tmp_path: Path, cluster, template: str, app_password: str, legacy_url: str
) -> None:
    env = app_env(tmp_path, legacy_url)
    assert (
        run_cli(
            ["migrate-offline", "--yes", "--on-failure", "pause"],
            cwd=tmp_path,
            env={**env, "CUTOVER_FAULT": "transform:before:error"},
        ).returncode
        != 0
    )
    run_id = newest_run(tmp_path)
    with fresh_database(cluster, template) as other_name:
        other = app_url(cluster, app_password, other_name)
        mine, theirs = fingerprint(legacy_url), fingerprint(other)
        wrong = {**env, "DATABASE_URL": other}  # the same RUNS_DIR, another profile's database
        for args, step in (
            (["rollback", "--yes"], "rollback"),
            (["rollback", "--yes", "--run", run_id], "rollback"),
            (["rollback", "--yes", "--from-backup"], "rollback"),
            (["migrate-offline", "--resume", "--yes"], "migrate-offline"),
            (["cleanup", "--run", run_id, "--yes"], "cleanup"),
        ):
            proc = run_cli(args, cwd=tmp_path, env=wrong)
            assert_refused(proc, step, other_name, legacy_url.rsplit("/", 1)[1])
            assert fingerprint(other) == theirs, args
            assert fingerprint(legacy_url) == mine, args
        assert app_state(tmp_path) == ("v1", True)  # the paused window's site is untouched too
    back = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert back.returncode == 0, back.stdout + back.stderr
    assert app_state(tmp_path) == ("v1", False)


@pytest.mark.parametrize("jobs", ["-3", "0", "abc", "65", "1.5"])
def test_silly_jobs_change_nothing(tmp_path: Path, legacy_url: str, jobs: str) -> None:
    env = app_env(tmp_path, legacy_url)
    assert run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env).returncode == 0
    migrated = fingerprint(legacy_url)
    proc = run_cli(["rollback", "--from-backup", "--jobs", jobs, "--yes"], cwd=tmp_path, env=env)
    assert_refused(proc, "rollback", "--jobs", "nothing was changed")
    assert fingerprint(legacy_url) == migrated
    assert app_state(tmp_path) == ("v2", False)


@pytest.mark.parametrize(
    "extra, args, step, cause",
    [
        ({"FENCE_WAIT": "nan"}, ["migrate-offline", "--yes"], "config", "FENCE_WAIT='nan'"),
        (
            {"HEALTHCHECK_TIMEOUT": "-1"},
            ["migrate-offline", "--yes"],
            "config",
            "HEALTHCHECK_TIMEOUT",
        ),
        (
            {"BUDGET_BACKUPS": "10"},
            ["migrate-offline", "--yes"],
            "config",
            "BUDGET_BACKUPS names no step",
        ),
        (
            {"CURRENT_VERSION_CMD": ""},
            ["migrate-offline", "--yes"],
            "preflight",
            "CURRENT_VERSION_CMD",
        ),
        ({"DEPLOY_VERSION": ""}, ["migrate-offline", "--yes"], "preflight", "DEPLOY_VERSION"),
        ({}, ["migrate-offline", "--yes", "--on-failure", "later"], "config", "--on-failure"),
        ({}, ["rollback", "--yes", "--run", "../../etc"], "rollback", "is not a run id"),
        ({}, ["sandbox", "--users", "abc"], "sandbox", "--users 'abc' is not a whole number"),
        ({}, ["sandbox", "--users", "3"], "sandbox", "--users must be 40 to"),
    ],
)
def test_silly_settings_are_refused_before_anything(
    tmp_path: Path, legacy_url: str, extra: dict[str, str], args: list[str], step: str, cause: str
) -> None:
    before = fingerprint(legacy_url)
    proc = run_cli(args, cwd=tmp_path, env=app_env(tmp_path, legacy_url, **extra))
    assert_refused(proc, step, cause)
    assert fingerprint(legacy_url) == before
    assert app_state(tmp_path) == ("v1", False)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert not (tmp_path / ".sandbox").exists()


def test_profile_files_name_their_problems(tmp_path: Path, legacy_url: str) -> None:
    (tmp_path / ".env.latin1").write_bytes(
        b"DATABASE_URL=" + legacy_url.encode() + b"\nDEPLOY_VERSION=caf\xe9\n"
    )
    proc = run_cli(["migrate-offline", "--yes", "--env", "latin1"], cwd=tmp_path, env={})
    assert_refused(proc, "config", ".env.latin1 is not UTF-8", "line 2")
    (tmp_path / ".env.typo").write_text(f"DATABSE_URL={legacy_url}\n")
    proc = run_cli(["migrate-offline", "--yes", "--env", "typo"], cwd=tmp_path, env={})
    assert_refused(proc, "config", "DATABSE_URL (did you mean DATABASE_URL?)")
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env={"DATABSE_URL": legacy_url})
    assert_refused(proc, "config", "DATABASE_URL is not set", "DATABSE_URL")


def test_resume_refuses_a_completed_window_and_touches_nothing(
    tmp_path: Path, legacy_url: str
) -> None:
    env = app_env(tmp_path, legacy_url)
    untouched = fingerprint(legacy_url)
    nothing = run_cli(["migrate-offline", "--resume", "--yes"], cwd=tmp_path, env=env)
    assert_refused(nothing, "migrate-offline", "no run of")
    assert fingerprint(legacy_url) == untouched  # not even the bookkeeping schema
    assert run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env).returncode == 0
    migrated = fingerprint(legacy_url)
    reader_url = legacy_url.replace(
        legacy_url.split("@")[0], f"postgresql://{READER}:{READER_PASSWORD}"
    )
    app_session = connect(reader_url, "psycopg", application_name="the app, live again")
    try:
        proc = run_cli(["migrate-offline", "--resume", "--yes"], cwd=tmp_path, env=env)
        assert_refused(proc, "migrate-offline", "completed", "nothing was changed")
        assert app_session.query("SELECT 1") == [(1,)]  # not fenced, not ended
    finally:
        app_session.close()
    assert fingerprint(legacy_url) == migrated
    assert app_state(tmp_path) == ("v2", False)


def test_resume_asks_the_database_and_always_verifies_again(
    tmp_path: Path, legacy_url: str
) -> None:
    before = snapshot(legacy_url)
    env = app_env(tmp_path, legacy_url, CUTOVER_FAULT="verify:after:kill")
    assert run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env).returncode == -9
    env.pop("CUTOVER_FAULT")
    proc = run_cli(["migrate-offline", "--resume", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [
        json.loads(ln)
        for ln in next((tmp_path / "runs").glob("*/journal.jsonl")).read_text().splitlines()
    ]
    verify_starts = [ln for ln in lines if ln["step"] == "verify" and ln["event"] == "start"]
    assert len(verify_starts) == 2, "a resumed window verifies again, whatever the journal says"
    resumed_at = [
        i for i, ln in enumerate(lines) if ln["step"] == "maintenance-on" and ln["event"] == "start"
    ][1]
    assert not [
        ln for ln in lines[resumed_at:] if ln["step"] in ("backup", "reset", "transform")
    ], "what the database shows as done is not done twice"
    check_rules(before, snapshot(legacy_url))


def test_an_unexpected_error_inside_a_step_is_a_step_failure(
    tmp_path: Path, legacy_url: str
) -> None:
    original = fingerprint(legacy_url)
    proc = run_cli(
        ["migrate-offline", "--yes"],
        cwd=tmp_path,
        env=app_env(tmp_path, legacy_url, CUTOVER_FAULT="verify:after:oserror"),
    )
    line = last_line(proc)
    assert proc.returncode != 0 and line.startswith("verify: unexpected OSError"), (
        proc.stdout + proc.stderr
    )
    assert "rollback completed" in line
    lines = [
        json.loads(ln)
        for ln in next((tmp_path / "runs").glob("*/journal.jsonl")).read_text().splitlines()
    ]
    assert {"step": "verify", "event": "end", "outcome": "failed"}.items() <= next(
        ln for ln in lines if ln["step"] == "verify" and ln["event"] == "end"
    ).items()
    assert_rolled_back(tmp_path, legacy_url, original)


def test_journal_stays_json_whatever_a_command_holds(tmp_path: Path, legacy_url: str) -> None:
    secret = "hunter2-xyz"
    env = app_env(tmp_path, legacy_url)
    env["MAINTENANCE_ON_CMD"] = (
        f"echo 'curl -d password={secret}\" http://u:{secret}@h' >/dev/null; "
        + env["MAINTENANCE_ON_CMD"]
    )
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    journal = next((tmp_path / "runs").glob("*/journal.jsonl")).read_text()
    lines = [json.loads(ln) for ln in journal.splitlines()]  # every line is valid JSON
    assert any("password=***" in json.dumps(ln) for ln in lines)
    assert secret not in journal and secret not in proc.stdout + proc.stderr


def test_redeploy_needs_a_known_release_and_a_stuck_rollback_says_how_to_finish(
    tmp_path: Path, legacy_url: str
) -> None:
    original = fingerprint(legacy_url)
    env = app_env(tmp_path, legacy_url)
    assert run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env).returncode == 0
    broken = {**env, "DEPLOY_CMD": "echo 'deploy host unreachable:' {version} >&2; exit 3"}
    proc = run_cli(["rollback", "--yes"], cwd=tmp_path, env=broken)
    line = last_line(proc)
    assert proc.returncode != 0 and line.startswith("redeploy-app: "), proc.stdout + proc.stderr
    assert (
        "Back: database" in line and "NOT back: previous app release, connections and site" in line
    ), line
    assert f"finish with: invoke rollback --run {newest_run(tmp_path)} --yes" in line, line
    assert (
        run_cli(
            ["rollback", "--run", newest_run(tmp_path), "--yes"], cwd=tmp_path, env=env
        ).returncode
        == 0
    )
    assert_rolled_back(tmp_path, legacy_url, original)


def test_a_failed_maintenance_on_is_no_failed_rollback(tmp_path: Path, legacy_url: str) -> None:
    original = fingerprint(legacy_url)
    env = app_env(tmp_path, legacy_url, MAINTENANCE_ON_CMD="echo 'lb api: 502' >&2; exit 1")
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    line = last_line(proc)
    assert proc.returncode != 0 and line.startswith("maintenance-on: "), proc.stdout + proc.stderr
    assert "ROLLBACK FAILED" not in line and "rollback completed" in line, line
    assert without_bookkeeping(fingerprint(legacy_url)) == without_bookkeeping(original)


def test_hints_keep_the_profile(tmp_path: Path, legacy_url: str) -> None:
    env = app_env(tmp_path, legacy_url)
    profile = "".join(f"{k}='{v}'\n" for k, v in env.items())
    (tmp_path / ".env.staging").write_text(profile)
    proc = run_cli(
        ["migrate-offline", "--yes", "--env", "staging", "--on-failure", "pause"],
        cwd=tmp_path,
        env={"CUTOVER_FAULT": "transform:before:error"},
    )
    assert proc.returncode != 0
    assert "migrate-offline --resume --yes --env staging" in proc.stdout, proc.stdout
    assert "--yes --env staging" in proc.stdout.split("Roll back:")[1]
    resumed = run_cli(
        ["migrate-offline", "--resume", "--yes", "--env", "staging"], cwd=tmp_path, env={}
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
