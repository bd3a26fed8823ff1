"""`invoke new-migration`: its names, its files, and a second migration built with it end to end.

The second migration is the test's own, written into the scaffold the way docs/new-migration.md
says: a legacy `person(id, full_name)` becomes `person(id, first_name, last_name)`. It runs the
whole window through the same engine as the shipped migration, rolls back to a database identical
to before, and runs again: nothing in the engine belongs to the shipped migration.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import app_url, fresh_database, make_settings

from pgcutover import commands
from pgcutover.compare import Fingerprint, database_fingerprint, diff_fingerprints
from pgcutover.db import connect
from pgcutover.errors import CutoverError
from pgcutover.migration import load_migration
from pgcutover.sandbox.cluster import LocalCluster
from pgcutover.scaffold import MARKER, new_migration, template_files

LEGACY_DDL = "CREATE TABLE public.person (id integer PRIMARY KEY, full_name text)"
# Awkward on purpose: NULL, empty, blank, one word, runs of spaces and tabs, no-break and
# ideographic spaces, accents, a quote, an emoji (four UTF-8 bytes).
AWKWARD = {
    1: "Ada Lovelace",
    2: None,
    3: "Plato",
    4: "  Grace   Brewster  Murray\tHopper  ",
    5: "José María Núñez",
    6: "山田\u3000太郎",
    7: "",
    8: " \t ",
    9: "Zoë\u00a0Ørsted",
    10: "O'Brien  ",
    11: "Ñandú 🦜 Parrot",
}
BULK = 300  # ordinary rows after the awkward ones

PLAN_PARAMETERS = (
    "[parameters]\n"
    "# R1's whitespace: the characters Python's str.isspace() accepts, as a bracket expression's\n"
    "# body (the transform and the audit read it; verify keeps its own list).\n"
    "whitespace = '\\t-\\r\\u001c-\\u0020\\u0085\\u00a0\\u1680"
    "\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000'\n"
)
PLAN_TODO = (
    "# pgcutover-scaffold: say what it moves on the first line, fill in dropped_by_design, then\n"
    "# delete these two lines. `grep -rln pgcutover-scaffold .` here lists the files still to "
    "write.\n"
)
SCHEMA_STATE = {
    "-- pgcutover-scaffold: fill in both lists (names as the catalog spells them); "
    "delete this line.\n": "",
    "('pgcutover-scaffold: the legacy tables')": "('person')",
    "('legacy', 'pgcutover-scaffold', 'a column only the legacy schema has')": (
        "('legacy', 'person', 'full_name')"
    ),
    "('migrated', 'pgcutover-scaffold', 'a column only the target schema has')": (
        "('migrated', 'person', 'first_name')"
    ),
}
TARGET_SCHEMA = """CREATE SCHEMA cutover_target;
CREATE TABLE cutover_target.person (
    id integer NOT NULL,
    first_name text,
    last_name text,
    CONSTRAINT person_pkey PRIMARY KEY (id)
);
"""
TRANSFORM = """-- R1: the words of full_name, split on runs of plan.toml's whitespace.
INSERT INTO cutover_target.person (id, first_name, last_name)
SELECT x.id, substring(n.clean FROM '^[^ ]+'), substring(n.clean FROM '^[^ ]+ (.+)$')
  FROM public.person x
 CROSS JOIN LATERAL (
       SELECT btrim(regexp_replace(
                  x.full_name, '[' || current_setting('pgcutover.whitespace') || ']+', ' ', 'g'))
              AS clean) n;

CREATE INDEX person_last_name_idx ON cutover_target.person (last_name);
ANALYZE cutover_target.person;
"""
RULES_HOLD = """SELECT 'person ' || id || ' has a last name but no first name' AS problem
  FROM public.person WHERE first_name IS NULL AND last_name IS NOT NULL
UNION ALL
SELECT 'person ' || id || ' has an empty or spaced name part'
  FROM public.person
 WHERE first_name = '' OR last_name = '' OR first_name ~ '\\s' OR last_name ~ '^\\s|\\s$|\\s\\s';
"""
# R1 in verify's own words: split into an array (the transform replaces and cuts with patterns),
# on its own list of spaces.
RECONCILE = """[tables.person]
columns = ["id", "first_name", "last_name"]
legacy_from = '''
CROSS JOIN LATERAL (
    SELECT array_remove(regexp_split_to_array(x.full_name,
           '[\\s\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]+'), '')
           AS words) w'''

[tables.person.legacy]
first_name = "w.words[1]"
last_name = "nullif(array_to_string(w.words[2:], ' '), '')"
"""
AUDIT = """-- R1's whitespace: plan.toml's, the transform's (the engine sets it for the audit too).
WITH ws AS (SELECT current_setting('pgcutover.whitespace') AS s)
SELECT 'person.full_name NULL or blank: no name parts' AS finding, 'R1' AS rule,
       count(*) AS rows
  FROM public.person, ws WHERE full_name IS NULL OR full_name !~ format('[^%s]', s)
UNION ALL
SELECT 'person.full_name of one word: no last name', 'R1', count(*)
  FROM public.person, ws WHERE full_name ~ format('^[%1$s]*[^%1$s]+[%1$s]*$', s)
"""
RULES = """# Migration split-person-names: the rules

R1. `person`: every legacy row is kept under the same `id`. `full_name` is split on runs of
    whitespace (what Python's str.isspace() accepts): `first_name` is its first word, `last_name`
    the other words joined by one space; a part with no word is NULL. `full_name` is dropped by
    design (its words are in the two parts).
"""


def split(full_name: str | None) -> tuple[str | None, str | None]:
    """R1 as the tests' oracle says it: Python's own split on Unicode whitespace."""
    words = (full_name or "").split()
    return (words[0] if words else None), (" ".join(words[1:]) or None)


def fill(path: Path, body: str) -> None:
    """Keep a scaffolded file's header, replace everything from its scaffold marker on."""
    text = path.read_text(encoding="utf-8")
    start = text.index(MARKER)
    path.write_text(text[: text.rindex("\n", 0, start) + 1] + body, encoding="utf-8")


def replace(path: Path, replacements: dict[str, str]) -> None:
    """Replace each scaffold snippet of a file, each exactly once."""
    text = path.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert text.count(old) == 1, f"{path.name}: {old!r}"
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


def generate_expected_shape(mig: Path, url: str, bindir: Path) -> None:
    """Generate the drift file's expected rows with the recipe its own header gives."""
    shape = mig / "preflight" / "0002_legacy_shape.sql"
    recipe = "\n".join(
        line[3:] for line in shape.read_text().splitlines() if line.startswith("--   ")
    )
    env = {**os.environ, "DATABASE_URL": url, "PATH": f"{bindir}:{os.environ['PATH']}"}
    out = subprocess.run(
        ["bash", "-c", recipe], cwd=mig, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out == (
        "    ('table', 'person', 'table'),\n"
        "    ('column', 'person.full_name', 'text'),\n"
        "    ('column', 'person.id', 'integer NOT NULL')\n"
    )
    replace(
        shape, {"    ('pgcutover-scaffold', 'the legacy shape: generate these rows', '')\n": out}
    )


def write_second_migration(mig: Path, url: str, bindir: Path, transform: str = TRANSFORM) -> None:
    """Fill every scaffolded file as docs/new-migration.md says."""
    replace(
        mig / "plan.toml",
        {
            "[parameters]\n": PLAN_PARAMETERS,
            '    # { table = "person", column = "full_name", rule = "R1" },\n': (
                '    { table = "person", column = "full_name", rule = "R1" },\n'
            ),
            "<say in one line what it moves, from what to what>": (
                "person.full_name split into first_name and last_name"
            ),
            PLAN_TODO: "",
        },
    )
    replace(mig / "preflight" / "0001_schema_state.sql", SCHEMA_STATE)
    generate_expected_shape(mig, url, bindir)
    fill(mig / "0001_target_schema.sql", TARGET_SCHEMA)
    fill(mig / "0002_transform.sql", transform)
    fill(mig / "verify" / "0001_rules_hold.sql", RULES_HOLD)
    fill(mig / "verify" / "0100_reconcile.toml", RECONCILE)
    fill(mig / "audit" / "0001_rows_rules_bend.sql", AUDIT)
    (mig / "rules.md").write_text(RULES, encoding="utf-8")
    left = [p for p in mig.rglob("*") if p.is_file() and MARKER in p.read_text(encoding="utf-8")]
    assert left == [], "a scaffold marker is left"


@pytest.fixture
def person_url(cluster: LocalCluster, template: str, app_password: str) -> Iterator[str]:
    """A fresh database holding only the second migration's legacy schema and data."""
    # (template: the session's app role exists once the shipped migration's template is built)
    with fresh_database(cluster, None) as name:
        url = app_url(cluster, app_password, name)
        db = connect(url, "psycopg")
        try:
            db.execute(LEGACY_DDL)
            for pid, full_name in AWKWARD.items():
                db.execute("INSERT INTO public.person VALUES (%s, %s)", [pid, full_name])
            db.execute(
                f"INSERT INTO public.person SELECT i, 'First' || i || '   Last ' || i "
                f"FROM generate_series(100, {99 + BULK}) i"
            )
        finally:
            db.close()
        yield url


def fingerprint(url: str) -> Fingerprint:
    """The database's whole state but the engine's bookkeeping schema, as rehearse compares it."""
    return database_fingerprint(url, "psycopg", step="tests")


def people(url: str, table: str = "public.person") -> dict[int, tuple[object, ...]]:
    db = connect(url, "psycopg")
    try:
        return {int(r[0]): tuple(r[1:]) for r in db.query(f"SELECT * FROM {table} ORDER BY 1")}
    finally:
        db.close()


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Person",
        "1st-try",
        "-split",
        "split-",
        "split--names",
        "split_names",
        "split names",
        "../escape",
        "a/b",
        "x" * 41,
        "two\nlines",
        "engine",
        "spec",
    ],
)
def test_a_silly_name_is_refused_in_one_line_and_creates_nothing(tmp_path: Path, name: str) -> None:
    with pytest.raises(CutoverError) as caught:
        new_migration(tmp_path, name)
    message = str(caught.value)
    assert message.startswith("new-migration: ") and "\n" not in message
    assert "nothing was created" in message
    assert list(tmp_path.iterdir()) == []


def test_an_existing_directory_is_refused_untouched(tmp_path: Path) -> None:
    (tmp_path / "split-names").mkdir()
    (tmp_path / "split-names" / "mine.sql").write_text("SELECT 1;")
    with pytest.raises(CutoverError, match=r"^new-migration: .*already exists"):
        new_migration(tmp_path, "split-names")
    assert [p.name for p in (tmp_path / "split-names").iterdir()] == ["mine.sql"]
    with pytest.raises(CutoverError, match="is not a directory"):
        new_migration(tmp_path / "nowhere", "split-names")
    assert not (tmp_path / "nowhere").exists()


def test_the_scaffold_loads_and_every_file_says_what_it_must_do(tmp_path: Path) -> None:
    mig = new_migration(tmp_path, "split-names")
    assert mig == tmp_path / "split-names"
    m = load_migration(mig)  # every file the plan names exists
    assert (m.name, m.app_schema, m.aside_schema) == ("split-names", "public", "cutover_legacy")
    assert (m.smoke_reads, m.smoke_writes, m.dropped, m.reconcile.tables) == ((), (), (), ())
    planned = {f.path.relative_to(mig) for f in m.all_files()}
    written = {p for p in template_files()} - {Path("plan.toml"), Path("rules.md")}
    assert planned == written, "every scaffolded SQL file is in the plan, and only those"
    assert len({f.name for f in m.all_files()}) == len(m.all_files()), "names are unique"
    for rel in template_files():
        text = (mig / rel).read_text(encoding="utf-8")
        assert "{{" not in text and "}}" not in text, rel
        if rel.suffix == ".sql":
            head = [ln for ln in text.splitlines() if ln.startswith("-- ")]
            assert any(ln.startswith("-- Must") for ln in head), f"{rel}: what it must do"
            assert any("must prove" in ln.lower() for ln in head), f"{rel}: what verify proves"
    # What is still to write carries the marker; the generic columns check is complete as is.
    unfilled = {rel for rel in template_files() if MARKER in (mig / rel).read_text()}
    generic = {Path("verify/0002_legacy_columns_accounted.sql")}
    assert unfilled == set(template_files()) - generic


def test_an_unfilled_scaffold_is_refused_by_preflight_changing_nothing(
    tmp_path: Path, person_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    mig = new_migration(tmp_path, "split-names")
    settings = make_settings(tmp_path, person_url, MIGRATION_DIR=str(mig))
    before = fingerprint(person_url)
    commands.migrate_offline(settings, dry=True)  # its plan reads before a line is written
    assert "0002_transform.sql" in capsys.readouterr().out
    with pytest.raises(
        CutoverError, match=r"^preflight: .*pgcutover-scaffold.*nothing was changed"
    ):
        commands.migrate_offline(settings, yes=True)
    assert diff_fingerprints(before, fingerprint(person_url)) == []


def test_a_second_migration_runs_rolls_back_exactly_and_runs_again(
    tmp_path: Path, person_url: str, cluster: LocalCluster
) -> None:
    (tmp_path / "sql").mkdir()
    mig = new_migration(tmp_path / "sql", "split-person-names")
    write_second_migration(mig, person_url, cluster.bindir)
    settings = make_settings(tmp_path, person_url, MIGRATION_DIR=str(mig))
    legacy = people(person_url)
    expected = {pid: split(full_name) for pid, (full_name,) in legacy.items()}
    assert expected[4] == ("Grace", "Brewster Murray Hopper") and expected[6] == ("山田", "太郎")

    # The filled preflight files say what they must, on the live legacy schema, read-only.
    db = connect(person_url, "psycopg")
    try:
        m = load_migration(mig)
        assert db.query(m.schema_state.text)[0][0] == "legacy"
        assert db.query(m.drift.text) == []
        db.execute("BEGIN")
        try:  # a hotfix's column, rolled back: drift names it before any downtime
            db.execute("ALTER TABLE public.person ADD COLUMN nickname text")
            drift = [r[0] for r in db.query(m.drift.text)]
        finally:
            db.execute("ROLLBACK")
        assert drift == ["person.nickname (unknown column)"]
    finally:
        db.close()

    before = fingerprint(person_url)
    for attempt in ("first", "again"):
        run_id = commands.migrate_offline(settings, yes=True)
        assert people(person_url) == expected, attempt
        assert people(person_url, "cutover_legacy.person") == legacy, attempt
        report = json.loads((tmp_path / "runs" / run_id / "report.json").read_text())
        assert report["passed"], attempt
        assert [(t["table"], t["legacy_rows"], t["match"]) for t in report["tables"]] == [
            ("person", len(legacy), True)
        ]
        assert [
            (d["table"], d["column"], d["non_null_values"]) for d in report["dropped_by_design"]
        ] == [("person", "full_name", sum(1 for (n,) in legacy.values() if n is not None))]
        audit = {a["finding"]: a["rows"] for a in report["audit"]}
        assert audit == {
            "person.full_name NULL or blank: no name parts": sum(
                1 for first, _ in expected.values() if first is None
            ),
            "person.full_name of one word: no last name": sum(
                1 for first, last in expected.values() if first is not None and last is None
            ),
        }
        if attempt == "first":
            commands.rollback(settings, yes=True)
            assert diff_fingerprints(before, fingerprint(person_url)) == []


def test_a_transform_that_bends_a_rule_is_caught_by_verify_and_rolled_back(
    tmp_path: Path, person_url: str, cluster: LocalCluster
) -> None:
    mig = new_migration(tmp_path, "split-person-names")
    ascii_only = TRANSFORM.replace("current_setting('pgcutover.whitespace')", "' '")
    assert ascii_only != TRANSFORM
    write_second_migration(mig, person_url, cluster.bindir, transform=ascii_only)
    before = fingerprint(person_url)
    with pytest.raises(
        CutoverError, match=r"^verify: .*person .*checksums differ.*rollback completed"
    ):
        commands.migrate_offline(
            make_settings(tmp_path, person_url, MIGRATION_DIR=str(mig)), yes=True
        )
    assert diff_fingerprints(before, fingerprint(person_url)) == []


def test_two_applied_files_of_one_name_are_refused_when_the_plan_loads(tmp_path: Path) -> None:
    mig = new_migration(tmp_path, "split-names")
    (mig / "more").mkdir()
    (mig / "more" / "0002_transform.sql").write_text("SELECT 1;\n")
    twice = 'files = ["0002_transform.sql", "more/0002_transform.sql"]'
    replace(mig / "plan.toml", {'files = ["0002_transform.sql"]': twice})
    with pytest.raises(CutoverError, match=r"^config: .*name 0002_transform.sql more than once"):
        load_migration(mig)
