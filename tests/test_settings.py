"""Settings read from the environment and profiles: the window's memory."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import make_settings

from pgcutover import commands
from pgcutover.db import connect
from pgcutover.errors import CutoverError
from pgcutover.settings import PROJECT_ROOT, load_settings
from pgcutover.window_session import tune_window_session


@pytest.mark.parametrize(
    "raw, cause",
    [
        ("lots", "is not a size"),
        ("256mb", "is not a size"),
        ("-1MB", "is not a size"),
        ("1.5GB", "is not a size"),
        ("512kB", "is out of range"),
        ("9999999GB", "is out of range"),
    ],
)
def test_a_silly_window_memory_is_refused_in_one_line(tmp_path: Path, raw: str, cause: str) -> None:
    with pytest.raises(CutoverError, match=f"^config: WINDOW_WORK_MEM='{re.escape(raw)}' {cause}"):
        load_settings(None, base_dir=tmp_path, environ={"WINDOW_WORK_MEM": raw})


def test_window_memory_defaults_and_reads_a_profile(tmp_path: Path) -> None:
    assert load_settings(None, base_dir=tmp_path, environ={}).window_session == {
        "work_mem": "128MB",
        "maintenance_work_mem": "1GB",
        "jit": "off",
    }
    chosen = load_settings(
        None, base_dir=tmp_path, environ={"WINDOW_MAINTENANCE_WORK_MEM": " 4GB "}
    )
    assert chosen.window_session["maintenance_work_mem"] == "4GB"
    assert (
        load_settings(None, base_dir=tmp_path, environ={"WINDOW_JIT": " On "}).window_session["jit"]
        == "on"
    )


@pytest.mark.parametrize("raw", ["no", "0", "false", "auto"])
def test_a_window_jit_other_than_on_or_off_is_refused_in_one_line(tmp_path: Path, raw: str) -> None:
    with pytest.raises(
        CutoverError, match=f"^config: WINDOW_JIT='{re.escape(raw)}' is not on or off"
    ):
        load_settings(None, base_dir=tmp_path, environ={"WINDOW_JIT": raw})


def test_window_memory_is_raised_and_jit_set_for_the_transaction_only(
    legacy_url: str,
) -> None:
    db = connect(legacy_url, "psycopg")
    try:
        db.execute("SET work_mem = '8MB'")
        with db.transaction():
            tune_window_session(
                db, {"work_mem": "1MB", "maintenance_work_mem": "300MB", "jit": "off"}
            )
            assert db.query("SHOW work_mem")[0][0] == "8MB"  # the server's is larger: kept
            assert db.query("SHOW maintenance_work_mem")[0][0] == "300MB"
            assert db.query("SHOW jit")[0][0] == "off"
        assert db.query("SHOW maintenance_work_mem")[0][0] != "300MB"  # SET LOCAL: gone
        assert db.query("SHOW jit")[0][0] == "on"
    finally:
        db.close()


# An invariant that fails unless the transaction runs with the window's settings.
SESSION_INVARIANT = """
SELECT 'jit is ' || current_setting('jit') WHERE current_setting('jit') <> 'off'
UNION ALL
SELECT 'work_mem is ' || current_setting('work_mem')
 WHERE pg_size_bytes(current_setting('work_mem')) < pg_size_bytes('128MB');
"""


def test_verify_runs_its_invariants_with_the_window_memory_and_no_jit(
    tmp_path: Path, legacy_url: str
) -> None:
    dst = tmp_path / "migration"
    shutil.copytree(PROJECT_ROOT / "sql" / "migration", dst)
    (dst / "verify" / "0099_window_session.sql").write_text(SESSION_INVARIANT)
    plan = dst / "plan.toml"
    plan.write_text(
        plan.read_text().replace(
            '"verify/0003_legacy_columns_accounted.sql",',
            '"verify/0003_legacy_columns_accounted.sql",\n    "verify/0099_window_session.sql",',
        )
    )
    commands.migrate_offline(make_settings(tmp_path, legacy_url, MIGRATION_DIR=str(dst)), yes=True)
    db = connect(legacy_url, "psycopg")
    try:  # the window passed verify: the target is live
        assert db.query("SELECT count(*) FROM public.\"Organization\" WHERE \"isPersonal\"")[0][0]
    finally:
        db.close()


@pytest.mark.parametrize("raw", ["0", "10", "fast", "-1", "1.5", "gzip"])
def test_a_backup_compression_other_than_a_gzip_level_is_refused(tmp_path: Path, raw: str) -> None:
    with pytest.raises(CutoverError, match=f"^config: BACKUP_COMPRESS='{re.escape(raw)}' is not"):
        load_settings(None, base_dir=tmp_path, environ={"BACKUP_COMPRESS": raw})


@pytest.mark.parametrize("raw", ["tar", "plain", "dir", "custom,directory", "1"])
def test_a_backup_format_other_than_custom_or_directory_is_refused(
    tmp_path: Path, raw: str
) -> None:
    # plain and tar are pg_dump's too, but have no compressed blocks to prove by reading back.
    with pytest.raises(CutoverError, match=f"^config: BACKUP_FORMAT='{re.escape(raw)}' is not"):
        load_settings(None, base_dir=tmp_path, environ={"BACKUP_FORMAT": raw})


def test_the_backup_is_a_directory_dump_unless_told(tmp_path: Path) -> None:
    assert load_settings(None, base_dir=tmp_path, environ={}).backup_format == "directory"
    told = load_settings(None, base_dir=tmp_path, environ={"BACKUP_FORMAT": " Custom "})
    assert told.backup_format == "custom"


def test_the_backup_compresses_at_the_measured_level_unless_told(tmp_path: Path) -> None:
    assert load_settings(None, base_dir=tmp_path, environ={}).backup_compress == 1
    told = load_settings(None, base_dir=tmp_path, environ={"BACKUP_COMPRESS": " 9 "})
    assert told.backup_compress == 9


@pytest.mark.parametrize(
    "extra, cause",
    [
        (
            {"MAINTENANCE_ON_CMD": "true"},
            "MAINTENANCE_ON_CMD is set but MAINTENANCE_OFF_CMD is not",
        ),
        (
            {"MAINTENANCE_OFF_CMD": "true"},
            "MAINTENANCE_OFF_CMD is set but MAINTENANCE_ON_CMD is not",
        ),
        ({"DEPLOY_CMD": "deploy v2", "DEPLOY_VERSION": "v2"}, "DEPLOY_CMD has no {version}"),
    ],
)
def test_app_commands_that_cannot_undo_themselves_are_refused(
    tmp_path: Path, legacy_url: str, extra: dict[str, str], cause: str
) -> None:
    settings = make_settings(tmp_path, legacy_url, CURRENT_VERSION_CMD="echo v1", **extra)
    with pytest.raises(CutoverError, match=f"^config: {re.escape(cause)}"):
        commands.migrate_offline(settings, yes=True)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
