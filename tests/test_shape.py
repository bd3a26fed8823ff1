"""Schema shapes: the expected shapes in the migration's SQL are the specs' real catalogs, and the
checks built on them (preflight and audit drift, the schema state) name what differs, read-only.

The expected rows are generated, never edited by hand. After a spec changes, regenerate them (this
starts a throwaway cluster, builds each spec and rewrites the files' generated blocks):

    python tests/test_shape.py
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import APP_ROLE, admin, app_url, drop_database, fingerprint, make_settings, run_cli

from pgcutover import commands, reports
from pgcutover.db import Database, connect, ident
from pgcutover.errors import CutoverError
from pgcutover.migration import load_migration
from pgcutover.sandbox.cluster import LocalCluster
from pgcutover.settings import PROJECT_ROOT, default_pg_bindir
from steps.verify import pin_search_path

MIGRATION = PROJECT_ROOT / "sql" / "migration"
SPEC = PROJECT_ROOT / "sql" / "spec"
WIDTH = 100
BEGIN, END, DIFFERENCES = "    -- BEGIN EXPECTED", "    -- END EXPECTED", "-- DIFFERENCES"
PLACEHOLDER = "    (NULL::text, NULL::text, NULL::text)\n"
OUTSIDER, OUTSIDER_PASSWORD = "cutover_outsider", "outsider-pw-5c2e"
Row = tuple[str, str, str]


@dataclass(frozen=True)
class Shape:
    """One generated expected shape: the SQL file that holds it and the spec it comes from."""

    file: Path
    spec: Path
    pinned: bool  # run as verify runs it (search_path pinned), else as preflight and audit do

    def run(self, db: Database, text: str | None = None) -> list[tuple[object, ...]]:
        """Run the file (or a variant of its text) as its step does, in a read-only transaction."""
        with db.transaction():
            db.execute("SET TRANSACTION READ ONLY")  # any DDL, even rolled back, would fail here
            if self.pinned:
                pin_search_path(db, load_migration(MIGRATION))
            return db.query(self.file.read_text(encoding="utf-8") if text is None else text)


TARGET = Shape(
    MIGRATION / "verify" / "0002_schema_shape.sql", SPEC / "target-schema.sql", pinned=True
)
LEGACY = Shape(
    MIGRATION / "preflight" / "0002_legacy_shape.sql", SPEC / "legacy-schema.sql", pinned=False
)
SHAPES = (TARGET, LEGACY)


def split_expected(text: str) -> tuple[str, str, str]:
    """Split a shape file into (head through its BEGIN line, generated rows, tail from END)."""
    start = text.index("\n", text.index(BEGIN)) + 1
    end = text.index(END, start)
    return text[:start], text[start:end], text[end:]


def actual_shape(shape: Shape, db: Database) -> list[Row]:
    """Read a database's shape with the file's own `actual` query (minus its comparison)."""
    head, _, tail = split_expected(shape.file.read_text(encoding="utf-8"))
    query = (
        head
        + PLACEHOLDER
        + tail[: tail.index(DIFFERENCES)]
        + "SELECT kind, name, definition FROM actual"
    )
    return sorted((str(k), str(n), str(d)) for k, n, d in shape.run(db, query))


def quoted(value: str) -> str:
    """Quote a value as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def literal_lines(value: str, indent: str, suffix: str) -> list[str]:
    """Quote a value, split into adjacent literals on separate lines (SQL concatenates them)."""
    room = WIDTH - len(indent) - len(suffix) - 2
    pieces, rest = [], value
    while len(quoted(rest)) - 2 > room:
        cut = room
        while len(quoted(rest[:cut])) - 2 > room:
            cut -= 1
        space = rest.rfind(" ", 0, cut)
        cut = space + 1 if space > room // 2 else cut  # break after a space when one is near
        pieces.append(rest[:cut])
        rest = rest[cut:]
    lines = [indent + quoted(p) for p in [*pieces, rest]]
    lines[-1] += suffix
    return lines


def render_rows(rows: list[Row]) -> str:
    """Render rows as a shape file's VALUES lines, none longer than WIDTH."""
    out: list[str] = []
    for i, (kind, name, definition) in enumerate(rows):
        end = ")," if i < len(rows) - 1 else ")"
        line = f"    ({quoted(kind)}, {quoted(name)}, {quoted(definition)}{end}"
        if len(line) <= WIDTH:
            out.append(line)
        else:
            out += [
                f"    ({quoted(kind)},",
                *literal_lines(name, "     ", ","),
                *literal_lines(definition, "     ", end),
            ]
    return "\n".join(out) + "\n"


@contextmanager
def spec_database(cluster: LocalCluster, spec: Path) -> Iterator[Database]:
    """Build a spec in a fresh empty database and yield a connection to it; drop it afterwards."""
    name = "spec_" + secrets.token_hex(4)
    a = admin(cluster)
    try:
        a.execute(f"CREATE DATABASE {ident(name)}")
    finally:
        a.close()
    db = connect(cluster.superuser_url(name), "psycopg", application_name="tests shape")
    try:
        db.run_script(spec.read_text(encoding="utf-8"))
        yield db
    finally:
        db.close()
        drop_database(cluster, name)


def regenerate(cluster: LocalCluster) -> None:
    """Rewrite each shape file's generated rows from its spec's real catalog."""
    for shape in SHAPES:
        with spec_database(cluster, shape.spec) as db:
            rows = actual_shape(shape, db)
        head, _, tail = split_expected(shape.file.read_text(encoding="utf-8"))
        shape.file.write_text(head + render_rows(rows) + tail, encoding="utf-8")
        print(f"{shape.file.relative_to(PROJECT_ROOT)}: {len(rows)} rows from {shape.spec.name}")


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.file.name)
def test_expected_shape_is_the_specs_catalog(cluster: LocalCluster, shape: Shape) -> None:
    with spec_database(cluster, shape.spec) as db:
        differences = shape.run(db)
        rows = actual_shape(shape, db)
    hint = f"{shape.file.name} drifted from {shape.spec.name}: run python tests/test_shape.py"
    assert differences == [], hint
    assert split_expected(shape.file.read_text(encoding="utf-8"))[1] == render_rows(rows), hint
    assert max(len(line) for line in render_rows(rows).splitlines()) <= WIDTH


def test_generated_literals_split_and_join_back(cluster: LocalCluster) -> None:
    value = "x" * 150 + " it's " + "y" * 30
    lines = literal_lines(value, "     ", "),")
    assert len(lines) > 1 and all(len(line) <= WIDTH for line in lines)
    db = connect(cluster.superuser_url(), "psycopg")
    try:
        assert db.query("SELECT " + "\n".join(lines)[:-2].strip())[0][0] == value
    finally:
        db.close()


def drift_the_legacy_schema(url: str) -> None:
    """Change the live legacy schema as hotfixes might: every kind of drift preflight names."""
    db = connect(url, "psycopg")
    try:
        db.run_script("""ALTER TABLE "User" ADD COLUMN nickname text;
                         ALTER TABLE "McpApiKey" ALTER COLUMN name TYPE varchar(200);
                         ALTER TABLE "Tool" ALTER COLUMN description DROP NOT NULL;
                         ALTER TABLE "McpServer" DROP COLUMN "iconPath";
                         CREATE TABLE "_prisma_migrations" (id text PRIMARY KEY);""")
        db.execute("""ALTER TYPE "AuthType" ADD VALUE 'SAML'""")
    finally:
        db.close()


DRIFT = [
    "AuthType (enum is (NONE, API_KEY, OAUTH, BOTH, SAML), expected (NONE, API_KEY, OAUTH, BOTH))",
    "McpApiKey.name (column is character varying(200) NOT NULL, expected text NOT NULL)",
    "McpServer.iconPath (missing column)",
    "Tool.description (column is text, expected text NOT NULL)",
    "User.nickname (unknown column)",
    "_prisma_migrations (unknown table)",
]


def last_line(proc: subprocess.CompletedProcess[str]) -> str:
    """Return a refused task's one-line error (non-zero exit, no traceback)."""
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert proc.returncode != 0 and lines, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    return lines[-1]


def cli_env(tmp_path: Path, url: str) -> dict[str, str]:
    """Environment for `invoke` against url, with the test's own directories."""
    return {
        "DATABASE_URL": url,
        "BACKUP_DIR": str(tmp_path / "backups"),
        "RUNS_DIR": str(tmp_path / "runs"),
    }


def test_preflight_and_audit_name_legacy_drift_before_the_window(
    tmp_path: Path, legacy_url: str
) -> None:
    drift_the_legacy_schema(legacy_url)
    before = fingerprint(legacy_url)
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=cli_env(tmp_path, legacy_url))
    line = last_line(proc)
    prefix = "preflight: the live legacy schema differs from what the migration expects: "
    assert line.startswith(prefix) and line.endswith("; nothing was changed"), line
    for d in DRIFT:
        assert d in line, (d, line)
    assert not (tmp_path / "backups").exists(), "refused before the backup"

    proc = run_cli(["audit"], cwd=tmp_path, env=cli_env(tmp_path, legacy_url))
    line = last_line(proc)
    assert line.startswith(
        "audit: the live legacy schema differs from what the migration expects: "
    ), line
    assert all(d in line for d in DRIFT), line
    assert "User.nickname" in proc.stdout  # the drift, and the counts beside it
    assert "Rows the rules will bend" in proc.stdout
    assert fingerprint(legacy_url) == before


def test_audit_names_drift_even_when_rows_cannot_be_counted(
    tmp_path: Path, legacy_url: str
) -> None:
    db = connect(legacy_url, "psycopg")
    try:
        db.execute("""ALTER TABLE "McpServerRequestLog" DROP COLUMN "userId" """)
    finally:
        db.close()
    before = fingerprint(legacy_url)
    with pytest.raises(CutoverError) as refused:
        reports.audit(make_settings(tmp_path, legacy_url))
    assert "McpServerRequestLog.userId (missing column)" in refused.value.cause
    assert "rows not counted" in refused.value.cause
    assert fingerprint(legacy_url) == before


def test_a_database_not_in_utf8_is_refused_before_the_window(
    tmp_path: Path, cluster: LocalCluster, app_password: str
) -> None:
    # The rules read text as Unicode (R3's whitespace; verify builds it from code points a
    # LATIN1 database cannot hold): preflight names the encoding, before any downtime.
    name = "t_" + secrets.token_hex(4)
    a = admin(cluster)
    try:
        a.execute(
            f"CREATE DATABASE {ident(name)} TEMPLATE template0 ENCODING 'LATIN1' "
            f"LC_COLLATE 'C' LC_CTYPE 'C' OWNER {ident(APP_ROLE)}"
        )
    finally:
        a.close()
    try:
        url = app_url(cluster, app_password, name)
        db = connect(url, "psycopg")
        try:
            db.run_script((PROJECT_ROOT / "sql" / "spec" / "legacy-schema.sql").read_text())
        finally:
            db.close()
        before = fingerprint(url)
        proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=cli_env(tmp_path, url))
        line = last_line(proc)
        assert line == (
            "preflight: the live legacy schema differs from what the migration expects: "
            "database (encoding is LATIN1, expected UTF8); nothing was changed"
        ), line
        assert fingerprint(url) == before
    finally:
        drop_database(cluster, name)


def test_an_undrifted_legacy_schema_has_no_drift(legacy_url: str) -> None:
    db = connect(legacy_url, "psycopg")
    try:
        assert LEGACY.run(db) == []  # the demo data and edge cases do not change the shape
    finally:
        db.close()


def test_audit_on_a_migrated_database_says_why_in_one_line(tmp_path: Path, legacy_url: str) -> None:
    commands.migrate_offline(make_settings(tmp_path / "window", legacy_url), yes=True)
    before = fingerprint(legacy_url)
    line = last_line(run_cli(["audit"], cwd=tmp_path, env=cli_env(tmp_path, legacy_url)))
    assert line.startswith("audit: the database holds an already-migrated schema ("), line
    assert line.endswith("): audit reads the legacy schema before a window"), line
    assert fingerprint(legacy_url) == before


@pytest.fixture
def outsider_url(cluster: LocalCluster, legacy_url: str) -> str:
    """A role with CONNECT on the legacy database and no other right: it owns nothing there."""
    a = admin(cluster)
    try:
        if not a.query("SELECT 1 FROM pg_roles WHERE rolname = %s", [OUTSIDER]):
            # CREATE ROLE takes no bind parameters: the server quotes the password literal
            password = a.query("SELECT quote_literal(%s)", [OUTSIDER_PASSWORD])[0][0]
            a.execute(f"CREATE ROLE {ident(OUTSIDER)} LOGIN PASSWORD {password}")
        dbname = legacy_url.rsplit("/", 1)[1]
        a.execute(f"GRANT CONNECT ON DATABASE {ident(dbname)} TO {ident(OUTSIDER)}")
    finally:
        a.close()
    credentials = legacy_url.split("@")[0]
    return legacy_url.replace(credentials, f"postgresql://{OUTSIDER}:{OUTSIDER_PASSWORD}")


def test_a_role_that_does_not_own_the_schema_is_told_which_rights_it_lacks(
    tmp_path: Path, legacy_url: str, outsider_url: str
) -> None:
    db = connect(outsider_url, "psycopg")
    try:  # the catalog shows it the legacy schema, its columns and their shape, privileges or not
        state = db.query(load_migration(MIGRATION).schema_state.text)[0]
        assert state == ("legacy", "all 14 legacy tables present")
        assert LEGACY.run(db) == []
    finally:
        db.close()
    before = fingerprint(legacy_url)
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=cli_env(tmp_path, outsider_url))
    line = last_line(proc)
    assert line.startswith("preflight: the connected role lacks "), line
    assert (
        f"ownership of schema public (to set it aside): ALTER SCHEMA public OWNER TO {OUTSIDER}"
    ) in line
    assert "does not hold the legacy schema" not in line
    assert fingerprint(legacy_url) == before


def main() -> None:
    """Regenerate the expected shapes on a throwaway cluster."""
    bindir = default_pg_bindir()
    if bindir is None:
        sys.exit("PostgreSQL server programs not found under /usr/lib/postgresql")
    cluster = LocalCluster(Path(tempfile.mkdtemp(prefix="pgcutover-shape-")), bindir)
    cluster.init()
    cluster.start()
    try:
        regenerate(cluster)
    finally:
        cluster.destroy()


if __name__ == "__main__":
    main()


def test_what_else_lives_in_public_is_refused_before_the_window(
    tmp_path: Path, legacy_url: str
) -> None:
    # The window sets "public" aside and builds a new one: these would stay behind with the old
    # schema (and pg_dump -n public leaves extensions out of the backup).
    db = connect(legacy_url, "psycopg")
    try:
        db.run_script("""CREATE EXTENSION pgcrypto SCHEMA public;
                         CREATE FUNCTION public.user_count() RETURNS bigint LANGUAGE sql
                           AS 'SELECT count(*) FROM public."User"';
                         CREATE VIEW public.admins AS
                           SELECT id FROM public."User" WHERE role = 'SYSTEM_ADMIN';""")
    finally:
        db.close()
    before = fingerprint(legacy_url)
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=cli_env(tmp_path, legacy_url))
    line = last_line(proc)
    assert line.startswith("preflight: the live legacy schema differs"), line
    for name in ("pgcrypto (extension", "user_count() (function", "admins (view"):
        assert f"{name} in schema public, which the window sets aside" in line, (name, line)
    assert "digest" not in line, "an extension's own functions are named as the extension"
    assert fingerprint(legacy_url) == before
    assert not (tmp_path / "backups").exists(), "refused before the backup"
