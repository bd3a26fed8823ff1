"""Rehearse the window on staging (or a scratch copy): migrate, roll back, prove it, migrate again.

The parts, in order: (clone), fingerprint before, migrate-offline, rollback, fingerprint after,
compare (the rollback must bring back every byte and every catalog detail), migrate-offline again
to a passing verify, (drop clone). One report, RUNS_DIR/rehearsal-<ts>.json and .md, says how each
part and each runbook step went; the first failing part fails the rehearsal.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pgcutover import commands
from pgcutover.checks import Confirm, confirm_destructive, validate
from pgcutover.clone import drop_clone, make_clone
from pgcutover.compare import database_fingerprint, diff_fingerprints
from pgcutover.db import DB_ERRORS, describe_target, error_text, ident
from pgcutover.errors import CutoverError
from pgcutover.forecast_report import ForecastPlanner
from pgcutover.journal import iso, read_journal, utc_now
from pgcutover.production_guard import refuse_production
from pgcutover.redact import mask
from pgcutover.rehearsal_report import PARTS, PartResult, RehearsalReport, write_report
from pgcutover.settings import Settings
from pgcutover.timeline import say, warn
from pgcutover.window_jobs import parse_window_jobs

STEP = "rehearse"
T = TypeVar("T")


# --- the rehearsal ------------------------------------------------------------------------------


def _run_dirs(settings: Settings) -> set[str]:
    d = settings.runs_dir
    return {p.name for p in d.iterdir() if (p / "journal.jsonl").exists()} if d.is_dir() else set()


def _journal_len(settings: Settings, run: str | None) -> int:
    return len(read_journal(settings.runs_dir / run / "journal.jsonl")) if run else 0


def _steps_of(settings: Settings, run: str | None, since: int) -> list[dict[str, Any]]:
    """The end lines a part wrote to its run's journal: step, outcome, duration."""
    if not run:
        return []
    return [
        {
            "step": ln.get("step"),
            "outcome": ln.get("outcome"),
            "duration_s": ln.get("duration_s"),
            "budget_s": ln.get("budget_s"),
        }
        for ln in read_journal(settings.runs_dir / run / "journal.jsonl")[since:]
        if ln.get("event") == "end"
    ]


def rehearse(
    settings: Settings,
    *,
    clone: bool = False,
    keep: bool = False,
    yes: bool = False,
    ask: Confirm | None = None,
    base_dir: Path | None = None,
    forecast_for: Settings | None = None,
    jobs: object = None,
    overlap: bool = True,
) -> RehearsalReport:
    """Migrate, roll back, prove the rollback exact, migrate again; raise naming the first failure.

    base_dir is where the profile file lives (default: the current directory, as the CLI loads it).
    With forecast_for (another profile's settings, only read), forecast that database's window.
    jobs is the windows' --jobs and overlap their --no-overlap (False): give the production
    window's, so the forecast measures it.
    """
    refuse_production(settings, base_dir)
    asked_jobs = parse_window_jobs(jobs, STEP)
    validate(settings, STEP, deploys=not clone)
    planner = ForecastPlanner(forecast_for) if forecast_for else None
    report = RehearsalReport(target=describe_target(settings.database_url))
    report.parts = [PartResult(n) for n in PARTS]
    if clone:
        confirm_destructive(
            settings,
            STEP,
            "rehearse on a scratch copy (created on the same server, dropped afterwards"
            f"{', kept with --keep' if keep else ''}; the source is only read)",
            yes=yes,
            ask=ask,
        )
    else:
        confirm_destructive(
            settings,
            STEP,
            "rehearse (migrate-offline, rollback, migrate-offline again: the database ends "
            "migrated)",
            yes=yes,
            ask=ask,
        )
    report.started_at = iso(utc_now())
    target = settings
    clone_part: PartResult | None = None
    try:
        if clone:
            clone_part = PartResult("clone")
            report.parts.insert(0, clone_part)
            started = time.monotonic()
            try:
                target, how = make_clone(settings, report)
            except CutoverError as exc:
                _fail(report, clone_part, started, exc)
                raise
            clone_part.outcome, clone_part.note = "ok", how
            clone_part.duration_s = round(time.monotonic() - started, 3)
            say(f"{STEP}: scratch copy {report.clone} made by {how}")
        _rehearse_on(target, report, planner, WindowOptions(asked_jobs, overlap))
    except CutoverError as exc:
        if report.failed_part is None:  # a failure outside the parts (dropping the copy …)
            report.failed_part, report.error = exc.step, error_of(exc)
    finally:
        if clone and report.clone and clone_part is not None and clone_part.outcome == "ok":
            _finish_clone(settings, target, report, keep)
        report.finished_at = iso(utc_now())
        write_report(settings.runs_dir, report)
    if not report.passed:
        raise CutoverError(
            STEP,
            f"{report.failed_part} failed: {report.error}; report {report.report_md}",
        )
    say(
        f"Rehearsal passed on {report.target}: the rollback brought back every table and catalog "
        f"detail, and the window ran again to a passing verify; report {report.report_md}",
        "bold green",
    )
    return report


def _finish_clone(
    settings: Settings, target: Settings, report: RehearsalReport, keep: bool
) -> None:
    if keep:
        report.clone_kept = True
        say(
            f"{STEP}: kept the scratch copy {report.clone} ({report.target}); drop it with "
            f"DROP DATABASE {ident(report.clone or '')}",
            "bold yellow",
        )
        return
    try:
        drop_clone(settings, report.clone or "")
    except CutoverError as exc:
        warn(str(exc))
        if report.failed_part is None:
            report.failed_part, report.error = "drop-clone", str(exc)
        return
    shutil.rmtree(target.backup_dir, ignore_errors=True)  # its dumps are useless without it
    say(f"{STEP}: dropped the scratch copy {report.clone}")


def error_of(exc: CutoverError) -> str:
    """Say what failed, masked; a rehearsal's own error without its step, which the line names."""
    return mask(exc.cause if exc.step == STEP else str(exc))


def _fail(report: RehearsalReport, part: PartResult, started: float, exc: CutoverError) -> None:
    part.outcome = "failed"
    part.duration_s = round(time.monotonic() - started, 3)
    part.error = error_of(exc)
    report.failed_part = part.name
    report.error = part.error


def _timed(report: RehearsalReport, name: str, fn: Callable[[], T]) -> T:
    """Run one part; record its outcome and duration; a failure stops the rehearsal."""
    part = report.part(name)
    started = time.monotonic()
    say(f"{STEP}: {name}", "bold")
    try:
        result = fn()
    except CutoverError as exc:
        _fail(report, part, started, exc)
        raise
    except DB_ERRORS as exc:
        err = CutoverError(name, error_text(exc))
        _fail(report, part, started, err)
        raise err from exc
    part.outcome = "ok"
    part.duration_s = round(time.monotonic() - started, 3)
    return result


@dataclass(frozen=True)
class WindowOptions:
    """The rehearsal windows' flags, as the production window will be given them."""

    jobs: int | None
    overlap: bool


def _window(target: Settings, report: RehearsalReport, part: str, opts: WindowOptions) -> None:
    """Run migrate-offline as a part; record its run id and the steps its journal holds."""
    before = _run_dirs(target)
    result = report.part(part)
    try:
        _timed(
            report,
            part,
            lambda: commands.migrate_offline(
                target, yes=True, jobs=opts.jobs, overlap=opts.overlap
            ),
        )
    finally:
        new = sorted(_run_dirs(target) - before)
        if new:
            result.run = new[-1]
            report.run_ids[part] = new[-1]
            result.steps = _steps_of(target, new[-1], 0)


def _rehearse_on(
    target: Settings, report: RehearsalReport, planner: ForecastPlanner | None, opts: WindowOptions
) -> None:
    before = _timed(
        report,
        "fingerprint-before",
        lambda: database_fingerprint(target.database_url, target.db_driver),
    )
    if planner:
        where = report.parts.index(report.part("migrate-offline"))
        report.parts.insert(where, PartResult("measure"))
        _timed(report, "measure", lambda: planner.measure_rehearsal(target))
    _window(target, report, "migrate-offline", opts)
    run = report.run_ids["migrate-offline"]
    since = _journal_len(target, run)
    rollback = report.part("rollback")
    rollback.run = run
    try:
        _timed(report, "rollback", lambda: commands.rollback(target, run_id=run, yes=True))
    finally:
        rollback.steps = _steps_of(target, run, since)
        report.run_ids["rollback"] = run
    after = _timed(
        report,
        "fingerprint-after",
        lambda: database_fingerprint(target.database_url, target.db_driver),
    )

    def compare() -> None:
        report.differences = diff_fingerprints(before, after)
        report.identical = not report.differences
        if report.differences:
            shown = "; ".join(report.differences[:3])
            more = len(report.differences) - 3
            raise CutoverError(
                "compare",
                f"the rollback did not bring the database back exactly: {shown}"
                + (f" (and {more} more)" if more > 0 else ""),
            )
        report.part("compare").note = "identical to before the window"

    _timed(report, "compare", compare)
    _window(target, report, "migrate-offline-again", opts)
    if planner:
        report.parts.append(PartResult("forecast"))
        again = report.run_ids["migrate-offline-again"]
        windows = [
            read_journal(target.runs_dir / run / "journal.jsonl")[:since],
            read_journal(target.runs_dir / again / "journal.jsonl"),
        ]

        def forecast() -> None:
            assert planner is not None
            report.forecast, files = planner.write(target, run, windows, overlap=opts.overlap)
            report.forecast_files = [str(f) for f in files]
            say(f"{STEP}: forecast for {planner.name}: {files[1]}")

        _timed(report, "forecast", forecast)
