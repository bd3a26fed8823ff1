"""Copy a run's files off this host and check them there: a directory (a mount), or SSH.

Each run goes to <BACKUP_COPY_TO>/<run-id>/. Files arrive as NAME.partial, are checked where they
landed (size, and sha256 computed there), and only then renamed, in the order given: the manifest
last, so its presence means the copy is whole. A name may hold one directory (a directory dump's
`database.dir/toc.dat`). What the files are is steps/backup_offhost.py's.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pgcutover.backup_settings import CopyTarget
from pgcutover.dumpfiles import Digest, fsync_directory
from pgcutover.errors import CutoverError
from pgcutover.identity import RUN_ID
from pgcutover.offhost_ssh import Files, OnBytes, SshDestination, Tally, compare
from pgcutover.settings import Settings

CHUNK = 1 << 20


def sha256_cold(path: Path) -> Digest:
    """Hash a file after dropping its cached pages, so the bytes come from where they are stored."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        if hasattr(os, "posix_fadvise"):  # otherwise the page cache would answer for the disk
            os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return path.stat().st_size, digest.hexdigest()


def copy_file(src: Path, dest: Path, on_bytes: OnBytes | None) -> None:
    """Copy one file in chunks, fsynced, reporting bytes as they go."""
    total, done = src.stat().st_size, 0
    with src.open("rb") as fin, dest.open("wb") as fout:
        while chunk := fin.read(CHUNK):
            fout.write(chunk)
            done += len(chunk)
            if on_bytes is not None:
                on_bytes(done, total)
        fout.flush()
        os.fsync(fout.fileno())


class LocalDestination:
    """A directory of this machine (a mount of another disk or host)."""

    def cause(self, exc: Exception) -> str:
        """Say why a copy failed: the file and the system's reason."""
        if isinstance(exc, OSError) and exc.strerror:
            return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
        return str(exc)

    def put(self, d: str, files: Files, on_bytes: OnBytes | None) -> None:
        """Copy each file as NAME.partial, check it read back from there, then rename in order."""
        run_dir = Path(d)
        run_dir.mkdir(parents=True, exist_ok=True)
        run_dir.chmod(0o700)  # the dump holds every row of the database: only its owner may read
        tally = Tally(on_bytes, sum(want[0] for _, want in files.values()))
        for name, (src, want) in files.items():
            home = src.parents[name.count("/")]  # the run's directory the name is relative to
            if os.path.samefile(home, run_dir):  # onto itself would truncate the original
                raise OSError(f"{run_dir} is the backup's own directory")
            partial = run_dir / (name + ".partial")
            partial.parent.mkdir(mode=0o700, exist_ok=True)
            copy_file(src, partial, tally.next_file())
            compare(name, want, sha256_cold(partial))
        for name in files:
            (run_dir / (name + ".partial")).rename(run_dir / name)
        for parent in {(run_dir / name).parent for name in files}:
            fsync_directory(parent)  # the renames themselves survive a crash

    def digests(self, d: str, names: list[str]) -> dict[str, Digest]:
        """Return size and sha256 of the named files that exist, read from where they are."""
        return {n: sha256_cold(Path(d) / n) for n in names if (Path(d) / n).is_file()}

    def get(self, d: str, names: list[str], dest: Path, tally: Tally) -> None:
        """Copy each file to dest as NAME.partial, then rename it into place."""
        for name in names:
            (dest / name).parent.mkdir(mode=0o700, exist_ok=True)
            copy_file(Path(d) / name, dest / (name + ".partial"), tally.next_file())
            (dest / (name + ".partial")).rename(dest / name)

    def remove(self, d: str) -> None:
        """Delete a run's directory (nothing when there is none)."""
        if Path(d).exists():
            shutil.rmtree(d)

    def reach(self, base: str) -> None:
        """Require a writable base directory."""
        Path(base).mkdir(parents=True, exist_ok=True)
        probe = Path(base) / ".pgcutover-write-test"
        probe.write_bytes(b"ok")
        probe.unlink()

    def close(self) -> None:
        """Release nothing: a directory holds no connection."""


def _target(settings: Settings, step: str) -> CopyTarget:
    """Return BACKUP_COPY_TO, or fail when it is not set."""
    if settings.backup_copy_to is None:
        raise CutoverError(step, "BACKUP_COPY_TO is not set: there is no off-host copy")
    return settings.backup_copy_to


def _run_dir(target: CopyTarget, run_id: str, step: str) -> str:
    """Return a run's directory at the destination; a run id is checked, never a path."""
    if not RUN_ID.match(run_id):
        raise CutoverError(step, f"{run_id!r} is not a run id")
    return posixpath.join(target.path, run_id)


@contextmanager
def _open(
    settings: Settings, step: str, doing: str, run_id: str = ""
) -> Iterator[LocalDestination | SshDestination]:
    """Yield the destination; every failure becomes one CutoverError line naming it."""
    target = _target(settings, step)
    dest = LocalDestination() if target.host is None else SshDestination(target, settings)
    try:
        yield dest
    except CutoverError:
        raise
    except Exception as exc:  # every way a transfer fails becomes one named cause
        raise CutoverError(
            step, f"{doing} {target.where(run_id)} failed: {dest.cause(exc)}"
        ) from None
    finally:
        dest.close()


def copy_files(
    settings: Settings,
    run_id: str,
    files: Files,
    *,
    step: str,
    on_bytes: OnBytes | None = None,
) -> str:
    """Copy files (name: (path here, size and sha256); in order, the manifest last) off the
    host, checked there; return where."""
    target = _target(settings, step)
    with _open(settings, step, "off-host copy to", run_id) as dest:
        dest.put(_run_dir(target, run_id, step), files, on_bytes)
    return target.where(run_id)


def digests_at(
    settings: Settings, run_id: str, names: list[str], *, step: str
) -> dict[str, Digest]:
    """Return size and sha256 of the named files of a run's copy, computed where they are."""
    target = _target(settings, step)
    with _open(settings, step, "checking the off-host copy at", run_id) as dest:
        return dest.digests(_run_dir(target, run_id, step), names)


def fetch_files(
    settings: Settings,
    run_id: str,
    names: list[str],
    dest_dir: Path,
    *,
    step: str,
    on_bytes: OnBytes | None = None,
    total_bytes: int = 0,
) -> None:
    """Fetch a run's files into dest_dir (each via NAME.partial); the caller checks them.

    on_bytes hears the bytes fetched of all the files; total_bytes, when known, their sum.
    """
    target = _target(settings, step)
    with _open(settings, step, "fetching the off-host copy from", run_id) as dest:
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest_dir.chmod(0o700)
        dest.get(_run_dir(target, run_id, step), names, dest_dir, Tally(on_bytes, total_bytes))


def remove_copy(settings: Settings, run_id: str, *, step: str) -> None:
    """Delete a run's off-host copy (nothing when there is none)."""
    target = _target(settings, step)
    with _open(settings, step, "deleting the off-host copy at", run_id) as dest:
        dest.remove(_run_dir(target, run_id, step))


def reach(settings: Settings, *, step: str) -> str:
    """Check the destination can take a copy (writable; over SSH, sha256sum there); return it."""
    target = _target(settings, step)
    with _open(settings, step, "BACKUP_COPY_TO") as dest:
        dest.reach(target.path)
    return target.where()
