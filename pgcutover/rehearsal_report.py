"""What a rehearsal did and found, and its report: RUNS_DIR/rehearsal-<ts>.json and .md (masked)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgcutover.journal import utc_now
from pgcutover.redact import mask, mask_data


@dataclass
class PartResult:
    """One part of the rehearsal: how it ended, how long it took, the runbook steps it ran."""

    name: str
    outcome: str = "not run"  # ok, failed, not run
    duration_s: float = 0.0
    run: str | None = None
    error: str | None = None
    note: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)  # journal end lines of its run


@dataclass
class RehearsalReport:
    """What a rehearsal did and found; written as RUNS_DIR/rehearsal-<ts>.json and .md."""

    target: str
    source: str | None = None  # with --clone: the database copied (only read)
    clone: str | None = None  # with --clone: the scratch database's name
    clone_kept: bool = False
    started_at: str = ""
    finished_at: str = ""
    parts: list[PartResult] = field(default_factory=list)
    identical: bool | None = None  # None: the comparison did not run
    differences: list[str] = field(default_factory=list)
    run_ids: dict[str, str] = field(default_factory=dict)
    failed_part: str | None = None
    error: str | None = None
    report_json: str = ""
    report_md: str = ""
    forecast: dict[str, Any] | None = None  # with --forecast: forecast.json's content
    forecast_files: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.failed_part is None and self.identical is True

    def part(self, name: str) -> PartResult:
        return next(p for p in self.parts if p.name == name)


PARTS = (
    "fingerprint-before",
    "migrate-offline",
    "rollback",
    "fingerprint-after",
    "compare",
    "migrate-offline-again",
)


def write_report(runs_dir: Path, report: RehearsalReport) -> None:
    """Write RUNS_DIR/rehearsal-<ts>.json and .md (masked); record their paths in the report."""
    stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
    runs_dir.mkdir(parents=True, exist_ok=True)
    base = runs_dir / f"rehearsal-{stamp}"
    n = 1
    while base.with_suffix(".json").exists():  # two rehearsals within a second
        n += 1
        base = runs_dir / f"rehearsal-{stamp}-{n}"
    report.report_json = str(base.with_suffix(".json"))
    report.report_md = str(base.with_suffix(".md"))
    data = mask_data({**dataclasses.asdict(report), "passed": report.passed})
    Path(report.report_json).write_text(
        json.dumps(mask_data(data), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    Path(report.report_md).write_text(mask(render_markdown(report)), encoding="utf-8")


def render_markdown(report: RehearsalReport) -> str:
    verdict = "PASSED" if report.passed else f"FAILED at {report.failed_part}"
    lines = [
        f"# Rehearsal {verdict}",
        "",
        f"- target: {report.target}",
    ]
    if report.clone:
        lines += [
            f"- scratch copy of: {report.source} ({report.clone}, "
            f"{'kept' if report.clone_kept else 'dropped'})",
        ]
    lines += [
        f"- started: {report.started_at}; finished: {report.finished_at}",
        f"- identical after rollback: "
        f"{'not compared' if report.identical is None else 'yes' if report.identical else 'NO'}",
    ]
    if report.error:
        lines.append(f"- error: {report.error}")
    lines += ["", "| part | outcome | seconds | run | note |", "|---|---|---|---|---|"]
    for p in report.parts:
        note = (p.error or p.note).replace("|", "\\|")
        lines.append(f"| {p.name} | {p.outcome} | {p.duration_s:.1f} | {p.run or ''} | {note} |")
    for p in report.parts:
        if p.steps:
            lines += ["", f"## {p.name} steps (run {p.run})", "", "| step | outcome | seconds |"]
            lines.append("|---|---|---|")
            for s in p.steps:
                lines.append(f"| {s['step']} | {s['outcome']} | {s['duration_s']} |")
    if report.forecast:
        doc = report.forecast
        lines += [
            "",
            f"## Forecast for {doc['forecast_for']}: window {doc['window_s']:.1f} s "
            f"± {doc['window_spread_s']:.1f} s",
            "",
            f"See {report.forecast_files[1] if len(report.forecast_files) > 1 else 'forecast.md'}"
            " for each step and the budgets to paste.",
        ]
    if report.differences:
        lines += ["", "## Differences after rollback", ""]
        lines += [f"- {d}" for d in report.differences]
    return "\n".join(lines) + "\n"
