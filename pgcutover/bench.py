"""`invoke bench`: pgcutover against its floors, side by side, on a throwaway cluster of its own.

It never touches the operator's databases: a LocalCluster under BASE/.bench/ gets the demo data
generated once per size into a template database, and every measurement runs on a fresh
`CREATE DATABASE … TEMPLATE` copy, so both sides of a pair see the same data. Each size runs in a
child process (`python -m pgcutover.bench_sizes`), so each peak RSS is that size's own. The
databases, the cluster and .bench/ are removed at the end; the table is printed and written as JSON.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pgcutover.backup_settings import BACKUP_FORMATS, DEFAULT_FORMAT
from pgcutover.bench_floors import (
    STEP,
    admin,
)
from pgcutover.bench_forecast import forecast_row
from pgcutover.bench_report import BenchResult, build_rows, render_table
from pgcutover.db import ident
from pgcutover.errors import CutoverError
from pgcutover.journal import iso, utc_now
from pgcutover.numbers import ascii_int
from pgcutover.pgtools import MAX_RESTORE_JOBS, default_restore_jobs
from pgcutover.sandbox.cluster import LocalCluster
from pgcutover.sandbox.demo import LOGS_PER_USER, MAX_USERS, MIN_USERS
from pgcutover.settings import KNOWN, PROJECT_ROOT, default_pg_bindir, load_settings
from pgcutover.timeline import console, say

DEFAULT_USERS = 100_000
DEFAULT_SCALE = 10
# --log-skew: the scaled size's request logs per user, in N's (the demo data allows 120 each).
MAX_LOG_SKEW = 10
BENCH_DIR = ".bench"
# The window as the site sees it: maintenance on to maintenance off (preflight runs before).


def whole_number(flag: str, raw: object, default: int | None) -> int | None:
    """Parse a whole-number flag (an int, or its text from the command line); None: default."""
    if raw is None or raw == "":
        return default
    try:
        return ascii_int(raw)
    except ValueError:
        raise CutoverError(STEP, f"--{flag} {raw!r} is not a whole number") from None


def writable_out(out: Path) -> None:
    """Refuse an --out the bench could not write its JSON to, making its directory if missing."""
    if out.is_dir():
        raise CutoverError(STEP, f"--out {out} is a directory: give a file path")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CutoverError(STEP, f"--out {out}: cannot make {out.parent}: {e.strerror}") from None
    if not os.access(out.parent, os.W_OK):
        raise CutoverError(STEP, f"--out {out}: {out.parent} is not writable")


def bench_command(
    *,
    users: object,
    scale: object,
    jobs: object,
    out: str | None,
    base_dir: Path,
    backup_format: str | None = None,
    log_skew: object = None,
) -> BenchResult:
    """Parse the task's flags, then run the bench."""
    return run_bench(
        users=whole_number("users", users, DEFAULT_USERS) or 0,
        scale=whole_number("scale", scale, DEFAULT_SCALE) or 0,
        jobs=whole_number("jobs", jobs, None),
        out=Path(out) if out else None,
        base_dir=base_dir,
        backup_format=(backup_format or DEFAULT_FORMAT).strip().lower(),
        log_skew=whole_number("log-skew", log_skew, 1) or 0,
    )


def run_bench(
    *,
    users: int,
    scale: int,
    jobs: int | None,
    out: Path | None,
    base_dir: Path,
    backup_format: str = DEFAULT_FORMAT,
    log_skew: int = 1,
) -> BenchResult:
    """Run the bench on its own cluster; print the table, write the JSON, return the result.

    log_skew: the scaled size has this many times N's request logs per user (1: a scaled copy).
    """
    if not MIN_USERS <= users <= MAX_USERS:
        raise CutoverError(STEP, f"--users must be {MIN_USERS} to {MAX_USERS}, not {users}")
    if scale < 1 or users * scale > MAX_USERS:
        raise CutoverError(
            STEP, f"--scale must be 1 or more, --users × --scale {MAX_USERS} at most"
        )
    if jobs is not None and not 1 <= jobs <= MAX_RESTORE_JOBS:
        raise CutoverError(STEP, f"--jobs must be 1 to {MAX_RESTORE_JOBS}, not {jobs}")
    if not 1 <= log_skew <= MAX_LOG_SKEW:
        raise CutoverError(STEP, f"--log-skew must be 1 to {MAX_LOG_SKEW}, not {log_skew}")
    if log_skew > 1 and scale == 1:
        raise CutoverError(STEP, "--log-skew shapes the N × SCALE database: give --scale 2 or more")
    if backup_format not in BACKUP_FORMATS:
        raise CutoverError(
            STEP, f"--backup-format must be {' or '.join(BACKUP_FORMATS)}, not {backup_format!r}"
        )
    n_jobs = jobs or default_restore_jobs()  # as the window and rollback: the cores
    # RUNS_DIR as every task resolves it (.env, the environment, default runs/).
    out = out or load_settings(None, base_dir=base_dir).runs_dir / (
        f"bench-{utc_now():%Y%m%dT%H%M%SZ}.json"
    )
    writable_out(out)  # before the bench's minutes, not after them
    bindir = default_pg_bindir()
    if bindir is None:
        raise CutoverError(STEP, "no PostgreSQL server programs under /usr/lib/postgresql")
    root = base_dir / BENCH_DIR
    cluster = LocalCluster(root / "cluster", bindir)
    if root.exists():  # left by a bench that was killed: its cluster is ours to remove
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)
    result = BenchResult(
        users=users,
        scale=scale,
        jobs=n_jobs,
        out=str(out),
        backup_format=backup_format,
        log_skew=log_skew,
    )
    result.started_at = iso(utc_now())
    try:
        cluster.init()
        cluster.start()
        result.machine = machine(cluster)
        for size, n_users in (("n", users), ("scaled", users * scale)):
            if size == "n" or scale > 1:  # the scaled size: the window only, not every row
                result.sizes[size] = run_child(
                    cluster,
                    users=n_users,
                    jobs=n_jobs,
                    full=size == "n",
                    root=root,
                    backup_format=backup_format,
                    logs_per_user=LOGS_PER_USER * (1 if size == "n" else log_skew),
                )
    finally:
        try:
            result.databases_left = leftover_databases(cluster)
            cluster.stop()
            result.cluster_stopped = not cluster.is_running()
        finally:
            cluster.destroy()  # stops the server if the above could not, and removes its files
            shutil.rmtree(root, ignore_errors=True)
    result.rows = build_rows(result.sizes["n"], result.sizes.get("scaled"), scale, n_jobs)
    if "scaled" in result.sizes:
        result.rows.append(
            forecast_row(result.sizes["n"], result.sizes["scaled"], scale, log_skew=log_skew)
        )
    result.finished_at = iso(utc_now())
    console.print(render_table(result))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(asdict(result), indent=2, ensure_ascii=False) + "\n")
    say(f"{STEP}: written to {out}", "bold green")
    return result


def machine(cluster: LocalCluster) -> dict[str, Any]:
    """Describe what the numbers were measured on."""
    db = admin(cluster)
    try:
        version = str(db.query("SHOW server_version")[0][0])
    finally:
        db.close()
    return {
        "nproc": os.cpu_count(),
        "ram_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "postgresql": version,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cluster": "LocalCluster defaults (fsync=off, as the sandbox runs)",
    }


def run_child(
    cluster: LocalCluster,
    *,
    users: int,
    jobs: int,
    full: bool,
    root: Path,
    backup_format: str,
    logs_per_user: int = LOGS_PER_USER,
) -> dict[str, Any]:
    """Measure one size in a process of its own; return what it measured, or raise its error."""
    work = root / f"u{users}"
    work.mkdir(parents=True, exist_ok=True)
    result = work / "measured.json"
    say(f"{STEP}: {users} users ({'every row' if full else 'window and fast rollback'})", "bold")
    args = [sys.executable, "-m", "pgcutover.bench_sizes", str(cluster.root), str(cluster.bindir)]
    args += [str(users), str(jobs), str(work), str(result), "--backup-format", backup_format]
    args += ["--logs-per-user", str(logs_per_user)]
    args += ["--full"] if full else []
    # Only the bench's own settings reach the child: none of the operator's PG*, DATABASE_URL …
    env = {
        k: v for k, v in os.environ.items() if not (k in KNOWN or k.startswith(("PG", "BUDGET_")))
    }
    proc = subprocess.run(args, cwd=PROJECT_ROOT, env=env)
    data: dict[str, Any] = json.loads(result.read_text()) if result.exists() else {}
    if proc.returncode != 0 or not data or "error" in data:
        raise CutoverError(
            STEP, f"the {users}-user run failed: {data.get('error') or f'exit {proc.returncode}'}"
        )
    return data


def leftover_databases(cluster: LocalCluster) -> list[str]:
    """Drop every bench database still there; return the databases left besides the built-in."""
    if not cluster.is_running():
        return []
    db = admin(cluster)
    try:
        for (name,) in db.query("SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%'"):
            db.execute(f"DROP DATABASE IF EXISTS {ident(str(name))} WITH (FORCE)")
        return [
            str(r[0])
            for r in db.query(
                "SELECT datname FROM pg_database "
                "WHERE datname NOT IN ('postgres', 'template0', 'template1') ORDER BY 1"
            )
        ]
    finally:
        db.close()
