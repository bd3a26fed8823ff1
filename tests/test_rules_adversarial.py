"""Adversarial data against transform-rules.md: values the edge-case fixture does not hold.

Each test loads extra legacy rows on top of the template (demo data + edge_cases.sql), runs the
window, and checks the rules on the data (tests/rules.py's oracle plus exact SQL comparisons where
to_jsonb would hide a difference: array bounds, float bits, infinities).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import admin, fresh_database, make_settings
from rules import check_rules, personal_name, snapshot
from test_migrate import verify_again

from pgcutover import commands
from pgcutover.db import connect
from pgcutover.errors import CutoverError
from pgcutover.settings import PROJECT_ROOT

TS = "'2024-01-01 00:00:00'"

ADVERSARIAL = (Path(__file__).parent / "fixtures" / "adversarial.sql").read_text(encoding="utf-8")
# Kept tables and, for each, the columns the target shares with the legacy table unchanged (by
# rule), compared as exact text (record_out with extra_float_digits=3): catches bounds, -0, NaN,
# infinities.
UNCHANGED = {
    "User": '"id", "name", "email", "image", "role"::text, "createdAt", "updatedAt"',
    "McpServer": '"id", "name", "iconPath", "transportType"::text, "command", "args", "url", '
    '"envVars", '
    '"oauthProvider", "oauthScopes", "serverType"::text, "createdBy", "visibility"::text, '
    '"organizationId", "isPublic", "createdAt", "updatedAt"',
    "Tool": "*",
    "UserToolGroupTool": "*",
    "UserMcpServerInstanceToolGroup": "*",
    "McpServerRequestData": "*",
    "McpApiKey": '"id", "name", "apiKey", "apiKeyHash", "isActive", "lastUsedAt", "expiresAt", '
    '"userMcpServerInstanceId", "createdAt", "updatedAt"',
    "OrganizationMember": "*",
    "Organization": '"id", "name", "description", "logoUrl", "isDeleted", "createdBy", '
    '"createdAt", '
    '"updatedAt"',
    "UserMcpServerConfig": '"id", "name", "description", "envVars", "oauthConnection", '
    '"mcpServerId", '
    '"createdAt", "updatedAt"',
    "UserToolGroup": '"id", "name", "description", "isEnabled", "createdAt", "updatedAt"',
    "UserMcpServerInstance": '"id", "name", "description", "iconPath", "serverStatus"::text, '
    '"serverType"::text, "toolGroupId", "displayOrder", "createdAt", "updatedAt", "deletedAt"',
    "McpServerRequestLog": '"id", "mcpServerInstanceId", "toolName", "transportType"::text, '
    '"method", '
    '"responseStatus", "durationMs", "errorMessage", "errorCode", "inputBytes", "outputBytes", '
    '"userAgent", "createdAt"',
}


def load(url: str, sql: str) -> None:
    db = connect(url, "psycopg")
    try:
        with db.transaction():
            db.run_script(sql)
    finally:
        db.close()


def exact_differences(url: str) -> dict[str, list[str]]:
    """Per kept table, legacy rows (cutover_legacy) whose exact text has no equal in public."""
    db = connect(url, "psycopg")
    out: dict[str, list[str]] = {}
    try:
        with db.transaction():
            db.execute("SET LOCAL extra_float_digits = 3")
            for table, cols in UNCHANGED.items():
                target_filter = (
                    'WHERE NOT "isPersonal"'
                    if table == "Organization"
                    else (
                        'WHERE "organizationId" IN (SELECT id FROM public."Organization" '
                        'WHERE NOT "isPersonal")'
                        if table == "OrganizationMember"
                        else ""
                    )
                )
                sel = f"ROW({cols})::text" if cols != "*" else "x::text"
                rows = db.query(
                    f'(SELECT {sel} FROM cutover_legacy."{table}" x) EXCEPT ALL '
                    f'(SELECT {sel} FROM public."{table}" x {target_filter}) '
                    f'UNION ALL ((SELECT {sel} FROM public."{table}" x {target_filter}) EXCEPT ALL '
                    f'(SELECT {sel} FROM cutover_legacy."{table}" x))'
                )
                if rows:
                    out[table] = [str(r[0])[:200] for r in rows]
    finally:
        db.close()
    return out


@pytest.fixture
def adversarial_url(legacy_url: str) -> str:
    load(legacy_url, ADVERSARIAL)
    return legacy_url


def test_adversarial_data_keeps_every_rule(tmp_path: Path, adversarial_url: str) -> None:
    url = adversarial_url
    before = snapshot(url)
    settings = make_settings(tmp_path, url)
    run_id = commands.migrate_offline(settings, yes=True)
    after = snapshot(url)
    check_rules(before, after)
    assert exact_differences(url) == {}
    db = connect(url, "psycopg")
    try:
        # R3 names, per Python's str.strip (the oracle the plan names)
        names = dict(
            db.query(
                'SELECT u.id, o.name FROM public."User" u JOIN public."Organization" o '
                'ON o.id = u."defaultOrganizationId" '
                "WHERE u.id LIKE 'adv|%' OR u.id LIKE 'ADV|%'"
            )
        )
        legacy = {
            r[0]: {"name": r[1], "email": r[2]}
            for r in db.query(
                'SELECT id, name, email FROM cutover_legacy."User" '
                "WHERE id LIKE 'adv|%' OR id LIKE 'ADV|%'"
            )
        }
        for uid, u in legacy.items():
            assert names[uid] == personal_name(u), uid
        # R2: exactly 10 and 12 members
        sizes = dict(
            db.query(
                'SELECT id, "maxMembers" FROM public."Organization" WHERE id LIKE \'adv-org-%\''
            )
        )
        assert sizes == {"adv-org-10": 10, "adv-org-12": 12, "adv-org-0": 10}
        # R5/R7: the trailing-space user and the no-space user get different personal orgs
        orgs = dict(
            db.query(
                'SELECT id, "organizationId" FROM public."UserMcpServerInstance" '
                "WHERE id LIKE 'adv-inst-%'"
            )
        )
        default = dict(db.query('SELECT id, "defaultOrganizationId" FROM public."User"'))
        assert orgs["adv-inst-2"] == default["adv|trailing-id "]
        assert orgs["adv-inst-3"] == default["adv|trailing-id"]
        assert (
            orgs["adv-inst-1"]
            == default["porg_" + hashlib.md5(b"pgcutover:org:adv|zw-only").hexdigest()]
        )
        logs = dict(
            db.query(
                'SELECT id, "organizationId" FROM public."McpServerRequestLog" '
                "WHERE id LIKE 'adv-log-%'"
            )
        )
        assert logs["adv-log-2"] == logs["adv-log-3"] == default["adv|trailing-id "]
        assert logs["adv-log-4"] == "adv-org-0"
    finally:
        db.close()
    report = json.loads((tmp_path / "runs" / run_id / "report.json").read_text())
    assert report["passed"]


def test_personal_ids_when_both_hashes_are_taken(tmp_path: Path, legacy_url: str) -> None:
    # R3: "ids ... cannot collide with legacy ids". The transform once re-hashed a taken id
    # once ('porg_'||md5('pgcutover:org:again:'||id)): a legacy database holding both ids (the
    # scheme is in the SQL) is one INSERT away. Now every personal id takes a free prefix.
    uid = "adv|double"
    org1 = "porg_" + hashlib.md5(f"pgcutover:org:{uid}".encode()).hexdigest()
    org2 = "porg_" + hashlib.md5(f"pgcutover:org:again:{uid}".encode()).hexdigest()
    load(
        legacy_url,
        f"""INSERT INTO "User" (id, name, "updatedAt") VALUES ('{uid}', 'Double', {TS});
            INSERT INTO "Organization" (id, name, "createdBy", "updatedAt") VALUES
              ('{org1}', 'squat 1', '{uid}', {TS}), ('{org2}', 'squat 2', '{uid}', {TS});""",
    )
    before = snapshot(legacy_url)
    settings = make_settings(tmp_path, legacy_url)
    try:
        commands.migrate_offline(settings, yes=True)
    except CutoverError as exc:
        pytest.fail(f"window failed on legacy ids shaped like both personal ids: {exc}")
    check_rules(before, snapshot(legacy_url))


def test_personal_member_ids_when_both_hashes_are_taken(tmp_path: Path, legacy_url: str) -> None:
    uid = "adv|double-m"
    m1 = "pmem_" + hashlib.md5(f"pgcutover:member:{uid}".encode()).hexdigest()
    m2 = "pmem_" + hashlib.md5(f"pgcutover:member:again:{uid}".encode()).hexdigest()
    load(
        legacy_url,
        f"""INSERT INTO "User" (id, name, "updatedAt") VALUES ('{uid}', 'Double', {TS});
            INSERT INTO "Organization" (id, name, "createdBy", "updatedAt") VALUES
              ('adv-o-a', 'a', '{uid}', {TS}), ('adv-o-b', 'b', '{uid}', {TS});
            INSERT INTO "OrganizationMember" (id, "organizationId", "userId", "updatedAt") VALUES
              ('{m1}', 'adv-o-a', '{uid}', {TS}), ('{m2}', 'adv-o-b', '{uid}', {TS});""",
    )
    before = snapshot(legacy_url)
    settings = make_settings(tmp_path, legacy_url)
    try:
        commands.migrate_offline(settings, yes=True)
    except CutoverError as exc:
        pytest.fail(f"window failed on legacy ids shaped like both personal member ids: {exc}")
    check_rules(before, snapshot(legacy_url))


# (description, corrupt SQL, restore SQL): each run on the migrated target, verify must fail.
CORRUPTIONS = [
    (
        "team org description NULL -> ''",
        """UPDATE public."Organization" SET description = '' WHERE id = 'edge-org-small'""",
        """UPDATE public."Organization" SET description = NULL WHERE id = 'edge-org-small'""",
    ),
    (
        "team org description '' -> NULL",
        """UPDATE public."Organization" SET description = NULL WHERE id = 'edge-org-solo'""",
        """UPDATE public."Organization" SET description = '' WHERE id = 'edge-org-solo'""",
    ),
    (
        "user name trailing space",
        """UPDATE public."User" SET name = name || ' ' WHERE id = 'adv|inner-nl'""",
        """UPDATE public."User" SET name = rtrim(name, ' ') WHERE id = 'adv|inner-nl'""",
    ),
    (
        "user name trailing NBSP",
        """UPDATE public."User" SET name = name || U&'\\00A0' WHERE id = 'adv|inner-nl'""",
        """UPDATE public."User" SET name = rtrim(name, U&'\\00A0') WHERE id = 'adv|inner-nl'""",
    ),
    (
        "compressionRatio 0 -> -0",
        """UPDATE public."McpServerRequestData" SET "compressionRatio" = '-0' WHERE id = """
        """'edge-data-1'""",
        """UPDATE public."McpServerRequestData" SET "compressionRatio" = 0 WHERE id = """
        """'edge-data-1'""",
    ),
    (
        "compressionRatio last bit",
        """UPDATE public."McpServerRequestData" SET "compressionRatio" = 0.30000000000000009 """
        """WHERE id = 'adv-data-6'""",
        """UPDATE public."McpServerRequestData" SET "compressionRatio" = 0.30000000000000004 """
        """WHERE id = 'adv-data-6'""",
    ),
    (
        "jsonb 1.0 -> 1",
        """UPDATE public."Tool" SET "inputSchema" = jsonb_set("inputSchema", '{a}', '1') WHERE """
        """id = 'adv-tool-3'""",
        """UPDATE public."Tool" SET "inputSchema" = jsonb_set("inputSchema", '{a}', '1.0') """
        """WHERE id = 'adv-tool-3'""",
    ),
    (
        "text[] '{}' -> NULL",
        """UPDATE public."McpServer" SET args = NULL WHERE id = 'edge-srv-http-oauth'""",
        """UPDATE public."McpServer" SET args = '{}' WHERE id = 'edge-srv-http-oauth'""",
    ),
    (
        "text[] lower bound",
        """UPDATE public."McpServer" SET args = '{a,b}' WHERE id = 'adv-srv-1'""",
        """UPDATE public."McpServer" SET args = '[0:1]={a,b}' WHERE id = 'adv-srv-1'""",
    ),
    (
        "text[] {NULL} -> {''}",
        """UPDATE public."McpServer" SET "oauthScopes" = '{""}' WHERE id = 'adv-srv-1'""",
        """UPDATE public."McpServer" SET "oauthScopes" = '{NULL}' WHERE id = 'adv-srv-1'""",
    ),
    (
        "bytea trailing NUL",
        """UPDATE public."McpServerRequestData" SET "inputDataCompressed" = """
        """"inputDataCompressed" || '\\x00'::bytea WHERE id = 'edge-data-1'""",
        """UPDATE public."McpServerRequestData" SET "inputDataCompressed" = '\\x'::bytea WHERE """
        """id = 'edge-data-1'""",
    ),
    (
        "timestamp infinity -> max finite",
        """UPDATE public."McpApiKey" SET "expiresAt" = '294276-12-31 23:59:59.999' WHERE id = """
        """'adv-key-1'""",
        """UPDATE public."McpApiKey" SET "expiresAt" = 'infinity' WHERE id = 'adv-key-1'""",
    ),
    (
        "team maxMembers 10 -> 11",
        """UPDATE public."Organization" SET "maxMembers" = 11 WHERE id = 'adv-org-10'""",
        """UPDATE public."Organization" SET "maxMembers" = 10 WHERE id = 'adv-org-10'""",
    ),
    (
        "personal org name trailing space",
        """UPDATE public."Organization" o SET name = o.name || ' ' FROM public."User" u WHERE """
        """u.id = 'adv|inner-nl' AND o.id = u."defaultOrganizationId\"""",
        """UPDATE public."Organization" o SET name = rtrim(o.name, ' ') FROM public."User" u """
        """WHERE u.id = 'adv|inner-nl' AND o.id = u."defaultOrganizationId\"""",
    ),
    (
        "personal membership not admin",
        """UPDATE public."OrganizationMember" m SET "isAdmin" = false FROM public."User" u """
        """WHERE u.id = 'adv|inner-nl' AND m."organizationId" = u."defaultOrganizationId\"""",
        """UPDATE public."OrganizationMember" m SET "isAdmin" = true FROM public."User" u """
        """WHERE u.id = 'adv|inner-nl' AND m."organizationId" = u."defaultOrganizationId\"""",
    ),
    (
        "R5 config moved from personal org to another user's personal org",
        """UPDATE public."UserToolGroup" SET "organizationId" = (SELECT """
        """"defaultOrganizationId" FROM public."User" WHERE id = 'adv|bom') WHERE id = """
        """'adv-grp-3'""",
        """UPDATE public."UserToolGroup" SET "organizationId" = (SELECT """
        """"defaultOrganizationId" FROM public."User" WHERE id = 'adv|trailing-id') WHERE id = """
        """'adv-grp-3'""",
    ),
    (
        "R7 log org moved to the log user's personal org instead of the instance's",
        """UPDATE public."McpServerRequestLog" SET "organizationId" = (SELECT """
        """"defaultOrganizationId" FROM public."User" WHERE id = 'auth0|edge-null-both') WHERE """
        """id = 'edge-log-7'""",
        """UPDATE public."McpServerRequestLog" SET "organizationId" = 'edge-org-big' WHERE id """
        """= 'edge-log-7'""",
    ),
    (
        "isPersonal flipped on a team org with a personal-looking shape",
        """UPDATE public."Organization" SET "isPersonal" = true WHERE id = 'adv-org-0'""",
        """UPDATE public."Organization" SET "isPersonal" = false WHERE id = 'adv-org-0'""",
    ),
]


def test_verify_fails_on_each_corruption(tmp_path: Path, adversarial_url: str) -> None:
    url = adversarial_url
    settings = make_settings(tmp_path, url)
    run_id = commands.migrate_offline(settings, yes=True)
    missed = []
    for what, corrupt, restore in CORRUPTIONS:
        load(url, corrupt)
        if what == "user name trailing space":  # the exact comparison itself sees a change
            assert exact_differences(url) != {}
        try:
            verify_again(settings, run_id)
        except BaseException as exc:  # pytest.raises failure: verify passed
            if "DID NOT RAISE" not in str(exc):
                raise
            missed.append(what)
        finally:
            load(url, restore)
    assert exact_differences(url) == {}
    assert missed == []


def test_verify_checksum_depends_on_extra_float_digits(
    tmp_path: Path, cluster, adversarial_url: str
) -> None:
    # A database (or role) setting the app's driver may carry: extra_float_digits = 0 prints 15
    # significant digits, so ROW(...)::text no longer tells two doubles apart.
    url = adversarial_url
    dbname = url.rsplit("/", 1)[1]
    settings = make_settings(tmp_path, url)
    run_id = commands.migrate_offline(settings, yes=True)
    a = admin(cluster)
    try:
        a.execute(f"ALTER DATABASE {dbname} SET extra_float_digits = 0")
    finally:
        a.close()
    load(
        url,
        """UPDATE public."McpServerRequestData" SET "compressionRatio" = 0.30000000000000009
           WHERE id = 'adv-data-6'""",
    )
    verify_again(settings, run_id)  # must fail: the value changed


SPEC_TARGET = PROJECT_ROOT / "sql" / "spec" / "target-schema.sql"


def schema_dump(cluster, dbname: str) -> str:
    out = subprocess.run(
        [
            str(cluster.bindir / "pg_dump"),
            "--schema-only",
            "--no-owner",
            "--no-privileges",
            "--no-comments",
            "-n",
            "public",
            cluster.superuser_url(dbname),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [
        ln
        for ln in out.splitlines()
        if ln.strip()
        and not ln.startswith("--")
        and not ln.startswith(("SET ", "\\restrict", "\\unrestrict"))
        and not ln.startswith("SELECT pg_catalog.set_config")
    ]
    return re.sub(r"\n+", "\n", "\n".join(lines))


def test_r12_pg_dump_of_public_equals_the_spec(tmp_path: Path, cluster, legacy_url: str) -> None:
    commands.migrate_offline(make_settings(tmp_path, legacy_url), yes=True)
    migrated = schema_dump(cluster, legacy_url.rsplit("/", 1)[1])
    with fresh_database(cluster, None) as name:
        db = connect(cluster.superuser_url(name), "psycopg")
        try:
            db.run_script(SPEC_TARGET.read_text())
        finally:
            db.close()
        spec = schema_dump(cluster, name)
    # the guard triggers live on cutover_legacy, not public: nothing else may differ
    diff = "\n".join(difflib.unified_diff(spec.splitlines(), migrated.splitlines(), lineterm=""))
    assert migrated == spec, diff


def test_audit_counts_tool_groups_in_another_org_whatever_the_org_ids(
    tmp_path: Path, legacy_url: str
) -> None:
    # R13: "instances whose tool group sits in another organization" must count what R5 makes of
    # them. An org id of the form 'personal:<userId>' is a legal legacy text id.
    uid = "adv|colon"
    load(
        legacy_url,
        f"""INSERT INTO "User" (id, name, "updatedAt") VALUES ('{uid}', 'C', {TS});
            INSERT INTO "Organization" (id, name, "createdBy", "updatedAt")
                 VALUES ('personal:{uid}', 'x', '{uid}', {TS});
            INSERT INTO "UserToolGroup" (id, name, description, "userId", "organizationId",
                   "updatedAt")
                 VALUES ('adv-colon-grp', 'g', '', '{uid}', NULL, {TS});
            INSERT INTO "UserMcpServerInstance" (id, name, description, "serverStatus",
                   "serverType", "toolGroupId",
                   "userId", "organizationId", "updatedAt")
                 VALUES ('adv-colon-inst', 'i', '', 'RUNNING', 'CUSTOM', 'adv-colon-grp', '{uid}',
                         'personal:{uid}', {TS});""",
    )
    settings = make_settings(tmp_path, legacy_url)
    run_id = commands.migrate_offline(settings, yes=True)
    report = json.loads((tmp_path / "runs" / run_id / "report.json").read_text())
    audited = {a["finding"]: a["rows"] for a in report["audit"]}[
        "instances whose tool group sits in another organization"
    ]
    db = connect(legacy_url, "psycopg")
    try:
        actual = db.query(
            'SELECT count(*) FROM public."UserMcpServerInstance" i JOIN public."UserToolGroup" g '
            'ON g.id = i."toolGroupId" WHERE i."organizationId" <> g."organizationId"'
        )[0][0]
    finally:
        db.close()
    assert audited == actual


@pytest.mark.parametrize(
    "setting",
    [
        "search_path = ''",
        "standard_conforming_strings = off",
        "extra_float_digits = -15",
        "DateStyle = 'SQL, DMY'",
        "TimeZone = 'Pacific/Kiritimati'",
        "default_transaction_isolation = 'serializable'",
        "lock_timeout = '10ms'",
    ],
)
def test_database_settings_do_not_bend_the_rules(
    tmp_path: Path, cluster, adversarial_url: str, setting: str
) -> None:
    url = adversarial_url
    dbname = url.rsplit("/", 1)[1]
    a = admin(cluster)
    try:
        a.execute(f"ALTER DATABASE {dbname} SET {setting}")
    finally:
        a.close()
    before = snapshot(url)
    commands.migrate_offline(make_settings(tmp_path, url), yes=True)
    check_rules(before, snapshot(url))
    assert exact_differences(url) == {}
