"""Verify's reconcile (R11): one checksum per table and side, built from the migration's mapping,
the tables checked side by side on read-only connections that share one snapshot."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pgcutover.apply_sql import set_run_parameters
from pgcutover.db import DB_ERRORS, Database, error_text, ident, join_snapshot
from pgcutover.errors import CutoverError
from pgcutover.migration import Migration, ReconciledTable
from pgcutover.progress import Progress
from pgcutover.run import RunContext
from pgcutover.window_session import tune_window_session
from steps.backup_proof import dumped_counts

STEP = "verify"


# The one content checksum of the reconcile, for every table and side: the row count, and the sum
# of each row's 64-bit hash (a sum does not depend on row order, and PostgreSQL sums bigints in 128
# bits, so it never overflows). A changed value goes unnoticed only if its row's hash collides, 1 in
# 1.8e19. {row} and {source} come from the migration's reconcile mapping; the side is scanned once.
# The row is hashed by hash_record_extended (PostgreSQL 14+): each column by its type's own hash
# where that hash tells every two different values apart (see kind_of), as text otherwise. Hashing
# the row as text (hashtextextended(ROW(...)::text), kept for older servers) spent most of its time
# printing the row: measured at 20,000 users, request logs 165 ms against 68-80 ms, request
# payloads 195 ms against 60 ms (their bytea hashed as bytes, where the text form took their md5).
CHECKSUM = """SELECT count(*) AS n,
       coalesce(sum(hash_record_extended(ROW({row}), 0)), 0)::text AS checksum
  FROM {source}"""
CHECKSUM_AS_TEXT = """SELECT count(*) AS n,
       coalesce(sum(hashtextextended(ROW({row})::text, 0)), 0)::text AS checksum
  FROM {source}"""
# Types whose hash differs for every two values that differ: integers (int2, int4 and int8 hash
# alike for equal values, so a widened column still matches), booleans, instants, uuids, bytes.
# Not numeric (1.0 and 1.00 hash alike), floats (0 and -0), arrays (bounds and dimensions are not
# hashed), jsonb (1.0 and 1), enums (hashed by OID, which differs between the two schemas' types):
# those are compared by their text, as printed with the session's pinned settings.
EXACT = frozenset({"int2", "int4", "int8", "bool", "timestamp", "timestamptz", "date", "uuid"})
EXACT |= frozenset({"bytea", "oid"})
# Text is hashed by its bytes only in a deterministic collation: "C" on both sides.
BY_BYTES = frozenset({"text", "varchar"})
COLUMN_TYPES = """SELECT c.relname, a.attname, t.typname,
       t.typnamespace = 'pg_catalog'::regnamespace AND t.typtype = 'b'
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type t ON t.oid = a.atttypid
 WHERE c.relnamespace = %s::regnamespace AND c.relkind IN ('r', 'p')"""
Kinds = dict[str, dict[str, str]]  # table -> column -> "exact", "bytes" or "text"


def column_kinds(db: Database, schema: str) -> Kinds | None:
    """Say how each target column is hashed; None on a server without hash_record_extended."""
    if int(db.query("SELECT current_setting('server_version_num')::int")[0][0]) < 140000:
        return None
    kinds: Kinds = {}
    for table, column, type_name, builtin in db.query(COLUMN_TYPES, [ident(schema)]):
        kind = "text"
        if builtin and type_name in EXACT:
            kind = "exact"
        elif builtin and type_name in BY_BYTES:
            kind = "bytes"
        kinds.setdefault(str(table), {})[str(column)] = kind
    return kinds


def literal(value: str) -> str:
    """Quote a string as an SQL literal (PostgreSQL's quote_literal rule)."""
    quoted = "'" + value.replace("'", "''").replace("\\", "\\\\") + "'"
    return "E" + quoted if "\\" in value else quoted


def side_value(
    table: ReconciledTable, column: str, legacy: bool, kinds: dict[str, str] | None
) -> str:
    """Render one column of one side: as is, by its md5, or (legacy side) as a rule makes it;
    with kinds, in the form its target type is hashed by."""
    if legacy and column in table.legacy:
        value = table.legacy[column]
    else:
        value = f"x.{ident(column)}"
        # As bytes, a hashed column needs no md5: its hash reads the value, never its text.
        if column in table.hashed and (kinds is None or kinds.get(column) == "text"):
            return f"md5({value})"
    if kinds is None:
        return value
    kind = kinds.get(column, "text")
    if kind == "exact":
        return f"({value})"
    if kind == "bytes":
        return f'({value}) COLLATE "C"'
    return f"ROW({value})::text"


def side_row(table: ReconciledTable, legacy: bool, kinds: dict[str, str] | None = None) -> str:
    """Render one side's row expression, its columns in the mapping's order."""
    return ", ".join(side_value(table, c, legacy, kinds) for c in table.columns)


def reconcile_query(
    migration: Migration, table: ReconciledTable, kinds: dict[str, str] | None = None
) -> str:
    """Build one table's reconcile query from the mapping and the one checksum: one row.

    kinds: how each target column is hashed (column_kinds); None hashes each row as text.
    """
    subqueries = migration.reconcile.subqueries
    with_clause = (
        "WITH " + ",\n".join(f"{name} AS ({sql})" for name, sql in subqueries) + "\n"
        if subqueries
        else ""
    )
    name = ident(table.name)
    checksum = CHECKSUM_AS_TEXT if kinds is None else CHECKSUM
    legacy = checksum.format(
        row=side_row(table, True, kinds),
        source=f"{ident(migration.aside_schema)}.{name} x {table.legacy_from}",
    )
    target = checksum.format(
        row=side_row(table, False, kinds),
        source=f"{ident(migration.app_schema)}.{name} x {table.target_from}",
    )
    return (
        f"{with_clause}SELECT {literal(table.name)} AS table_name, l.n AS legacy_rows, "
        "l.checksum AS legacy_checksum, t.n AS target_rows, t.checksum AS target_checksum\n"
        f"FROM ({legacy}) l,\n({target}) t"
    )


def reconcile(
    ctx: RunContext, snapshot: str, *, jobs: int, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """Compare legacy and target row counts and content checksums per table, in parallel.

    Each worker has its own read-only connection in the caller's exported snapshot, so every
    table is checked against the same instant as the invariants, while they run.
    """
    migration = ctx.migration
    tables = list(migration.reconcile.tables)
    # Biggest first (by the backup's counts), so one large table does not start last.
    counts = read_counts(ctx)
    order = sorted(tables, key=lambda t: counts.get(t.name, 0), reverse=True)
    workers = max(1, min(jobs, len(tables)))
    done: list[dict[str, Any]] = []
    lock = threading.Lock()

    def work(queue: list[ReconciledTable]) -> None:
        db = ctx.connect(STEP)
        try:
            with db.transaction():
                join_snapshot(db, snapshot)
                set_run_parameters(ctx, db)
                tune_window_session(db, ctx.settings.window_session)
                db.execute(f"SET LOCAL search_path = pg_catalog, {ident(migration.app_schema)}")
                kinds = column_kinds(db, migration.app_schema)  # each worker asks: its own db
                while True:
                    with lock:
                        if not queue:
                            return
                        t = queue.pop(0)
                    row = check_table(
                        db, migration, t, None if kinds is None else kinds.get(t.name, {})
                    )
                    with lock:
                        done.append(row)
                        if progress is not None:
                            label = f"{len(done)}/{len(tables)} tables, last {t.name}"
                            progress.update(len(done), len(tables), unit="tables", label=label)
        finally:
            db.close()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify") as pool:
        futures = [pool.submit(work, order) for _ in range(workers)]
        for future in futures:
            future.result()  # a worker's CutoverError fails the step, naming the table
    position = {t.name: n for n, t in enumerate(tables)}
    return sorted(done, key=lambda r: position.get(r["table"], len(tables)))


def check_table(
    db: Database, migration: Migration, t: ReconciledTable, kinds: dict[str, str] | None
) -> dict[str, Any]:
    """Run one table's reconcile query and return its row of the report."""
    source = f"{migration.reconcile.name} [tables.{t.name}]"
    sql = reconcile_query(migration, t, kinds)
    started = time.monotonic()
    rows = run_query(db, source, sql)
    table, l_rows, l_sum, t_rows, t_sum = rows[0]
    return {
        "table": table,
        "legacy_rows": int(l_rows),
        "target_rows": int(t_rows),
        "legacy_checksum": str(l_sum),
        "target_checksum": str(t_sum),
        "match": int(l_rows) == int(t_rows) and l_sum == t_sum,
        # Both sides' scans of this table: the forecast scales it by its size.
        "seconds": round(time.monotonic() - started, 3),
    }


def read_counts(ctx: RunContext) -> dict[str, int]:
    """Return the dump's row count per legacy table (empty when there is no backup record)."""
    return dumped_counts(ctx.backup_dir, ctx.migration.app_schema) or {}


def run_query(db: Database, source: str, sql: str) -> list[tuple[Any, ...]]:
    """Run one verify query, naming where it comes from when the server refuses it."""
    try:
        return db.query(sql)
    except DB_ERRORS as exc:
        raise CutoverError(STEP, f"{source} failed: {error_text(exc)}") from None
