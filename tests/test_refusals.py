"""Each refusal: non-zero exit, one line naming step and cause, no traceback, database unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import fingerprint, make_settings, run_cli
from terminal import Terminal

from pgcutover import commands, reports
from pgcutover.db import DB_ERRORS, connect


def assert_refused(proc, step: str, cause: str) -> None:
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert lines and lines[-1].startswith(f"{step}: ") and cause in lines[-1], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def cli_env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "BACKUP_DIR": str(tmp_path / "backups"),
        "RUNS_DIR": str(tmp_path / "runs"),
        **extra,
    }


@pytest.mark.parametrize(
    "case, extra, step, cause",
    [
        ("pg_dump missing", {"PG_BINDIR": "/nonexistent/bin"}, "preflight", "pg_dump not found"),
        ("unknown driver", {"DB_DRIVER": "mysql"}, "config", "unknown DB_DRIVER 'mysql'"),
        (
            "backup dir unwritable",
            {"BACKUP_DIR": "/etc/hostname/backups"},
            "preflight",
            "BACKUP_DIR",
        ),
    ],
)
def test_refusal_leaves_database_unchanged(
    tmp_path: Path, legacy_url: str, case: str, extra: dict[str, str], step: str, cause: str
) -> None:
    before = fingerprint(legacy_url)
    proc = run_cli(
        ["migrate-offline", "--yes"], cwd=tmp_path, env=cli_env(tmp_path, legacy_url, **extra)
    )
    assert_refused(proc, step, cause)
    assert fingerprint(legacy_url) == before, case


def test_unknown_profile(tmp_path: Path, legacy_url: str) -> None:
    before = fingerprint(legacy_url)
    proc = run_cli(
        ["migrate-offline", "--yes", "--env", "nope"],
        cwd=tmp_path,
        env=cli_env(tmp_path, legacy_url),
    )
    assert_refused(proc, "config", "unknown profile 'nope'")
    assert fingerprint(legacy_url) == before


@pytest.mark.parametrize("task", ["migrate-offline", "rollback"])
def test_an_empty_profile_name_is_refused_not_defaulted(
    tmp_path: Path, legacy_url: str, task: str
) -> None:
    # --env "$PROFILE" with PROFILE unset: the default profile (here the environment's
    # DATABASE_URL) must not be acted on.
    before = fingerprint(legacy_url)
    proc = run_cli([task, "--yes", "--env", ""], cwd=tmp_path, env=cli_env(tmp_path, legacy_url))
    assert_refused(proc, "config", "--env needs a profile name")
    assert fingerprint(legacy_url) == before


def test_profile_file_is_read_and_environment_wins(tmp_path: Path, legacy_url: str) -> None:
    (tmp_path / ".env.staging").write_text(f"DATABASE_URL={legacy_url}\nDB_DRIVER=mysql\n")
    proc = run_cli(["migrate-offline", "--dry-run", "--env", "staging"], cwd=tmp_path, env={})
    assert_refused(proc, "config", "unknown DB_DRIVER 'mysql'")
    proc = run_cli(
        ["migrate-offline", "--dry-run", "--env", "staging"],
        cwd=tmp_path,
        env={"DB_DRIVER": "pg8000"},
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        legacy_url.split(":")[2].split("@")[0] not in proc.stdout + proc.stderr
    )  # the password is masked


def test_no_tty_and_no_yes_refuses(tmp_path: Path, legacy_url: str) -> None:
    before = fingerprint(legacy_url)
    proc = run_cli(["migrate-offline"], cwd=tmp_path, env=cli_env(tmp_path, legacy_url))
    assert_refused(proc, "migrate-offline", "no TTY")
    assert fingerprint(legacy_url) == before


def test_unreachable_database(tmp_path: Path) -> None:
    url = "postgresql://someone:s3cr3t-pw@127.0.0.1:1/nowhere"
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=cli_env(tmp_path, url))
    assert_refused(proc, "preflight", "cannot connect to 127.0.0.1:1/nowhere")
    assert "s3cr3t-pw" not in proc.stdout + proc.stderr


def test_empty_database_is_refused(tmp_path: Path, empty_url: str) -> None:
    before = fingerprint(empty_url)
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=cli_env(tmp_path, empty_url))
    assert_refused(proc, "preflight", "holds no application tables")
    assert fingerprint(empty_url) == before


def test_migrated_database_is_refused(tmp_path: Path, legacy_url: str) -> None:
    commands.migrate_offline(make_settings(tmp_path / "first", legacy_url), yes=True)
    before = fingerprint(legacy_url)
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=cli_env(tmp_path, legacy_url))
    assert_refused(proc, "preflight", "already-migrated schema")
    assert fingerprint(legacy_url) == before


def test_concurrent_run_exits_at_once_naming_the_holder(tmp_path: Path, legacy_url: str) -> None:
    from pgcutover.lock import LOCK_KEY

    holder = connect(
        legacy_url, "psycopg", application_name="pgcutover 20990101T000000Z-beef migrate-offline"
    )
    try:
        assert holder.query("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])[0][0]
        before = fingerprint(legacy_url)
        proc = run_cli(
            ["migrate-offline", "--yes"],
            cwd=tmp_path,
            env=cli_env(tmp_path, legacy_url),
            timeout=60,
        )
        assert_refused(proc, "preflight", "another pgcutover run holds the lock")
        assert "20990101T000000Z-beef" in proc.stderr
        assert fingerprint(legacy_url) == before
    finally:
        holder.close()


def test_audit_is_read_only_and_counts_what_rules_bend(tmp_path: Path, legacy_url: str) -> None:
    before = fingerprint(legacy_url)
    findings = {f["finding"]: f["rows"] for f in reports.audit(make_settings(tmp_path, legacy_url))}
    db = connect(legacy_url, "psycopg")
    try:
        both = db.query(
            """SELECT count(*) FROM "UserMcpServerInstance" WHERE "authType" = 'BOTH'"""
        )[0][0]
        null_org_logs = db.query(
            """SELECT count(*) FROM "McpServerRequestLog" WHERE "organizationId" IS NULL"""
        )[0][0]
    finally:
        db.close()
    assert findings["UserMcpServerInstance.authType BOTH becomes OAUTH"] == both > 0
    assert (
        findings["request logs without organizationId, resolved through their instance"]
        == null_org_logs
        > 0
    )
    assert (
        findings["users with neither name nor email (personal org named 'User's Workspace')"] >= 3
    )
    assert fingerprint(legacy_url) == before


def test_concurrent_rollback_is_refused(tmp_path: Path, legacy_url: str) -> None:
    from pgcutover.lock import LOCK_KEY

    env = cli_env(tmp_path, legacy_url)
    assert run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env).returncode == 0
    holder = connect(
        legacy_url, "psycopg", application_name="pgcutover 20990101T000000Z-cafe rollback"
    )
    try:
        assert holder.query("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])[0][0]
        before = fingerprint(legacy_url)
        proc = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env, timeout=60)
        assert_refused(proc, "rollback", "another pgcutover run holds the lock")
        assert fingerprint(legacy_url) == before
    finally:
        holder.close()


def test_other_roles_sessions_need_pg_signal_backend_then_are_fenced(
    tmp_path: Path, cluster, legacy_url: str
) -> None:
    from conftest import READER, READER_PASSWORD, admin

    reader_url = legacy_url.replace(
        legacy_url.split("@")[0], f"postgresql://{READER}:{READER_PASSWORD}"
    )
    app_session = connect(reader_url, "psycopg", application_name="the app")
    try:
        before = fingerprint(legacy_url)
        proc = run_cli(
            ["migrate-offline", "--yes"], cwd=tmp_path, env=cli_env(tmp_path, legacy_url)
        )
        assert_refused(proc, "preflight", "GRANT pg_signal_backend TO cutover_app")
        assert fingerprint(legacy_url) == before
        a = admin(cluster)
        try:
            a.execute("GRANT pg_signal_backend TO cutover_app")
            proc = run_cli(
                ["migrate-offline", "--yes"], cwd=tmp_path, env=cli_env(tmp_path, legacy_url)
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert "1 sessions ended" in proc.stdout
        finally:
            a.execute("REVOKE pg_signal_backend FROM cutover_app")
            a.close()
        with pytest.raises(DB_ERRORS):
            app_session.query("SELECT 1")  # the fence ended it
    finally:
        app_session.close()


def test_a_rollback_left_unfinished_is_finished_before_a_new_window(
    tmp_path: Path, legacy_url: str
) -> None:
    db = connect(legacy_url, "psycopg")
    try:  # what a rollback killed between its swap and rollback-finish leaves behind
        db.execute("CREATE SCHEMA cutover_discard")
        db.execute("CREATE TABLE cutover_discard.migrated (id int)")
    finally:
        db.close()
    before = fingerprint(legacy_url)
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=cli_env(tmp_path, legacy_url))
    assert_refused(proc, "preflight", "schema cutover_discard is left by a rollback")
    assert fingerprint(legacy_url) == before


@pytest.mark.parametrize("answer", [b"n\n", b"\x04", b"\x03"], ids=["no", "ctrl-d", "ctrl-c"])
def test_no_at_the_prompt_changes_nothing(tmp_path: Path, legacy_url: str, answer: bytes) -> None:
    before = fingerprint(legacy_url)
    term = Terminal(["migrate-offline"], cwd=tmp_path, env=cli_env(tmp_path, legacy_url))
    term.wait_for_text("[y/N]")
    term.type(answer)
    assert term.wait() == 1
    last = term.text().strip().splitlines()[-1]
    assert last == "migrate-offline: not confirmed: nothing was changed", term.text()
    assert fingerprint(legacy_url) == before
    assert not list((tmp_path / "runs").glob("*/journal.jsonl"))
