"""The rehearsal's scratch copy: made on the same server without blocking the source, dropped after.

`CREATE DATABASE … TEMPLATE` when nothing else is connected to the source and it is small (the
copy makes new connections to the source wait), else pg_dump into pg_restore (one snapshot, no
lock that blocks the source's readers or writers). The copy gets the
source's database ACL, no pgcutover history, its own runs and backups, and no app commands.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from typing import Protocol

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgcutover.compare import BOOKKEEPING_SCHEMA
from pgcutover.db import DB_ERRORS, Database, connect, describe_target, error_text, ident
from pgcutover.dumpfiles import remove_dump
from pgcutover.errors import CutoverError
from pgcutover.pgtools import client_env, pg_dump, run_tool
from pgcutover.settings import Settings
from pgcutover.timeline import warn

STEP = "rehearse"
# Databases a role may connect to for CREATE/DROP DATABASE (never the source: TEMPLATE needs it
# idle, and a database cannot be dropped from inside).
MAINTENANCE_DBS = ("postgres", "template1")
# CREATE DATABASE … TEMPLATE holds a lock on the source that makes every new connection to it wait
# until the copy ends (measured: 2.4 s for a 217 MB source). Only a source it copies in seconds is
# copied so; a bigger one goes through pg_dump, which never makes the source wait.
TEMPLATE_MAX_BYTES = 1 << 30


class CloneRecord(Protocol):
    """Where make_clone writes what it made: the rehearsal report."""

    source: str | None
    clone: str | None
    target: str


def url_with_dbname(url: str, dbname: str) -> str:
    """Return the same connection string with another database name (password kept, not shown)."""
    params = {k: v for k, v in conninfo_to_dict(url).items() if v is not None}
    params["dbname"] = dbname
    return make_conninfo("", **params)


def clone_settings(settings: Settings, clone_url: str, name: str) -> Settings:
    """Settings for the copy: its own runs and backups, and no app commands.

    The app commands (maintenance, deploy, health and smoke checks) act on the profile's real
    hosts, which keep using the source database: a rehearsal on a copy must not touch them.
    Backups live under RUNS_DIR too, so `invoke backups` (which lists BACKUP_DIR) never sees them.
    """
    home = settings.runs_dir / "rehearsals" / name
    return dataclasses.replace(
        settings,
        database_url=clone_url,
        scratch_copy=name,
        runs_dir=home / "runs",
        backup_dir=home / "backups",
        maintenance_on_cmd="",
        maintenance_off_cmd="",
        deploy_cmd="",
        deploy_version="",
        current_version_cmd="",
        healthcheck_url="",
        smoke_cmd="",
        app_hosts=(),
        maintenance_check_url="",
        backup_copy_to=None,  # the scratch copy's dumps go with it: never off the host
    )


def _maintenance_connection(settings: Settings) -> Database:
    """Connect to a database on the same server that is neither the source nor the clone."""
    last: CutoverError | None = None
    for dbname in MAINTENANCE_DBS:
        try:
            db: Database = connect(
                url_with_dbname(settings.database_url, dbname),
                settings.db_driver,
                application_name="pgcutover rehearse",
                step=STEP,
            )
            return db
        except CutoverError as exc:
            last = exc
    raise CutoverError(
        STEP,
        f"--clone: cannot connect to the postgres or template1 database to create the copy "
        f"({last.cause if last else 'no answer'}); nothing was changed",
    )


def _other_sessions(db: Database, source: str) -> int:
    """Count sessions on the source, waiting briefly for our own closed ones to go away."""
    count = 0
    for _ in range(20):
        count = int(
            db.query(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND pid <> pg_backend_pid()",
                [source],
            )[0][0]
        )
        if count == 0:
            return 0
        time.sleep(0.1)
    return count


def make_clone(settings: Settings, report: CloneRecord) -> tuple[Settings, str]:
    """Create the scratch copy on the same server; return its settings and how it was made."""
    src = connect(
        settings.database_url, settings.db_driver, application_name="pgcutover rehearse", step=STEP
    )
    try:
        source, owner, may_create, user, version, size_bytes = src.query(
            "SELECT current_database(), d.datdba::regrole::text, r.rolcreatedb OR r.rolsuper, "
            "current_user::text, current_setting('server_version_num')::int, "
            "pg_database_size(current_database()) "
            "FROM pg_database d, pg_roles r "
            "WHERE d.datname = current_database() AND r.rolname = current_user"
        )[0]
    finally:
        src.close()
    if not may_create:
        raise CutoverError(
            STEP,
            f"--clone needs CREATEDB: role {user} may not create the scratch copy; grant it "
            f"(ALTER ROLE {ident(user)} CREATEDB) or rehearse on a staging database without "
            "--clone; nothing was changed",
        )
    name = f"{source[:40]}_rehearse_{secrets.token_hex(3)}"
    clone_url = url_with_dbname(settings.database_url, name)
    target = clone_settings(settings, clone_url, name)
    report.source = describe_target(settings.database_url)
    report.clone = name
    report.target = describe_target(clone_url)
    maint = _maintenance_connection(settings)
    try:
        how, why_dump = "", "the source had other sessions"
        if size_bytes > TEMPLATE_MAX_BYTES:
            why_dump = (
                f"the source is {size_bytes >> 20} MiB: a TEMPLATE copy would make new "
                "connections to it wait until it ends"
            )
        elif _other_sessions(maint, source) == 0:
            try:
                maint.execute(
                    f"CREATE DATABASE {ident(name)} TEMPLATE {ident(source)} OWNER {owner}"
                )
                how = "CREATE DATABASE … TEMPLATE (nothing else was connected to the source)"
            except DB_ERRORS as exc:  # someone connected in between: copy by dump instead
                warn(f"{STEP}: copy by TEMPLATE failed ({error_text(exc)}): using pg_dump")
                maint.execute(f"DROP DATABASE IF EXISTS {ident(name)}")
        if not how:
            maint.execute(f"CREATE DATABASE {ident(name)} TEMPLATE template0 OWNER {owner}")
            try:
                _dump_restore(settings, target, name)
            except BaseException:
                _drop(maint, name, version)
                raise
            how = f"pg_dump | pg_restore ({why_dump})"
        try:
            _copy_database_acl(maint, source, name)
        except BaseException:
            _drop(maint, name, version)
            raise
    except DB_ERRORS as exc:
        raise CutoverError(STEP, f"--clone: cannot create {name}: {error_text(exc)}") from None
    finally:
        maint.close()
    # The copy starts with no pgcutover history of its own: its runs live in their own folder.
    try:
        db = connect(
            clone_url, settings.db_driver, application_name="pgcutover rehearse", step=STEP
        )
        try:
            db.execute(f"DROP SCHEMA IF EXISTS {ident(BOOKKEEPING_SCHEMA)} CASCADE")
        finally:
            db.close()
    except CutoverError as exc:
        drop_clone(settings, name)
        raise CutoverError(STEP, f"--clone: cannot prepare {name}: {exc.cause}") from None
    except DB_ERRORS as exc:
        drop_clone(settings, name)
        raise CutoverError(STEP, f"--clone: cannot prepare {name}: {error_text(exc)}") from None
    return target, how


def _dump_restore(settings: Settings, target: Settings, name: str) -> None:
    """Copy the source into the empty clone with pg_dump (one snapshot, no locks that block
    reads or writes) and pg_restore, through a dump file in the clone's own backup folder."""
    target.backup_dir.mkdir(parents=True, exist_ok=True)
    dump = target.backup_dir / "clone.dump"
    try:
        pg_dump(
            settings,
            dump,
            snapshot=None,
            exclude_schemas=[BOOKKEEPING_SCHEMA],
            app_name="pgcutover rehearse",
        )
        conninfo, env = client_env(target.database_url, "pgcutover rehearse")
        run_tool(
            STEP,
            [
                target.tool("pg_restore"),
                "--no-password",
                "--exit-on-error",
                "--dbname",
                conninfo,
                str(dump),
            ],
            env,
        )
    except CutoverError as exc:
        raise CutoverError(STEP, f"--clone: copying into {name} failed: {exc.cause}") from None
    finally:
        remove_dump(dump)  # BACKUP_FORMAT=directory makes it a directory


def _copy_database_acl(db: Database, source: str, name: str) -> None:
    """Give the clone the source's database ACL (CREATE DATABASE does not copy it)."""
    rows = db.query(
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, "
        "a.privilege_type, a.is_grantable FROM pg_database d, aclexplode(d.datacl) a "
        "WHERE d.datname = %s",
        [source],
    )
    if not rows:  # datacl is NULL: the default ACL, which the clone has too
        return
    db.execute(f"REVOKE ALL ON DATABASE {ident(name)} FROM PUBLIC")
    for grantee, privilege, grantable in rows:
        option = " WITH GRANT OPTION" if grantable else ""
        db.execute(f"GRANT {privilege} ON DATABASE {ident(name)} TO {grantee}{option}")


def _drop(db: Database, name: str, version: int) -> None:
    force = " WITH (FORCE)" if version >= 130000 else ""
    db.execute(f"DROP DATABASE IF EXISTS {ident(name)}{force}")


def drop_clone(settings: Settings, name: str) -> None:
    """Drop the scratch copy (terminating any session left on it)."""
    maint = _maintenance_connection(settings)
    try:
        version = int(maint.query("SELECT current_setting('server_version_num')::int")[0][0])
        _drop(maint, name, version)
    except DB_ERRORS as exc:
        raise CutoverError(
            STEP, f"cannot drop the scratch copy {name}: {error_text(exc)}"
        ) from None
    finally:
        maint.close()
