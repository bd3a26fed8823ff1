"""BACKUP_KEEP (retention), BACKUP_COPY_TO (the off-host copy), BACKUP_COMPRESS and BACKUP_FORMAT:
parsed, checked."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from pgcutover.app_host_settings import HostEntry, parse_host_entry
from pgcutover.errors import CutoverError

# Beyond these a value is a typo, not a policy (and a day count this large overflows a date).
MAX_KEEP_COUNT = 100_000
MAX_KEEP_DAYS = 36_500
KEEP_FORMS = "a count of backups (5), an age in days (30d), or both (5,30d)"
# gzip level 1, by measurement: at 30,000 users (a 150 MiB dump, 2 cores) pg_dump took 4.2 s at
# level 1, 5.4 s at 3 and 9.7 s at pg_dump's default 6, for a file 5.6 % larger than at 6; reading
# it back took the same. The window's time first, disk second.
DEFAULT_COMPRESS = 1
# directory: a file per table, written by pg_dump --jobs (the window's --jobs) side by side;
# custom: one file, one pg_dump process. directory by measurement (`invoke bench`, 20,000 users,
# a 102 MiB dump, 2 cores, --jobs 2): the backup step took 2.16 s and 2.38 s against custom's
# 2.97 s and 3.61 s, and 22.4 s against 29.0 s at 200,000 users, for the same bytes; at --jobs 1
# the two are level (2.52 s, 2.64 s). The window's time first, disk second.
BACKUP_FORMATS = ("directory", "custom")
DEFAULT_FORMAT = BACKUP_FORMATS[0]


@dataclass(frozen=True)
class Keep:
    """Which backups retention keeps: the newest `count`, and those younger than `days`."""

    count: int | None = None
    days: int | None = None

    def __str__(self) -> str:
        parts = [str(self.count)] if self.count else []
        return ",".join(parts + ([f"{self.days}d"] if self.days else []))


def parse_keep(raw: str) -> Keep | None:
    """Parse BACKUP_KEEP (`5`, `30d`, `5,30d`); unset is None; anything else fails in one line."""
    if not raw.strip():
        return None
    count: int | None = None
    days: int | None = None

    def refuse(why: str) -> CutoverError:
        return CutoverError("config", f"BACKUP_KEEP={raw!r} {why}: give {KEEP_FORMS}")

    parts = [p.strip() for p in raw.split(",")]
    if len(parts) > 2 or not all(parts):
        raise refuse("is not one or two comma-separated values")
    for part in parts:
        match = re.fullmatch(r"([0-9]+)([dD]?)", part)
        if match is None:
            raise refuse(f"has {part!r}, which is neither a count nor an age in days")
        value, is_days = int(match[1]), bool(match[2])
        if is_days:
            if days is not None:
                raise refuse("gives the age twice")
            if not 1 <= value <= MAX_KEEP_DAYS:
                raise refuse(f"keeps {value} days; the age must be 1d to {MAX_KEEP_DAYS}d")
            days = value
        else:
            if count is not None:
                raise refuse("gives the count twice")
            if not 1 <= value <= MAX_KEEP_COUNT:
                # 0 would keep only what the policy protects: never what an operator means.
                raise refuse(f"keeps {value} backups; the count must be 1 to {MAX_KEEP_COUNT}")
            count = value
    return Keep(count, days)


@dataclass(frozen=True)
class CopyTarget:
    """Where the proven dump is copied off the host: a directory here, or a path over SSH."""

    raw: str
    path: str  # an absolute directory: on the SSH host, or on this machine (a mount)
    host: HostEntry | None = None  # None: a directory of this machine

    def where(self, run_id: str = "") -> str:
        """Name the destination (of one run's copy) for the operator."""
        path = f"{self.path.rstrip('/')}/{run_id}" if run_id else self.path
        return f"{self.host.entry}:{path}" if self.host else path


def parse_copy_to(raw: str, base: Path, backup_dir: Path) -> CopyTarget | None:
    """Parse BACKUP_COPY_TO: `[user@]host[:port]:/path` over SSH, or a local directory path."""
    raw = raw.strip()
    if not raw:
        return None
    usage = "give [user@]host[:port]:/absolute/path (SSH) or a directory of this machine"
    if "://" in raw:
        raise CutoverError("config", f"BACKUP_COPY_TO={raw!r} is a URL, not a target: {usage}")
    if raw.startswith(("/", ".", "~")) or ":" not in raw:
        local = Path(raw).expanduser()
        local = local if local.is_absolute() else base / local
        # The same directory would copy each file onto itself, truncating the only copy.
        if os.path.realpath(local) == os.path.realpath(backup_dir):
            raise CutoverError(
                "config",
                f"BACKUP_COPY_TO={raw!r} is BACKUP_DIR itself: name another disk or host",
            )
        return CopyTarget(raw, str(local))
    host_part, sep, path = raw.partition(":/")
    path = "/" + path
    if not host_part or not sep or "\n" in path or path.rstrip("/") == "":
        raise CutoverError("config", f"BACKUP_COPY_TO={raw!r}: {usage}")
    return CopyTarget(raw, path, parse_host_entry(host_part, f"BACKUP_COPY_TO={raw!r}: host"))


def parse_compress(raw: str) -> int:
    """Parse BACKUP_COMPRESS, pg_dump's gzip level 1 to 9; unset is the measured default (1)."""
    text = raw.strip()
    if not text:
        return DEFAULT_COMPRESS
    if not re.fullmatch(r"[0-9]", text) or text == "0":
        # 0 writes uncompressed blocks, which carry no checksum: the proof could not catch a
        # flipped byte by reading the dump back, so no backup would ever be proven.
        raise CutoverError(
            "config",
            f"BACKUP_COMPRESS={raw!r} is not a gzip level 1 to 9 (0, uncompressed, cannot be "
            f"proven by reading it back): give 1 (fastest, the default) to 9 (smallest)",
        )
    return int(text)


def parse_format(raw: str) -> str:
    """Parse BACKUP_FORMAT, directory (the default) or custom; anything else fails in one line."""
    text = raw.strip().lower()
    if not text:
        return DEFAULT_FORMAT
    if text not in BACKUP_FORMATS:
        raise CutoverError(
            "config",
            f"BACKUP_FORMAT={raw!r} is not a format pgcutover proves: give directory (a file "
            "per table, pg_dump --jobs; the default) or custom (one file, one pg_dump process)",
        )
    return text
