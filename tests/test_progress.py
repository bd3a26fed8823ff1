"""Progress inside a long step: the estimate, the watcher's lines, and real steps reporting."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import invoke_argv, make_settings, operator_env, run_cli
from test_failures import app_env

from pgcutover.db import connect
from pgcutover.errors import CutoverError
from pgcutover.journal import Journal
from pgcutover.pgtools import pg_dump, pg_restore, pg_restore_list
from pgcutover.progress import (
    Eta,
    Progress,
    Reading,
    Watcher,
    describe,
    estimate,
    read_position,
)
from pgcutover.restore_entries import RestoreEntries
from pgcutover.settings import PROJECT_ROOT
from pgcutover.timeline import Timeline


def test_no_time_left_from_a_few_seconds_of_data() -> None:
    reading = Reading(done=50, total=100, unit="bytes")
    assert estimate(3.0, reading, None, (1.0, 10)) == Eta(None)
    # too little done, even after a while
    assert estimate(60.0, Reading(1, 100, "files"), None, (1.0, 0.5)).seconds is None


def test_time_left_from_the_rate_since_work_began() -> None:
    # Work began at 10 s (start-up before it is not speed): 40 units in 20 s = 2/s, 50 left.
    eta = estimate(30.0, Reading(50, 100, "rows"), None, (10.0, 10))
    assert eta.seconds == pytest.approx(25.0)
    assert eta.low is not None and eta.high is not None
    assert eta.low < 25.0 < eta.high


def test_the_forecast_counts_less_as_the_step_goes_on() -> None:
    early = estimate(12.0, Reading(10, 100, "rows"), 100.0, (2.0, 0.1))
    late = estimate(90.0, Reading(90, 100, "rows"), 100.0, (2.0, 0.1))
    rate_only_late = estimate(90.0, Reading(90, 100, "rows"), None, (2.0, 0.1))
    assert early.seconds is not None and late.seconds is not None
    assert early.high is not None and early.low is not None
    assert late.high is not None and late.low is not None
    # early on the forecast (88 s left) dominates; late, the rate does
    assert abs(early.seconds - 88.0) < abs(early.seconds - 10.8)
    assert late.seconds == pytest.approx(rate_only_late.seconds or 0, rel=0.15)
    # and the range narrows as it goes
    assert (late.high - late.low) / late.seconds < (early.high - early.low) / early.seconds


def test_only_a_forecast_gives_a_wide_range() -> None:
    eta = estimate(5.0, Reading(0, None, "bytes"), 65.0, None)
    assert eta.seconds == pytest.approx(60.0)
    assert eta.low is not None and eta.high is not None and eta.high - eta.low >= 60.0


def test_an_unknown_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="progress unit"):
        Progress().update(1, 2, unit="widgets")


def test_describe_says_amount_rate_and_range() -> None:
    text = describe(Reading(3 * 2**20, 12 * 2**20, "bytes", "dump"), Eta(70.0, 50.0, 90.0), 2**20)
    assert text == "dump: 3 MiB of 12 MiB (25%), 1 MiB/s, ~1:10 left (0:50–1:30)"


def test_the_watcher_journals_progress_lines_whose_done_grows(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "run", "20261130T000000Z-abcd")
    journal.open()
    progress = Progress()
    shown: list[tuple[str, float | None]] = []
    with Watcher(
        "transform",
        progress,
        journal.append,
        lambda text, fraction: shown.append((text, fraction)),
        every_s=0.05,
    ):
        for i in range(1, 7):
            progress.update(i, 6, unit="files", label=f"000{i}.sql")
            time.sleep(0.12)
    lines = [json.loads(x) for x in journal.path.read_text().splitlines()]
    assert lines and all(ln["event"] == "progress" and ln["step"] == "transform" for ln in lines)
    done = [ln["done"] for ln in lines]
    assert done == sorted(done) and done[-1] >= 5
    assert all(ln["total"] == 6 and ln["unit"] == "files" for ln in lines)
    assert all("eta_s" in ln for ln in lines)  # null while it cannot say
    assert shown and shown[-1][1] is not None and shown[-1][1] > 0.5


def test_a_failing_probe_never_fails_the_step(tmp_path: Path) -> None:
    def probe() -> Reading | None:
        raise RuntimeError("probe broke")

    journal = Journal(tmp_path / "run", "20261130T000000Z-abcd")
    journal.open()
    progress = Progress()
    progress.update(1, 2, unit="tables")
    watcher = Watcher("verify", progress, journal.append, lambda *_: None, probe=probe)
    fields = watcher.tick()
    assert fields is not None and fields["done"] == 1.0  # the step's own account still counts


def test_without_a_tty_progress_prints_a_line_every_10_seconds_at_most(
    capsys: Any,
) -> None:
    timeline = Timeline.for_steps("t", [("backup", 60.0)])
    timeline.start("backup")
    for i in range(20):
        timeline.progress("backup", f"{i} MiB", None)
    out = [ln for ln in capsys.readouterr().out.splitlines() if "backup .." in ln]
    assert len([ln for ln in out if "MiB" in ln]) == 1


def slow_migration(tmp_path: Path, seconds: int) -> Path:
    """The shipped migration plus one transform file that sleeps: a step made slow on purpose."""
    dst = tmp_path / "migration"
    shutil.copytree(PROJECT_ROOT / "sql" / "migration", dst)
    (dst / "0010_slow.sql").write_text(f"-- Test only: a slow file.\nSELECT pg_sleep({seconds});\n")
    plan = (dst / "plan.toml").read_text()
    plan = plan.replace(
        '"0009_validate_foreign_keys.sql",',
        '"0009_validate_foreign_keys.sql",\n    "0010_slow.sql",',
        1,
    )
    (dst / "plan.toml").write_text(plan)
    return dst


def test_a_slow_step_journals_progress_and_status_shows_it_from_another_process(
    tmp_path: Path, legacy_url: str
) -> None:
    env = {**app_env(tmp_path, legacy_url), "MIGRATION_DIR": str(slow_migration(tmp_path, 14))}
    window = subprocess.Popen(
        invoke_argv(["migrate-offline", "--yes"]),
        cwd=tmp_path,
        env=operator_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        status_out = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and window.poll() is None:
            time.sleep(1)
            journals = list((tmp_path / "runs").glob("*/journal.jsonl"))
            lines = [json.loads(x) for j in journals for x in j.read_text().splitlines() if x]
            if (
                sum(1 for ln in lines if ln["event"] == "progress" and ln["step"] == "transform")
                >= 2
            ):
                status = run_cli(["status"], cwd=tmp_path, env={**env, "COLUMNS": "400"})
                status_out = status.stdout
                break
        out, err = window.communicate(timeout=180)
    finally:
        if window.poll() is None:
            window.kill()
    assert window.returncode == 0, out + err
    assert "file 9/9 0010_slow.sql" in status_out and "8 of 9 files" in status_out, status_out
    journal = next((tmp_path / "runs").glob("*/journal.jsonl"))
    lines = [json.loads(x) for x in journal.read_text().splitlines()]
    progress = [ln for ln in lines if ln["event"] == "progress" and ln["step"] == "transform"]
    assert len(progress) >= 2  # at least every 5 s over a 14 s file
    assert [p["done"] for p in progress] == sorted(p["done"] for p in progress)
    assert all(p["unit"] == "files" and p["total"] == 9 and "eta_s" in p for p in progress)
    stamps = [datetime.fromisoformat(p["at"]) for p in progress]
    gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]
    assert all(g < 7 for g in gaps), gaps
    # What watching cost is journaled with the step's end, for the bench's ≤ 2 % check.
    end = next(ln for ln in lines if ln["event"] == "end" and ln["step"] == "transform")
    assert 0 < end["details"]["progress_s"] < end["duration_s"]  # its bound: invoke bench
    # Without a TTY, the transform's progress printed a line every 10 s at most.
    said = [ln for ln in out.splitlines() if ln.startswith("  transform ..")]
    assert 1 <= len(said) <= 2, said


class RecordingEntries(RestoreEntries):
    """Count entries as pg_restore does, keeping what done read after every line."""

    def __init__(self, total: int) -> None:
        super().__init__(total)
        self.seen: list[int] = []

    def feed(self, line: str) -> None:
        super().feed(line)
        self.seen.append(self.done)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_restore_counts_its_archive_entries_up_to_the_total(
    tmp_path: Path, legacy_url: str, empty_url: str, jobs: int
) -> None:
    source = make_settings(tmp_path, legacy_url)
    dump = tmp_path / "db.dump"
    pg_dump(source, dump, snapshot=None, exclude_schemas=[], app_name="test")
    total = len(pg_restore_list(source, dump, schema="public").entries)
    entries = RecordingEntries(total)
    target = make_settings(tmp_path, empty_url)
    pg_restore(target, dump, jobs=jobs, schema="public", app_name="test", entries=entries)
    assert total > 20
    assert entries.seen == sorted(entries.seen)  # done only grows
    # Before pg_restore exits, every entry but (one job) the last running one is seen finished.
    assert entries.seen[-1] >= total - 1 and entries.done == total
    assert public_tables(empty_url) == public_tables(legacy_url)


def public_tables(url: str) -> list[str]:
    db = connect(url, "psycopg")
    try:
        return [
            str(r[0])
            for r in db.query(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
    finally:
        db.close()


def test_a_failing_verbose_restore_names_its_error_not_its_chatter(
    tmp_path: Path, legacy_url: str
) -> None:
    settings = make_settings(tmp_path, legacy_url)
    dump = tmp_path / "db.dump"
    pg_dump(settings, dump, snapshot=None, exclude_schemas=[], app_name="test")
    entries = RestoreEntries(len(pg_restore_list(settings, dump, schema="public").entries))
    with pytest.raises(CutoverError) as err:  # the tables are still there: the first CREATE fails
        pg_restore(settings, dump, jobs=2, schema="public", app_name="test", entries=entries)
    assert "pg_restore exited 1: pg_restore: error:" in err.value.cause
    assert "already exists" in err.value.cause
    assert entries.done < entries.total


def test_a_readers_position_in_a_file_is_seen_from_outside(tmp_path: Path) -> None:
    data = tmp_path / "big.dump"
    data.write_bytes(b"x" * 100_000)
    assert read_position(data) is None  # nobody has it open
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"f = open({str(data)!r}, 'rb', buffering=0); f.read(4096); input()",
        ],
        stdin=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while read_position(data) != 4096 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert read_position(data) == 4096
    finally:
        reader.communicate("\n", timeout=10)


def test_entries_in_interleaved_worker_lines_are_still_counted() -> None:
    entries = RestoreEntries(4)
    for line in (
        'pg_restore: creating TABLE "public.a"',
        "pg_restore: entering main parallel loop",
        "pg_restore:pg_restore:  finished item 1 TABLE DATA public a",  # two workers at once
        " finished item 2 INDEX public a_i",
        "pg_restore: finished item 3 ACL public TABLE a",
    ):
        entries.feed(line)
    assert entries.done == 4
    entries.feed("pg_restore: finished main parallel loop")
    assert entries.done == 4
