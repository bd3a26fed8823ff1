"""The rehearsal, real PostgreSQL: migrate, roll back, prove it exact, migrate again."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import admin, make_settings
from test_failures import app_env, app_state

from pgcutover import clone, commands
from pgcutover.compare import database_fingerprint, diff_fingerprints
from pgcutover.db import connect, ident, parse_dsn
from pgcutover.errors import CutoverError
from pgcutover.rehearse import rehearse
from pgcutover.sandbox.demo import APP_ROLE
from pgcutover.settings import load_settings


def databases(cluster) -> set[str]:
    a = admin(cluster)
    try:
        return {r[0] for r in a.query("SELECT datname FROM pg_database")}
    finally:
        a.close()


def has_schema(url: str, schema: str) -> bool:
    db = connect(url, "psycopg")
    try:
        return bool(db.query("SELECT to_regnamespace(%s) IS NOT NULL", [schema])[0][0])
    finally:
        db.close()


@pytest.mark.parametrize("driver", ["psycopg", "pg8000"])
def test_rehearsal_passes_on_a_fresh_legacy_database(
    tmp_path: Path, legacy_url: str, driver: str
) -> None:
    settings = make_settings(tmp_path, legacy_url, DB_DRIVER=driver)
    report = rehearse(settings, yes=True, base_dir=tmp_path)
    assert report.passed and report.identical is True and report.differences == []
    assert [p.outcome for p in report.parts] == ["ok"] * 6
    assert report.run_ids["migrate-offline"] == report.run_ids["rollback"]
    assert report.run_ids["migrate-offline-again"] != report.run_ids["migrate-offline"]
    again = report.part("migrate-offline-again")
    assert ("verify", "ok") in {(s["step"], s["outcome"]) for s in again.steps}
    assert {s["step"] for s in report.part("rollback").steps} >= {"restore-database"}
    data = json.loads(Path(report.report_json).read_text())
    assert data["passed"] is True and data["identical"] is True
    assert Path(report.report_json).parent == settings.runs_dir
    assert "PASSED" in Path(report.report_md).read_text()
    # it ends migrated: the window's verify passed on the second run, and the journal says so
    assert report.part("migrate-offline-again").run in {p.name for p in settings.runs_dir.iterdir()}


def test_diff_names_one_changed_character_and_one_default(tmp_path: Path, legacy_url: str) -> None:
    db = connect(legacy_url, "psycopg")
    try:
        table, column, key = db.query(
            "SELECT c.oid::regclass::text, a.attname, (SELECT attname FROM pg_attribute k "
            "JOIN pg_index i ON i.indrelid = k.attrelid AND k.attnum = i.indkey[0] "
            "AND i.indisprimary "
            "WHERE k.attrelid = c.oid) FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
            "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 "
            "AND a.atttypid = 'text'::regtype AND NOT a.attisdropped "
            "AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) "
            "ORDER BY 1, 2 LIMIT 1"
        )[0]
        t, c, k = table, ident(column), ident(key)
        # a row whose text is not empty: change exactly one character of it
        pk = db.query(f"SELECT {k} FROM {t} WHERE length({c}) > 0 ORDER BY {k} LIMIT 1")[0][0]
        before = database_fingerprint(legacy_url, "psycopg")
        db.execute(
            f"UPDATE {t} SET {c} = overlay({c} placing "
            f"CASE WHEN left({c}, 1) = 'x' THEN 'y' ELSE 'x' END from 1 for 1) WHERE {k} = %s",
            [pk],
        )
        changed = database_fingerprint(legacy_url, "psycopg")
        assert diff_fingerprints(before, changed) == [f"table {t}: checksum differs"]
        assert diff_fingerprints(before, before) == []
        db.execute(f"ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT 'rehearsal'")
        defaulted = database_fingerprint(legacy_url, "pg8000")  # both drivers, one value
        diffs = diff_fingerprints(changed, defaulted)
        assert len(diffs) == 1 and diffs[0].startswith(f"column {t}.{c}: default differs"), diffs
    finally:
        db.close()


@pytest.mark.parametrize("how", ["prod", "production", "env", "profile-file"])
def test_production_guard_refuses_before_connecting(
    tmp_path: Path, legacy_url: str, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, legacy_url)
    before = database_fingerprint(legacy_url, "psycopg")
    if how in ("prod", "production"):
        settings = dataclasses.replace(settings, profile=how)
        expected = (
            f"rehearse: profile '{how}' is a production profile: rehearse on staging or with "
            "--clone of a staging database"
        )
    elif how == "env":
        monkeypatch.setenv("CUTOVER_PRODUCTION", "true")
        expected = "CUTOVER_PRODUCTION=true"
    else:
        (tmp_path / ".env.staging").write_text("CUTOVER_PRODUCTION=true\n")
        settings = dataclasses.replace(settings, profile="staging")
        expected = "profile 'staging' is a production profile (CUTOVER_PRODUCTION=true)"
    with pytest.raises(CutoverError) as err:
        rehearse(settings, yes=True, clone=True, base_dir=tmp_path)
    assert expected in str(err.value)
    assert database_fingerprint(legacy_url, "psycopg") == before
    assert not has_schema(legacy_url, "pgcutover")
    assert not settings.runs_dir.exists() and not settings.backup_dir.exists()


@pytest.mark.parametrize("keep", [False, True])
def test_clone_leaves_the_source_unchanged(
    tmp_path: Path, cluster, legacy_url: str, keep: bool
) -> None:
    settings = make_settings(tmp_path, legacy_url)
    source = parse_dsn(legacy_url)["dbname"]
    before = database_fingerprint(legacy_url, "psycopg")
    dbs_before = databases(cluster)
    # without CREATEDB the copy is refused clearly, nothing created
    with pytest.raises(CutoverError, match="^rehearse: clone failed: --clone needs CREATEDB"):
        rehearse(settings, clone=True, yes=True, base_dir=tmp_path)  # the step said once
    assert databases(cluster) == dbs_before
    a = admin(cluster)
    a.execute(f"ALTER ROLE {ident(APP_ROLE)} CREATEDB")
    try:
        report = rehearse(settings, clone=True, keep=keep, yes=True, base_dir=tmp_path)
    finally:
        a.execute(f"ALTER ROLE {ident(APP_ROLE)} NOCREATEDB")
        a.close()
    assert report.passed and report.identical is True
    assert report.clone and report.clone.startswith(f"{source}_rehearse_")
    assert report.part("clone").outcome == "ok" and "TEMPLATE" in report.part("clone").note
    assert database_fingerprint(legacy_url, "psycopg") == before
    assert not has_schema(legacy_url, "pgcutover")
    # the rehearsal's runs live apart from the profile's
    assert not any((p / "journal.jsonl").exists() for p in settings.runs_dir.iterdir())
    assert (settings.runs_dir / "rehearsals" / report.clone / "runs").is_dir()
    assert Path(report.report_json).parent == settings.runs_dir
    if keep:
        assert databases(cluster) == dbs_before | {report.clone}
        a = admin(cluster)
        try:
            a.execute(f"DROP DATABASE {ident(report.clone)} WITH (FORCE)")
        finally:
            a.close()
    else:
        assert databases(cluster) == dbs_before


@pytest.mark.parametrize("backup_format", ["custom", "directory"])
def test_clone_by_dump_when_the_source_is_in_use(
    tmp_path: Path, cluster, legacy_url: str, backup_format: str
) -> None:
    # The copy goes through a dump in BACKUP_FORMAT; the rehearsal's window dumps in it too.
    settings = make_settings(tmp_path, legacy_url, BACKUP_FORMAT=backup_format)
    before = database_fingerprint(legacy_url, "psycopg")
    dbs_before = databases(cluster)
    busy = connect(legacy_url, "psycopg", application_name="the app")  # a session on the source
    a = admin(cluster)
    a.execute(f"ALTER ROLE {ident(APP_ROLE)} CREATEDB")
    try:
        report = rehearse(settings, clone=True, yes=True, base_dir=tmp_path)
        busy.query("SELECT 1")  # never disturbed
    finally:
        a.execute(f"ALTER ROLE {ident(APP_ROLE)} NOCREATEDB")
        a.close()
        busy.close()
    assert report.passed, report.error
    assert "pg_dump" in report.part("clone").note
    assert database_fingerprint(legacy_url, "psycopg") == before
    assert databases(cluster) == dbs_before
    assert not list(tmp_path.rglob("clone.dump"))  # the copy's dump, file or directory, is gone


def test_a_big_source_is_copied_by_dump_even_when_idle(
    tmp_path: Path, cluster, legacy_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A TEMPLATE copy would make every new connection to the source wait until it ends.
    monkeypatch.setattr(clone, "TEMPLATE_MAX_BYTES", 1 << 20)  # the source is bigger than 1 MiB
    settings = make_settings(tmp_path, legacy_url)
    before = database_fingerprint(legacy_url, "psycopg")
    a = admin(cluster)
    a.execute(f"ALTER ROLE {ident(APP_ROLE)} CREATEDB")
    record = SimpleNamespace(source=None, clone=None, target="")
    try:
        copy, how = clone.make_clone(settings, record)
        try:
            assert how.startswith("pg_dump | pg_restore (the source is "), how
            assert "new connections to it wait" in how
            assert database_fingerprint(copy.database_url, "psycopg")["tables"] == before["tables"]
        finally:
            clone.drop_clone(settings, record.clone)
    finally:
        a.execute(f"ALTER ROLE {ident(APP_ROLE)} NOCREATEDB")
        a.close()
    assert record.clone not in databases(cluster)
    assert database_fingerprint(legacy_url, "psycopg") == before


def test_fingerprint_covers_the_catalog_and_skips_bookkeeping(legacy_url: str) -> None:
    fp = database_fingerprint(legacy_url, "psycopg")
    for section in ("schemas", "relations", "columns", "indexes", "constraints", "tables"):
        assert fp[section], section
    assert "pgcutover" not in fp["schemas"] and "public" in fp["schemas"]
    assert "cutover_reader=w/" in (fp["columns"]['"Organization".name']["acl"] or "")
    assert any(v["rows"] > 0 for v in fp["tables"].values())
    assert any(a.startswith("cutover_reader:CONNECT") for a in fp["database"]["current"]["acl"])
    db = connect(legacy_url, "psycopg")
    try:
        db.run_script(
            "CREATE SCHEMA pgcutover; CREATE TABLE pgcutover.t (x int); "
            "INSERT INTO pgcutover.t VALUES (1); COMMENT ON SCHEMA pgcutover IS 'ours'"
        )
        assert diff_fingerprints(fp, database_fingerprint(legacy_url, "psycopg")) == []
        db.execute("COMMENT ON TABLE \"User\" IS 'people'")
        assert diff_fingerprints(fp, database_fingerprint(legacy_url, "psycopg")) == [
            'comment on table public."User": new after'
        ]
    finally:
        db.close()


def test_a_failing_part_fails_the_rehearsal_naming_it_and_the_report(
    tmp_path: Path, legacy_url: str
) -> None:
    settings = make_settings(tmp_path, legacy_url, CUTOVER_FAULT="transform:before:error")
    before = database_fingerprint(legacy_url, "psycopg")
    with pytest.raises(CutoverError) as err:
        rehearse(settings, yes=True, base_dir=tmp_path)
    text = str(err.value)
    assert text.startswith("rehearse: migrate-offline failed: transform: injected fault")
    reports = sorted(settings.runs_dir.glob("rehearsal-*.json"))
    assert len(reports) == 1 and str(reports[0].with_suffix(".md")) in text
    data = json.loads(reports[0].read_text())
    assert data["passed"] is False and data["failed_part"] == "migrate-offline"
    assert [p["outcome"] for p in data["parts"]] == ["ok", "failed"] + ["not run"] * 4
    steps = {(s["step"], s["outcome"]) for s in data["parts"][1]["steps"]}
    # the fault hit before transform started; the window's on-failure rollback ran on its run
    assert {("deploy-schema", "ok"), ("restore-database", "ok")} <= steps
    assert "transform" not in {s for s, _ in steps}
    # the window's own on-failure rollback brought the database back
    assert diff_fingerprints(before, database_fingerprint(legacy_url, "psycopg")) == []


def test_app_commands_run_on_staging_but_never_for_a_clone(
    tmp_path: Path, cluster, legacy_url: str
) -> None:
    settings = load_settings(None, base_dir=tmp_path, environ=app_env(tmp_path, legacy_url))
    source = database_fingerprint(legacy_url, "psycopg")
    a = admin(cluster)
    a.execute(f"ALTER ROLE {ident(APP_ROLE)} CREATEDB")
    try:
        # the profile's app hosts keep using the source: a rehearsal on a copy leaves them alone
        report = rehearse(settings, clone=True, yes=True, base_dir=tmp_path)
    finally:
        a.execute(f"ALTER ROLE {ident(APP_ROLE)} NOCREATEDB")
        a.close()
    assert report.passed
    assert app_state(tmp_path) == ("v1", False)
    assert database_fingerprint(legacy_url, "psycopg") == source
    report = rehearse(settings, yes=True, base_dir=tmp_path)
    assert report.passed
    assert app_state(tmp_path) == ("v2", False)  # deployed, rolled back, deployed again


def test_not_confirmed_changes_nothing(tmp_path: Path, legacy_url: str) -> None:
    settings = make_settings(tmp_path, legacy_url)
    prompts: list[str] = []
    with pytest.raises(CutoverError, match="rehearse: not confirmed: nothing was changed"):
        rehearse(settings, ask=lambda p: prompts.append(p) or False, base_dir=tmp_path)
    assert prompts and "t_" in prompts[0] and "rehearse" in prompts[0]
    assert not has_schema(legacy_url, "pgcutover") and not settings.runs_dir.exists()


def test_invoke_rehearse_from_the_command_line(tmp_path: Path, legacy_url: str) -> None:
    from conftest import run_cli

    env = app_env(tmp_path, legacy_url)
    (tmp_path / ".env.prod").write_text("".join(f"{k}='{v}'\n" for k, v in env.items()))
    refused = run_cli(["rehearse", "--yes", "--env", "prod"], cwd=tmp_path, env={})
    assert refused.returncode != 0
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .startswith("rehearse: profile 'prod' is a production profile")
    )
    assert not (tmp_path / "runs").exists()
    proc = run_cli(["rehearse", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = sorted((tmp_path / "runs").glob("rehearsal-*.json"))
    assert len(reports) == 1 and json.loads(reports[0].read_text())["identical"] is True
    assert app_state(tmp_path) == ("v2", False)


def test_rehearse_with_no_overlap_runs_its_windows_in_line_and_forecasts_them_so(
    tmp_path: Path, legacy_url: str, cluster, template: str, app_password: str
) -> None:
    from conftest import app_url, fresh_database, run_cli

    with fresh_database(cluster, template) as prod_name:
        env = app_env(tmp_path, legacy_url)
        prod = {**env, "DATABASE_URL": app_url(cluster, app_password, prod_name)}
        (tmp_path / ".env.live").write_text("".join(f"{k}='{v}'\n" for k, v in prod.items()))
        proc = run_cli(
            ["rehearse", "--yes", "--no-overlap", "--forecast", "live"], cwd=tmp_path, env=env
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (report,) = sorted((tmp_path / "runs").glob("rehearsal-*.json"))
    runs = json.loads(report.read_text())["run_ids"]
    for part in ("migrate-offline", "migrate-offline-again"):
        lines = [
            json.loads(ln)
            for ln in (tmp_path / "runs" / runs[part] / "journal.jsonl").read_text().splitlines()
        ]
        assert any(ln.get("step") == "backup" for ln in lines)
        assert not any(ln.get("beside_until") for ln in lines), part  # every step in line
    doc = json.loads((tmp_path / "runs" / runs["migrate-offline"] / "forecast.json").read_text())
    assert doc["overlap"] is False
    # In line, the forecast's window is its steps one after the other.
    assert doc["window_s"] == pytest.approx(sum(doc["steps"].values()), abs=0.01)


def test_a_window_stopped_on_a_scratch_copy_prints_no_command_for_the_profile(
    tmp_path: Path, legacy_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # On rehearse's copy, `--env staging` would reach the profile's own database, not the copy.
    settings = dataclasses.replace(
        make_settings(tmp_path, legacy_url), profile="staging", scratch_copy="pgcutover_rehearse_x"
    )
    run_id = commands.migrate_offline(settings, yes=True, until="fence")
    said = " ".join(capsys.readouterr().out.split())
    assert "scratch copy pgcutover_rehearse_x" in said and "--env staging" not in said, said
    commands.rollback(settings, run_id=run_id, yes=True)
    assert "--env" not in capsys.readouterr().out
