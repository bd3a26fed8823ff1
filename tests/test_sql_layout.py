"""The SQL says each thing once: every copy names its source and stays true to it (the specs, the
target schema split in two), R3's whitespace is one definition shared by transform and audit and
checked by verify's own list, and the reconcile mapping compares every column of every kept table.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest
from conftest import make_settings
from rules import KEPT

from pgcutover.apply_sql import set_migration_parameters
from pgcutover.db import Database, connect
from pgcutover.errors import CutoverError
from pgcutover.migration import Migration, load_migration
from pgcutover.sandbox.cluster import LocalCluster
from pgcutover.sandbox.demo import LEGACY_SCHEMA
from pgcutover.settings import PROJECT_ROOT
from steps.preflight import audit, read_only

MIGRATION_DIR = PROJECT_ROOT / "sql" / "migration"
SPEC = PROJECT_ROOT / "sql" / "spec"
LEGACY, TARGET = SPEC / "legacy-schema.sql", SPEC / "target-schema.sql"
RULES = MIGRATION_DIR / "rules.md"
TABLES = MIGRATION_DIR / "0001_target_tables.sql"
INDEXES = MIGRATION_DIR / "0007_target_keys_and_indexes.sql"
FOREIGN_KEYS = MIGRATION_DIR / "0008_target_foreign_keys.sql"  # each added NOT VALID
VALIDATIONS = MIGRATION_DIR / "0009_validate_foreign_keys.sql"
NOT_VALID = " NOT VALID"
BUILD = load_migration(MIGRATION_DIR).build_schema  # where 0001, 0007 and 0008 build the target
HEADER_LINES = 2  # what each copy of the shared spec adds to its source: the "Copied from" header
# Where the tree's own runs and tools write SQL that is not the project's (none is a copy to keep).
NOT_SOURCE = {".git", ".sandbox", ".venv", "runs", "backups", "node_modules"}
# A target column the reconcile does not compare: new in the target, its rule checked by 0001.
NOT_RECONCILED = {("User", "defaultOrganizationId")}  # R3
# A spec table with its primary key inline, as statements() collapses it; 0007 adds the key.
INLINE_KEY = re.compile(
    r'(?P<table>CREATE TABLE (?P<name>"\w+"\."\w+") \(.*?), '
    r'CONSTRAINT (?P<key>"\w+") PRIMARY KEY (?P<cols>\([^)]*\)) \)'
)
KEYS_AND_INDEXES = ("CREATE INDEX", "CREATE UNIQUE INDEX", "ALTER TABLE")
SPACES = {c for c in range(0x110000) if chr(c).isspace()}
SURROGATES = (0xD800, 0xDFFF)  # no chr() in a UTF8 database, and never str.isspace()


def statements(path: Path) -> list[str]:
    """Return a DDL file's statements, comments dropped and whitespace collapsed."""
    # The spec DDL holds no '--' or ';' inside a literal, so a line comment ends a statement's text.
    text = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
    return [s for s in (" ".join(part.split()) for part in text.split(";")) if s]


def sql_files() -> list[Path]:
    """List the project's own SQL files, wherever they sit in the tree."""
    return sorted(
        p
        for p in PROJECT_ROOT.rglob("*.sql")
        if not NOT_SOURCE & set(p.relative_to(PROJECT_ROOT).parts)
    )


def holders() -> dict[str, set[Path]]:
    """Map each statement of the tree's SQL files to the files that hold it."""
    out: dict[str, set[Path]] = {}
    for f in sql_files():
        for s in statements(f):
            out.setdefault(s, set()).add(f)
    return out


def built_apart(statement: str) -> str:
    """Return a spec statement as deploy-schema runs it: in the build schema, created anew."""
    if statement == 'CREATE SCHEMA IF NOT EXISTS "public"':
        return f'CREATE SCHEMA "{BUILD}"'
    return statement.replace('"public".', f'"{BUILD}".')


def keys_after_load(spec: list[str]) -> list[str]:
    """Return the spec's statements as 0001 + 0007 deploy them: in the build schema, and each
    table's inline primary key an ALTER TABLE … ADD CONSTRAINT (same name, same columns) before
    the first index."""
    tables: list[str] = []
    keys: list[str] = []
    for s in map(built_apart, spec):
        match = INLINE_KEY.fullmatch(s)
        if match is None:
            tables.append(s)
            continue
        tables.append(match["table"] + " )")
        keys.append(
            f"ALTER TABLE {match['name']} ADD CONSTRAINT {match['key']} PRIMARY KEY {match['cols']}"
        )
    first = next(i for i, s in enumerate(tables) if s.startswith(KEYS_AND_INDEXES))
    return tables[:first] + keys + tables[first:]


def test_the_deployed_target_schema_is_the_spec_split_in_three() -> None:
    foreign = statements(FOREIGN_KEYS)
    assert all("FOREIGN KEY" in s and s.endswith(NOT_VALID) for s in foreign), "0008: NOT VALID"
    deployed = (
        statements(TABLES) + statements(INDEXES) + [s.removesuffix(NOT_VALID) for s in foreign]
    )
    spec = statements(TARGET)
    assert deployed == keys_after_load(spec), "0001/0007/0008 drifted from target-schema.sql"
    assert not any("FOREIGN KEY" in s for s in statements(INDEXES)), "0007 runs side by side"
    added = [re.match(r'ALTER TABLE (\S+) ADD CONSTRAINT (\S+) FOREIGN KEY', s) for s in foreign]
    assert statements(VALIDATIONS) == [
        f"ALTER TABLE {m[1]} VALIDATE CONSTRAINT {m[2]}" for m in added if m
    ], "0009 validates every foreign key 0008 adds, once, in its order"
    assert sum(s.startswith("CREATE TABLE") for s in spec) == sum(
        " PRIMARY KEY " in s for s in statements(INDEXES)
    ), "every table's primary key is added by 0007"
    assert not any(
        s.startswith(("CREATE INDEX", "CREATE UNIQUE INDEX", "ALTER TABLE"))
        for s in statements(TABLES)
    ), "0001 holds tables only: indexes and keys in 0007"
    assert not any("PRIMARY KEY" in s for s in statements(TABLES)), "0001 loads unindexed tables"


@pytest.mark.parametrize(
    "copy, source",
    [
        (LEGACY, "shared/spec/legacy-schema.sql"),
        (TARGET, "shared/spec/target-schema.sql"),
        (RULES, "shared/spec/transform-rules.md"),
        (TABLES, "sql/spec/target-schema.sql"),
        (INDEXES, "sql/spec/target-schema.sql"),
        (FOREIGN_KEYS, "sql/spec/target-schema.sql"),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else "",
)
def test_every_copy_names_its_source_in_its_first_line(copy: Path, source: str) -> None:
    first = copy.read_text(encoding="utf-8").splitlines()[0]
    assert re.match(f"(--|<!--) Copied from {re.escape(source)} ", first), first


# The sha256 of each copy's text below its header, taken when it was copied from shared/spec
# and checked equal to it then. The project keeps its own copies (shared/ is not part of it),
# so the test pins them: an edit to a copy fails here,
# and a new spec is copied in on purpose, with a new hash.
COPIED_SHA256 = {
    "legacy-schema.sql": "5f2815d0a127906fd9865640e18fd2140fce97d83379b9cae1b5d6525c4a824e",
    "target-schema.sql": "f6406f5f87971f241759ddeb21db3e95a9233234a4a41ca1b6b43a4fe5a2a6c0",
    "rules.md": "e465547d0e35f1034ad7aa0a42f5214cb5d0c804c744740778a2839bee81103b",
}


@pytest.mark.parametrize("copy", [LEGACY, TARGET, RULES], ids=lambda v: v.name)
def test_the_spec_copies_are_unchanged_since_copied(copy: Path) -> None:
    body = copy.read_text(encoding="utf-8").split("\n", HEADER_LINES)[HEADER_LINES]
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    assert digest == COPIED_SHA256[copy.name], (
        f"{copy} changed since it was copied from shared/spec"
    )


def test_the_sandbox_and_the_tests_load_the_one_legacy_spec() -> None:
    assert LEGACY_SCHEMA.resolve() == LEGACY.resolve()  # conftest builds its template with it
    where = holders()
    strays = {s: where[s] - {LEGACY} for s in statements(LEGACY) if where[s] != {LEGACY}}
    assert not strays, "a second copy of the legacy spec"


def test_the_target_spec_has_no_copy_but_its_deployed_split() -> None:
    where = holders()
    for s in statements(TARGET):  # 0001, 0007, 0008 name the build schema: no statement repeats
        assert where[s] == {TARGET}, s
    for s in keys_after_load(statements(TARGET)):
        if "FOREIGN KEY" in s:
            s += NOT_VALID  # 0008 adds them NOT VALID, 0009 validates them
        assert where.get(s, set()) - {TARGET} in ({TABLES}, {INDEXES}, {FOREIGN_KEYS}), s


def test_r3_whitespace_is_str_isspace_in_shared_rule_and_verify(cluster: LocalCluster) -> None:
    migration = load_migration(MIGRATION_DIR)
    edges = {
        f.name: shared_edges(f.text)
        for f in (*migration.transform, *migration.audit)
        if "pgcutover.whitespace" in f.text
    }
    assert set(edges) == {"0002_users_and_organizations.sql", "0001_rows_rules_bend.sql"}
    (shared,) = set(edges.values())  # transform and audit trim with one expression
    assert not [f.name for f in migration.invariants if "pgcutover.whitespace" in f.text], (
        "verify keeps its own R3 formulation: it must not be its own oracle"
    )
    db = connect(cluster.superuser_url(), "psycopg", application_name="tests layout")
    try:
        with db.transaction():
            set_migration_parameters(db, migration)
            trimmed = {
                int(r[0])
                for r in db.query(
                    f"""SELECT cp FROM generate_series(1, 1114111) cp CROSS JOIN {shared} ws
                     WHERE cp NOT BETWEEN {SURROGATES[0]} AND {SURROGATES[1]}
                       AND regexp_replace(chr(cp), ws.edges, '', 'g') = ''"""
                )
            }
        verify_chars = verify_whitespace(db, migration)
    finally:
        db.close()
    assert trimmed == SPACES, ("shared whitespace vs str.isspace", trimmed ^ SPACES)
    assert verify_chars == SPACES, ("verify's own list vs str.isspace", verify_chars ^ SPACES)


def shared_edges(text: str) -> str:
    """Return the subquery a file trims R3's whitespace with (the one reading the parameter)."""
    found = re.findall(
        r"CROSS JOIN (\(SELECT format\(.*pgcutover\.whitespace.*\) AS edges\)) ws", text
    )
    assert len(found) == 1, "one trimming subquery per file"
    return str(found[0])


def verify_whitespace(db: Database, migration: Migration) -> set[int]:
    """Return the code points of verify's own R3 list (the ws CTE of its R3 check)."""
    r3 = next(f for f in migration.invariants if f.name == "0001_personal_organizations.sql").text
    cte = r3[r3.index("WITH ws(chars) AS (") : r3.index("), expected AS NOT MATERIALIZED (")] + ")"
    return {ord(c) for c in str(db.query(cte + " SELECT chars FROM ws")[0][0])}


def test_r6_is_one_function_in_the_transform_and_verify_keeps_its_own() -> None:
    migration = load_migration(MIGRATION_DIR)

    def code(text: str, comment: str) -> str:
        return re.sub(f"{comment}[^\n]*", "", text)

    mapped = {f.name: code(f.text, "--").count("'BOTH'") for f in migration.transform}
    assert {n: c for n, c in mapped.items() if c} == {"0003_catalog_tables.sql": 1}
    assert {f.name for f in migration.transform if "pg_temp.cutover_auth_type(" in f.text} == {
        "0003_catalog_tables.sql",
        "0004_organization_scoped_tables.sql",
    }
    reconcile = code(migration.reconcile.text, "#")
    assert reconcile.count("'BOTH'") == 1, "the reconcile writes R6 once, in its [with]"
    assert not [
        f.name for f in (*migration.invariants, migration.reconcile) if "auth_type(" in f.text
    ], "verify keeps its own R6 formulation: it must not be its own oracle"


def test_the_audit_counts_blank_users_as_the_python_oracle_does(
    tmp_path: Path, legacy_url: str
) -> None:
    db = connect(legacy_url, "psycopg")
    try:  # users whose name and email are nothing but one kind of whitespace, or NULL
        for cp in sorted(SPACES):
            db.execute(
                """INSERT INTO "User" (id, name, email, "updatedAt")
                          VALUES (%s, %s, %s, now())""",
                [f"auth0|blank-{cp}", chr(cp) * 2, chr(cp)],
            )
        users = db.query('SELECT name, email FROM "User"')
        with read_only(db):
            findings = audit(db, load_migration(make_settings(tmp_path, legacy_url).migration_dir))
    finally:
        db.close()
    blank = sum(
        1 for name, email in users if not (name or "").strip() and not (email or "").strip()
    )
    counted = {f["finding"]: f["rows"] for f in findings}
    assert (
        counted["users with neither name nor email (personal org named 'User's Workspace')"]
        == blank
        >= len(SPACES)
    )


def test_the_reconcile_compares_every_column_of_every_kept_table() -> None:
    tables = load_migration(MIGRATION_DIR).reconcile.tables
    assert [t.name for t in tables] == KEPT
    target = dict(
        re.findall(
            rf'CREATE TABLE "{BUILD}"\."(\w+)" \((.*?)\n\);',
            TABLES.read_text(encoding="utf-8"),
            re.S,
        )
    )
    for t in tables:
        columns = [
            c
            for c in re.findall(r'^ {4}"(\w+)" ', target[t.name], re.M)
            if (t.name, c) not in NOT_RECONCILED
        ]
        assert list(t.columns) == columns, t.name


@pytest.mark.parametrize(
    "plan, error",
    [
        ('[parameters]\nrun_id = "x"\n', "run_id: set by the engine for every run"),
        ('[parameters]\nwhitespace = ""\n', "whitespace must not be empty"),
        ('[parameters]\nWhite = "x"\n', "'White' must be a lowercase name"),
    ],
)
def test_plan_parameters_are_checked_when_the_migration_loads(
    tmp_path: Path, plan: str, error: str
) -> None:
    copy = tmp_path / "migration"
    shutil.copytree(MIGRATION_DIR, copy)
    text = (copy / "plan.toml").read_text(encoding="utf-8")
    head, _, rest = text.partition("[parameters]")
    (copy / "plan.toml").write_text(head + plan + rest[rest.index("\n[") :], encoding="utf-8")
    with pytest.raises(CutoverError, match=re.escape(error)):
        load_migration(copy)


def test_the_reconcile_mapping_refuses_what_it_does_not_know(tmp_path: Path) -> None:
    copy = tmp_path / "migration"
    shutil.copytree(MIGRATION_DIR, copy)
    mapping = copy / "verify" / "0100_reconcile.toml"
    text = mapping.read_text(encoding="utf-8")
    mapping.write_text(text.replace("hashed = [", "hash = ["), encoding="utf-8")
    with pytest.raises(CutoverError, match=r"McpServerRequestData\] has unknown keys hash"):
        load_migration(copy)
    mapping.write_text(
        text.replace('isPersonal = "false"', 'isPersonel = "false"'), encoding="utf-8"
    )
    with pytest.raises(CutoverError, match=r"\(isPersonel missing\)"):
        load_migration(copy)
