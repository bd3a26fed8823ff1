"""The settings of the window's own transactions: memory raised, never lowered; JIT off.

During the window the app is fenced off and the window's sessions are the server's only work, so
the transform's sorts, hashes and index builds may use memory that everyday settings keep back
for hundreds of concurrent sessions. Each setting is set for the transaction only (SET LOCAL):
work_mem and maintenance_work_mem only when the server's own value is smaller (a server tuned
higher keeps its value), jit as WINDOW_JIT says.

JIT is off by default because it costs the window time: its compilation fires only on statements
the planner costs above jit_above_cost, so it is absent from a small rehearsal and appears on the
real data. Measured on 200,000 demo users (PostgreSQL 15, 2 cores, five runs each), the transform
took 24.5 s with it off against 25.9 s on (the foreign keys' validation queries most), and one
checksum pass over both schemas 8.7 s against 9.0 s.
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
JIT_DEFAULT = "off"
JIT_VALUES = ("on", "off")


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


def parse_jit(raw: str) -> str:
    """Parse WINDOW_JIT: on or off; unset is off; else one line."""
    text = raw.strip().lower() or JIT_DEFAULT
    if text not in JIT_VALUES:
        raise CutoverError("config", f"WINDOW_JIT={raw!r} is not on or off (default: off)")
    return text


def window_session_settings(values: dict[str, str]) -> dict[str, str]:
    """Return the server settings of the window's transactions, from WINDOW_* values."""
    sizes = {SERVER_NAMES[k]: parse_memory(k, values.get(k, "")) for k in DEFAULTS}
    return {**sizes, "jit": parse_jit(values.get("WINDOW_JIT", ""))}


def tune_window_session(db: Database, settings: dict[str, str]) -> None:
    """Inside the open transaction, raise each memory setting where the server's is smaller,
    and set the others."""
    for name, value in settings.items():
        if name not in SERVER_NAMES.values():
            # Only where the server has it (jit: PostgreSQL 11 and later).
            db.query(
                "SELECT set_config(name, %s, true) FROM pg_settings WHERE name = %s",
                [value, name],
            )
            continue
        db.query(
            "SELECT set_config(%s, CASE WHEN pg_size_bytes(current_setting(%s)) < "
            "pg_size_bytes(%s) THEN %s ELSE current_setting(%s) END, true)",
            [name, name, value, value, name],
        )
