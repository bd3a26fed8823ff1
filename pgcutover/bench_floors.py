"""The floors `invoke bench` holds pgcutover's steps against, and the bench's throwaway databases.

A floor is the least work that does a step's job. Each is timed on its own fresh copy of the
template. Bare pg_dump and pg_restore go through the very functions (so the same flags) the backup
step and the restore path use, without the proofs around them.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pgcutover.backup_settings import DEFAULT_FORMAT
from pgcutover.bench_peer import add_primary_keys, row_by_row
from pgcutover.compare import BOOKKEEPING_SCHEMA
from pgcutover.db import Database, connect, ident
from pgcutover.dumpfiles import dump_bytes, dump_name, remove_dump
from pgcutover.migration import Migration, load_migration
from pgcutover.pgtools import pg_dump, pg_restore
from pgcutover.row_counts import count_rows
from pgcutover.sandbox.cluster import LocalCluster
from pgcutover.sandbox.demo import APP_ROLE
from pgcutover.settings import PROJECT_ROOT, Settings, load_settings
from steps.restore_database import DISCARD

STEP = "bench"
PREFIX = "bench_"  # every database the bench creates; its cleanup drops whatever still has it
MIGRATION_DIR = PROJECT_ROOT / "sql" / "migration"  # the floors are written for this migration
# The transform floor, run as written in one transaction: its INSERT ... SELECTs, then the target's
# indexes and keys from the migration itself (the spec allows no second copy of them).
FLOOR_FILES = (
    PROJECT_ROOT / "sql" / "bench" / "0001_transform_floor.sql",
    MIGRATION_DIR / "0007_target_keys_and_indexes.sql",
    MIGRATION_DIR / "0008_target_foreign_keys.sql",
    MIGRATION_DIR / "0009_validate_foreign_keys.sql",
)


def timed(fn: Callable[[], object]) -> float:
    """Run fn; return how long it took in seconds."""
    started = time.monotonic()
    fn()
    return time.monotonic() - started


# --- the bench's databases ----------------------------------------------------------------------


def admin(cluster: LocalCluster, dbname: str = "postgres") -> Database:
    """Connect to the bench cluster as its superuser."""
    db: Database = connect(
        cluster.superuser_url(dbname), "psycopg", application_name="pgcutover bench", step=STEP
    )
    return db


def bench_settings(
    cluster: LocalCluster,
    dbname: str,
    password: str,
    home: Path,
    backup_format: str = DEFAULT_FORMAT,
) -> Settings:
    """Settings for one bench database: its own runs and backups, and harmless app commands."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "release").write_text("v1\n")
    flag, release = shlex.quote(str(home / "maintenance.on")), shlex.quote(str(home / "release"))
    environ = {
        "DATABASE_URL": f"postgresql://{APP_ROLE}:{password}@127.0.0.1:{cluster.port}/{dbname}",
        "BACKUP_DIR": str(home / "backups"),
        "RUNS_DIR": str(home / "runs"),
        "MIGRATION_DIR": str(MIGRATION_DIR),
        "PG_BINDIR": str(cluster.bindir),
        # As cheap as the sandbox's commands, so the app steps run instead of being skipped.
        "MAINTENANCE_ON_CMD": f"touch {flag}",
        "MAINTENANCE_OFF_CMD": f"rm -f {flag}",
        "CURRENT_VERSION_CMD": f"cat {release}",
        "DEPLOY_CMD": f"echo {{version}} > {release}",
        "DEPLOY_VERSION": "v2",
        "BACKUP_FORMAT": backup_format,
    }
    return load_settings(None, base_dir=home, environ=environ)


def drop_database(cluster: LocalCluster, name: str) -> None:
    """Drop a bench database, ending any session left on it."""
    db = admin(cluster)
    try:
        db.execute(f"DROP DATABASE IF EXISTS {ident(name)} WITH (FORCE)")
    finally:
        db.close()


@contextmanager
def fresh_database(
    cluster: LocalCluster,
    template: str,
    name: str,
    password: str,
    home: Path,
    backup_format: str = DEFAULT_FORMAT,
) -> Iterator[Settings]:
    """Create name as a copy of template, owned by the app role, for the block; then drop it."""
    drop_database(cluster, name)
    db = admin(cluster)
    try:
        db.execute(
            f"CREATE DATABASE {ident(name)} TEMPLATE {ident(template)} OWNER {ident(APP_ROLE)} "
            # A checkpoint before and after a file copy: unlike the default (every page through
            # WAL and shared buffers), no write-back of the copy lands in the next measurement.
            "STRATEGY FILE_COPY"
        )
    finally:
        db.close()
    try:
        yield bench_settings(cluster, name, password, home, backup_format)
    finally:
        drop_database(cluster, name)


@contextmanager
def session(settings: Settings) -> Iterator[Database]:
    """Connect as the app role for the block."""
    db: Database = connect(settings.database_url, "psycopg", application_name="pgcutover bench")
    try:
        yield db
    finally:
        db.close()


def deploy_apart(db: Database, migration: Migration) -> None:
    """Bring a fresh copy to where the transform step starts: empty target tables built apart."""
    with db.transaction():
        for f in migration.deploy_schema:
            db.run_script(f.text)


def swap_in(db: Database, migration: Migration) -> None:
    """Do what reset does after the transform: set the legacy schema aside, swap the target in.

    Two renames are all the later floors need of reset; the seal and guards are not measured.
    """
    app, aside, build = migration.app_schema, migration.aside_schema, migration.build_schema
    with db.transaction():
        db.execute(f"ALTER SCHEMA {ident(app)} RENAME TO {ident(aside)}")
        db.execute(f"ALTER SCHEMA {ident(build)} RENAME TO {ident(app)}")


# --- the floors ---------------------------------------------------------------------------------


def measure_floors(
    cluster: LocalCluster,
    tpl: str,
    password: str,
    home: Path,
    *,
    users: int,
    jobs: int,
    dump: Path | None,
    backup_format: str = DEFAULT_FORMAT,
) -> dict[str, Any]:
    """Time the floors, each on a fresh copy of the template; without a dump only the first copy's.

    The first copy gets the transform floor, then verify's (it reads the floor's result: the same
    tables and row counts as the transform's) and the fast rollback's.
    """
    migration = load_migration(MIGRATION_DIR)
    app, aside = migration.app_schema, migration.aside_schema
    out: dict[str, Any] = {}
    with fresh_database(cluster, tpl, PREFIX + "floor", password, home) as s, session(s) as db:
        deploy_apart(db, migration)
        out["transform_s"] = timed(lambda: run_in_one_transaction(db, FLOOR_FILES))
        swap_in(db, migration)
        out["floor_rows"] = count_rows(db, app)
        out["checksum_s"] = timed(lambda: checksum_pass(db, (aside, app)))
        out["swap_s"] = timed(lambda: bare_swap(db, app, aside))
    if dump is None:
        return out
    with fresh_database(cluster, tpl, PREFIX + "dump", password, home, backup_format) as s:
        bare = home / dump_name(backup_format)  # the same format, compression and jobs
        out["dump_s"] = timed(
            lambda: pg_dump(
                s,
                bare,
                snapshot=None,
                exclude_schemas=[BOOKKEEPING_SCHEMA],
                app_name="bench",
                jobs=jobs,
            )
        )
        out["dump_bytes"] = dump_bytes(bare)
        remove_dump(bare)
    with fresh_database(cluster, tpl, PREFIX + "peer", password, home) as s, session(s) as db:
        deploy_apart(db, migration)
        add_primary_keys(db, migration)  # a script upserts on them; not timed
        out["row_by_row"] = row_by_row(db, migration, users=users, sample=min(users, 1000))
    with fresh_database(cluster, "template0", PREFIX + "empty", password, home) as s:
        out["restore_s"] = timed(
            lambda: pg_restore(s, dump, jobs=jobs, schema=app, app_name="bench", step=STEP)
        )
    return out


def run_in_one_transaction(db: Database, files: tuple[Path, ...]) -> None:
    """Run SQL files as written, in one transaction."""
    with db.transaction():
        for path in files:
            db.run_script(path.read_text(encoding="utf-8"))


def checksum_pass(db: Database, schemas: tuple[str, ...]) -> None:
    """Count and sum a row hash over every table of each schema: the least a verify can read."""
    for schema in schemas:
        for (table,) in db.query(
            "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace "
            "AND relkind IN ('r', 'p') ORDER BY 1",
            [ident(schema)],
        ):
            db.query(
                f"SELECT count(*), sum(hashtext(t::text)) FROM {ident(schema)}.{ident(table)} t"
            )


def bare_swap(db: Database, app_schema: str, aside_schema: str) -> None:
    """The fast rollback's bare core: two renames and a drop, in one transaction."""
    with db.transaction():
        db.execute(f"ALTER SCHEMA {ident(app_schema)} RENAME TO {ident(DISCARD)}")
        db.execute(f"ALTER SCHEMA {ident(aside_schema)} RENAME TO {ident(app_schema)}")
        db.execute(f"DROP SCHEMA {ident(DISCARD)} CASCADE")
