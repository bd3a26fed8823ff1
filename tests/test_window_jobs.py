"""The window's --jobs: silly values and more than the server has room for are refused before
anything changes; a given number is what verify and preflight used."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import admin, fingerprint, make_settings, run_cli
from test_refusals import assert_refused, cli_env

from pgcutover import commands
from pgcutover.errors import CutoverError
from pgcutover.journal import read_journal
from pgcutover.sandbox.cluster import LocalCluster
from pgcutover.window_jobs import FREE_NOW_SQL, connections_free_now, resolve_jobs


@pytest.mark.parametrize("jobs", ["0", "-1", "65", "abc", "2.5", "1e3", " ", "", "1_0", "\uff12"])
def test_silly_jobs_is_one_line_and_changes_nothing(
    tmp_path: Path, legacy_url: str, jobs: str
) -> None:
    before = fingerprint(legacy_url)
    proc = run_cli(
        ["migrate-offline", "--yes", "--jobs", jobs],
        cwd=tmp_path,
        env=cli_env(tmp_path, legacy_url),
    )
    assert_refused(proc, "migrate-offline", "--jobs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert fingerprint(legacy_url) == before


def test_more_jobs_than_free_connections_is_refused_by_preflight(
    tmp_path: Path, legacy_url: str, cluster: LocalCluster
) -> None:
    before = fingerprint(legacy_url)
    others = []
    db = admin(cluster)
    try:
        free = int(db.query(FREE_NOW_SQL)[0][0])  # slots no client holds
        # Leave room for the window's own connections but not for 64 jobs.
        for _ in range(max(0, free - 64 - 6 + 10)):
            others.append(admin(cluster))
        with pytest.raises(CutoverError) as failed:
            commands.migrate_offline(make_settings(tmp_path, legacy_url), yes=True, jobs=64)
    finally:
        for other in others:
            other.close()
        db.close()
    assert failed.value.step == "preflight"
    assert "--jobs 64 needs 64 connections" in str(failed.value)
    assert fingerprint(legacy_url) == before


def test_a_window_with_every_free_connection_taken_by_its_jobs_completes(
    tmp_path: Path, legacy_url: str, cluster: LocalCluster
) -> None:
    """The dump beside the transform holds --jobs connections while the index builds want as
    many: the builds take what is free then, never a connection the server does not have."""
    jobs, others = 8, []
    db = admin(cluster)
    try:
        free = int(db.query(FREE_NOW_SQL)[0][0])
        for _ in range(free - jobs - 6):  # room for 8, no more
            others.append(admin(cluster))
        settings = make_settings(tmp_path, legacy_url, BACKUP_FORMAT="directory")
        run_id = commands.migrate_offline(settings, yes=True, jobs=str(jobs))
    finally:
        for other in others:
            other.close()
        db.close()
    ends = {
        ln["step"]: ln
        for ln in read_journal(settings.runs_dir / run_id / "journal.jsonl")
        if ln["event"] == "end"
    }
    assert ends["preflight"]["details"]["jobs"] == jobs
    side = [f["connections"] for f in ends["transform"]["details"]["files"] if "connections" in f]
    assert len(side) == 2 and all(1 <= n <= jobs for n in side)  # keys, then validations
    report = json.loads((settings.runs_dir / run_id / "report.json").read_text(encoding="utf-8"))
    assert report["passed"] and all(t["match"] for t in report["tables"])


@pytest.mark.parametrize("left, builds", [(10, 7), (3, 0), (1, 0)])
def test_side_by_side_statements_take_only_the_connections_free_then(
    cluster: LocalCluster, left: int, builds: int
) -> None:
    """With `left` slots free, side-by-side builds open at most left − 3 (the window's spare);
    none, and they run on the step's own connection."""
    others = []
    db = admin(cluster)
    try:
        free = db.query(FREE_NOW_SQL)[0][0]
        for _ in range(50):  # the backends of connections just closed take a moment to go
            time.sleep(0.2)
            free, was = db.query(FREE_NOW_SQL)[0][0], free
            if free == was:
                break
        for _ in range(int(free) - left):
            others.append(admin(cluster))
        assert connections_free_now(db, 8) == builds
    finally:
        for other in others:
            other.close()
        db.close()


def test_jobs_reach_preflight_and_verify(tmp_path: Path, legacy_url: str) -> None:
    settings = make_settings(tmp_path, legacy_url)
    run_id = commands.migrate_offline(settings, yes=True, jobs="1")
    run_dir = settings.runs_dir / run_id
    ends = {
        ln["step"]: ln for ln in read_journal(run_dir / "journal.jsonl") if ln["event"] == "end"
    }
    assert ends["preflight"]["details"]["jobs"] == 1
    # Each step's WAL is measured (the forecast's checkpoints): the transform writes, fence not.
    assert ends["transform"]["details"]["wal_bytes"] > 0
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert report["jobs"] == 1 and report["passed"]
    assert all(t["match"] for t in report["tables"])


class FreeSlots:
    """A stand-in for the one query resolve_jobs asks: (free slots before its own, max)."""

    def __init__(self, free: int, most: int = 100) -> None:
        self.row = (free, most)

    def query(self, sql: str, params: object = None) -> list[tuple[int, int]]:
        return [self.row]


def test_jobs_are_bounded_by_the_free_connections() -> None:
    # 12 free, less the window's own 6: 6 for jobs.
    assert resolve_jobs(FreeSlots(12), 6, "preflight") == 6  # type: ignore[arg-type]
    with pytest.raises(CutoverError, match="--jobs 7 needs 7 connections .* give --jobs 6"):
        resolve_jobs(FreeSlots(12), 7, "preflight")  # type: ignore[arg-type]
    # Unasked: this machine's cores, never more than the room.
    assert resolve_jobs(FreeSlots(7), None, "preflight") == 1  # type: ignore[arg-type]
    with pytest.raises(CutoverError, match="no connection free for the window's work"):
        resolve_jobs(FreeSlots(6), None, "preflight")  # type: ignore[arg-type]


def test_rehearse_refuses_silly_jobs_naming_itself(tmp_path: Path, legacy_url: str) -> None:
    before = fingerprint(legacy_url)
    proc = run_cli(
        ["rehearse", "--yes", "--jobs", "abc"], cwd=tmp_path, env=cli_env(tmp_path, legacy_url)
    )
    assert_refused(proc, "rehearse", "--jobs 'abc' is not a whole number")
    assert fingerprint(legacy_url) == before
