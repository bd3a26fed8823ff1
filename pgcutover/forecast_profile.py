"""What the forecast reads of a database (legacy table sizes, settings), and how two differ."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from pgcutover.db import Database
from pgcutover.identity import database_identity

# Settings that change how fast a window runs on the same data.
SETTINGS_THAT_MATTER = (
    "server_version",
    "maintenance_work_mem",
    "work_mem",
    "shared_buffers",
    "max_parallel_workers",
    "max_parallel_workers_per_gather",
    "max_parallel_maintenance_workers",
    "effective_io_concurrency",
    "default_statistics_target",
    "max_wal_size",
)
# What a piece's time grows with: data bytes, rows, ANALYZE's capped sample, or n log n (a sort).
BYTES, ROWS, SAMPLE, SORT = "bytes", "rows", "sample", "sort"
# ANALYZE samples 300 × default_statistics_target rows per table, from as many blocks (all of a
# smaller table's): its time goes to reading those blocks, so it grows with them. Measured at
# 20,000 → 200,000 users: ×3.9 to ×5.0, where the capped blocks say ×5.5 and the capped rows ×1.5.
ANALYZE_ROWS_PER_TARGET = 300
BLOCK_BYTES = 8192


@dataclass
class DatabaseProfile:
    """What the forecast needs from a database: its identity, legacy table sizes, settings."""

    identity: dict[str, Any]
    table_bytes: dict[str, int]
    table_rows: dict[str, int]
    settings: dict[str, str]

    def sizes(self, grows_by: str) -> dict[str, int]:
        """Return each table's size as a piece that grows by grows_by sees it."""
        if grows_by == BYTES:
            return self.table_bytes
        if grows_by == SAMPLE:
            try:
                target = int(self.settings.get("default_statistics_target") or 100)
            except ValueError:
                target = 100
            cap = ANALYZE_ROWS_PER_TARGET * max(target, 1)
            return {t: min(math.ceil(n / BLOCK_BYTES), cap) for t, n in self.table_bytes.items()}
        if grows_by == SORT:
            return {t: round(n * math.log(max(n, 2))) for t, n in self.table_rows.items()}
        return self.table_rows

    def as_dict(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "table_bytes": self.table_bytes,
            "table_rows": self.table_rows,
            "settings": self.settings,
        }


def read_profile(db: Database, dsn: str, schema: str) -> DatabaseProfile:
    """Read, in a read-only transaction, what the forecast needs from a database."""
    with db.transaction():
        db.execute("SET TRANSACTION READ ONLY")
        identity = database_identity(db, dsn)
        rows = db.query(
            # Heap and TOAST data only: the free-space and visibility maps are a fixed few pages
            # per table, which would make a small table look bigger on the smaller database.
            "SELECT c.relname::text, (pg_relation_size(c.oid) + "
            "coalesce(pg_relation_size(nullif(c.reltoastrelid, 0)), 0))::bigint, "
            "greatest(c.reltuples, 0)::bigint FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'm') ORDER BY 1",
            [schema],
        )
        settings = db.query(
            # current_setting: '128MB', where setting || unit would say '163848kB' (16384 × 8kB).
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
            [list(SETTINGS_THAT_MATTER)],
        )
    return DatabaseProfile(
        identity=identity,
        table_bytes={str(r[0]): int(r[1]) for r in rows},
        table_rows={str(r[0]): int(r[2]) for r in rows},
        settings={str(k): str(v) for k, v in settings},
    )


def differences(staging: DatabaseProfile, target: DatabaseProfile) -> list[str]:
    """Name what makes the forecast less sure: settings that differ, tables on one side only."""
    notes = [
        f"{name} differs: {staging.settings.get(name, '?')} on the rehearsal's server, "
        f"{target.settings.get(name, '?')} on the target's; the forecast assumes the same "
        "hardware and settings"
        for name in SETTINGS_THAT_MATTER
        if staging.settings.get(name) != target.settings.get(name)
    ]
    only = sorted(set(target.table_bytes) ^ set(staging.table_bytes))
    if only:
        notes.append("tables on one side only (not scaled): " + ", ".join(only))
    return notes


def size_bytes(text: str | None) -> int | None:
    """Read a size setting as PostgreSQL shows it ('128MB', '4096kB', '1GB'); None if unreadable."""
    match = re.fullmatch(r"\s*(\d+)\s*(B|kB|MB|GB|TB)?\s*", text or "")
    if not match:
        return None
    power = {"B": 0, "kB": 1, "MB": 2, "GB": 3, "TB": 4}[match.group(2) or "B"]
    return int(match.group(1)) * int(1024**power)
