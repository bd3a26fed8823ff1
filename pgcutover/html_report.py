"""The run's HTML report: RUNS_DIR/<run-id>/report.html, one self-contained file, secrets masked.

Like reports.py it reads the plans in steps/ (the window's and the rollback's step names), so it
sits above steps/: commands.py calls it, nothing in steps/ may.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2

from pgcutover.redact import mask_data
from steps.rollback import ROLLBACK
from steps.window import STEP_NAMES

TEMPLATE = "run_report.html.j2"
ROLLBACK_NAMES = frozenset(s.name for s in ROLLBACK)
DONE = ("ok", "skipped")
# A step's row before its end line says what was measured.
UNMEASURED: dict[str, Any] = {"duration": None, "budget": None, "over": False, "text": ""}
# The picture's geometry (SVG user units): labels left of the bars, their text right of them.
BAR_X, BAR_W, ROW_H, TOP = 200, 520, 36, 56


def _load_json(path: Path) -> tuple[Any, str]:
    """Read a JSON file; return (value, "") or (None, why it could not be read)."""
    try:
        return json.loads(path.read_text(encoding="utf-8", errors="replace")), ""
    except FileNotFoundError:
        return None, f"{path.name} is missing"
    except (OSError, ValueError) as exc:  # ValueError: not JSON
        return None, f"{path.name} cannot be read: {getattr(exc, 'strerror', None) or exc}"


def _journal(path: Path) -> list[dict[str, Any]]:
    """Read every well-formed object line of a journal; skip torn, non-JSON or non-object lines."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out = []
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict) and isinstance(line.get("step"), str):
            out.append(line)
    return out


def _num(value: Any) -> float | None:
    """Return a finite number, or None for anything else (bools, text, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def secs(value: float | None) -> str:
    """Format seconds for a reader: 0.025, 3.14, 42.5, 600."""
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}".removesuffix(".0")


def show(value: Any) -> str:
    """Format any report value for a cell: lists joined, None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, list):
        return "; ".join(show(v) for v in value)
    return str(value)


def _duration(seconds: float) -> str:
    """Format a wall-clock span: seconds, and h:mm:ss from a minute on."""
    h, rest = divmod(int(round(seconds)), 3600)
    clock = f" ({h}:{rest // 60:02d}:{rest % 60:02d})" if seconds >= 60 else ""
    return f"{secs(seconds)} s{clock}"


def _when(value: Any) -> datetime | None:
    """Parse a journal time, or return None."""
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)  # the journal writes UTC


def _attempts(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold start and end lines into one attempt per step run, in journal order."""
    out: list[dict[str, Any]] = []
    running: dict[str, dict[str, Any]] = {}
    for line in lines:
        step, event = line["step"], line.get("event")
        if event not in ("start", "end"):
            continue  # host and release lines belong to their step's attempt, not the picture
        a = running.pop(step, None) if event == "end" else None
        if a is None:  # a start, or an end whose start is missing (a trimmed journal)
            a = {"step": step, "state": "running", **UNMEASURED}
            out.append(a)
        budget = _num(line.get("budget_s"))
        a["budget"] = a["budget"] if budget is None else budget
        a["beside"] = line.get("beside_until") or a.get("beside")
        if event == "start":
            running[step] = a
            continue
        d, over = _num(line.get("duration_s")), line.get("over_budget")
        if not isinstance(over, bool):  # a torn line: judge from the numbers if they exist
            over = d is not None and a["budget"] is not None and d > a["budget"]
        text = str(line.get("error") or line.get("note") or "")
        a.update(state=str(line.get("outcome") or "ended"), duration=d, over=over, text=text)
    return out


def _ending(
    attempts: list[dict[str, Any]], plan: Any, what: str, done: tuple[str, str]
) -> tuple[str, str]:
    """Say how one plan's attempts ended (text, css kind): running, failed, done, or stopped."""
    last, final = attempts[-1], {a["step"]: a["state"] for a in attempts}
    if last["state"] == "running":
        return f"{what}running (or stopped without an end line) at {last['step']}", "running"
    if last["state"] not in DONE:
        return f"{what}{last['state']} at {last['step']}", "failed"
    if all(final.get(s) in DONE for s in plan):
        return done
    failed = [s for s in plan if final.get(s) == "failed"]  # a step beside the others, joined
    if failed:
        return f"{what}failed at {failed[0]}", "failed"
    return f"{what}stopped after {last['step']}, not finished", "failed"


def _verdict(attempts: list[dict[str, Any]], paused: str = "") -> tuple[str, str]:
    """Say how the run ended (text, css kind): completed, failed at X, paused, rolled back,
    running. paused: the step the window's last word paused after (--until, --on-failure)."""
    window = [a for a in attempts if a["step"] in STEP_NAMES]
    back = [a for a in attempts if a["step"] in ROLLBACK_NAMES]
    text, kind = _ending(window, STEP_NAMES, "", ("completed", "ok")) if window else ("", "")
    if paused and not back and window:
        if window[-1]["state"] in DONE:  # stopped on purpose where it was told to
            return f"paused after {paused}: resume continues it", "rolled-back"
        return f"{text}, paused: resume or roll back", kind
    if not back:
        return (text, kind) if window else ("never started a step", "running")
    more, kind = _ending(back, ROLLBACK_NAMES, "rollback ", ("rolled back", "rolled-back"))
    return f"{text or 'no window step'}; {more}", kind


def _chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Lay out the timeline picture: one row per step attempt, one linear seconds scale."""
    values = [v for r in rows for v in (r["duration"], r["budget"], r["forecast"]) if v and v > 0]
    most = max(values, default=1.0)
    p = 10 ** math.floor(math.log10(most))  # the scale ends at 1, 2 or 5 times a power of ten
    top = next(m * p for m in (1, 2, 5, 10) if m * p >= most)
    scale, y = BAR_W / top, TOP
    for r in rows:
        y += 18 if r["group_start"] else 0  # room for the "after the window" rule
        d, b, f = r["duration"], r["budget"], r["forecast"]
        r["y"], r["bar_w"] = y, 0.0 if d is None else max(d * scale, 2.0 if d > 0 else 0.0)
        r["budget_w"] = None if b is None else b * scale
        r["forecast_w"] = None if f is None else max(f * scale, 1.0)
        y += ROW_H
    ticks = [(BAR_X + top * i / 5 * scale, secs(top * i / 5)) for i in range(6)]
    return {"height": y + 20, "ticks": ticks, "axis_y": y, "bar_x": BAR_X, "bar_w": BAR_W}


def _rows(attempts: list[dict[str, Any]], forecast: dict[str, float]) -> list[dict[str, Any]]:
    """Order rows: window attempts, window steps never reached, then what ran after the window."""
    window = [a for a in attempts if a["step"] in STEP_NAMES]
    ran = {a["step"] for a in window}
    todo = [{"step": s, "state": "not reached", **UNMEASURED} for s in STEP_NAMES if s not in ran]
    rows = window + todo + [a for a in attempts if a["step"] not in STEP_NAMES]
    tries: Counter[str] = Counter()
    for i, r in enumerate(rows):
        tries[r["step"]] += 1
        r["label"] = r["step"] + (f" (try {tries[r['step']]})" if tries[r["step"]] > 1 else "")
        if r.get("beside"):  # its bar overlaps the steps after it, up to its join
            r["label"] += " (beside)"
        after = r["step"] not in STEP_NAMES
        r["group_start"] = after and i > 0 and rows[i - 1]["step"] in STEP_NAMES
        d, f = r["duration"], None if after else forecast.get(r["step"])
        r["forecast"], r["vs"] = f, "—"
        if d is not None and f is not None:
            r["vs"] = f"{d - f:+.3g} s" + (f" ({d / f:.0%} of forecast)" if f > 0 else "")
    return rows


def _audit(report: dict[str, Any] | None, lines: list[dict[str, Any]]) -> tuple[list[Any], str]:
    """Pair each preflight audit finding with what verify found about the tables it names."""
    findings, source = (report or {}).get("audit"), "report.json"
    if not isinstance(findings, list):  # verify never ran: preflight's end line keeps the counts
        pre = [ln for ln in lines if ln["step"] == "preflight" and ln.get("event") == "end"]
        details = pre[-1].get("details") if pre else None
        findings = details.get("audit") if isinstance(details, dict) else None
        source = "the journal's preflight line"
    if not isinstance(findings, list):
        return [], ""
    tables = _dicts((report or {}).get("tables"))
    dropped = _dicts((report or {}).get("dropped_by_design"))
    out = []
    for f in _dicts(findings):
        text = str(f.get("finding", ""))
        named = [t for t in tables if _names(text, t.get("table"))]
        same = [
            d for d in dropped if d.get("rule") == f.get("rule") and _names(text, d.get("table"))
        ]
        exact = [d for d in same if _names(text, f"{d.get('table')}.{d.get('column')}")]
        out.append({**f, "finding": text, "tables": named, "dropped": exact or same})
    return out, source


def _names(text: str, name: Any) -> bool:
    """Tell whether a finding's text names a table (or table.column) as a whole word."""
    return bool(re.search(rf"(?<!\w){re.escape(str(name))}(?!\w)", text))


def _dicts(value: Any) -> list[dict[str, Any]]:
    """Keep a JSON list's objects; anything else is an empty list."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _forecast(run_dir: Path, given: dict[str, Any] | None) -> tuple[dict[str, float], Any, str]:
    """Take the forecast given, else forecast.json; keep only its numeric per-step seconds."""
    note = ""
    if given is None and (run_dir / "forecast.json").exists():
        given, note = _load_json(run_dir / "forecast.json")
    if given is not None and not isinstance(given, dict):
        given, note = None, "forecast.json is not a JSON object"
    raw = (given or {}).get("steps")
    pairs = raw.items() if isinstance(raw, dict) else []
    steps = {str(k): n for k, v in pairs if (n := _num(v)) is not None}
    return steps, _num((given or {}).get("window_s")), note


def render_run_report(
    run_dir: Path, *, manifest_path: Path | None = None, forecast: dict[str, Any] | None = None
) -> str:
    """Render a run's HTML report from its directory; sections whose input is missing say so."""
    lines = _journal(run_dir / "journal.jsonl")
    meta, _ = _load_json(run_dir / "run.json")
    meta = meta if isinstance(meta, dict) else {}
    report, report_note = _load_json(run_dir / "report.json")
    if not isinstance(report, dict):
        report, report_note = None, report_note or "report.json is not a JSON object"
    if manifest_path is None and meta.get("backup_dir"):
        manifest_path = Path(str(meta["backup_dir"])) / "manifest.json"
    manifest, manifest_note = (None, "run.json names no backup directory")
    if manifest_path is not None:
        manifest, manifest_note = _load_json(manifest_path)
    per_step, window_forecast, forecast_note = _forecast(run_dir, forecast)
    attempts = _attempts(lines)
    marks = [ln for ln in lines if ln.get("event") in ("start", "end", "paused")]
    paused = str(marks[-1].get("step")) if marks and marks[-1].get("event") == "paused" else ""
    verdict, kind = _verdict(attempts, paused=paused)
    rows = _rows(attempts, per_step)
    times = [ln["at"] for ln in lines if _when(ln.get("at"))]  # a torn line may have none
    started = meta.get("started_at") or (times[0] if times else None)
    ended = times[-1] if times and kind != "running" else None
    t0, t1 = _when(started), _when(ended)
    window_s = (t1 - t0).total_seconds() if t0 and t1 else None
    audit, audit_source = _audit(report, lines)
    in_window = [r for r in rows if r["step"] in STEP_NAMES]
    context = {
        "run_id": meta.get("run") or run_dir.name,
        "meta": meta,
        "verdict": verdict,
        "kind": kind,
        "started": started,
        "ended": ended,
        "window": None if window_s is None else _duration(window_s),
        "budget_total": sum(r["budget"] or 0 for r in in_window),
        "measured_total": sum(r["duration"] or 0 for r in in_window),
        "window_forecast": window_forecast,
        "forecast_note": forecast_note,
        "rows": rows,
        "chart": _chart(rows),
        "report": report,
        "report_note": report_note,
        "manifest": manifest if isinstance(manifest, dict) else None,
        "manifest_path": str(manifest_path) if manifest_path else None,
        "manifest_note": manifest_note or "it is not a JSON object",
        "backup_ran": any(a["step"] == "backup" and a["state"] == "ok" for a in attempts),
        "audit": audit,
        "audit_source": audit_source,
    }
    loader = jinja2.PackageLoader("pgcutover", "templates")  # package data: editable or wheel
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(secs=secs, show=show, dicts=_dicts)
    # Mask every value first (as the verify report does), then render: HTML escaping follows.
    return env.get_template(TEMPLATE).render(mask_data(context))


def write_run_report(
    run_dir: Path, *, manifest_path: Path | None = None, forecast: dict[str, Any] | None = None
) -> Path:
    """Write run_dir/report.html (atomically) and return its path."""
    html = render_run_report(run_dir, manifest_path=manifest_path, forecast=forecast)
    path, tmp = run_dir / "report.html", run_dir / "report.html.tmp"
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
