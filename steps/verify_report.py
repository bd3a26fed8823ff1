"""The verify step's report: report.json and report.md in the run directory, secrets masked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pgcutover.redact import mask_data


def write_report(run_dir: Path, report: dict[str, Any]) -> None:
    """Write report.json and report.md into the run directory, secrets masked."""
    # Mask every value first, then render: masking rendered JSON or Markdown could cut its syntax.
    report = mask_data(report)
    (run_dir / "report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    lines = [
        f"# Verify report, run {report['run']}",
        "",
        f"Migration `{report['migration']}`, migration timestamp {report['migration_ts']}, "
        f"checked {report['at']}.",
        f"Result: **{'PASSED' if report['passed'] else 'FAILED'}**",
        "",
        *[f"Missing result: {m}" for m in report["missing_results"]],
        *([""] if report["missing_results"] else []),
        "## Tables (R11: legacy vs target, counts and content checksums)",
        "",
        "Legacy row counts "
        + (
            "match the backup manifest."
            if not report["backup_mismatches"]
            else "DIFFER from the backup manifest: " + "; ".join(report["backup_mismatches"])
        ),
        "",
        "| table | legacy rows | target rows | checksums |",
        "|---|---:|---:|---|",
    ]
    lines += [
        f"| {t['table']} | {t['legacy_rows']} | {t['target_rows']} | "
        f"{'match' if t['match'] else 'DIFFER'} |"
        for t in report["tables"]
    ]
    lines += [
        "",
        "## Invariants (rows returned = violations)",
        "",
        "| check | violations | sample |",
        "|---|---:|---|",
    ]
    lines += [
        f"| {i['check']} | {i['violations']} | {'; '.join(i['sample'])} |"
        for i in report["invariants"]
    ]
    lines += [
        "",
        "## Dropped by design",
        "",
        "| column | rule | non-NULL values |",
        "|---|---|---:|",
    ]
    lines += [
        f"| {d['table']}.{d['column']} | {d['rule']} | {d['non_null_values']} |"
        for d in report["dropped_by_design"]
    ]
    if report["audit"]:
        lines += [
            "",
            "## Rows the rules bent (preflight audit, R13)",
            "",
            "| finding | rule | rows |",
            "|---|---|---:|",
        ]
        lines += [f"| {a['finding']} | {a['rule']} | {a['rows']} |" for a in report["audit"]]
    (run_dir / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
