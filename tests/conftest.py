"""Real PostgreSQL for every test: one cluster per session, per test a fresh clone of a template."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pgcutover.compare import Fingerprint, database_fingerprint
from pgcutover.db import Database, connect, ident
from pgcutover.sandbox.cluster import LocalCluster
from pgcutover.sandbox.demo import APP_ROLE, DEMO_DATA, create_legacy_database
from pgcutover.settings import PROJECT_ROOT, Settings, default_pg_bindir, load_settings

# The app-hosts lab (real sshd and nginx on loopback) lends its fixtures to every test module.
pytest_plugins = ("lab",)

FIXTURES = Path(__file__).parent / "fixtures"
EDGE_CASES = FIXTURES / "edge_cases.sql"
TEMPLATE = "tpl_legacy"
DEMO_USERS = 40
READER = "cutover_reader"
READER_PASSWORD = "reader-pw-9d41"


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    """Start a throwaway cluster; failing to start it fails the run (never a skip)."""
    bindir = default_pg_bindir()
    assert bindir is not None, "PostgreSQL server programs not found under /usr/lib/postgresql"
    c = LocalCluster(Path(tempfile.mkdtemp(prefix="pgcutover-test-")), bindir)
    c.init()
    c.start()
    try:
        yield c
    finally:
        c.destroy()


@pytest.fixture(scope="session")
def app_password() -> str:
    return secrets.token_urlsafe(12)


@pytest.fixture(scope="session")
def template(cluster: LocalCluster, app_password: str) -> str:
    """Build the legacy template once: generated demo data plus the hand-written edge cases."""
    url = create_legacy_database(
        cluster,
        dbname=TEMPLATE,
        users=DEMO_USERS,
        role=APP_ROLE,
        password=app_password,
        data=DEMO_DATA,
    )
    db = connect(url, "psycopg")
    try:
        with db.transaction():
            db.run_script(EDGE_CASES.read_text(encoding="utf-8"))
    finally:
        db.close()
    # A read-only app role with explicit grants:
    # fence, reset and rollback must keep its rights exactly.
    a = admin(cluster)
    try:
        a.execute(f"CREATE ROLE {READER} LOGIN PASSWORD '{READER_PASSWORD}'")
    finally:
        a.close()
    db = connect(url, "psycopg")
    try:
        db.run_script(
            f"GRANT CONNECT ON DATABASE {TEMPLATE} TO {READER}; "
            f"GRANT USAGE ON SCHEMA public TO {READER}; "
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER}; "
            f'GRANT UPDATE ("name") ON "Organization" TO {READER};'
        )
    finally:
        db.close()
    return TEMPLATE


def admin(cluster: LocalCluster) -> Database:
    return connect(cluster.superuser_url(), "psycopg", application_name="tests admin")


def clone_database(cluster: LocalCluster, source: str | None, owner: str = APP_ROLE) -> str:
    """Create a database (from the template, or empty) and return its name."""
    name = "t_" + secrets.token_hex(4)
    a = admin(cluster)
    try:
        template = f" TEMPLATE {ident(source)}" if source else ""
        a.execute(f"CREATE DATABASE {ident(name)}{template} OWNER {ident(owner)}")
        if source:  # database ACLs are not cloned with the template
            a.execute(f"GRANT CONNECT ON DATABASE {ident(name)} TO {READER}")
    finally:
        a.close()
    return name


def drop_database(cluster: LocalCluster, name: str) -> None:
    a = admin(cluster)
    try:
        a.execute(f"DROP DATABASE IF EXISTS {ident(name)} WITH (FORCE)")
    finally:
        a.close()


def app_url(cluster: LocalCluster, password: str, dbname: str) -> str:
    return f"postgresql://{APP_ROLE}:{password}@127.0.0.1:{cluster.port}/{dbname}"


@contextmanager
def fresh_database(cluster: LocalCluster, source: str | None) -> Iterator[str]:
    """Create a database (a clone of source, or empty) for the block, and drop it afterwards."""
    name = clone_database(cluster, source)
    try:
        yield name
    finally:
        drop_database(cluster, name)


@pytest.fixture
def legacy_url(cluster: LocalCluster, template: str, app_password: str) -> Iterator[str]:
    """A fresh legacy database for one test, owned by the non-superuser app role."""
    with fresh_database(cluster, template) as name:
        yield app_url(cluster, app_password, name)


@pytest.fixture
def empty_url(cluster: LocalCluster, template: str, app_password: str) -> Iterator[str]:
    with fresh_database(cluster, None) as name:
        yield app_url(cluster, app_password, name)


def make_settings(tmp_path: Path, url: str, **extra: str) -> Settings:
    """Settings for a test: its own dirs, never the operator's environment or .env files."""
    environ = {
        "DATABASE_URL": url,
        "BACKUP_DIR": str(tmp_path / "backups"),
        "RUNS_DIR": str(tmp_path / "runs"),
        "FENCE_WAIT": "5",
        **extra,
    }
    return load_settings(None, base_dir=tmp_path, environ=environ)


def operator_env(env: dict[str, str]) -> dict[str, str]:
    """This process's environment minus the operator's own database settings, plus env."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("PG", "DATABASE_URL", "CUTOVER", "DB_DRIVER", "BACKUP_DIR", "RUNS_DIR")
        )
    }
    return {**clean, **env}


def invoke_argv(args: list[str]) -> list[str]:
    """Return the command line of `invoke <args>` on this checkout's tasks."""
    return [sys.executable, "-m", "invoke", "-r", str(PROJECT_ROOT), *args]


def run_cli(
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    stdin: int | None = subprocess.DEVNULL,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run `invoke <args>` as an operator would, from a directory with no .env of the operator's."""
    return subprocess.run(
        invoke_argv(args),
        cwd=cwd,
        env=operator_env(env),
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def fingerprint(url: str) -> Fingerprint:
    """Describe a database's whole state (pgcutover.compare), and if pgcutover's schema is there."""
    return database_fingerprint(url, "psycopg", step="tests", bookkeeping_schema=True)


def catalog(db: Database, schema: str) -> dict[str, object]:
    """What R12 compares: column order, types, defaults, NOT NULL, enums, indexes, constraints."""
    q = {
        "columns": (
            "SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), "
            "a.attnotnull, pg_get_expr(d.adbin, d.adrelid) "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r' AND a.attnum > 0 "
            "AND NOT a.attisdropped ORDER BY 1, 2"
        ),
        "enums": (
            "SELECT t.typname, e.enumsortorder, e.enumlabel "
            "FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
            "WHERE t.typnamespace = %s::regnamespace ORDER BY 1, 2"
        ),
        "indexes": (
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c "
            "ON c.oid = i.indexrelid WHERE c.relnamespace = %s::regnamespace ORDER BY 1"
        ),
        "constraints": (
            "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid), "
            "convalidated, confdeltype, confupdtype "
            "FROM pg_constraint WHERE connamespace = %s::regnamespace ORDER BY 1, 2"
        ),
        "tables": (
            "SELECT relname, relpersistence, relkind FROM pg_class "
            "WHERE relnamespace = %s::regnamespace "
            "AND relkind IN ('r', 'p', 'v', 'm', 'S') ORDER BY 1"
        ),
        "triggers": (
            "SELECT tgrelid::regclass::text, tgname, tgenabled FROM pg_trigger t JOIN pg_class c "
            "ON c.oid = t.tgrelid WHERE c.relnamespace = %s::regnamespace AND NOT t.tgisinternal "
            "ORDER BY 1, 2"
        ),
    }
    return {k: db.query(sql, [ident(schema)]) for k, sql in q.items()}


@pytest.fixture
def restart_cmd(cluster) -> str:
    ctl = cluster.bindir / "pg_ctl"
    prefix = "runuser -u postgres -- " if os.geteuid() == 0 else ""
    return (
        f"cd / && {prefix}{ctl} -D {cluster.datadir} -m immediate -w stop >/dev/null && "
        f"{prefix}{ctl} -D {cluster.datadir} -w -l {cluster.home}/server.log "
        f"-o '-p {cluster.port} -c listen_addresses=127.0.0.1 "
        f"-c unix_socket_directories={cluster.home}' start >/dev/null"
    )
