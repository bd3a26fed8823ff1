"""Small pure pieces: masking, profiles, the plan's single order."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli

from pgcutover.errors import CutoverError
from pgcutover.migration import load_migration
from pgcutover.numbers import ascii_float, ascii_int
from pgcutover.redact import mask, register_secret
from pgcutover.settings import load_settings
from steps.window import STEP_NAMES


def test_mask_hides_url_and_keyword_passwords() -> None:
    assert mask("postgresql://app:hunter2@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert mask("host=db password='a b' user=x") == "host=db password=*** user=x"
    # Any *password / *passwd key, as a command's output writes it (env, JSON, YAML).
    assert mask("PGPASSWORD=pw1 psql") == "PGPASSWORD=*** psql"
    assert mask('{"password": "p w2", "user": "a"}') == '{"password": ***, "user": "a"}'
    assert mask("DB_PASSWD: pw3") == "DB_PASSWD: ***"
    assert mask('password authentication failed for user "x"').endswith('user "x"')
    register_secret("s3cr3t-value")
    assert "s3cr3t-value" not in mask("failed near s3cr3t-value")
    # An unencoded "@" in the password: masked up to the host, the text after it left alone.
    assert (
        mask("postgresql://app:p@ss@w0rd@db:5432/x, mail me@x.test")
        == "postgresql://app:***@db:5432/x, mail me@x.test"
    )


def test_a_url_with_an_unencoded_at_in_its_password_is_refused_unprinted(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "postgresql://app:p@ssw0rd-tail@127.0.0.1:1/x"}
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode != 0 and last.startswith("config: DATABASE_URL has more than one '@'")
    assert "%40" in last
    assert "ssw0rd" not in proc.stdout + proc.stderr


def test_profile_then_environment(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BACKUP_DIR=/b1\nRUNS_DIR=r\n")
    (tmp_path / ".env.prod").write_text("BACKUP_DIR=/b2\n")
    assert load_settings(None, base_dir=tmp_path, environ={}).backup_dir == Path("/b1")
    assert load_settings(None, base_dir=tmp_path, environ={}).runs_dir == tmp_path / "r"
    assert load_settings("prod", base_dir=tmp_path, environ={}).backup_dir == Path("/b2")
    assert load_settings(
        None, base_dir=tmp_path, environ={"CUTOVER_ENV": "prod"}
    ).backup_dir == Path("/b2")
    assert load_settings(
        "prod", base_dir=tmp_path, environ={"BACKUP_DIR": "/b3"}
    ).backup_dir == Path("/b3")
    with pytest.raises(CutoverError, match="unknown profile 'nope'"):
        load_settings("nope", base_dir=tmp_path, environ={})
    # A profile is a name beside tasks.py, never a path: .env.../../x would leave base_dir.
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".env.x").write_text("BACKUP_DIR=/elsewhere\n")
    for name in ("../sub/.env.x", "a/b", "..", "x y"):
        with pytest.raises(CutoverError, match="is not a profile name"):
            load_settings(name, base_dir=tmp_path, environ={})
        with pytest.raises(CutoverError, match="is not a profile name"):
            load_settings(None, base_dir=tmp_path, environ={"CUTOVER_ENV": name})


def test_budgets_from_config(tmp_path: Path) -> None:
    s = load_settings(
        None, base_dir=tmp_path, environ={"BUDGET_DEPLOY_SCHEMA": "12", "BUDGET_BACKUP": "900"}
    )
    assert s.budgets == {"deploy-schema": 12.0, "backup": 900.0}
    with pytest.raises(CutoverError, match="BUDGET_BACKUP"):
        load_settings(None, base_dir=tmp_path, environ={"BUDGET_BACKUP": "soon"})


def test_plan_order_and_migration_files() -> None:
    assert STEP_NAMES == (
        "preflight",
        "maintenance-on",
        "fence",
        "backup",
        "backup-proof",
        "deploy-schema",
        "transform",
        "reset",
        "statistics",
        "verify",
        "unfence",
        "deploy-app",
        "smoke",
        "maintenance-off",
    )
    m = load_migration(load_settings(None, base_dir=Path("/nonexistent"), environ={}).migration_dir)
    assert (m.aside_schema, m.build_schema) == ("cutover_legacy", "cutover_target")
    # Before reset the transform builds the target apart; verify reads both sides after it.
    for f in m.transform:
        assert m.build_schema in f.text and m.aside_schema not in f.text, f.name
    for f in (*m.invariants, m.reconcile):
        assert m.aside_schema in f.text or f.name.startswith("0002_schema"), f.name


def test_dsn_forms_and_pg_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from pgcutover.db import describe_target, dsn_without_password, parse_dsn

    monkeypatch.setenv("PGPORT", "6543")
    assert parse_dsn("host=db user=app dbname=x password=pw") == {
        "host": "db",
        "user": "app",
        "dbname": "x",
        "password": "pw",
        "port": "6543",
    }
    assert parse_dsn("postgresql://app:pw@db:5433/x")["port"] == "5433"
    conninfo, password = dsn_without_password("postgresql://app:p%40ss@db/x")
    assert password == "p@ss" and "p@ss" not in conninfo
    assert describe_target("postgresql://app:pw@db:5433/x") == "db:5433/x as app"


def test_status_shows_a_step_stopped_before_it_started_without_a_budget() -> None:
    from pgcutover.reports import step_summary

    lines: list[dict[str, object]] = [
        {"step": "transform", "event": "start", "at": "t0", "budget_s": 900},
        {"step": "transform", "event": "end", "at": "t1", "outcome": "ok", "duration_s": 2.0,
         "budget_s": 900},
        {"step": "reset", "event": "end", "at": "t2", "outcome": "interrupted", "duration_s": 0.0,
         "error": "stopped by SIGINT before this step started"},
    ]  # fmt: skip
    rows = {row[0]: row for row in step_summary(lines)}
    assert rows["transform"][3] == "2.0s / 900s"
    assert rows["reset"][3] == "0.0s"


@pytest.mark.parametrize("raw", ["1_0", "\uff12", "\u0663", "1e3", "nan", "inf", "0x10", ""])
def test_a_number_an_operator_types_is_ascii_digits(raw: str) -> None:
    with pytest.raises(ValueError):
        ascii_int(raw)
    with pytest.raises(ValueError):
        ascii_float(raw)
    assert ascii_int(" 12 ") == 12 and ascii_int("-3") == -3 and ascii_float("2.5") == 2.5


def test_seconds_in_other_digits_are_refused_naming_the_variable(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FENCE_WAIT=1_0\n")
    with pytest.raises(CutoverError, match="FENCE_WAIT='1_0' is not a number of seconds"):
        load_settings(None, base_dir=tmp_path, environ={})
