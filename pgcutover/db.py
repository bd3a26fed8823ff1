"""Driver seam: psycopg 3 or pg8000 behind one small interface."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import pg8000.dbapi
import pg8000.native
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgcutover.errors import CutoverError
from pgcutover.redact import mask, register_secret
from pgcutover.tls import refuse_unsupported_tls, tls_context, tls_params

Params = Sequence[Any] | None
DB_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.Error,
    pg8000.dbapi.Error,
    pg8000.native.InterfaceError,
)
# libpq's environment defaults, applied by hand for pg8000 (psycopg gets them from libpq itself).
_ENV_DEFAULTS = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "dbname": "PGDATABASE",
    "sslmode": "PGSSLMODE",
}
# What pg8000 (1.31) raises when the server answers 'N' to the SSLRequest sent with our context.
# Matching its text is fail-safe: if it ever changes, prefer errors out instead of going plain.
_PG8000_NO_TLS = "Server refuses SSL"


def ident(name: str) -> str:
    """Quote an SQL identifier (driver-neutral; the same rule as psycopg.sql.Identifier)."""
    quoted: str = pg8000.native.identifier(name)  # pg8000 ships no types: Any to mypy
    return quoted


def select_each(db: Database, selects: Sequence[str], *, per_query: int = 1000) -> list[Any]:
    """Run one-value SELECTs as the scalar subqueries of one query, in one round trip.

    Each value is exactly what its own SELECT gives. per_query at a time: a target list holds
    1,664 entries at most.
    """
    values: list[Any] = []
    for start in range(0, len(selects), per_query):
        batch = selects[start : start + per_query]
        values += db.query("SELECT " + ", ".join(f"({s})" for s in batch))[0]
    return values


def parse_dsn(dsn: str) -> dict[str, str]:
    """Split a libpq URL or key=value DSN into its parameters, PG* variables filling gaps."""
    _, sep, rest = dsn.partition("://")
    if sep and re.split(r"[/?]", rest, maxsplit=1)[0].count("@") > 1:
        # libpq ends the user info at the first "@", so the rest of a password would be taken
        # for the host, and printed as one in every error.
        raise CutoverError(
            "config",
            "DATABASE_URL has more than one '@' before its host: percent-encode an '@' in "
            "the user name or password as %40",
        )
    try:
        params = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    except psycopg.ProgrammingError as exc:
        raise CutoverError(
            "config", f"DATABASE_URL is not a valid libpq URL or DSN: {mask(str(exc))}"
        ) from None
    for key, var in _ENV_DEFAULTS.items():
        if key not in params and os.environ.get(var):
            params[key] = os.environ[var]
    register_secret(params.get("password"))
    for port in params.get("port", "").split(",") if params.get("port") else ():
        if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            raise CutoverError(
                "config", f"DATABASE_URL's port {port!r} is not a port number (1 to 65535)"
            )
    return params


def dsn_without_password(dsn: str) -> tuple[str, str | None]:
    """Return (DSN minus its password, the password), so a subprocess gets it by environment."""
    params = parse_dsn(dsn)
    password = params.pop("password", None)
    return make_conninfo(**params), password


def literal(db: Database, value: str) -> str:
    """Quote a value server-side for the statements that take no bind parameters (COMMENT, ROLE)."""
    return str(db.query("SELECT quote_literal(%s)", [value])[0][0])


def join_snapshot(db: Database, snapshot: str) -> None:
    """Begin the open transaction read-only in another session's exported snapshot.

    The first statements of the transaction, before any query. A snapshot id is hex digits and
    dashes (pg_export_snapshot), refused otherwise, so it is quoted here, not by a query that
    would come first.
    """
    if not re.fullmatch(r"[0-9A-Fa-f-]+", snapshot):
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    # A utility statement takes no bind parameter: the snapshot id goes in as a literal.
    db.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")


def describe_target(dsn: str) -> str:
    """Name the target as host:port/dbname as user, never with the password."""
    p = parse_dsn(dsn)
    return (
        f"{p.get('host', 'localhost')}:{p.get('port', '5432')}/"
        f"{p.get('dbname', p.get('user', '?'))} as {p.get('user', '?')}"
    )


class Database(Protocol):
    """What every step may ask of a connection."""

    driver: str

    def execute(self, sql: str, params: Params = None) -> None: ...
    def query(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]: ...
    def run_script(self, text: str) -> None: ...
    def transaction(self) -> Any: ...
    def close(self) -> None: ...


class _DbapiDatabase:
    """Common code of both drivers: each is a DB-API connection with %s parameters."""

    driver = ""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._in_tx = False

    def execute(self, sql: str, params: Params = None) -> None:
        cur = self._conn.cursor()
        try:
            cur.execute(sql, params) if params is not None else cur.execute(sql)
        finally:
            cur.close()

    def query(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        cur = self._conn.cursor()
        try:
            cur.execute(sql, params) if params is not None else cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()

    def scalar(self, sql: str, params: Params = None) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block in one transaction: commit on success, roll back on any error."""
        self.execute("BEGIN")
        self._in_tx = True
        try:
            yield
        except BaseException:
            try:
                self.execute("ROLLBACK")
            except Exception:  # the connection may be gone; the server rolls back on its own
                pass
            raise
        else:
            self.execute("COMMIT")
        finally:
            self._in_tx = False

    def close(self) -> None:
        try:
            self._conn.close()
        except Exception:  # closing a dead connection must not hide the real error
            pass


class PsycopgDatabase(_DbapiDatabase):
    driver = "psycopg"

    def run_script(self, text: str) -> None:
        # Without parameters psycopg sends the text as one simple query:
        # many statements, as written.
        self._conn.execute(text)


class Pg8000Database(_DbapiDatabase):
    driver = "pg8000"

    def run_script(self, text: str) -> None:
        # The simple query protocol runs a multi-statement script as written.
        self._conn.execute_simple(text)


# A production database may carry timeouts meant for the app; a window's long statements and
# the backup's idle snapshot transaction must not be cut by them,
# and a lock we cannot get must not hang. Its settings must not bend the SQL either: the files are
# executed as written, so a literal means what standard SQL says (standard_conforming_strings off
# reads '\x00' as a NUL byte), and a float prints every digit it has (extra_float_digits 0 or less
# rounds it, so two values would print, and hash, alike in verify's checksums).
SESSION_SETUP = (
    "SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0; "
    "SET lock_timeout = '60s'; SET standard_conforming_strings = on; SET extra_float_digits = 3"
)


def connect(
    dsn: str, driver: str, *, application_name: str = "pgcutover", step: str = "preflight"
) -> Any:
    """Open an autocommit connection with the chosen driver, or fail naming the step."""
    db = _open(dsn, driver, application_name=application_name, step=step)
    try:
        db.run_script(SESSION_SETUP)
    except DB_ERRORS as exc:
        db.close()
        raise CutoverError(
            step, f"cannot set up the session on {describe_target(dsn)}: {error_text(exc)}"
        ) from None
    return db


def _open(dsn: str, driver: str, *, application_name: str, step: str) -> Any:
    try:
        if driver == "psycopg":
            conn = psycopg.connect(
                dsn, autocommit=True, application_name=application_name[:63], connect_timeout=10
            )
            return PsycopgDatabase(conn)
        if driver == "pg8000":
            return _open_pg8000(dsn, application_name=application_name, step=step)
    except (psycopg.Error, pg8000.dbapi.Error, OSError) as exc:
        raise CutoverError(
            step, f"cannot connect to {describe_target(dsn)}: {error_text(exc)}"
        ) from None
    raise CutoverError("config", f"unknown DB_DRIVER {driver!r}: use one of psycopg, pg8000")


def _open_pg8000(dsn: str, *, application_name: str, step: str) -> Pg8000Database:
    """Open a pg8000 connection that honours libpq's sslmode and TLS parameters."""
    p = parse_dsn(dsn)
    host = p.get("host", "localhost")
    port = int(p.get("port", "5432"))
    kwargs: dict[str, Any] = {
        "user": p.get("user") or os.environ.get("USER", "postgres"),
        "password": p.get("password"),
        "database": p.get("dbname"),
        "application_name": application_name[:63],
        "timeout": 10,
    }
    unix = host.startswith("/")
    if unix:
        kwargs["unix_sock"] = f"{host}/.s.PGSQL.{port}"
    else:
        kwargs.update(host=host, port=port)
    tls = tls_params(p)
    refuse_unsupported_tls(tls, unix=unix)
    mode = tls.get("sslmode", "prefer")
    # libpq never negotiates TLS on a Unix socket, whatever sslmode says: neither do we.
    context = None if unix or mode == "disable" else tls_context(tls)
    if context is None:
        conn = pg8000.dbapi.connect(**kwargs, ssl_context=False)
    elif mode == "allow":
        # libpq's allow: plain text first, TLS only when the server turns the plain attempt away
        # (pg_hba hostssl-only or hostnossl reject answer with an authorization error, class 28).
        try:
            conn = pg8000.dbapi.connect(**kwargs, ssl_context=False)
        except pg8000.dbapi.DatabaseError as exc:
            if not _sqlstate(exc).startswith("28"):
                raise
            conn = pg8000.dbapi.connect(**kwargs, ssl_context=context)
    else:
        try:
            conn = pg8000.dbapi.connect(**kwargs, ssl_context=context)
        except pg8000.dbapi.InterfaceError as exc:
            if str(exc) != _PG8000_NO_TLS:
                raise
            if mode != "prefer":
                target = describe_target(dsn)
                raise CutoverError(
                    step,
                    f"cannot connect to {target}: sslmode={mode} but the "
                    "server does not offer TLS; refusing plain text",
                ) from None
            conn = pg8000.dbapi.connect(**kwargs, ssl_context=False)
    # pg8000's timeout covers every read; keep it for connecting only, so long steps can run.
    conn._usock.settimeout(None)
    conn.autocommit = True
    return Pg8000Database(conn)


def _sqlstate(exc: BaseException) -> str:
    """Return the SQLSTATE of a pg8000 server error, or '' for any other error."""
    fields = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    return str(fields.get("C", ""))


def error_text(exc: BaseException) -> str:
    """Return a driver error's primary message on one line, secrets masked."""
    diag = getattr(exc, "diag", None)
    if diag is not None and getattr(diag, "message_primary", None):
        text = diag.message_primary
    elif exc.args and isinstance(exc.args[0], dict):  # pg8000 puts the server's fields in a dict
        text = exc.args[0].get("M", str(exc))
    else:
        text = str(exc)
    return mask(" ".join(text.split()))


def schema_exists(db: Database, name: str) -> bool:
    """Tell whether the database has a schema by this name."""
    return bool(db.query("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name]))
