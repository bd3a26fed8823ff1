"""The memory of the window's own transactions: work_mem, maintenance_work_mem, never lowered.

During the window the app is fenced off and the window's sessions are the server's only work, so
the transform's sorts, hashes and index builds may use memory that everyday settings keep back
for hundreds of concurrent sessions. Each setting is set for the transaction only (SET LOCAL),
and only when the server's own value is smaller: a server tuned higher keeps its value.
"""

from __future__ import annotations

import re

from pgcutover.db import Database
from pgcutover.errors import CutoverError

# PostgreSQL's own bounds for work_mem (64kB) and maintenance_work_mem (1MB), and its maximum.
MIN_BYTES = 1024**2
MAX_BYTES = 2147483647 * 1024
UNITS = {"kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
SIZE = re.compile(r"([0-9]{1,12})\s*(kB|MB|GB|TB)")
DEFAULTS = {"WINDOW_WORK_MEM": "128MB", "WINDOW_MAINTENANCE_WORK_MEM": "1GB"}
SERVER_NAMES = {
    "WINDOW_WORK_MEM": "work_mem",
    "WINDOW_MAINTENANCE_WORK_MEM": "maintenance_work_mem",
}


def parse_memory(name: str, raw: str) -> str:
    """Parse a size as PostgreSQL writes it (256MB, 1GB); unset is the default; else one line."""
    text = raw.strip() or DEFAULTS[name]
    match = SIZE.fullmatch(text)
    if match is None:
        raise CutoverError(
            "config",
            f"{name}={raw!r} is not a size: give a whole number and kB, MB, GB or TB "
            f"(PostgreSQL's units, case as written), e.g. {DEFAULTS[name]}",
        )
    size = int(match[1]) * UNITS[match[2]]
    if not MIN_BYTES <= size <= MAX_BYTES:
        raise CutoverError(
            "config", f"{name}={raw!r} is out of range: give 1MB to 2047GB, e.g. {DEFAULTS[name]}"
        )
    return f"{match[1]}{match[2]}"


def memory_settings(values: dict[str, str]) -> dict[str, str]:
    """Return the server settings the window raises, from WINDOW_* values (defaults filled in)."""
    return {SERVER_NAMES[k]: parse_memory(k, values.get(k, "")) for k in DEFAULTS}


def raise_memory(db: Database, settings: dict[str, str]) -> None:
    """Inside the open transaction, raise each setting to ours where the server's is smaller."""
    for name, value in settings.items():
        db.query(
            "SELECT set_config(%s, CASE WHEN pg_size_bytes(current_setting(%s)) < "
            "pg_size_bytes(%s) THEN %s ELSE current_setting(%s) END, true)",
            [name, name, value, value, name],
        )
