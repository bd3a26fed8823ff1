"""`invoke sandbox`: a local cluster in .sandbox/ with a legacy database of awkward demo data."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from dotenv import dotenv_values

from pgcutover.db import connect, ident, literal
from pgcutover.errors import CutoverError
from pgcutover.numbers import ascii_int
from pgcutover.sandbox.cluster import LocalCluster
from pgcutover.settings import PROJECT_ROOT, default_pg_bindir
from pgcutover.timeline import say

LEGACY_SCHEMA = PROJECT_ROOT / "sql" / "spec" / "legacy-schema.sql"
DEMO_DATA = PROJECT_ROOT / "sql" / "sandbox" / "0001_demo_data.sql"
APP_ROLE = "cutover_app"
DATABASE = "legacy"
MIN_USERS = 40
MAX_USERS = 1_000_000
DEFAULT_USERS = 2000
LOGS_PER_USER = 12  # McpServerRequestLog rows per user (the SQL's default too)


def sandbox_cluster(base_dir: Path, bindir: Path | None = None) -> LocalCluster:
    bindir = bindir or default_pg_bindir()
    if bindir is None:
        raise CutoverError(
            "sandbox",
            "no PostgreSQL server programs found under /usr/lib/postgresql (set PG_BINDIR)",
        )
    return LocalCluster(base_dir / ".sandbox" / "cluster", bindir)


def create_legacy_database(
    cluster: LocalCluster,
    *,
    dbname: str,
    users: int,
    role: str = APP_ROLE,
    password: str | None = None,
    data: Path | None = DEMO_DATA,
    logs_per_user: int = LOGS_PER_USER,
) -> str:
    """Recreate dbname (non-superuser owner) with legacy schema and demo data; return its URL."""
    admin = connect(
        cluster.superuser_url(), "psycopg", application_name="pgcutover sandbox", step="sandbox"
    )
    try:
        password = password or secrets.token_urlsafe(12)
        if admin.query("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]):
            admin.execute(f"ALTER ROLE {ident(role)} LOGIN PASSWORD {literal(admin, password)}")
        else:
            admin.execute(f"CREATE ROLE {ident(role)} LOGIN PASSWORD {literal(admin, password)}")
        admin.execute(f"DROP DATABASE IF EXISTS {ident(dbname)} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {ident(dbname)} OWNER {ident(role)}")
    finally:
        admin.close()
    url = f"postgresql://{role}:{password}@127.0.0.1:{cluster.port}/{dbname}"
    app = connect(url, "psycopg", application_name="pgcutover sandbox", step="sandbox")
    try:
        with app.transaction():
            app.run_script(LEGACY_SCHEMA.read_text(encoding="utf-8"))
            if data is not None:
                app.query(
                    "SELECT set_config('pgcutover.sandbox_users', %s, true), "
                    "set_config('pgcutover.sandbox_logs_per_user', %s, true)",
                    [str(users), str(logs_per_user)],
                )
                app.run_script(data.read_text(encoding="utf-8"))
        app.execute("ANALYZE")
    finally:
        app.close()
    return url


def parse_users(raw: object) -> int:
    """Parse --users: a whole number from MIN_USERS to MAX_USERS (default DEFAULT_USERS)."""
    if raw is None or raw == "":
        return DEFAULT_USERS
    try:
        users = ascii_int(raw)
    except ValueError:
        raise CutoverError(
            "sandbox", f"--users {raw!r} is not a whole number: give {MIN_USERS} to {MAX_USERS}"
        ) from None
    if not MIN_USERS <= users <= MAX_USERS:
        raise CutoverError(
            "sandbox",
            f"--users must be {MIN_USERS} to {MAX_USERS} (every awkward case "
            f"needs its rows; 100,000 users take about 1 GB), not {users}",
        )
    return users


def sandbox_up(base_dir: Path, *, users: int) -> str:
    """Start/reuse the sandbox, rebuild its legacy database, write .env.sandbox; return the URL."""
    users = parse_users(users)
    cluster = sandbox_cluster(base_dir)
    if not cluster.datadir.exists():
        cluster.init()
        say(f"initdb {cluster.datadir}")
    cluster.start()
    say(
        f"cluster up on 127.0.0.1:{cluster.port}; building database {DATABASE!r} with {users} users"
    )
    url = create_legacy_database(cluster, dbname=DATABASE, users=users)
    demo = base_dir / ".sandbox"
    (demo / "release").write_text("v1\n")
    env = {
        "DATABASE_URL": url,
        "MAINTENANCE_ON_CMD": f"touch {demo}/maintenance.on",
        "MAINTENANCE_OFF_CMD": f"rm -f {demo}/maintenance.on",
        "CURRENT_VERSION_CMD": f"cat {demo}/release",
        "DEPLOY_CMD": f"echo {{version}} > {demo}/release",
        "DEPLOY_VERSION": "v2",
    }
    (base_dir / ".env.sandbox").write_text(
        "# Written by `invoke sandbox`: a throwaway local cluster with demo app commands.\n"
        + "".join(f"{k}='{v}'\n" for k, v in env.items())
    )
    (base_dir / ".env.sandbox").chmod(0o600)  # it holds the sandbox password
    say(f"sandbox ready: {url}   (written to .env.sandbox; use --env sandbox)")
    return url


def sandbox_env(base_dir: Path) -> dict[str, str]:
    """Read back what sandbox_up wrote to .env.sandbox, as the profile `sandbox`."""
    values = {k: v for k, v in dotenv_values(base_dir / ".env.sandbox").items() if v is not None}
    # Tasks after `invoke sandbox` on one command line must use the runs and backups that
    # `--env sandbox` uses later (runs/sandbox/), or rollback would not find their run.
    return {**values, "CUTOVER_ENV": "sandbox"}


def sandbox_down(base_dir: Path) -> None:
    """Stop the sandbox cluster and remove .sandbox/ and .env.sandbox."""
    cluster = sandbox_cluster(base_dir)
    cluster.destroy()
    (base_dir / ".env.sandbox").unlink(missing_ok=True)
    shutil.rmtree(base_dir / ".sandbox", ignore_errors=True)
    say("sandbox removed")
