"""Start and stop a throwaway local PostgreSQL cluster (sandbox and tests)."""

from __future__ import annotations

import hashlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pgcutover.errors import CutoverError

SERVER_USER = "postgres"  # initdb refuses root, so root runs the server as this OS user


def free_port() -> int:
    """Ask the kernel for a free TCP port on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalCluster:
    """A PostgreSQL cluster in one directory, listening on 127.0.0.1 only."""

    root: Path
    bindir: Path

    @property
    def home(self) -> Path:
        """Where the server's files live: root itself, or a place the postgres OS user can reach."""
        recorded = self.root / "server_home"
        return Path(recorded.read_text().strip()) if recorded.exists() else self.root

    @property
    def datadir(self) -> Path:
        return self.home / "data"

    @property
    def port_file(self) -> Path:
        return self.root / "port"

    @property
    def password_file(self) -> Path:
        return self.root / "superuser.password"

    @property
    def port(self) -> int:
        return int(self.port_file.read_text().strip())

    @property
    def superuser_password(self) -> str:
        return self.password_file.read_text().strip()

    def superuser_url(self, dbname: str = "postgres") -> str:
        """Return a libpq URL for the cluster's superuser."""
        return f"postgresql://postgres:{self.superuser_password}@127.0.0.1:{self.port}/{dbname}"

    def _as_server_user(self, args: list[str]) -> list[str]:
        """Prefix a server command so it runs as the postgres OS user when we are root."""
        if os.geteuid() != 0:
            return args
        return ["runuser", "-u", SERVER_USER, "--", *args]

    def _run(self, args: list[str], what: str) -> None:
        proc = subprocess.run(self._as_server_user(args), capture_output=True, text=True)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise CutoverError(
                "sandbox", f"{what} exited {proc.returncode}: {detail[-1] if detail else ''}"
            )

    def init(self, settings: Mapping[str, str] | None = None) -> None:
        """Create the cluster with a random superuser password (scram over TCP), plus settings."""
        if not (self.bindir / "initdb").exists():
            raise CutoverError(
                "sandbox", f"initdb not found in {self.bindir} (install postgresql-15)"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(18)
        self.password_file.write_text(password + "\n")
        self.password_file.chmod(0o600)
        self.port_file.write_text(f"{free_port()}\n")
        home = self.root
        if os.geteuid() == 0:
            if not self._server_user_can_reach(self.root):
                # e.g. a checkout under /root (mode 700):
                # keep the server's files where postgres can work
                home = (
                    Path(tempfile.gettempdir())
                    / f"pgcutover-{hashlib.sha1(str(self.root).encode()).hexdigest()[:12]}"
                )
                shutil.rmtree(home, ignore_errors=True)
                home.mkdir(mode=0o700)
                (self.root / "server_home").write_text(f"{home}\n")
            uid = pwd.getpwnam(SERVER_USER)
            os.chown(home, uid.pw_uid, uid.pw_gid)
        pwfile = home / "initdb.pw"
        pwfile.write_text(password + "\n")
        if os.geteuid() == 0:
            os.chown(pwfile, pwd.getpwnam(SERVER_USER).pw_uid, -1)
        pwfile.chmod(0o600)
        try:
            self._run(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.datadir),
                    "-U",
                    "postgres",
                    "--auth-local=peer",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
                "initdb",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if settings:
            # In postgresql.conf, not `-c` at start: restart() keeps them and ALTER SYSTEM wins.
            with (self.datadir / "postgresql.conf").open("a", encoding="utf-8") as conf:
                conf.write("\n# pgcutover: extra settings\n")
                for name, value in settings.items():
                    conf.write(f"{name} = {_conf_quote(value)}\n")

    def _server_user_can_reach(self, path: Path) -> bool:
        """Ask whether the postgres OS user can enter path (every parent must let it through)."""
        return (
            subprocess.run(
                ["runuser", "-u", SERVER_USER, "--", "test", "-x", str(path.parent)],
                capture_output=True,
            ).returncode
            == 0
        )

    def is_running(self) -> bool:
        """Tell whether the server of this directory is up."""
        if not (self.datadir / "postmaster.pid").exists():
            return False
        proc = subprocess.run(
            self._as_server_user([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "status"]),
            capture_output=True,
            text=True,
        )
        return proc.returncode == 0

    def start(self, *, port: int | None = None) -> None:
        """Start the server on its port (or a new free one when that is taken)."""
        if self.is_running():
            return
        if port is None:
            port = self.port if _port_free(self.port) else free_port()
        self.port_file.write_text(f"{port}\n")
        opts = (
            f"-p {port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.home} -c fsync=off"
        )
        self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-o",
                opts,
                "-w",
                "-t",
                "60",
                "-l",
                str(self.home / "server.log"),
                "start",
            ],
            "pg_ctl start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server if it runs."""
        if self.is_running():
            self._run(
                [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"],
                "pg_ctl stop",
            )

    def restart(self) -> None:
        """Restart the server on the same port (tests use it to cut every session)."""
        self._run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop"],
            "pg_ctl stop",
        )
        self.start(port=self.port)

    def destroy(self) -> None:
        """Stop the server and delete its directory."""
        self.stop("immediate")
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _conf_quote(value: str) -> str:
    """Quote a value for postgresql.conf (backslashes and quotes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
