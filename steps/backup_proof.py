"""What proves a backup: its records (dump.json, manifest.json) and reading every block back.

Two records, two moments. The backup step writes dump.json once the dump is on disk, fsynced, and
its table of contents names a data entry for every table it counted: reset may set the legacy
schema aside (sealed, kept until cleanup) from then on. The backup-proof step, running beside the
window, reads every data block back and hashes the dump, then writes manifest.json: a backup is
proven when its manifest exists. The window never passes unfence without it, and cleanup, the
restore path and `invoke backups` ask steps/backup_check.py whether it still matches.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from pgcutover.background import Background
from pgcutover.dumpfiles import Digest, dump_bytes, dump_sha256
from pgcutover.errors import CutoverError
from pgcutover.pgtools import ArchiveToc, pg_restore_list, pg_restore_read_all
from pgcutover.settings import Settings

MANIFEST_NAME = "manifest.json"
PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")  # a file name, never . or .. or a path
DUMP_RECORD = "dump.json"


@dataclass(frozen=True, kw_only=True)
class Dumped:
    """What the backup step knows of its dump before the proof: the file, its size, row counts.

    file names the dump in its run's directory: a file (custom format) or a directory of files.
    """

    run: str
    file: str
    bytes: int
    created_at: str
    server_version: str
    pg_dump_major: int
    row_counts: dict[str, int]
    toc_entries: int
    format: str = "custom"  # records from before the directory format have none

    def schema_counts(self, schema: str) -> dict[str, int]:
        """The row counts of one schema's tables, keyed by bare table name."""
        prefix = schema + "."
        return {k[len(prefix) :]: n for k, n in self.row_counts.items() if k.startswith(prefix)}


@dataclass(frozen=True, kw_only=True)
class Manifest(Dumped):
    """What proves a backup: the dump's record and its sha256, once it all read back.

    A directory dump's sha256 is its listing's; parts holds each file's size and sha256 there.
    """

    sha256: str
    parts: dict[str, list[int | str]] | None = None

    def digests(self) -> dict[str, Digest]:
        """Return each part's recorded size and sha256 by its name relative to the run's dir."""
        if self.parts is None:
            return {self.file: (self.bytes, self.sha256)}
        return {name: (int(size), str(sha)) for name, (size, sha) in self.parts.items()}


def read_back(
    settings: Settings, dump: Path, tables: Iterable[str], step: str = "backup"
) -> ArchiveToc:
    """Require a data entry for every table in the TOC, then read and inflate every data block."""
    toc = check_toc(settings, dump, tables, step)
    read_every_block(settings, dump, step)
    return toc


def check_toc(settings: Settings, dump: Path, tables: Iterable[str], step: str) -> ArchiveToc:
    """Require a readable, compressed archive whose TOC has a data entry for every table."""
    try:
        toc = pg_restore_list(settings, dump, step)
    except CutoverError as exc:
        raise CutoverError(
            step, f"the table of contents of {dump.name} is unreadable: {exc.cause}"
        ) from None
    if not toc.compressed:
        # An uncompressed block carries no checksum: pg_restore would read flipped bytes as data.
        raise CutoverError(
            step,
            f"{dump.name} is uncompressed, so a corrupt data block cannot be "
            "detected (is pg_dump built without zlib?)",
        )
    # A TOC data line: "<id>; <oid> <oid> TABLE DATA <schema> <table> <owner>".
    data = {
        e.split(" TABLE DATA ", 1)[1].rsplit(" ", 1)[0] for e in toc.entries if " TABLE DATA " in e
    }
    missing = [t for t in tables if " ".join(t.split(".", 1)) not in data]
    if missing:
        raise CutoverError(step, f"{dump.name} has no data for {', '.join(missing[:5])}")
    return toc


def read_every_block(settings: Settings, dump: Path, step: str) -> None:
    """Read and inflate every data block of the archive (each block's zlib checksum checked)."""
    try:
        pg_restore_read_all(settings, dump, step)
    except CutoverError as exc:
        raise CutoverError(
            step, f"a data block of {dump.name} is unreadable: {exc.cause}"
        ) from None


def prove_dump(settings: Settings, backup_dir: Path, step: str) -> Manifest:
    """Read the recorded dump's every data block back and hash it; write and return its manifest."""
    dumped = dumped_intact(backup_dir)
    if dumped is None:
        raise CutoverError(step, f"no whole dump recorded in {backup_dir}: nothing to prove")
    dump = backup_dir / dumped.file
    # The hash reads the dump while pg_restore reads it back: two cores, one pass of time.
    hashing = Background(lambda: dump_sha256(dump), name="backup sha256")
    try:
        read_every_block(settings, dump, step)
    except CutoverError as exc:
        raise CutoverError(step, f"{exc.cause}: the backup is not proven") from None
    sha256, parts = hashing.result()
    as_lists: dict[str, list[int | str]] | None = (
        None if parts is None else {n: [size, sha] for n, (size, sha) in parts.items()}
    )
    manifest = Manifest(**asdict(dumped), sha256=sha256, parts=as_lists)
    write_manifest(backup_dir, manifest)
    return manifest


def write_json_atomically(path: Path, data: object) -> None:
    """Write a record whole or not at all: a crash never leaves half of one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.rename(path)


def read_dumped(dest_dir: Path) -> Dumped | None:
    """Read the backup step's record of its dump (None when there is none, or it is unreadable)."""
    try:
        return Dumped(**json.loads((dest_dir / DUMP_RECORD).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def dumped_intact(dest_dir: Path) -> Dumped | None:
    """Return the dump record if its file is still there at the recorded size, else None."""
    dumped = read_dumped(dest_dir)
    if dumped is None or Path(dumped.file).name != dumped.file:
        return None
    try:
        return dumped if dump_bytes(dest_dir / dumped.file) == dumped.bytes else None
    except OSError:
        return None


def proof_pending(dest_dir: Path) -> bool:
    """Tell whether a dump is written whole but was never proven (no manifest at all)."""
    return not (dest_dir / MANIFEST_NAME).exists() and dumped_intact(dest_dir) is not None


def dumped_counts(dest_dir: Path, schema: str) -> dict[str, int] | None:
    """Return one schema's row counts in the dump's snapshot (the manifest's, else the record's)."""
    try:
        record = read_manifest(dest_dir) or read_dumped(dest_dir)
    except (OSError, ValueError, TypeError):
        record = read_dumped(dest_dir)
    return None if record is None else record.schema_counts(schema)


def write_manifest(dest_dir: Path, manifest: Manifest) -> None:
    """Write the manifest atomically: its presence is what "proven" means."""
    write_json_atomically(dest_dir / MANIFEST_NAME, asdict(manifest))


def read_manifest(dest_dir: Path) -> Manifest | None:
    path = dest_dir / MANIFEST_NAME
    if not path.exists():
        return None
    return Manifest(**json.loads(path.read_text()))


def names_its_own_parts(manifest: Manifest) -> bool:
    """Tell whether every name a manifest gives is its dump's, inside the run's directory.

    What pg_dump writes (database.dump; database.dir/toc.dat, 3342.dat.gz …) and nothing that
    could step outside: a fetched manifest's names become paths on this host.
    """
    try:
        names = list(manifest.digests())
    except (ValueError, TypeError, AttributeError):  # parts that are not name: [size, sha256]
        return False
    if not isinstance(manifest.file, str) or not PLAIN_NAME.fullmatch(manifest.file):
        return False
    inside = manifest.file + "/"
    return all(
        name == manifest.file
        or (name.startswith(inside) and PLAIN_NAME.fullmatch(name[len(inside) :]) is not None)
        for name in names
    )
