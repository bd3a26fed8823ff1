"""The dump beside the transform (issue 9's overlap): faults in the overlapped work.

The backup dumps the fenced legacy schema while deploy-schema and transform build the target apart;
reset waits for the dump, then swaps the schemas. Each case here fails one branch while the other
runs, then checks the database, not an exit code: a rollback leaves it as before the window (no
build schema left), a resume completes it with every rule holding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import fingerprint, make_settings, run_cli
from rules import check_rules, snapshot
from test_backup_proof import real_bindir
from test_failures import app_env, app_state, assert_rolled_back, fake_bindir

from pgcutover import commands
from pgcutover.db import connect
from pgcutover.db import schema_exists as has_schema
from pgcutover.journal import read_journal
from steps.window import MIGRATE_OFFLINE

BUILD = "cutover_target"
# Once: the real pg_dump dumps for a second, then dies (-9) while the transform still runs.
DUMP_KILLED_ONCE = """if [ ! -e {marker} ]; then
  touch {marker}
  {real}/pg_dump "$@" &
  sleep 1
  kill -9 $!
  exit 137
fi
exec {real}/pg_dump "$@"
"""
# Every time: the dump succeeds but takes 3 s longer, so the transform fails while it runs.
DUMP_SLOW = """{real}/pg_dump "$@" || exit $?
sleep 3
"""
# Every time: a dump that waits 3 s before pg_dump connects, its snapshot exported and held by the
# backup's own session: a server restart then ends that session and the transform's together.
DUMP_LATE = """sleep 3
exec {real}/pg_dump "$@"
"""


def schema_exists(url: str, name: str) -> bool:
    db = connect(url, "psycopg", application_name="tests overlap")
    try:
        return has_schema(db, name)
    finally:
        db.close()


def journal_of(work: Path) -> list[dict[str, Any]]:
    (run_dir,) = [d for d in (work / "runs").iterdir() if (d / "journal.jsonl").exists()]
    return read_journal(run_dir / "journal.jsonl")


def position(journal: list[dict[str, Any]], step: str, event: str) -> int:
    """Return the index of a step's first line of that event."""
    return next(i for i, j in enumerate(journal) if j["step"] == step and j["event"] == event)


def env_for(work: Path, url: str, body: str, **extra: str) -> dict[str, str]:
    bindir = fake_bindir(work, body.format(real=real_bindir(), marker=work / "once"))
    return app_env(work, url, PG_BINDIR=str(bindir), **extra)


def recover(
    work: Path, url: str, env: dict[str, str], then: str, before: Any, original: Any
) -> None:
    """Roll the stopped window back (the database as before it) or resume it (every rule holds);
    either way no build schema is left."""
    args = ["rollback", "--yes"] if then == "rollback" else ["migrate-offline", "--resume", "--yes"]
    done = run_cli(args, cwd=work, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    if then == "rollback":
        assert_rolled_back(work, url, original)
    else:
        check_rules(before, snapshot(url))
        assert app_state(work) == ("v2", False)
    assert not schema_exists(url, BUILD)


@pytest.mark.parametrize("then", ["rollback", "resume"])
def test_a_dump_killed_mid_transform_fails_the_window_at_reset(
    tmp_path: Path, legacy_url: str, then: str
) -> None:
    before, original = snapshot(legacy_url), fingerprint(legacy_url)
    # The transform holds its transaction open 2 s mid-way: the dump dies while it runs.
    env = env_for(tmp_path, legacy_url, DUMP_KILLED_ONCE, CUTOVER_FAULT="transform:middle:sleep")
    failed = run_cli(["migrate-offline", "--yes", "--on-failure", "pause"], cwd=tmp_path, env=env)
    assert failed.returncode != 0
    assert failed.stderr.strip().splitlines()[-1].startswith("backup: "), failed.stderr
    journal = journal_of(tmp_path)
    ends = {j["step"]: j.get("outcome") for j in journal if j["event"] == "end"}
    # The dump ran beside the transform and failed while it ran; the transform committed, and
    # the window stopped at reset's join: the legacy schema never moved.
    assert position(journal, "transform", "start") < position(journal, "backup", "end")
    assert ends["backup"] == "failed" and ends["transform"] == "ok" and "reset" not in ends
    assert schema_exists(legacy_url, BUILD) and not schema_exists(legacy_url, "cutover_legacy")
    assert snapshot(legacy_url) == before, "the legacy schema is untouched in public"
    env.pop("CUTOVER_FAULT")
    recover(tmp_path, legacy_url, env, then, before, original)


def test_a_transform_failing_mid_dump_waits_for_it_then_rolls_back(
    tmp_path: Path, legacy_url: str
) -> None:
    before, original = snapshot(legacy_url), fingerprint(legacy_url)
    env = env_for(tmp_path, legacy_url, DUMP_SLOW, CUTOVER_FAULT="transform:middle:error")
    failed = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert failed.returncode != 0
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("transform: ") and "rollback completed" in last, failed.stderr
    journal = journal_of(tmp_path)
    # The dump was still running when the transform failed; the window waited for its end line
    # before the rollback began.
    assert position(journal, "transform", "end") < position(journal, "backup", "end")
    assert position(journal, "backup", "end") < position(journal, "restore-database", "start")
    assert_rolled_back(tmp_path, legacy_url, original)
    assert not schema_exists(legacy_url, BUILD)
    # The same database takes a whole window afterwards.
    env.pop("CUTOVER_FAULT")
    again = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    check_rules(before, snapshot(legacy_url))


@pytest.mark.parametrize("then", ["rollback", "resume"])
def test_a_server_restart_with_dump_and_transform_running(
    tmp_path: Path, legacy_url: str, restart_cmd: str, then: str
) -> None:
    before, original = snapshot(legacy_url), fingerprint(legacy_url)
    env = env_for(
        tmp_path,
        legacy_url,
        DUMP_LATE,
        CUTOVER_FAULT="transform:middle:restart",
        CUTOVER_FAULT_CMD=restart_cmd,
    )
    failed = run_cli(["migrate-offline", "--yes", "--on-failure", "pause"], cwd=tmp_path, env=env)
    assert failed.returncode != 0
    journal = journal_of(tmp_path)
    ends = {j["step"]: j.get("outcome") for j in journal if j["event"] == "end"}
    assert ends["transform"] == "failed" and ends["backup"] == "failed", ends
    assert snapshot(legacy_url) == before, "the legacy schema is untouched in public"
    env.pop("CUTOVER_FAULT")
    recover(tmp_path, legacy_url, env, then, before, original)


def test_a_build_schema_left_by_another_window_is_refused_by_name(
    tmp_path: Path, legacy_url: str
) -> None:
    db = connect(legacy_url, "psycopg", application_name="tests overlap")
    try:
        db.execute(f'CREATE SCHEMA "{BUILD}"')
    finally:
        db.close()
    original = fingerprint(legacy_url)
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=app_env(tmp_path, legacy_url))
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("preflight: schema cutover_target already exists"), proc.stderr
    assert fingerprint(legacy_url) == original
    assert app_state(tmp_path) == ("v1", False)


def test_no_overlap_runs_each_step_in_line_and_the_dump_takes_every_job(
    tmp_path: Path, legacy_url: str
) -> None:
    before = snapshot(legacy_url)
    env = app_env(tmp_path, legacy_url, BACKUP_FORMAT="directory")
    done = run_cli(
        ["migrate-offline", "--yes", "--no-overlap", "--jobs", "2"], cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    check_rules(before, snapshot(legacy_url))
    assert app_state(tmp_path) == ("v2", False)
    journal = journal_of(tmp_path)
    # Each step ends before the next one starts, in the plan's order, and none says "beside".
    order = [(j["step"], j["event"]) for j in journal if j["event"] in ("start", "end")]
    for prior, after in [("backup", "backup-proof"), ("backup-proof", "deploy-schema"),
                         ("reset", "statistics"), ("statistics", "verify")]:  # fmt: skip
        assert order.index((prior, "end")) < order.index((after, "start")), order
    assert not any(j.get("beside_until") for j in journal)
    (backup_end,) = [j for j in journal if j["step"] == "backup" and j["event"] == "end"]
    assert backup_end["details"]["jobs"] == 2  # alone, the dump takes every job
    notes = " ".join(str(j.get("note", "")) for j in journal if j["event"] == "end")
    assert "beside" not in notes, notes  # no step says it ran beside the others
    assert "(beside)" not in done.stdout


def test_a_window_paused_with_the_overlap_resumes_in_line(tmp_path: Path, legacy_url: str) -> None:
    before = snapshot(legacy_url)
    env = app_env(tmp_path, legacy_url)
    paused = run_cli(["migrate-offline", "--yes", "--until", "transform"], cwd=tmp_path, env=env)
    assert paused.returncode == 0, paused.stdout + paused.stderr
    assert schema_exists(legacy_url, BUILD)
    resumed = run_cli(
        ["migrate-offline", "--resume", "--yes", "--no-overlap"], cwd=tmp_path, env=env
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    check_rules(before, snapshot(legacy_url))
    assert not schema_exists(legacy_url, BUILD)
    journal = journal_of(tmp_path)
    later = journal[position(journal, "reset", "start") :]
    assert position(later, "statistics", "end") < position(later, "verify", "start")
    assert not any(j.get("beside_until") for j in later)


@pytest.mark.parametrize("overlap", [True, False])
def test_the_dry_run_says_what_runs_beside_and_budgets_the_steps_in_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], overlap: bool
) -> None:
    settings = make_settings(tmp_path, "postgresql://nobody@127.0.0.1:1/nowhere")
    commands.migrate_offline(settings, dry=True, overlap=overlap)  # connects to nothing
    out = capsys.readouterr().out
    in_line = sum(s.budget(settings) for s in MIGRATE_OFFLINE if not s.beside_until)
    everything = sum(s.budget(settings) for s in MIGRATE_OFFLINE)
    if overlap:
        assert "backup  (budget 600s, beside the steps after it, joined before reset)" in out
        assert "once backup ends, joined before unfence" in out
        assert f"Window budget: {in_line:.0f}s (the steps in line)" in out
    else:
        assert "beside" not in out.split("On failure")[0]
        assert f"Window budget: {everything:.0f}s\n" in out
