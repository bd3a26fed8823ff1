"""Run commands on an APP_HOSTS entry over SSH (fabric), with OpenSSH's known_hosts refusal."""

from __future__ import annotations

import getpass
import logging
import math
import os
import socket
import time
from pathlib import Path
from typing import Any

import fabric
import paramiko
from fabric.runners import Remote
from invoke.exceptions import CommandTimedOut

from pgcutover.app_host_settings import HostEntry
from pgcutover.command_result import TIMED_OUT, CommandResult
from pgcutover.remote_session import ENDED_BY_WATCHER, ended_with_channel

DEFAULT_CONNECT_TIMEOUT_S = 10.0
# ssh's own exit code when it cannot connect; the cause is in CommandResult.error.
SSH_FAILED = 255

# paramiko logs connection failures itself; without a handler Python would print them to stderr
# next to the one line that already says what failed.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


class RefuseUnknownHost(paramiko.RejectPolicy):  # type: ignore[misc]
    """Refuse a host key no known_hosts file lists, saying which key and where we looked."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        """Refuse the connection; nothing is ever added to a known_hosts file."""
        looked = ", ".join(str(f) for f in self.files) or "no known_hosts file"
        raise paramiko.SSHException(
            f"unknown host key: {hostname} offered {key.get_name()} {key.fingerprint}, which is "
            f"not in {looked}; refused, nothing added (check the fingerprint on the host, then "
            "add it: runbooks/app-hosts.md)"
        )


class SshHost:
    """Run commands on one APP_HOSTS entry over SSH, reusing one connection until close()."""

    def __init__(
        self,
        entry: HostEntry,
        *,
        ssh_config: Path | None = None,
        connect_timeout_s: float | None = None,
    ) -> None:
        self.entry = entry
        self.ssh_config = ssh_config
        self.connect_timeout_s = connect_timeout_s
        self.timeout_s = connect_timeout_s or DEFAULT_CONNECT_TIMEOUT_S  # the one in effect
        self._conn: Any = None

    @property
    def name(self) -> str:
        return self.entry.host

    @property
    def url_host(self) -> str:
        return self.entry.url_host

    @property
    def target(self) -> str:
        return f"ssh {self.entry.entry}"

    def connection(self) -> Any:
        """Build (not open) a fabric Connection set up as OpenSSH would, unknown keys refused."""
        # A runtime file replaces ~/.ssh/config and /etc/ssh/ssh_config, as `ssh -F` does.
        config = (
            fabric.Config(runtime_ssh_path=str(self.ssh_config))
            if self.ssh_config
            else fabric.Config()
        )
        config.runners.remote = QuietKillRemote
        conn = fabric.Connection(
            self.entry.host, user=self.entry.user, port=self.entry.port, config=config
        )
        self.timeout_s = self.connect_timeout_s or _seconds(conn.ssh_config.get("connecttimeout"))
        _harden(conn, self.timeout_s)
        return conn

    def open(self) -> Any:
        """Return the open connection, connecting first if there is none."""
        if self._conn is not None and self._conn.is_connected:
            return self._conn
        self.close()
        conn = self.connection()
        try:
            conn.open()
        except BaseException:
            _close(conn)
            raise
        self._conn = conn
        return conn

    def run(self, command: str, *, timeout_s: float) -> CommandResult:
        """Run a command with a timeout; a failure to connect or finish is said in `error`."""
        try:
            conn = self.open()
        except Exception as exc:  # every way a connection fails becomes one named cause
            return CommandResult(
                self.name,
                SSH_FAILED,
                "",
                "",
                error=f"cannot connect over SSH ({self.entry.entry}): {ssh_error(exc, self)}",
            )
        started = time.monotonic()
        try:
            result = conn.run(
                ended_with_channel(command),
                hide=True,
                warn=True,
                in_stream=False,
                pty=False,
                echo=False,
                timeout=timeout_s,
            )
        except CommandTimedOut as exc:
            # invoke closed the channel; a command ignoring SIGHUP may still run on the host.
            self.close()
            return self._timed_out(timeout_s, exc.result.stdout, exc.result.stderr)
        except KeyboardInterrupt:  # a second Ctrl-C abandons the command: drop its channel
            self.close()
            raise
        except Exception as exc:
            self.close()
            return CommandResult(
                self.name,
                SSH_FAILED,
                "",
                "",
                error=f"connection lost while running `{command}`: {ssh_error(exc, self)}",
            )
        cut = result.exited in (-1, ENDED_BY_WATCHER)
        if cut and time.monotonic() - started >= timeout_s:
            # invoke's timer closed the channel (the watcher then ended the command), but its
            # thread had not ended when invoke asked whether it had (a race in invoke): a
            # timeout all the same.
            self.close()
            return self._timed_out(timeout_s, result.stdout, result.stderr)
        if result.exited == -1:  # no exit status: the channel died, or a signal ended the command
            self.close()
            return CommandResult(
                self.name,
                SSH_FAILED,
                result.stdout,
                result.stderr,
                error=f"`{command}` ended without an exit status (connection lost, or killed)",
            )
        return CommandResult(self.name, int(result.exited), result.stdout, result.stderr)

    def _timed_out(self, timeout_s: float, stdout: str, stderr: str) -> CommandResult:
        """Say that a command was cut at its timeout, keeping what it printed."""
        return CommandResult(
            self.name,
            TIMED_OUT,
            stdout,
            (stderr + "\n" if stderr else "")
            + f"timed out after {timeout_s:g}s (its session on the host is ended with it)",
        )

    def close(self) -> None:
        """Close the connection, if any; the next run() connects again."""
        conn, self._conn = self._conn, None
        if conn is not None:
            _close(conn)


def _seconds(raw: str | None) -> float:
    """Read an SSH config ConnectTimeout, or the default when it is unset or not a number."""
    try:
        value = float(raw) if raw else DEFAULT_CONNECT_TIMEOUT_S
    except ValueError:
        return DEFAULT_CONNECT_TIMEOUT_S
    return value if math.isfinite(value) and value > 0 else DEFAULT_CONNECT_TIMEOUT_S


def known_hosts_files(options: dict[str, Any], host: str) -> list[Path]:
    """List the known_hosts files OpenSSH reads for a host: UserKnownHostsFile, GlobalKnown…."""
    user = str(options.get("userknownhostsfile") or "~/.ssh/known_hosts ~/.ssh/known_hosts2")
    system = str(
        options.get("globalknownhostsfile") or "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2"
    )
    tokens = {"%d": os.path.expanduser("~"), "%u": getpass.getuser(), "%h": host, "%%": "%"}
    files = []
    for raw in (user + " " + system).split():
        if raw.lower() == "none":
            continue
        for token, value in tokens.items():
            raw = raw.replace(token, value)
        files.append(Path(os.path.expanduser(raw)))
    return files


class QuietKillRemote(Remote):  # type: ignore[misc]
    """fabric's remote runner, whose timeout kill never dies on a channel already closing."""

    def kill(self) -> None:
        # invoke's timer thread calls this; closing a channel whose transport the host is closing
        # too can raise EOFError there, an unhandled exception in that thread.
        try:
            super().kill()
        except Exception:
            pass

    def send_interrupt(self, interrupt: KeyboardInterrupt) -> None:
        # A second Ctrl-C abandons the step at once: fabric re-raises it, but invoke then waits
        # for the command's output to end. Closing the channel ends that wait, and the remote
        # session's watcher (remote_session.py) ends the command with it.
        try:
            self.channel.close()
        except Exception:
            pass
        raise interrupt

    def respond(self, buffer_: list[str]) -> None:
        # invoke joins the whole output so far for every chunk it reads, to feed watchers we
        # never use: quadratic in a chatty command's output (20 MB took 41 s).
        if self.watchers:
            super().respond(buffer_)


def _harden(conn: Any, timeout_s: float) -> None:
    """Refuse host keys no known_hosts file lists, and bound every wait of the connection.

    fabric accepts any host key by default (AutoAddPolicy) and never reads known_hosts; a
    ProxyJump hop is a Connection of its own and gets the same treatment.
    """
    files = known_hosts_files(conn.ssh_config, conn.host)
    for path in files:
        if path.is_file():
            # load_system_host_keys never writes back, unlike load_host_keys.
            conn.client.load_system_host_keys(str(path))
    conn.client.set_missing_host_key_policy(RefuseUnknownHost(files))
    conn.connect_timeout = math.ceil(timeout_s)  # TCP connect; fabric takes whole seconds
    # Without these a host that accepts TCP but never speaks SSH would hold us far longer.
    conn.connect_kwargs = {
        **conn.connect_kwargs,
        "banner_timeout": timeout_s,
        "auth_timeout": timeout_s,
        "channel_timeout": timeout_s,
    }
    if str(conn.ssh_config.get("identitiesonly", "no")).lower() == "yes":
        conn.connect_kwargs["look_for_keys"] = False  # IdentityFile (and the agent) only
    if isinstance(conn.gateway, fabric.Connection):
        _harden(conn.gateway, timeout_s)


def _close(conn: Any) -> None:
    """Close a connection, its client (close() skips one whose open() failed) and its hops."""
    try:
        conn.close()
    finally:
        conn.client.close()
        if isinstance(conn.gateway, fabric.Connection):
            _close(conn.gateway)


def ssh_error(exc: BaseException, host: SshHost) -> str:
    """Say in a few words why SSH to a host failed."""
    timeout = host.timeout_s
    if isinstance(exc, paramiko.BadHostKeyException):
        return (
            f"host key mismatch: {exc.hostname} offered {exc.key.get_name()} "
            f"{exc.key.fingerprint}, known_hosts has {exc.expected_key.fingerprint}; refused "
            "(a reinstalled host, or someone in between: check before changing known_hosts)"
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return f"authentication refused ({exc}): check the user, IdentityFile and ssh-agent"
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        causes = {os.strerror(e.errno).lower() if e.errno else str(e) for e in exc.errors.values()}
        return ", ".join(sorted(causes)) or str(exc)
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"no answer within {timeout:g}s"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({exc.strerror})"
    if isinstance(exc, paramiko.SSHException):
        text = str(exc)
        # paramiko says "No existing session" when its banner wait outlives the connect timeout.
        if "banner" in text or text == "No existing session":
            return f"no SSH answer within {timeout:g}s (the port is open but does not speak SSH)"
        return text
    if isinstance(exc, OSError):
        if exc.filename:  # a known_hosts or key file we could not read
            return f"{exc.filename}: {exc.strerror or exc}"
        return exc.strerror or str(exc)
    return f"{type(exc).__name__}: {exc}"
