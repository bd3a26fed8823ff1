"""What a run's record says: which run to resume, what a rollback brought back; its HTML page."""

from __future__ import annotations

from typing import Any

from pgcutover.errors import CutoverError
from pgcutover.forecast_report import run_forecast
from pgcutover.html_report import write_run_report
from pgcutover.identity import find_run
from pgcutover.journal import completed_steps, read_journal
from pgcutover.run import RunContext
from pgcutover.settings import Settings, env_flag
from pgcutover.timeline import warn
from steps.rollback import ROLLBACK
from steps.window import STEP_NAMES


def run_to_resume(settings: Settings, live: dict[str, Any]) -> str:
    """Pick this database's unfinished window, or refuse naming why there is nothing to resume."""
    run_id = find_run(settings, None, "migrate-offline", live, allow_unchanged=True)
    lines = read_journal(settings.runs_dir / run_id / "journal.jsonl")
    if any(ln.get("step") in {s.name for s in ROLLBACK} for ln in lines):
        if rollback_completed_at(lines) is None:
            again = env_flag(settings)
            raise CutoverError(
                "migrate-offline",
                f"--resume: run {run_id} is being rolled back and its rollback did not finish: "
                f"finish it with invoke rollback --run {run_id} --yes{again}; nothing was changed",
            )
        raise CutoverError(
            "migrate-offline",
            f"--resume: run {run_id} was rolled back; start a new window "
            "without --resume; nothing was changed",
        )
    if set(STEP_NAMES) <= set(completed_steps(lines)):
        raise CutoverError(
            "migrate-offline",
            f"--resume: run {run_id} completed; there is nothing to resume and nothing was changed",
        )
    return run_id


def rollback_completed_at(lines: list[dict[str, Any]]) -> str | None:
    """Return when the run's last rollback attempt completed (every step ended ok), or None."""
    names = [s.name for s in ROLLBACK]
    last: dict[str, dict[str, Any]] = {}
    order: list[dict[str, Any]] = []
    for ln in lines:
        if ln.get("step") in names and ln.get("event") in ("start", "end"):
            last[str(ln["step"])] = ln
            order.append(ln)
    if not order or order[-1].get("step") != names[-1] or order[-1].get("event") != "end":
        return None
    if all(
        last.get(n, {}).get("event") == "end" and last[n].get("outcome") in ("ok", "skipped")
        for n in names
    ):
        return str(order[-1].get("at", "?"))
    return None


def write_run_page(ctx: RunContext) -> None:
    """Write the run's report.html (a forecast for this database beside the measured times)."""
    # An explicit forecast, never the run directory's own: a rehearsal's forecast.json is for
    # another database.
    try:
        write_run_report(
            ctx.run_dir, manifest_path=ctx.backup_dir / "manifest.json", forecast=run_forecast(ctx)
        )
    except OSError as exc:  # the page is a view; the journal and report.md are the record
        warn(f"report.html not written: {exc}")


ROLLBACK_PARTS = {
    "restore-database": "database",
    "redeploy-app": "previous app release",
    "rollback-finish": "connections and site",
}


def rollback_progress(ctx: RunContext, since: int) -> tuple[list[str], list[str]]:
    """Say which parts of the pre-window state are back, and which not, after a rollback attempt."""
    lines = read_journal(ctx.journal.path)[since:]
    done = {
        ln["step"]
        for ln in lines
        if ln.get("event") == "end" and ln.get("outcome") in ("ok", "skipped")
    }
    back = [part for step, part in ROLLBACK_PARTS.items() if step in done]
    return back, [part for step, part in ROLLBACK_PARTS.items() if step not in done]
