"""NOTIFY_CMD hears the window's events in order, and never fails it; --until pauses a window."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from conftest import fingerprint, make_settings
from test_failures import app_env, app_state, assert_rolled_back, without_bookkeeping

from pgcutover import commands
from pgcutover.db import connect
from pgcutover.errors import CutoverError
from pgcutover.journal import read_journal
from pgcutover.notify import Plan, events_of
from steps.window import STEP_NAMES


def settings_with(tmp_path: Path, url: str, **extra: str):  # type: ignore[no-untyped-def]
    env = app_env(tmp_path, url, **extra)
    return make_settings(tmp_path, url, **{k: v for k, v in env.items() if k != "DATABASE_URL"})


def events(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "events.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def recorder(tmp_path: Path) -> str:
    # One JSON event per line from stdin, and the environment's view beside it.
    out = tmp_path / "events.jsonl"
    return f'cat >> {out} && echo >> {out} && echo "$PGCUTOVER_EVENT $PGCUTOVER_STEP" >> {out}.env'


def test_events_arrive_in_order_from_start_to_completion(tmp_path: Path, legacy_url: str) -> None:
    settings = settings_with(tmp_path, legacy_url, NOTIFY_CMD=recorder(tmp_path))
    commands.migrate_offline(settings, yes=True)
    got = events(tmp_path)
    names = [e["event"] for e in got]
    assert names[0] == "window-start" and names[-1] == "window-complete"
    ends = [e["line"]["step"] for e in got if e["event"] == "step-end"]  # type: ignore[index]
    # The dump and its proof run beside the window: their ends arrive among the others, before
    # unfence.
    assert sorted(ends, key=STEP_NAMES.index) == list(STEP_NAMES)
    assert ends.index("backup-proof") < ends.index("unfence")
    assert "failure" not in names and all(e["command"] == "migrate-offline" for e in got)
    assert all("@" in str(e["target"]) or "/" in str(e["target"]) for e in got)
    env_lines = (tmp_path / "events.jsonl.env").read_text().splitlines()
    assert env_lines[0] == "window-start preflight" and env_lines[-1].startswith("window-complete")
    assert app_state(tmp_path) == ("v2", False)


def test_a_failure_and_its_rollback_are_told(tmp_path: Path, legacy_url: str) -> None:
    original = fingerprint(legacy_url)
    settings = settings_with(
        tmp_path, legacy_url, NOTIFY_CMD=recorder(tmp_path), CUTOVER_FAULT="verify:after:error"
    )
    with pytest.raises(CutoverError, match="verify"):
        commands.migrate_offline(settings, yes=True)
    names = [e["event"] for e in events(tmp_path)]
    failure = names.index("failure")
    assert names[0] == "window-start"
    assert names.index("rollback-start") > failure
    assert names[-1] == "rollback-complete"
    assert_rolled_back(tmp_path, legacy_url, original)


@pytest.mark.parametrize("notifier", ["exit 3", "sleep 30"])
def test_a_failing_or_hanging_notifier_never_fails_the_window(
    tmp_path: Path, legacy_url: str, notifier: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_with(tmp_path, legacy_url, NOTIFY_CMD=notifier, NOTIFY_TIMEOUT="0.2")
    run_id = commands.migrate_offline(settings, yes=True)
    lines = read_journal(settings.runs_dir / run_id / "journal.jsonl")
    assert {ln["step"] for ln in lines if ln.get("outcome") in ("ok", "skipped")} == set(STEP_NAMES)
    said = capsys.readouterr()
    assert "notify: NOTIFY_CMD" in said.out + said.err


def test_events_of_a_line() -> None:
    plan = Plan("preflight", "maintenance-off", "rollback-prepare", "rollback-finish")
    over = {"event": "end", "step": "backup", "outcome": "ok", "over_budget": True}
    assert events_of(over, plan) == ["step-end", "over-budget"]
    assert events_of({"event": "progress", "step": "backup"}, plan) == []
    assert events_of({"event": "paused", "step": "backup"}, plan) == ["window-paused"]


def test_until_pauses_after_the_step_and_resume_finishes(tmp_path: Path, legacy_url: str) -> None:
    settings = settings_with(tmp_path, legacy_url, NOTIFY_CMD=recorder(tmp_path))
    run_id = commands.migrate_offline(settings, yes=True, until="backup")
    lines = read_journal(settings.runs_dir / run_id / "journal.jsonl")
    ended = [ln["step"] for ln in lines if ln["event"] == "end"]
    # --until backup ends with the backup proven: its proof, beside it, is joined before pausing.
    assert ended == list(STEP_NAMES[: STEP_NAMES.index("backup-proof") + 1])
    assert lines[-1]["event"] == "paused" and lines[-1]["step"] == "backup"
    assert events(tmp_path)[-1]["event"] == "window-paused"
    db = connect(legacy_url, "psycopg")
    try:
        status = db.query("SELECT status FROM pgcutover.runs WHERE run = %s", [run_id])[0][0]
        legacy_still_public = db.query(
            "SELECT count(*) = 1 FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = 'UserMcpServerInstance' AND column_name = 'userId'"
        )
    finally:
        db.close()
    assert status == "paused" and legacy_still_public[0][0]
    page = (settings.runs_dir / run_id / "report.html").read_text()
    assert "paused after backup: resume continues it" in page and "not finished" not in page
    assert (settings.backup_dir / run_id / "manifest.json").exists()
    assert app_state(tmp_path) == ("v1", True)  # maintenance stays on, as the runbook says
    assert commands.migrate_offline(settings, yes=True, resume=True) == run_id
    lines = read_journal(settings.runs_dir / run_id / "journal.jsonl")
    assert [ln["outcome"] for ln in lines if ln["step"] == "verify" and ln["event"] == "end"] == [
        "ok"
    ]
    assert app_state(tmp_path) == ("v2", False)


def test_a_resumed_window_counts_its_time_from_its_first_attempt(
    tmp_path: Path, legacy_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_with(tmp_path, legacy_url)
    run_id = commands.migrate_offline(settings, yes=True, until="transform")
    capsys.readouterr()
    time.sleep(2)  # maintenance stays on while paused: that is downtime too
    commands.migrate_offline(settings, yes=True, resume=True)
    said = " ".join(capsys.readouterr().out.split())
    found = re.search(
        rf"migrate-offline {run_id} — window 0:(\d\d) since its first attempt began "
        r"\(this attempt 0:(\d\d)\)",
        said,
    )
    assert found and int(found[1]) >= int(found[2]) + 2, said  # the pause is counted
    assert "backup .. done earlier" in said


def test_until_then_rollback_is_identical(tmp_path: Path, legacy_url: str) -> None:
    original = fingerprint(legacy_url)
    settings = settings_with(tmp_path, legacy_url)
    run_id = commands.migrate_offline(settings, yes=True, until="transform")
    commands.rollback(settings, run_id=run_id, yes=True)
    assert_rolled_back(tmp_path, legacy_url, original)


@pytest.mark.parametrize("silly", ["", "nope", "rollback-finish", "BACKUP"])
def test_until_a_silly_step_changes_nothing(tmp_path: Path, legacy_url: str, silly: str) -> None:
    original = fingerprint(legacy_url)
    settings = settings_with(tmp_path, legacy_url)
    with pytest.raises(CutoverError, match="^config: --until must name a window step"):
        commands.migrate_offline(settings, yes=True, until=silly)
    assert fingerprint(legacy_url) == original
    assert not settings.runs_dir.exists()


def test_until_preflight_changes_nothing_and_says_to_start_the_window(
    tmp_path: Path, legacy_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    original = fingerprint(legacy_url)
    settings = settings_with(tmp_path, legacy_url)
    commands.migrate_offline(settings, yes=True, until="preflight")
    said = " ".join(capsys.readouterr().out.split())
    # No resume or rollback to offer: both would refuse (nothing to resume, nothing changed).
    assert "nothing was changed" in said and "--resume" not in said, said
    assert without_bookkeeping(fingerprint(legacy_url)) == without_bookkeeping(original)
    assert app_state(tmp_path) == ("v1", False)
    run_id = commands.migrate_offline(settings, yes=True)  # the window it told us to start
    lines = read_journal(settings.runs_dir / run_id / "journal.jsonl")
    assert [ln["step"] for ln in lines if ln["event"] == "end"][-1] == "maintenance-off"


def test_a_slow_notifier_still_tells_how_the_window_ended(tmp_path: Path, legacy_url: str) -> None:
    # Each event takes 1 s and the window a few: the step ends left at its end wait 5 s at most,
    # then only what says how it ended goes out.
    slow = f"sleep 1; {recorder(tmp_path)}"
    settings = settings_with(tmp_path, legacy_url, NOTIFY_CMD=slow, NOTIFY_TIMEOUT="10")
    started = time.monotonic()
    commands.migrate_offline(settings, yes=True)
    names = [e["event"] for e in events(tmp_path)]
    assert names[0] == "window-start" and names[-1] == "window-complete", names
    assert names.count("step-end") < len(STEP_NAMES), names  # some were dropped for it
    assert time.monotonic() - started < 30


def test_a_hung_notifier_is_killed_when_the_run_ends(
    tmp_path: Path, legacy_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "hung-notifier.sh"  # its shell stays, named by this path, while it sleeps
    script.write_text("cat > /dev/null; sleep 1000\n")
    marker = str(script)
    settings = settings_with(
        tmp_path, legacy_url, NOTIFY_CMD=f"sh {script}", NOTIFY_TIMEOUT="86400"
    )
    commands.migrate_offline(settings, yes=True)
    said = capsys.readouterr()
    assert "still running 30 s after the run ended: killed" in said.out + said.err
    left = [p for p in Path("/proc").glob("[0-9]*/cmdline") if marker in read_cmdline(p)]
    assert not left, "the notifier's process was left behind"


def read_cmdline(path: Path) -> str:
    """Return a process's command line ('' once it is gone)."""
    try:
        return path.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
