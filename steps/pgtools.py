"""pg_dump and pg_restore as subprocesses: exit codes trusted, passwords passed by environment only."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from .config import Settings
from .db import dsn_without_password
from .errors import CutoverError
from .redact import mask


def tool_major(settings: Settings, tool: str, step: str) -> int:
    """Return the major version of a client program, or fail naming it."""
    path = settings.tool(tool)
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    except FileNotFoundError:
        raise CutoverError(step, f"{tool} not found at {path} (install the PostgreSQL client or set PG_BINDIR)") from None
    except PermissionError:
        raise CutoverError(step, f"{tool} at {path} is not executable") from None
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


def run_tool(step: str, args: list[str], env: dict[str, str]) -> str:
    """Run a PostgreSQL client program; a non-zero exit fails the step with its last stderr line."""
    try:
        proc = subprocess.run(args, capture_output=True, text=True, env=env)
    except FileNotFoundError:
        raise CutoverError(step, f"{Path(args[0]).name} not found at {args[0]}") from None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        raise CutoverError(step, mask(f"{Path(args[0]).name} exited {proc.returncode}: "
                                      f"{lines[-1] if lines else 'no message'}"))
    return proc.stdout


def pg_dump(settings: Settings, dest: Path, *, snapshot: str | None, exclude_schemas: list[str],
            app_name: str) -> None:
    """Dump the database in custom format to dest, inside an exported snapshot when given."""
    conninfo, env = client_env(settings.database_url, app_name)
    args = [settings.tool("pg_dump"), "--format=custom", "--file", str(dest), "--no-password"]
    if snapshot:
        args += ["--snapshot", snapshot]
    for schema in exclude_schemas:
        args += ["--exclude-schema", schema]
    run_tool("backup", [*args, "--dbname", conninfo], env)


def pg_restore_list(settings: Settings, dump: Path, step: str = "backup") -> list[str]:
    """Read a dump's table of contents (proves the archive is readable end to end)."""
    out = run_tool(step, [settings.tool("pg_restore"), "--list", str(dump)], dict(os.environ))
    return [ln for ln in out.splitlines() if ln and not ln.startswith(";")]


def pg_restore(settings: Settings, dump: Path, *, jobs: int, schema: str, app_name: str,
               step: str = "restore-database") -> None:
    """Restore one schema of a custom-format dump into the target database with parallel jobs."""
    conninfo, env = client_env(settings.database_url, app_name)
    run_tool(step, [settings.tool("pg_restore"), "--jobs", str(jobs), "--no-password", "--exit-on-error",
                    "--schema", schema, "--dbname", conninfo, str(dump)], env)
