"""What each SQL file of a migration reads, and how its time grows: the forecast's view of it."""

from __future__ import annotations

import re

from pgcutover.forecast_profile import SAMPLE, SORT
from pgcutover.migration import Migration
from pgcutover.sql_text import rough_statements, without_comments

ANALYZE = re.compile(r"^\s*ANALYZE\b", re.IGNORECASE)
QUALIFIED = re.compile(r'(?:"((?:[^"]|"")+)"|(\w+))\s*\.\s*(?:"((?:[^"]|"")+)"|(\w+))')


def tables_named(sql: str, schemas: tuple[str, ...], tables: set[str]) -> tuple[str, ...]:
    """Return the known tables a SQL text names as schema.table in one of the schemas."""
    found: set[str] = set()
    for quoted_schema, schema, quoted_name, name in QUALIFIED.findall(without_comments(sql)):
        schema_name = quoted_schema.replace('""', '"') or schema
        table = quoted_name.replace('""', '"') or name
        if schema_name in schemas and table in tables:
            found.add(table)
    return tuple(sorted(found))


def transform_tables(migration: Migration, tables: set[str]) -> dict[str, tuple[str, ...]]:
    """Map each transform and invariant file to the legacy tables it reads or fills (by name,
    either schema)."""
    schemas = (migration.aside_schema, migration.app_schema, migration.build_schema)
    files = (*migration.transform, *migration.statistics, *migration.invariants)
    return {f.name: tables_named(f.text, schemas, tables) for f in files}


def statement_growth(sql: str) -> str:
    """Say how a transform file's time grows: SAMPLE when it only ANALYZEs, else SORT.

    A transform loads tables (hash joins, anti-joins) and builds their keys and indexes (a sort,
    n log n): measured from 20,000 to 200,000 users (keys built after the load), its files grew
    ×10.8 to ×14.3 for ×10 the rows, ×12.9 together, where n log n says ×11.9.
    """
    statements = rough_statements(sql)
    if statements and all(ANALYZE.match(s) for s in statements):
        return SAMPLE
    return SORT


def file_growth(migration: Migration) -> dict[str, str]:
    """Say how each transform and statistics file's time grows."""
    return {f.name: statement_growth(f.text) for f in (*migration.transform, *migration.statistics)}
