"""Retention on real PostgreSQL: BACKUP_KEEP prunes, never a backup a rollback may still need."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import app_url, fingerprint, fresh_database, make_settings, run_cli
from test_failures import app_env, assert_rolled_back, without_bookkeeping

from pgcutover.backup_settings import Keep
from pgcutover.compare import diff_fingerprints
from pgcutover.errors import CutoverError
from pgcutover.journal import utc_now
from pgcutover.retention import plan, prune
from pgcutover.sandbox.cluster import LocalCluster
from pgcutover.settings import load_settings
from steps.backup_check import check_backup

NO_JOURNAL = "20000101T000000Z-dead"  # a backup whose run RUNS_DIR knows nothing about


def newest_run(tmp_path: Path) -> str:
    return sorted(p.name for p in (tmp_path / "runs").iterdir() if p.is_dir())[-1]


def cli(tmp_path: Path, env: dict[str, str], *args: str) -> str:
    """Run a task that must succeed; return the newest run id afterwards."""
    proc = run_cli(list(args), cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return newest_run(tmp_path)


@pytest.mark.parametrize(
    ("raw", "keep"),
    [("5", Keep(5)), ("30d", Keep(None, 30)), ("5,30d", Keep(5, 30)), (" 30D , 2 ", Keep(2, 30))],
)
def test_backup_keep_forms(tmp_path: Path, raw: str, keep: Keep) -> None:
    environ = {"DATABASE_URL": "postgresql:///x", "BACKUP_KEEP": raw}
    assert load_settings(None, base_dir=tmp_path, environ=environ).backup_keep == keep


@pytest.mark.parametrize(
    "raw",
    ["0", "-3", "0d", "abc", "5,5", "30d,60d", "5,30d,2", "1.5", ",", "5,", "5 days", "30x"]
    + ["99999999d", "1000001", "5d5"],
)
def test_silly_backup_keep_is_refused_in_one_line(tmp_path: Path, raw: str) -> None:
    environ = {"DATABASE_URL": "postgresql:///x", "BACKUP_KEEP": raw}
    with pytest.raises(CutoverError) as caught:
        load_settings(None, base_dir=tmp_path, environ=environ)
    line = str(caught.value)
    assert caught.value.step == "config" and f"BACKUP_KEEP={raw!r}" in line, line
    assert "give a count of backups (5), an age in days (30d), or both (5,30d)" in line, line
    assert "\n" not in line


def test_silly_backup_keep_stops_the_task_before_anything(tmp_path: Path, legacy_url: str) -> None:
    env = app_env(tmp_path, legacy_url, BACKUP_KEEP="0")
    before = fingerprint(legacy_url)
    for args in (["backups"], ["migrate-offline", "--yes"]):
        proc = run_cli(args, cwd=tmp_path, env=env)
        assert proc.returncode != 0
        assert proc.stderr.strip().splitlines()[-1].startswith("config: BACKUP_KEEP='0' keeps 0")
    assert fingerprint(legacy_url) == before and not (tmp_path / "runs").exists()


def test_prune_never_deletes_a_backup_a_rollback_may_need(
    tmp_path: Path, cluster: LocalCluster, template: str, app_password: str, legacy_url: str
) -> None:
    env = app_env(tmp_path, legacy_url)
    # A: a window rolled back: the database is as before it; nothing needs its backup any more.
    cli(tmp_path, env, "migrate-offline", "--yes")
    a = cli(tmp_path, env, "rollback", "--yes")
    # B: cleanup dropped its set-aside schema, then it was rolled back from that very backup:
    # the database is as before it, so nothing needs it any more either.
    b = cli(tmp_path, env, "migrate-offline", "--yes")
    cli(tmp_path, env, "cleanup", "--run", b, "--yes")
    cli(tmp_path, env, "rollback", "--yes")
    # C: the last successful window of this database (rolled back too).
    c = cli(tmp_path, env, "migrate-offline", "--yes")
    cli(tmp_path, env, "rollback", "--yes")
    with fresh_database(cluster, template) as other_name:
        other = app_url(cluster, app_password, other_name)
        other_env = {**env, "DATABASE_URL": other}
        before_d = fingerprint(other)
        # D: a window of another database of the same profile, paused at verify, not rolled
        # back: only its backup (or its set-aside schema) gets that database back.
        paused = run_cli(
            ["migrate-offline", "--yes", "--on-failure", "pause"],
            cwd=tmp_path,
            env={**other_env, "CUTOVER_FAULT": "verify:after:error"},
        )
        assert paused.returncode != 0, paused.stdout
        d = newest_run(tmp_path)
        # F: a backup whose run has no journal here: nothing says it is not needed.
        shutil.copytree(tmp_path / "backups" / a, tmp_path / "backups" / NO_JOURNAL)
        assert len({a, b, c, d}) == 4

        settings = make_settings(tmp_path, legacy_url, BACKUP_KEEP="1")
        verdicts = {v.run: v for v in plan(settings)}
        assert [r for r, v in verdicts.items() if not v.keep] == [b, a], verdicts
        assert verdicts[c].protected and "last successful window" in verdicts[c].why
        assert verdicts[d].protected and "not rolled back" in verdicts[d].why
        assert verdicts[NO_JOURNAL].protected and "no journal" in verdicts[NO_JOURNAL].why

        # Destructive: no TTY and no --yes refuses; a no keeps everything.
        with pytest.raises(CutoverError, match="no TTY to confirm on and no --yes"):
            prune(settings)
        with pytest.raises(CutoverError, match="not confirmed"):
            prune(settings, ask=lambda prompt: False)
        assert (tmp_path / "backups" / a).is_dir()
        # Count and age together keep what either keeps: A and B are younger than 30 days.
        both = make_settings(tmp_path, legacy_url, BACKUP_KEEP="1,30d")
        assert prune(both, yes=True) == [] and (tmp_path / "backups" / a).is_dir()
        later = utc_now() + timedelta(days=31)
        assert prune(both, yes=True, now=later) == [b, a]
        assert not (tmp_path / "backups" / a).exists() and not (tmp_path / "backups" / b).exists()
        for run in (c, d, NO_JOURNAL):
            assert check_backup(settings, tmp_path / "backups" / run, full_read=False).proven, run
        # Even a policy of one, a century on, deletes nothing a rollback may need.
        assert prune(settings, yes=True, now=utc_now() + timedelta(days=36500)) == []

        # What was kept is a way back: D's database comes back from its backup, identical.
        back = run_cli(["rollback", "--yes", "--from-backup"], cwd=tmp_path, env=other_env)
        assert back.returncode == 0 and "restored from" in back.stdout, back.stdout + back.stderr
        after = fingerprint(other)
        assert diff_fingerprints(without_bookkeeping(before_d), without_bookkeeping(after)) == []


def test_prune_needs_a_policy(tmp_path: Path, legacy_url: str) -> None:
    with pytest.raises(CutoverError, match="--prune needs a retention policy: set BACKUP_KEEP"):
        prune(make_settings(tmp_path, legacy_url), yes=True)


def test_cleanup_refuses_to_leave_no_way_back(tmp_path: Path, legacy_url: str) -> None:
    original = fingerprint(legacy_url)
    env = app_env(tmp_path, legacy_url)
    run = cli(tmp_path, env, "migrate-offline", "--yes")
    migrated = fingerprint(legacy_url)
    shutil.rmtree(tmp_path / "backups" / run)  # lost, or deleted by hand
    proc = run_cli(["cleanup", "--run", run, "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"cleanup: the backup of run {run} is not usable (") and (
        "dropping its set-aside schema would leave no way back; nothing was changed" in last
    ), last
    assert fingerprint(legacy_url) == migrated  # the set-aside schema is still there
    cli(tmp_path, env, "rollback", "--yes")  # and it is the way back
    assert_rolled_back(tmp_path, legacy_url, original)


def test_each_profile_keeps_its_own_runs_and_backups(tmp_path: Path) -> None:
    for name in ("staging", "prod", "a b"):
        (tmp_path / f".env.{name}").write_text("DATABASE_URL=postgresql:///x\n")

    def load(profile: str | None, **environ: str) -> tuple[Path, Path]:
        s = load_settings(profile, base_dir=tmp_path, environ=environ)
        return s.runs_dir, s.backup_dir

    assert load(None) == (tmp_path / "runs" / "default", tmp_path / "backups" / "default")
    assert load("staging") == (tmp_path / "runs" / "staging", tmp_path / "backups" / "staging")
    assert load(None, CUTOVER_ENV="prod") == (
        tmp_path / "runs" / "prod",
        tmp_path / "backups" / "prod",
    )
    assert load("prod", RUNS_DIR="/r", BACKUP_DIR="b") == (Path("/r"), tmp_path / "b")  # it wins
    # A profile name is never a path: refused before it names .env.NAME or a directory.
    for bad in ("a b", "../prod"):
        with pytest.raises(CutoverError, match="is not a profile name"):
            load(bad)
        with pytest.raises(CutoverError, match="is not a profile name"):
            load(bad, RUNS_DIR="r", BACKUP_DIR="b")
    with pytest.raises(CutoverError, match="is not a profile name"):
        load(None, CUTOVER_ENV="a b")


def test_runs_from_before_per_profile_directories_are_named(tmp_path: Path) -> None:
    old = tmp_path / "runs" / "20250101T000000Z-abcd"
    old.mkdir(parents=True)
    (old / "journal.jsonl").write_text("")
    proc = run_cli(
        ["backups"], cwd=tmp_path, env={"DATABASE_URL": "postgresql:///x", "COLUMNS": "300"}
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        "holds 1 run(s) from before per-profile directories (20250101T000000Z-abcd, …): move "
        "them into runs/<profile or default>/, or set RUNS_DIR=runs" in proc.stdout
    ), proc.stdout
    assert f"Backups in {tmp_path / 'backups' / 'default'}" in proc.stdout


def test_cleanup_of_a_window_that_did_not_succeed_says_so(tmp_path: Path, legacy_url: str) -> None:
    env = app_env(tmp_path, legacy_url)
    run = cli(tmp_path, env, "migrate-offline", "--yes", "--until", "preflight")
    before = fingerprint(legacy_url)
    proc = run_cli(["cleanup", "--run", run, "--yes"], cwd=tmp_path, env=env)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode != 0 and last == (
        f"cleanup: run {run} did not succeed: keeping its set-aside schema; nothing was changed"
    ), last
    assert fingerprint(legacy_url) == before
    verify = run_cli(["backups", "--verify", run], cwd=tmp_path, env=env)
    assert verify.returncode != 0 and "does not exist" in verify.stderr, verify.stderr
