"""Exact row counts of a database's tables, in the caller's snapshot."""

from __future__ import annotations

from collections.abc import Sequence

from pgcutover.compare import BOOKKEEPING_SCHEMA
from pgcutover.db import Database, ident, select_each


def count_rows(
    db: Database, schema: str | None = None, *, exclude: Sequence[str] = ()
) -> dict[str, int]:
    """Count rows of every table (of one schema, or all but the bookkeeping one and those
    excluded) as schema.table.

    Exact counts, in one query (the caller's snapshot): a count(*) per table, each a subquery.
    """
    left_out = ", ".join(["%s"] * (1 + len(exclude)))
    tables = db.query(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') "
        f"AND n.nspname NOT IN ('pg_catalog', 'information_schema', {left_out}) "
        "AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%' "
        "AND (%s::text IS NULL OR n.nspname = %s) ORDER BY 1, 2",
        [BOOKKEEPING_SCHEMA, *exclude, schema, schema],
    )
    counts = select_each(db, [f"SELECT count(*) FROM {ident(s)}.{ident(t)}" for s, t in tables])
    return {f"{s}.{t}": int(n) for (s, t), n in zip(tables, counts, strict=True)}
