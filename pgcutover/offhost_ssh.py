"""BACKUP_COPY_TO over SSH (fabric, as for APP_HOSTS): files by SFTP, sha256 taken on the host."""

from __future__ import annotations

import os
import posixpath
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pgcutover.backup_settings import CopyTarget
from pgcutover.dumpfiles import Digest
from pgcutover.settings import Settings
from pgcutover.ssh import SshHost, ssh_error

OnBytes = Callable[[int, int], None]  # (bytes so far, bytes in all)
Files = dict[str, tuple[Path, Digest]]  # name in the run's directory: (the file here, its digest)
STALL_S = 120.0  # an SFTP transfer that moves nothing for this long is a dead link
COMMAND_S = 120.0
HASH_S = 6 * 3600.0  # sha256sum of a very large dump on a slow disk; only a hang waits this long


def compare(name: str, want: Digest, got: Digest) -> None:
    """Raise OSError naming how a copy differs from the original (size first, then sha256)."""
    if got[0] != want[0]:
        raise OSError(f"{name} arrived with {got[0]} bytes, not {want[0]}")
    if got[1] != want[1]:
        raise OSError(f"{name} arrived with sha256 {got[1][:12]}…, not {want[1][:12]}…")


class Tally:
    """Add up the bytes of files moved one after another, so one on_bytes hears them all."""

    def __init__(self, on_bytes: OnBytes | None, total: int) -> None:
        self.on_bytes, self.total = on_bytes, total
        self.before = self.current = 0

    def next_file(self) -> OnBytes:
        """Return the callback for the next file's (bytes so far, its size)."""
        self.before, self.current = self.before + self.current, 0

        def heard(done: int, size: int) -> None:
            self.current = size
            if self.on_bytes is not None:
                self.on_bytes(self.before + done, max(self.total, self.before + size))

        return heard


class SshDestination:
    """A directory on an SSH host, reached with one connection until close()."""

    def __init__(self, target: CopyTarget, settings: Settings) -> None:
        assert target.host is not None
        self.host = SshHost(
            target.host,
            ssh_config=settings.ssh_config,
            connect_timeout_s=settings.ssh_connect_timeout_s,
        )
        self._sftp: Any = None

    def cause(self, exc: Exception) -> str:
        """Say why a transfer failed, as the app hosts' SSH failures are said."""
        return ssh_error(exc, self.host)

    def sftp(self) -> Any:
        """Return the SFTP session, opening the connection (known_hosts enforced) first."""
        if self._sftp is None:
            self._sftp = self.host.open().sftp()
            self._sftp.get_channel().settimeout(STALL_S)
        return self._sftp

    def sh(self, command: str, timeout_s: float = COMMAND_S) -> str:
        """Run a command on the host; a failure raises OSError with its last line."""
        result = self.host.run(command, timeout_s=timeout_s)
        if result.error:
            raise OSError(result.error)
        if result.exit_code != 0:
            last = (result.stderr or result.stdout).strip().splitlines()
            raise OSError(
                f"`{command}` exited {result.exit_code}: {last[-1] if last else 'no output'}"
            )
        return result.stdout

    def put(self, d: str, files: Files, on_bytes: OnBytes | None) -> None:
        """Upload each file as NAME.partial, check them all on the host, then rename in order."""
        dirs = sorted({posixpath.dirname(posixpath.join(d, name)) for name in files})
        quoted = " ".join(shlex.quote(p) for p in dirs)
        self.sh(f"mkdir -p -- {quoted} && chmod 700 -- {quoted}")
        tally = Tally(on_bytes, sum(want[0] for _, want in files.values()))
        for name, (src, _) in files.items():
            remote = posixpath.join(d, name + ".partial")
            self.sftp().put(str(src), remote, callback=tally.next_file(), confirm=True)
        got = self.digests(d, [name + ".partial" for name in files])
        for name, (_, want) in files.items():
            compare(name, want, got.get(name + ".partial", (-1, "")))
        moves = [
            f"mv -f -- {shlex.quote(posixpath.join(d, name + '.partial'))} "
            f"{shlex.quote(posixpath.join(d, name))}"
            for name in files
        ]
        self.sh(" && ".join(moves))

    def digests(self, d: str, names: list[str]) -> dict[str, Digest]:
        """Return size and sha256 of the named files that exist, both taken on the host."""
        present = []
        for name in names:
            try:
                present.append((name, int(self.sftp().stat(posixpath.join(d, name)).st_size)))
            except FileNotFoundError:
                continue
        if not present:
            return {}
        quoted = " ".join(shlex.quote(n) for n, _ in present)
        out = self.sh(f"cd -- {shlex.quote(d)} && sha256sum -- {quoted}", HASH_S)
        sums = {line.split()[1].lstrip("*"): line.split()[0] for line in out.splitlines() if line}
        return {n: (size, sums.get(n, "")) for n, size in present}

    def get(self, d: str, names: list[str], dest: Path, tally: Tally) -> None:
        """Download each file to dest as NAME.partial, fsynced, then rename it into place."""
        for name in names:
            partial = dest / (name + ".partial")
            partial.parent.mkdir(mode=0o700, exist_ok=True)
            self.sftp().get(posixpath.join(d, name), str(partial), callback=tally.next_file())
            with partial.open("rb") as fh:
                os.fsync(fh.fileno())
            partial.rename(dest / name)

    def remove(self, d: str) -> None:
        """Delete a run's directory on the host (nothing when there is none)."""
        self.sh(f"rm -rf -- {shlex.quote(d)}")

    def reach(self, base: str) -> None:
        """Require a writable base directory and sha256sum on the host."""
        q = shlex.quote(base)
        self.sh(
            f"mkdir -p -- {q} && test -w {q} && command -v sha256sum >/dev/null "
            "|| { echo 'not a writable directory, or no sha256sum there' >&2; exit 1; }"
        )

    def close(self) -> None:
        """Close the SFTP session and the connection."""
        sftp, self._sftp = self._sftp, None
        if sftp is not None:
            sftp.close()
        self.host.close()
