"""Step smoke: the new release's reads and writes proven on the migrated data, before go-live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import fingerprint, make_settings, run_cli
from test_failures import app_env, assert_rolled_back

from pgcutover import commands
from pgcutover.db import connect
from pgcutover.engine import close_run, open_run
from pgcutover.errors import CutoverError
from steps.smoke import SMOKE

PSQL = "/usr/lib/postgresql/15/bin/psql"


def journal_of(work: Path) -> list[dict[str, object]]:
    path = next((work / "runs").glob("*/journal.jsonl"))
    return [json.loads(ln) for ln in path.read_text().splitlines()]


def rerun_smoke(settings, run_id: str) -> None:  # type: ignore[no-untyped-def]
    ctx = open_run(settings, command="smoke", run_id=run_id)
    try:
        SMOKE.run(ctx)
    finally:
        close_run(ctx)


def test_the_window_runs_the_probes_and_they_leave_no_trace(
    tmp_path: Path, legacy_url: str
) -> None:
    settings = make_settings(tmp_path, legacy_url)
    run_id = commands.migrate_offline(settings, yes=True)
    ends = [ln for ln in journal_of(tmp_path) if ln["step"] == "smoke" and ln["event"] == "end"]
    assert [e["outcome"] for e in ends] == ["ok"]
    steps = [ln["step"] for ln in journal_of(tmp_path) if ln["event"] == "start"]
    assert steps.index("deploy-app") < steps.index("smoke") < steps.index("maintenance-off")
    before = fingerprint(legacy_url)
    rerun_smoke(settings, run_id)  # the probes again, on the live migrated data
    assert fingerprint(legacy_url) == before, "the write probe left a trace"


def test_a_read_probe_catches_a_user_who_lands_in_the_wrong_organization(
    tmp_path: Path, legacy_url: str
) -> None:
    settings = make_settings(tmp_path, legacy_url)
    run_id = commands.migrate_offline(settings, yes=True)
    db = connect(legacy_url, "psycopg")
    try:
        db.execute(
            'UPDATE public."User" SET "defaultOrganizationId" = (SELECT min(id) FROM '
            'public."Organization" WHERE NOT "isPersonal")'
        )
    finally:
        db.close()
    with pytest.raises(CutoverError, match="not their personal one"):
        rerun_smoke(settings, run_id)


def test_a_failing_smoke_cmd_rolls_the_window_back(tmp_path: Path, legacy_url: str) -> None:
    original = fingerprint(legacy_url)
    env = app_env(
        tmp_path,
        legacy_url,
        SMOKE_CMD="echo check {version} on {host}; echo 'sign-in as alice: HTTP 500' >&2; exit 1",
    )
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode != 0 and last.startswith("smoke: SMOKE_CMD on local exited 1"), last
    assert "sign-in as alice: HTTP 500" in last and "rollback completed" in last, last
    assert_rolled_back(tmp_path, legacy_url, original)


def test_a_target_schema_the_app_cannot_write_fails_before_the_site_opens(
    tmp_path: Path, legacy_url: str
) -> None:
    original = fingerprint(legacy_url)
    # Between verify and smoke, someone adds a NOT NULL column the new release does not fill.
    breaks = tmp_path / "break.sql"
    breaks.write_text(
        'ALTER TABLE public."UserToolGroup" ADD COLUMN "region" text NOT NULL DEFAULT \'eu\';\n'
        'ALTER TABLE public."UserToolGroup" ALTER COLUMN "region" DROP DEFAULT;\n'
    )
    env = app_env(
        tmp_path,
        legacy_url,
        CUTOVER_FAULT="smoke:before:restart",
        CUTOVER_FAULT_CMD=f'{PSQL} -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -f {breaks}',
    )
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert last.startswith("smoke: write probe 0002_write_probe.sql failed"), last
    assert "region" in last and "rollback completed" in last, last
    assert_rolled_back(tmp_path, legacy_url, original)
    assert not any(ln["step"] == "maintenance-off" for ln in journal_of(tmp_path))


def test_read_probes_catch_a_lost_row_of_a_team_and_of_a_user(
    tmp_path: Path, legacy_url: str
) -> None:
    settings = make_settings(tmp_path, legacy_url)
    run_id = commands.migrate_offline(settings, yes=True)
    db = connect(legacy_url, "psycopg")
    try:
        # Retire one live instance of every team: the teams' lists are short by one.
        db.execute(
            'UPDATE public."UserMcpServerInstance" SET "deletedAt" = now() WHERE id IN '
            '(SELECT min(i.id) FROM public."UserMcpServerInstance" i JOIN public."Organization" o '
            'ON o.id = i."organizationId" WHERE NOT o."isPersonal" AND i."deletedAt" IS NULL '
            'GROUP BY i."organizationId")'
        )
        with pytest.raises(CutoverError, match="team organization .* lists"):
            rerun_smoke(settings, run_id)
        # Move one tool group out of every personal organization: each user's list is short.
        db.execute(
            'UPDATE public."UserToolGroup" SET "organizationId" = (SELECT min(id) FROM '
            'public."Organization" WHERE NOT "isPersonal") WHERE id IN (SELECT min(g.id) FROM '
            'public."UserToolGroup" g JOIN public."Organization" o ON o.id = g."organizationId" '
            'WHERE o."isPersonal" GROUP BY g."organizationId")'
        )
        with pytest.raises(CutoverError, match="lists .* tool groups, .* before"):
            rerun_smoke(settings, run_id)
    finally:
        db.close()
