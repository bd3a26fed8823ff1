"""A dump on disk: one file (custom format), or a directory of files (directory format).

Everything that sizes, hashes, syncs, copies or removes a dump goes through its parts: the
relative names of its files (`database.dump`, or `database.dir/toc.dat`, `database.dir/3342.dat.gz`
…) and their paths. A custom dump's sha256 is its file's; a directory's is the sha256 of its
listing (one `name size sha256` line per part, sorted), so one value still names the whole dump
and a part added, lost or changed changes it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

Digest = tuple[int, str]  # size in bytes, sha256 hex
DUMP_NAMES = {"custom": "database.dump", "directory": "database.dir"}
CHUNK = 1 << 20


def dump_name(backup_format: str) -> str:
    """Name a dump of this format inside its run's backup directory."""
    return DUMP_NAMES[backup_format]


def dump_parts(dump: Path) -> dict[str, Path]:
    """Name every file of a dump relative to its parent directory, sorted; a file is its own part.

    A dump that is not there is one missing part: reading it raises FileNotFoundError.
    """
    if dump.is_dir():
        return {f"{dump.name}/{p.name}": p for p in sorted(dump.iterdir()) if p.is_file()}
    return {dump.name: dump}


def dump_bytes(dump: Path) -> int:
    """Return a dump's size: its file's, or the sum of its directory's files."""
    return sum(p.stat().st_size for p in dump_parts(dump).values())


def sha256_of(path: Path) -> str:
    """Hash a file in 1 MiB chunks (memory stays flat whatever its size)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def part_digests(dump: Path) -> dict[str, Digest]:
    """Return each part's size and sha256, read from disk."""
    return {name: (p.stat().st_size, sha256_of(p)) for name, p in dump_parts(dump).items()}


def listing_sha256(parts: dict[str, Digest]) -> str:
    """Hash a directory dump's listing: one line per part, sorted by name."""
    listing = "".join(f"{name} {size} {sha}\n" for name, (size, sha) in sorted(parts.items()))
    return hashlib.sha256(listing.encode()).hexdigest()


def dump_sha256(dump: Path) -> tuple[str, dict[str, Digest] | None]:
    """Return a dump's sha256, and for a directory the digests of its parts (None for a file)."""
    if dump.is_dir():
        parts = part_digests(dump)
        return listing_sha256(parts), parts
    return sha256_of(dump), None


def fsync_dump(dump: Path) -> None:
    """Flush a dump's files and, for a directory, the directory itself to disk."""
    for path in dump_parts(dump).values():
        with path.open("rb") as fh:
            os.fsync(fh.fileno())
    if dump.is_dir():
        fsync_directory(dump)


def fsync_directory(path: Path) -> None:
    """Flush a directory's entries (renames and new files in it survive a crash)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_dump(dump: Path) -> None:
    """Remove a dump, file or directory (nothing when it is not there)."""
    if dump.is_dir() and not dump.is_symlink():
        shutil.rmtree(dump)
    else:
        dump.unlink(missing_ok=True)
