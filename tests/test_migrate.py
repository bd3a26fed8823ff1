"""The whole window on real PostgreSQL with both drivers, judged on the data by each rule R1-R12."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import catalog, fingerprint, fresh_database, make_settings
from rules import KEPT, check_rules, snapshot

from pgcutover import commands
from pgcutover.apply_sql import set_parameters
from pgcutover.compare import database_fingerprint
from pgcutover.db import connect, ident
from pgcutover.errors import CutoverError
from pgcutover.journal import read_journal
from pgcutover.migration import load_migration
from pgcutover.sandbox.cluster import LocalCluster
from pgcutover.settings import PROJECT_ROOT, Settings
from steps.verify_reconcile import column_kinds, reconcile_query
from steps.window import BESIDE, STEP_NAMES

TARGET_SQL = PROJECT_ROOT / "sql" / "spec" / "target-schema.sql"


@pytest.fixture(scope="session")
def target_catalog(cluster: LocalCluster) -> dict[str, object]:
    """The catalog of a database built straight from spec/target-schema.sql."""
    with fresh_database(cluster, None) as name:
        db = connect(cluster.superuser_url(name), "psycopg")
        try:
            db.run_script(TARGET_SQL.read_text())
            return catalog(db, "public")
        finally:
            db.close()


@pytest.mark.parametrize("driver", ["psycopg", "pg8000"])
def test_migrate_offline_satisfies_every_rule(
    tmp_path: Path, legacy_url: str, driver: str, target_catalog: dict[str, object]
) -> None:
    before = snapshot(legacy_url)
    settings = make_settings(tmp_path, legacy_url, DB_DRIVER=driver)
    run_id = commands.migrate_offline(settings, yes=True)

    after = snapshot(legacy_url)
    check_rules(before, after)

    db = connect(legacy_url, "psycopg")
    try:
        assert catalog(db, "public") == target_catalog  # R12: the exact target schema
        aside = {
            r[0]
            for r in db.query(
                "SELECT relname FROM pg_class WHERE relnamespace = "
                "'cutover_legacy'::regnamespace AND relkind = 'r'"
            )
        }
        assert len(aside) == 14, "the legacy schema is set aside whole, for a fast rollback"
        assert db.query("SELECT status FROM pgcutover.runs WHERE run = %s", [run_id]) == [
            ("succeeded",)
        ]
        # the app's other roles keep their rights: CONNECT restored,
        # legacy table grants carried to the new tables
        assert db.query(
            "SELECT has_database_privilege('cutover_reader', current_database(), 'CONNECT'), "
            """has_table_privilege('cutover_reader', 'public."McpServerRequestLog"', 'SELECT'), """
            "has_schema_privilege('cutover_reader', 'public', 'USAGE'), "
            """has_column_privilege('cutover_reader', 'public."Organization"', 'name', 'UPDATE')"""
        ) == [(True, True, True, True)]
        mirrored = db.query("SELECT count(*) FROM pgcutover.journal WHERE run = %s", [run_id])[0][0]
    finally:
        db.close()

    journal = read_journal(tmp_path / "runs" / run_id / "journal.jsonl")
    in_line = [(j["step"], j["event"]) for j in journal if j["step"] not in BESIDE]
    assert in_line == [(s, e) for s in STEP_NAMES if s not in BESIDE for e in ("start", "end")]
    # The dump ran beside deploy-schema and transform: started after the fence, ended before
    # reset moved the legacy schema. Its proof started when it ended, ended before unfence.
    at = {(j["step"], j["event"]): i for i, j in enumerate(journal)}
    assert at[("fence", "end")] < at[("backup", "start")] < at[("deploy-schema", "start")]
    assert at[("backup", "end")] < at[("reset", "start")]
    assert at[("backup", "end")] < at[("backup-proof", "start")]
    assert at[("backup-proof", "end")] < at[("unfence", "start")]
    joins = {j["step"]: j.get("beside_until") for j in journal if j["step"] in BESIDE}
    assert joins == {"backup": "reset", "backup-proof": "unfence", "statistics": "unfence"}
    # The statistics were gathered beside verify, after the transform committed.
    assert at[("transform", "end")] < at[("statistics", "start")] < at[("verify", "start")]
    assert at[("statistics", "end")] < at[("unfence", "start")]
    assert all(
        j["outcome"] in ("ok", "skipped") and "duration_s" in j
        for j in journal
        if j["event"] == "end"
    )
    assert mirrored == len(journal)

    report = json.loads((tmp_path / "runs" / run_id / "report.json").read_text())
    assert report["passed"] and all(t["match"] for t in report["tables"])
    assert {t["table"]: t["legacy_rows"] for t in report["tables"]} == {
        t: len(before[t]) for t in after
    }
    dropped = {(d["table"], d["column"]): d["non_null_values"] for d in report["dropped_by_design"]}
    assert dropped[("User", "hasCompletedOnboarding")] == len(before["User"])
    assert dropped[("McpServerRequestLog", "userId")] == sum(
        1 for r in before["McpServerRequestLog"].values() if r["userId"] is not None
    )
    assert dropped[("_ToolToUserMcpServerConfig", "A")] == len(before["_ToolToUserMcpServerConfig"])

    manifest = json.loads((tmp_path / "backups" / run_id / "manifest.json").read_text())
    assert manifest["row_counts"]["public.McpServerRequestLog"] == len(
        before["McpServerRequestLog"]
    )
    assert (
        settings.database_url.split(":")[2].split("@")[0]
        not in (tmp_path / "runs" / run_id / "journal.jsonl").read_text()
    )


@pytest.mark.parametrize("squatters", [1, 3])
def test_personal_ids_take_a_prefix_no_legacy_id_starts_with(
    tmp_path: Path, legacy_url: str, squatters: int
) -> None:
    # R3: ids cannot collide with legacy ids, even where legacy organizations and memberships hold
    # exactly the ids the transform would give a user's personal ones, under 'porg_' and the next
    # prefixes too: every personal id moves to the first prefix no legacy id starts with.
    db = connect(legacy_url, "psycopg")
    try:
        user = str(db.query('SELECT id FROM "User" ORDER BY id LIMIT 1')[0][0])
        for n in range(squatters):
            suffix = str(n) if n else ""
            org = f"porg{suffix}_" + hashlib.md5(f"pgcutover:org:{user}".encode()).hexdigest()
            member = f"pmem{suffix}_" + hashlib.md5(f"pgcutover:member:{user}".encode()).hexdigest()
            db.execute(
                'INSERT INTO "Organization" (id, name, "isDeleted", "createdBy", "createdAt", '
                '"updatedAt") VALUES (%s, %s, false, %s, now(), now())',
                [org, f"squatter {n}", user],
            )
            db.execute(
                'INSERT INTO "OrganizationMember" (id, "organizationId", "userId", "isAdmin", '
                '"createdAt", "updatedAt") VALUES (%s, %s, %s, false, now(), now())',
                [member, org, user],
            )
    finally:
        db.close()
    before = snapshot(legacy_url)
    commands.migrate_offline(make_settings(tmp_path, legacy_url), yes=True)
    after = snapshot(legacy_url)
    check_rules(before, after)
    free = str(squatters)  # 'porg_', 'porg1_' … 'porg{squatters - 1}_' are taken
    personal_org = f"porg{free}_" + hashlib.md5(f"pgcutover:org:{user}".encode()).hexdigest()
    personal_member = f"pmem{free}_" + hashlib.md5(f"pgcutover:member:{user}".encode()).hexdigest()
    assert after["User"][user]["defaultOrganizationId"] == personal_org
    assert after["Organization"][personal_org]["isPersonal"] is True
    assert after["OrganizationMember"][personal_member]["organizationId"] == personal_org
    squatted = [o for o in after["Organization"].values() if o["name"].startswith("squatter")]
    assert len(squatted) == squatters and not any(o["isPersonal"] for o in squatted)
    # Every user's personal ids moved, not only the one whose ids were held.
    personal = [o for o in after["Organization"] if after["Organization"][o]["isPersonal"]]
    assert all(o.startswith(f"porg{free}_") for o in personal)


@pytest.mark.parametrize("own_org", [True, False])
def test_a_row_whose_user_is_gone_is_kept_or_refused_never_dropped(
    tmp_path: Path, legacy_url: str, own_org: bool
) -> None:
    # A database that lost a foreign key (or never had it) can hold a config whose userId names
    # no user. With its own organizationId, R5 needs no user: it is kept. Without one, there is no
    # personal organization to give it: preflight counts it and refuses, nothing changes (were it
    # to get past, the transform's LEFT JOIN leaves it to the target's NOT NULL, never drops it).
    db = connect(legacy_url, "psycopg")
    try:
        db.execute(
            'ALTER TABLE "UserMcpServerConfig" DROP CONSTRAINT "UserMcpServerConfig_userId_fkey"'
        )
        org = db.query('SELECT id FROM "Organization" ORDER BY id LIMIT 1')[0][0]
        config = str(db.query('SELECT id FROM "UserMcpServerConfig" ORDER BY id LIMIT 1')[0][0])
        db.execute(
            'UPDATE "UserMcpServerConfig" SET "userId" = %s, "organizationId" = %s WHERE id = %s',
            ["ghost-user", org if own_org else None, config],
        )
    finally:
        db.close()
    before, original = snapshot(legacy_url), database_fingerprint(legacy_url, "psycopg")
    settings = make_settings(tmp_path, legacy_url)
    if own_org:
        commands.migrate_offline(settings, yes=True)
        after = snapshot(legacy_url)
        assert after["UserMcpServerConfig"][config]["organizationId"] == org
        assert set(after["UserMcpServerConfig"]) == set(before["UserMcpServerConfig"])
        return
    with pytest.raises(CutoverError, match="^preflight: .*UserMcpServerConfig rows without organ"):
        commands.migrate_offline(settings, yes=True)
    # Rolled back: the database as before (pgcutover's own bookkeeping schema aside).
    assert database_fingerprint(legacy_url, "psycopg") == original


def test_transform_rerun_changes_nothing(tmp_path: Path, legacy_url: str) -> None:
    settings = make_settings(tmp_path, legacy_url)
    migration = load_migration(settings.migration_dir)
    commands.migrate_offline(settings, yes=True)
    first = fingerprint(legacy_url)
    db = connect(legacy_url, "psycopg")
    try:
        with (
            db.transaction()
        ):  # R3: a re-run of the data files adds no duplicate and no second personal org
            set_parameters(db, {"migration_ts": "2030-01-01 00:00:00", **migration.parameters})
            # The files see the schemas as before reset swapped them: legacy in public, the
            # target in the build schema. Swapped back the same way before the check.
            swap = ("public", migration.build_schema), (migration.aside_schema, "public")
            for old, new in swap:
                db.execute(f'ALTER SCHEMA "{old}" RENAME TO "{new}"')
            for f in sorted(settings.migration_dir.glob("000[2-5]_*.sql")):
                db.run_script(f.read_text())
            for old, new in reversed(swap):
                db.execute(f'ALTER SCHEMA "{new}" RENAME TO "{old}"')
    finally:
        db.close()
    assert fingerprint(legacy_url) == first


def test_dry_run_touches_nothing(
    tmp_path: Path, legacy_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = fingerprint(legacy_url)
    commands.migrate_offline(make_settings(tmp_path, legacy_url), dry=True)
    out = capsys.readouterr().out
    assert "0005_request_logs.sql" in out and "budget" in out
    for name in STEP_NAMES:
        assert name in out
    assert fingerprint(legacy_url) == before
    assert not (tmp_path / "runs").exists() and not (tmp_path / "backups").exists()


def test_verify_catches_a_lost_row_and_a_bent_rule(tmp_path: Path, legacy_url: str) -> None:
    settings = make_settings(tmp_path, legacy_url)
    run_id = commands.migrate_offline(settings, yes=True)
    db = connect(legacy_url, "psycopg")
    try:
        db.execute(
            'DELETE FROM public."McpServerRequestData" '
            'WHERE id = (SELECT min(id) FROM public."McpServerRequestData")'
        )
        db.execute("""UPDATE public."Organization" SET name = 'Someone''s Workspace' WHERE id = (
                          SELECT min(id) FROM public."Organization" WHERE "isPersonal")""")
        db.execute(
            """UPDATE public."McpServer" SET "envVars" = '{x}' """
            """WHERE id = (SELECT min(id) FROM public."McpServer")"""
        )
    finally:
        db.close()
    message = verify_again(settings, run_id)
    assert message.startswith("verify: 0001_personal_organizations.sql (1: personal organization")
    assert "McpServerRequestData (" in message and "target rows" in message
    assert "McpServer (" in message and "checksums differ" in message
    report = json.loads((tmp_path / "runs" / run_id / "report.json").read_text())
    assert not report["passed"]
    assert {t["table"] for t in report["tables"] if not t["match"]} == {
        "McpServerRequestData",
        "McpServer",
    }


def test_app_timeouts_on_the_database_do_not_cut_the_window(
    tmp_path: Path, cluster: LocalCluster, legacy_url: str
) -> None:
    from conftest import admin

    dbname = legacy_url.rsplit("/", 1)[1]
    a = admin(cluster)
    try:  # what a production database often carries for its app
        a.execute(f"ALTER DATABASE {dbname} SET statement_timeout = '20ms'")
        a.execute(f"ALTER DATABASE {dbname} SET idle_in_transaction_session_timeout = '20ms'")
    finally:
        a.close()
    before = snapshot(legacy_url)
    commands.migrate_offline(make_settings(tmp_path, legacy_url, FENCE_WAIT="1"), yes=True)
    check_rules(before, snapshot(legacy_url))


def verify_again(settings: Settings, run_id: str) -> str:
    """Run verify once more on a finished window; return its failure line (it must fail)."""
    from pgcutover.engine import close_run, open_run
    from pgcutover.errors import CutoverError
    from steps.verify import VERIFY

    ctx = open_run(settings, command="verify", run_id=run_id)
    try:
        with pytest.raises(CutoverError) as failed:
            VERIFY.run(ctx)
    finally:
        close_run(ctx)
    return str(failed.value)


def reconcile_without(text: str, table: str | None) -> str:
    """Return the reconcile mapping without one table's entries, or (None) without any table."""
    head, *entries = re.split(r"(?m)^(?=\[tables\.)", text)  # [tables.NAME] and [tables.NAME.*]
    kept = [
        e for e in entries if table is not None and re.findall(r"^\[tables\.(\w+)", e)[0] != table
    ]
    assert entries and len(kept) < len(entries)
    return head + "".join(kept)


@pytest.mark.parametrize(
    "omitted", ["McpApiKey", None], ids=["one table omitted", "no rows at all"]
)
def test_verify_fails_when_the_reconcile_leaves_a_table_out(
    tmp_path: Path, legacy_url: str, omitted: str | None
) -> None:
    settings = make_settings(tmp_path, legacy_url)
    run_id = commands.migrate_offline(settings, yes=True)
    copy = tmp_path / "migration"
    shutil.copytree(settings.migration_dir, copy)
    reconcile = copy / "verify" / "0100_reconcile.toml"
    text = reconcile_without(reconcile.read_text(encoding="utf-8"), omitted)
    reconcile.write_text(text, encoding="utf-8")

    message = verify_again(make_settings(tmp_path, legacy_url, MIGRATION_DIR=str(copy)), run_id)
    names = [omitted] if omitted else ["McpApiKey", "User", "McpServerRequestLog", "Tool"]
    for table in names:
        assert f"{table} is missing from the reconcile (0100_reconcile.toml)" in message, message
    assert "_ToolToUserMcpServerConfig is missing" not in message  # dropped by design (R10)
    report = json.loads((tmp_path / "runs" / run_id / "report.json").read_text())
    assert not report["passed"] and report["missing_results"]


def test_the_one_dropped_list_drives_every_check_of_it(tmp_path: Path, legacy_url: str) -> None:
    settings = make_settings(tmp_path, legacy_url)
    run_id = commands.migrate_offline(settings, yes=True)
    copy = tmp_path / "migration"
    shutil.copytree(settings.migration_dir, copy)
    plan = copy / "plan.toml"
    lines = plan.read_text(encoding="utf-8").splitlines(keepends=True)
    unlisted = ('table = "McpApiKey", column = "userId"', 'table = "_ToolToUserMcpServerConfig"')
    kept = [ln for ln in lines if not any(u in ln for u in unlisted)]
    assert len(kept) == len(lines) - 2
    plan.write_text("".join(kept), encoding="utf-8")

    message = verify_again(make_settings(tmp_path, legacy_url, MIGRATION_DIR=str(copy)), run_id)
    for column in ("McpApiKey.userId", "_ToolToUserMcpServerConfig.A"):  # verify/0003 reads it
        assert f"legacy column {column} is neither carried nor dropped by design" in message
    assert "_ToolToUserMcpServerConfig is missing from the reconcile" in message, message
    report = json.loads((tmp_path / "runs" / run_id / "report.json").read_text())
    reported = [(d["table"], d["column"], d["rule"]) for d in report["dropped_by_design"]]
    assert reported[0] == ("User", "hasCompletedOnboarding", "R1")
    assert not {t for t, _, _ in reported} & {"McpApiKey", "_ToolToUserMcpServerConfig"}


# Which row to change: one the reconcile compares (personal organizations and their memberships
# are new rows, R3, which 0001_personal_organizations.sql checks instead).
COMPARED_ROW = {
    "Organization": 'NOT "isPersonal"',
    "OrganizationMember": '"organizationId" IN (SELECT id FROM public."Organization" '
    'WHERE NOT "isPersonal")',
}


@pytest.mark.parametrize("table", KEPT)
def test_verify_catches_one_changed_value_in_any_kept_table(
    tmp_path: Path, legacy_url: str, table: str
) -> None:
    settings = make_settings(tmp_path, legacy_url)
    run_id = commands.migrate_offline(settings, yes=True)
    db = connect(legacy_url, "psycopg")
    try:  # every target table has "createdAt": one millisecond later in one row
        changed = db.query(
            f"""UPDATE public.{ident(table)} SET "createdAt" = "createdAt" + interval '1 ms'
                 WHERE ctid = (SELECT ctid FROM public.{ident(table)}
                                WHERE {COMPARED_ROW.get(table, 'true')} LIMIT 1)
             RETURNING 1"""
        )
    finally:
        db.close()
    assert changed == [(1,)]
    message = verify_again(settings, run_id)
    assert f"{table} (" in message and "checksums differ" in message, message
    report = json.loads((tmp_path / "runs" / run_id / "report.json").read_text())
    assert [t["table"] for t in report["tables"] if not t["match"]] == [table]
    assert all(i["violations"] == 0 for i in report["invariants"])
    assert not report["missing_results"]


def test_verify_names_every_way_the_schema_differs_from_the_target(
    tmp_path: Path, legacy_url: str
) -> None:
    settings = make_settings(tmp_path, legacy_url)
    run_id = commands.migrate_offline(settings, yes=True)  # its verify passed: the target's shape
    db = connect(legacy_url, "psycopg")
    try:
        db.run_script("""
            ALTER TABLE public."Organization" ALTER COLUMN "maxMembers" SET DEFAULT 5;
            ALTER TABLE public."Tool" ALTER COLUMN description DROP NOT NULL;
            ALTER TABLE public."McpApiKey" DROP CONSTRAINT "McpApiKey_userMcpServerInstanceId_fkey",
                ADD CONSTRAINT "McpApiKey_userMcpServerInstanceId_fkey"
                    FOREIGN KEY ("userMcpServerInstanceId")
                    REFERENCES public."UserMcpServerInstance"(id)
                    ON DELETE RESTRICT ON UPDATE CASCADE;""")
    finally:
        db.close()
    message = verify_again(settings, run_id)
    assert message.startswith("verify: 0002_schema_shape.sql (3: "), message
    assert (
        "column Organization.maxMembers is #7 integer NOT NULL DEFAULT 5, "
        "target-schema.sql has #7 integer NOT NULL DEFAULT 1"
    ) in message
    assert "column Tool.description is #3 text, target-schema.sql has #3 text NOT NULL" in message
    assert (
        "constraint McpApiKey.McpApiKey_userMcpServerInstanceId_fkey is FOREIGN KEY "
        '("userMcpServerInstanceId") REFERENCES "UserMcpServerInstance"(id) ON UPDATE CASCADE '
        "ON DELETE RESTRICT, target-schema.sql has"
    ) in message
    report = json.loads((tmp_path / "runs" / run_id / "report.json").read_text())
    failed = [i["check"] for i in report["invariants"] if i["violations"]]
    assert failed == ["0002_schema_shape.sql"]
    assert all(t["match"] for t in report["tables"])


SPACES = [chr(c) for c in range(0x110000) if chr(c).isspace()]


def test_verify_checks_r3_trimming_for_every_unicode_space(tmp_path: Path, legacy_url: str) -> None:
    db = connect(legacy_url, "psycopg")
    try:  # names padded with each character Python calls whitespace, and names made of nothing else
        for i, c in enumerate(SPACES):
            db.execute(
                """INSERT INTO "User" (id, name, email, "updatedAt")
                          VALUES (%s, %s, NULL, now()), (%s, %s, %s, now())""",
                [
                    f"auth0|ws-{i}",
                    f"{c}{c}Name {i}{c}",
                    f"auth0|ws-blank-{i}",
                    c * 2,
                    f"{c}ws{i}@edge.test{c}",
                ],
            )
    finally:
        db.close()
    before = snapshot(legacy_url)
    settings = make_settings(tmp_path, legacy_url)
    run_id = commands.migrate_offline(settings, yes=True)  # transform and verify agree on every one
    check_rules(before, snapshot(legacy_url))  # and so does the Python oracle (str.strip)

    db = connect(legacy_url, "psycopg")
    try:  # what a transform that trimmed nothing would have written
        db.execute("""UPDATE public."Organization" o SET name = u.name || '''s Workspace'
                      FROM public."User" u WHERE o."createdBy" = u.id AND u.id LIKE 'auth0|ws-%'
                      AND u.id NOT LIKE 'auth0|ws-blank-%'""")
    finally:
        db.close()
    assert "0001_personal_organizations.sql (" in verify_again(settings, run_id)
    report = json.loads((tmp_path / "runs" / run_id / "report.json").read_text())
    violations = {i["check"]: i["violations"] for i in report["invariants"]}
    assert violations["0001_personal_organizations.sql"] == len(SPACES)


def test_the_checksum_hashes_each_type_exactly_and_as_text_on_older_servers(
    tmp_path: Path, legacy_url: str
) -> None:
    commands.migrate_offline(make_settings(tmp_path, legacy_url), yes=True)
    migration = load_migration(PROJECT_ROOT / "sql" / "migration")
    db = connect(legacy_url, "psycopg")
    try:
        kinds = column_kinds(db, "public")
        assert kinds is not None
        # By their own hash: integers, instants, bytes; text by its bytes in "C"; the rest, whose
        # hash would take two different values alike (-0 and 0, array bounds, enum OIDs), as text.
        assert kinds["McpServerRequestData"]["inputDataCompressed"] == "exact"
        assert kinds["McpServerRequestData"]["createdAt"] == "exact"
        assert kinds["McpServerRequestData"]["compressionRatio"] == "text"
        assert kinds["User"]["name"] == "bytes"
        assert kinds["McpServer"]["args"] == "text"
        assert kinds["McpServer"]["authType"] == "text"
        assert kinds["Tool"]["inputSchema"] == "text"
        # Both forms find every table equal on the same data: the text one is what a server
        # before 14 (no hash_record_extended) runs.
        with db.transaction():
            db.execute("SET LOCAL search_path = pg_catalog, public")
            for table in migration.reconcile.tables:
                for form in (None, kinds.get(table.name, {})):
                    sql = reconcile_query(migration, table, form)
                    assert ("hashtextextended" in sql) == (form is None)
                    _, l_rows, l_sum, t_rows, t_sum = db.query(sql)[0]
                    assert (l_rows, l_sum) == (t_rows, t_sum), (table.name, form)
    finally:
        db.close()
