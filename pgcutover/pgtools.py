"""pg_dump and pg_restore as subprocesses: exit codes trusted, passwords by environment only."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pgcutover.children import running_child
from pgcutover.db import dsn_without_password
from pgcutover.errors import CutoverError
from pgcutover.numbers import ascii_int
from pgcutover.redact import mask
from pgcutover.restore_entries import RestoreEntries
from pgcutover.settings import Settings

# pg_restore --jobs: more sessions than this only queue on the server's locks and I/O.
MAX_RESTORE_JOBS = 64


def run_child(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    timeout_s: float | None = None,
    stdin: str | None = None,
    on_stderr_line: Callable[[str], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a program in a session of its own; on timeout or interrupt, kill its group and reap it.

    A terminal's Ctrl-C reaches its foreground process group only, so the child never sees it:
    pgcutover alone decides between "finish this step" (first Ctrl-C) and "abandon it" (second).
    A new session rather than just a new group: with no controlling terminal, a child that wants
    to prompt fails at once instead of being stopped (SIGTTIN) until its timeout; stdin is empty.
    on_stderr_line sees each stderr line as it comes (a verbose pg_restore's entries).
    """
    if on_stderr_line is not None:
        return run_child_streaming(args, env=env, timeout_s=timeout_s, on_line=on_stderr_line)
    with start_child(args, env, stdin_pipe=stdin is not None) as proc, running_child(proc):
        try:
            stdout, stderr = proc.communicate(input=stdin, timeout=timeout_s)
        except BaseException:  # TimeoutExpired, or KeyboardInterrupt from a second Ctrl-C
            kill_group(proc)
            raise
    return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)


def start_child(
    args: list[str], env: dict[str, str] | None, *, stdin_pipe: bool
) -> subprocess.Popen[str]:
    """Start a program in a session of its own (see run_child), its output piped to us."""
    return subprocess.Popen(
        args,
        stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def run_child_streaming(
    args: list[str],
    *,
    env: dict[str, str] | None,
    timeout_s: float | None,
    on_line: Callable[[str], None],
) -> subprocess.CompletedProcess[str]:
    """Run a program as run_child does, handing each stderr line to on_line as it is written."""
    out: list[str] = []
    err: list[str] = []

    def read_stdout(stream: IO[str]) -> None:
        out.append(stream.read())

    def read_stderr(stream: IO[str]) -> None:
        for line in stream:
            err.append(line)
            try:
                on_line(line.rstrip("\n"))
            except Exception:  # a watcher of the output is never a reason to fail the program
                pass

    with start_child(args, env, stdin_pipe=False) as proc, running_child(proc):
        assert proc.stdout is not None and proc.stderr is not None
        readers = [
            threading.Thread(target=read_stdout, args=(proc.stdout,), daemon=True),
            threading.Thread(target=read_stderr, args=(proc.stderr,), daemon=True),
        ]
        for reader in readers:
            reader.start()
        try:
            proc.wait(timeout=timeout_s)
        except BaseException:  # TimeoutExpired, or KeyboardInterrupt from a second Ctrl-C
            kill_group(proc)
            raise
        for reader in readers:
            # A grandchild that left the group may hold the pipes open: never wait for it long.
            reader.join(timeout=5)
    return subprocess.CompletedProcess(args, proc.returncode, "".join(out), "".join(err))


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL every process in the child's group (a shell's children too), then reap the child."""
    if proc.returncode is not None:  # reaped already: its pid, and so its group id, may be reused
        return
    try:
        # The group id is the child's pid, reserved until the child is reaped below.
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()  # no group left to signal (or none we may signal): the child alone
    # wait(), not communicate(): a grandchild that left the group may hold the pipes open forever.
    while True:
        try:
            proc.wait()
            return
        except KeyboardInterrupt:  # yet another Ctrl-C: SIGKILL is already sent, finish reaping
            continue


def tool_major(settings: Settings, tool: str, step: str) -> int:
    """Return the major version of a client program, or fail naming it."""
    path = settings.tool(tool)
    try:
        out = run_child([path, "--version"], timeout_s=30).stdout
    except FileNotFoundError:
        raise CutoverError(
            step, f"{tool} not found at {path} (install the PostgreSQL client or set PG_BINDIR)"
        ) from None
    except PermissionError:
        raise CutoverError(step, f"{tool} at {path} is not executable") from None
    except subprocess.TimeoutExpired:
        raise CutoverError(step, f"{path} --version did not answer within 30s") from None
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    if not match:
        raise CutoverError(step, f"cannot read the version of {path}: {out.strip()!r}")
    return int(match.group(1))


def client_env(dsn: str, app_name: str) -> tuple[str, dict[str, str]]:
    """Build the conninfo (no password) and environment for a client program."""
    conninfo, password = dsn_without_password(dsn)
    env = dict(os.environ, PGAPPNAME=app_name[:63])
    if password is not None:
        env["PGPASSWORD"] = password
    return conninfo, env


def run_tool(
    step: str,
    args: list[str],
    env: dict[str, str],
    on_stderr_line: Callable[[str], None] | None = None,
) -> str:
    """Run a PostgreSQL client program; a non-zero exit fails the step with its error line."""
    try:
        proc = run_child(args, env=env, on_stderr_line=on_stderr_line)
    except FileNotFoundError:
        raise CutoverError(step, f"{Path(args[0]).name} not found at {args[0]}") from None
    except PermissionError:
        raise CutoverError(step, f"{Path(args[0]).name} at {args[0]} is not executable") from None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        # A verbose program goes on talking after its error: name the error, not the chatter.
        errors = [ln for ln in lines if ": error: " in ln or ln.startswith(("ERROR:", "FATAL:"))]
        lines = errors or lines
        raise CutoverError(
            step,
            mask(
                f"{Path(args[0]).name} exited {proc.returncode}: "
                f"{lines[-1] if lines else 'no message'}"
            ),
        )
    return proc.stdout


def pg_dump(
    settings: Settings,
    dest: Path,
    *,
    snapshot: str | None,
    exclude_schemas: list[str],
    app_name: str,
    jobs: int = 1,
) -> None:
    """Dump the database in BACKUP_FORMAT to dest, inside an exported snapshot when given.

    The directory format dumps `jobs` tables side by side (jobs + 1 connections); custom, one.
    """
    conninfo, env = client_env(settings.database_url, app_name)
    fmt = settings.backup_format
    args = [settings.tool("pg_dump"), f"--format={fmt}", f"--compress={settings.backup_compress}"]
    if fmt == "directory":
        args += ["--jobs", str(jobs)]
    args += ["--file", str(dest), "--no-password"]
    if snapshot:
        args += ["--snapshot", snapshot]
    for schema in exclude_schemas:
        args += ["--exclude-schema", schema]
    run_tool("backup", [*args, "--dbname", conninfo], env)


@dataclass(frozen=True)
class ArchiveToc:
    """An archive's table of contents: its header fields and its entries."""

    header: dict[str, str]
    entries: list[str]

    @property
    def compressed(self) -> bool:
        """Tell whether data blocks are compressed (zlib and friends checksum what they inflate)."""
        # pg_restore 15 prints the zlib level (0 = none), 16 and later a method name.
        return self.header.get("Compression", "").strip() not in ("0", "none")


def pg_restore_list(
    settings: Settings, dump: Path, step: str = "backup", *, schema: str | None = None
) -> ArchiveToc:
    """Read a dump's table of contents (the header and entry list only, not the data blocks);
    with schema, only the entries a restore of that schema would restore."""
    args = [settings.tool("pg_restore"), "--list", *(["--schema", schema] if schema else [])]
    out = run_tool(step, [*args, str(dump)], dict(os.environ))
    header: dict[str, str] = {}
    entries: list[str] = []
    for line in out.splitlines():
        if line.startswith(";"):
            key, sep, value = line.lstrip("; ").partition(":")
            if sep and key and key not in header:
                header[key] = value.strip()
        elif line:
            entries.append(line)
    return ArchiveToc(header, entries)


def pg_restore_read_all(settings: Settings, dump: Path, step: str = "backup") -> None:
    """Read every data block of a dump back (decompressing it), writing the script to /dev/null."""
    # No database: pg_restore only renders SQL, so each block is read and inflated end to end, and
    # a block that fails its zlib checksum makes pg_restore exit non-zero.
    run_tool(step, [settings.tool("pg_restore"), "--file", os.devnull, str(dump)], dict(os.environ))


def parse_restore_jobs(raw: object, step: str) -> int | None:
    """Parse pg_restore's --jobs: a whole number from 1 to MAX_RESTORE_JOBS, or None when unset."""
    if raw is None:
        return None
    if isinstance(raw, str) and not raw.strip():  # as --env "": said, not taken for "unset"
        raise CutoverError(
            step,
            f"--jobs {raw!r} is empty: give 1 to {MAX_RESTORE_JOBS}, or leave --jobs out for "
            "the default; nothing was changed",
        )
    try:
        jobs = ascii_int(raw)  # str(): True, 2.0 and "1.5" are no whole number of jobs
    except ValueError:
        raise CutoverError(
            step,
            f"--jobs {raw!r} is not a whole number: give 1 to {MAX_RESTORE_JOBS}; "
            "nothing was changed",
        ) from None
    if not 1 <= jobs <= MAX_RESTORE_JOBS:
        raise CutoverError(
            step,
            f"--jobs {jobs} is out of range: give 1 to {MAX_RESTORE_JOBS}; nothing was changed",
        )
    return jobs


def default_restore_jobs() -> int:
    """pg_restore's job count when none is asked for: this machine's cores, capped."""
    return max(1, min(os.cpu_count() or 1, MAX_RESTORE_JOBS))


def pg_restore(
    settings: Settings,
    dump: Path,
    *,
    jobs: int,
    schema: str,
    app_name: str,
    step: str = "restore-database",
    entries: RestoreEntries | None = None,
) -> None:
    """Restore one schema of a dump (a file or a directory) into the database with parallel jobs.

    With entries, pg_restore runs verbose and entries counts the archive entries it restores.
    """
    conninfo, env = client_env(settings.database_url, app_name)
    args = [settings.tool("pg_restore"), "--jobs", str(jobs), "--no-password", "--exit-on-error"]
    args += ["--schema", schema, "--dbname", conninfo, str(dump)]
    if entries is None:
        run_tool(step, args, env)
        return
    run_tool(step, [*args[:1], "--verbose", *args[1:]], env, on_stderr_line=entries.feed)
    entries.finish()
