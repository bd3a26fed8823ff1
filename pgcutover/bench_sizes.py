"""One size of `invoke bench`, in a process of its own (`python -m pgcutover.bench_sizes`).

pgcutover/bench.py starts one per size, so each peak RSS is that size's own: it generates the
size's demo data into a template database, runs the window and its rollbacks on fresh copies,
then the floors (pgcutover/bench_floors.py), and writes what it measured as JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

from pgcutover import commands
from pgcutover.backup_settings import BACKUP_FORMATS, DEFAULT_FORMAT
from pgcutover.bench_floors import (
    PREFIX,
    STEP,
    admin,
    drop_database,
    fresh_database,
    measure_floors,
    session,
    timed,
)
from pgcutover.bench_report import WINDOW
from pgcutover.db import DB_ERRORS, error_text
from pgcutover.dumpfiles import dump_bytes
from pgcutover.errors import CutoverError
from pgcutover.forecast_profile import read_profile
from pgcutover.forecast_report import backup_fixed_seconds
from pgcutover.journal import read_journal, span_seconds
from pgcutover.row_counts import count_rows
from pgcutover.sandbox.cluster import LocalCluster
from pgcutover.sandbox.demo import LOGS_PER_USER, create_legacy_database
from pgcutover.timeline import say
from steps.backup_proof import read_dumped


def window_and_rollback(
    cluster: LocalCluster,
    tpl: str,
    password: str,
    home: Path,
    *,
    from_backup: bool,
    jobs: int,
    backup_format: str,
    overlap: bool = True,
) -> dict[str, Any]:
    """Run migrate-offline then rollback on a fresh copy; return the journal's step durations.

    overlap: False runs the window with --no-overlap, each step in line (timed alone).
    """
    copy = fresh_database(cluster, tpl, PREFIX + home.name, password, home, backup_format)
    with copy as settings:
        forecast_inputs: dict[str, Any] = {}
        if not from_backup and overlap:  # once per size: what a forecast reads, before the window
            with session(settings) as db:
                profile = read_profile(db, settings.database_url, "public")
            forecast_inputs = {
                "profile": profile.as_dict(),
                "backup_fixed_s": backup_fixed_seconds(settings),
            }
        run_id = commands.migrate_offline(settings, yes=True, jobs=jobs, overlap=overlap)
        journal = settings.runs_dir / run_id / "journal.jsonl"
        window = read_journal(journal)
        with session(settings) as db:
            target_rows = count_rows(db, "public")
        commands.rollback(settings, run_id=run_id, from_backup=from_backup, jobs=jobs, yes=True)
        back = [ln for ln in read_journal(journal)[len(window) :] if ln.get("event") == "end"]
        path = next(ln["details"]["path"] for ln in back if ln["step"] == "restore-database")
        if path != ("backup" if from_backup else "swap"):
            raise CutoverError(STEP, f"the rollback took the {path!r} path, not the one measured")
        steps = {ln["step"]: ln["duration_s"] for ln in window if ln.get("event") == "end"}
        dumped = read_dumped(settings.backup_dir / run_id)
        if dumped is None:
            raise CutoverError(STEP, f"run {run_id} recorded no dump")
        dump = settings.backup_dir / run_id / dumped.file
        return {
            "run": run_id,
            "steps": steps,
            "window_s": span_seconds(window, WINDOW[0], WINDOW[-1]),
            "progress_s": sum(
                float((ln.get("details") or {}).get("progress_s") or 0.0)
                for ln in window
                if ln.get("event") == "end" and ln.get("step") in WINDOW
            ),
            "rollback_steps": {ln["step"]: ln["duration_s"] for ln in back},
            # For the forecast row: this size as `rehearse --forecast` measures a rehearsal.
            **forecast_inputs,
            "window_lines": [ln for ln in window if ln.get("event") == "end"],
            "rollback_path": path,
            "target_rows": target_rows,
            "dump": str(dump),
            "dump_bytes": dump_bytes(dump),
        }


def measure_size(
    cluster: LocalCluster,
    *,
    users: int,
    jobs: int,
    full: bool,
    work: Path,
    backup_format: str,
    logs_per_user: int = LOGS_PER_USER,
) -> dict[str, Any]:
    """Measure one size: with full, every row of the table; else the window, fast rollback and
    the floor copy (transform, checksum pass, swap)."""
    password = secrets.token_urlsafe(12)
    tpl = f"{PREFIX}tpl_{users}"
    out: dict[str, Any] = {"users": users, "full": full, "logs_per_user": logs_per_user}
    say(f"{STEP}: generating {users} users ({logs_per_user} request logs each) into {tpl}")
    out["generate_s"] = timed(
        lambda: create_legacy_database(
            cluster, dbname=tpl, users=users, password=password, logs_per_user=logs_per_user
        )
    )
    try:
        db = admin(cluster, tpl)
        try:  # copies then need no autovacuum, and their first reads set no hint bits
            db.execute("VACUUM (FREEZE, ANALYZE)")
        finally:
            db.close()
        fast = work / "fast"
        out["fast"] = window_and_rollback(
            cluster, tpl, password, fast, from_backup=False, jobs=jobs, backup_format=backup_format
        )
        shutil.rmtree(fast / "backups", ignore_errors=True)  # disk: one dump at a time
        if full:
            # The same window with each step in line: every step timed alone, as its floor is.
            alone = work / "alone"
            out["alone"] = window_and_rollback(
                cluster,
                tpl,
                password,
                alone,
                from_backup=False,
                jobs=jobs,
                backup_format=backup_format,
                overlap=False,
            )
            shutil.rmtree(alone / "backups", ignore_errors=True)
            out["restore"] = window_and_rollback(
                cluster,
                tpl,
                password,
                work / "restore",
                from_backup=True,
                jobs=jobs,
                backup_format=backup_format,
            )
        # Read before the floors run: the high-water mark of generation, windows and rollbacks.
        out["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        dump = Path(out["restore"]["dump"]) if full else None
        out["floors"] = f = measure_floors(
            cluster,
            tpl,
            password,
            work / "floors",
            users=users,
            jobs=jobs,
            dump=dump,
            backup_format=backup_format,
        )
        if f["floor_rows"] != out["fast"]["target_rows"]:
            raise CutoverError(
                STEP,
                "the transform floor (sql/bench) gave other row counts than the transform step: "
                f"{f['floor_rows']} vs {out['fast']['target_rows']}",
            )
    finally:
        drop_database(cluster, tpl)
    return out


def main(argv: list[str] | None = None) -> int:
    """Measure one size in this process, for run_bench; write what it measured as JSON."""
    p = argparse.ArgumentParser(prog="python -m pgcutover.bench_sizes", description=main.__doc__)
    for name in ("root", "bindir", "users", "jobs", "work", "result"):
        p.add_argument(name, type=int if name in ("users", "jobs") else str)
    p.add_argument("--full", action="store_true", help="every row, not only the window")
    p.add_argument("--backup-format", default=DEFAULT_FORMAT, choices=BACKUP_FORMATS)
    p.add_argument("--logs-per-user", type=int, default=LOGS_PER_USER)
    a = p.parse_args(argv)
    cluster = LocalCluster(Path(a.root), Path(a.bindir))
    try:
        data = measure_size(
            cluster,
            users=a.users,
            jobs=a.jobs,
            full=a.full,
            work=Path(a.work),
            backup_format=a.backup_format,
            logs_per_user=a.logs_per_user,
        )
    except CutoverError as exc:
        data = {"error": str(exc)}
    except DB_ERRORS as exc:
        data = {"error": f"{STEP}: {error_text(exc)}"}
    Path(a.result).write_text(json.dumps(data, indent=2) + "\n")
    return 1 if "error" in data else 0


if __name__ == "__main__":
    sys.exit(main())
