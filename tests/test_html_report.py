"""The run's HTML report: its content from a synthetic run, in a real browser, and for real runs."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from importlib.resources import files
from pathlib import Path
from typing import Any

from conftest import make_settings

from pgcutover import commands
from pgcutover.errors import CutoverError
from pgcutover.html_report import render_run_report, write_run_report
from steps.window import BESIDE, STEP_NAMES

RUN = "20261130T010000Z-abcd"
PASSWORD = "hunter2-Secret"
SCRIPT = "<script>alert('pwned')</script>"
OVER_BUDGET_RGB = (0xC5, 0x30, 0x30)  # the template's over-budget red
WITHIN_BUDGET_RGB = (0x2F, 0x85, 0x5A)


def at(second: int) -> str:
    return f"2026-11-30T01:{second // 60:02d}:{second % 60:02d}.000Z"


def step_lines(
    step: str, start: int, duration: float, budget: float, outcome: str = "ok", **end: Any
) -> list[dict[str, Any]]:
    """A step's start and end journal lines, as the engine writes them."""
    return [
        {"run": RUN, "step": step, "event": "start", "at": at(start), "budget_s": budget},
        {
            "run": RUN,
            "step": step,
            "event": "end",
            "at": at(start + int(duration)),
            "outcome": outcome,
            "duration_s": duration,
            "budget_s": budget,
            "over_budget": duration > budget,
            **end,
        },
    ]


def synthetic_run(root: Path) -> Path:
    """A window that ran backup over budget, failed at verify and was rolled back."""
    run_dir, backup_dir = root / "runs" / RUN, root / "backups" / RUN
    run_dir.mkdir(parents=True)
    backup_dir.mkdir(parents=True)
    audit = [
        {"finding": "McpServer.authType BOTH becomes OAUTH", "rule": "R6", "rows": 4},
        {
            "finding": "UserMcpServerConfig.oauthScopes values dropped by design",
            "rule": "R5",
            "rows": 198,
        },
    ]
    lines = step_lines("preflight", 0, 1.5, 60, details={"audit": audit})
    lines += step_lines("maintenance-on", 2, 0.2, 30)
    lines.append(
        {
            "run": RUN,
            "step": "maintenance-on",
            "event": "host",
            "at": at(2),
            "host": "app1",
            "exit": 0,
        }
    )
    lines += step_lines("fence", 3, 0.1, 30)
    lines += step_lines("backup", 4, 700.0, 600, note="4.7 MiB, every data block read back")
    lines += step_lines("reset", 710, 0.5, 30)
    lines += step_lines("deploy-schema", 711, 2.0, 30)
    lines += step_lines("transform", 714, 300.0, 900)
    lines += step_lines(
        "verify",
        1020,
        12.0,
        300,
        outcome="failed",
        error=f"0001_personal_organizations.sql: 2 violations; dsn postgresql://app:{PASSWORD}@db/x",
    )
    for i, step in enumerate(
        ("rollback-prepare", "restore-database", "redeploy-app", "rollback-finish")
    ):
        lines += step_lines(step, 1040 + i * 5, 1.0, 60)
    text = "\n".join(json.dumps(ln) for ln in lines)
    junk = ["[1, 2]", '{"event": "end"}', '{"step": 7, "event": "start"}', '{"step": "backup"}']
    text += "\n" + "\n".join(junk) + '\n{"run": "torn'
    (run_dir / "journal.jsonl").write_text(text)
    (run_dir / "run.json").write_text(
        json.dumps(
            {
                "run": RUN,
                "command": "migrate-offline",
                "target": "db.internal:5432/shop as app_owner",
                "identity": {"database": "shop", "server": "10.0.0.5:5432"},
                "started_at": at(0),
                "migration": "personal-organizations",
                "backup_dir": str(backup_dir),
            }
        )
    )
    (run_dir / "report.json").write_text(
        json.dumps(
            {
                "run": RUN,
                "migration": "personal-organizations",
                "at": at(1021),
                "migration_ts": "x",
                "invariants": [
                    {
                        "check": "0001_personal_organizations.sql",
                        "violations": 2,
                        "sample": [SCRIPT, f"password={PASSWORD}"],
                    }
                ],
                "tables": [
                    {"table": "McpServer", "legacy_rows": 30, "target_rows": 30, "match": True},
                    {
                        "table": "OrganizationMember",
                        "legacy_rows": 206,
                        "target_rows": 205,
                        "match": False,
                    },
                ],
                "dropped_by_design": [
                    {
                        "table": "UserMcpServerConfig",
                        "column": "oauthScopes",
                        "rule": "R5",
                        "non_null_values": 198,
                    }
                ],
                "audit": audit,
                "missing_results": [],
                "backup_mismatches": [],
                "passed": False,
            }
        )
    )
    (backup_dir / "manifest.json").write_text(
        json.dumps(
            {
                "run": RUN,
                "file": "database.dump",
                "bytes": 4977404,
                "sha256": "ab" * 32,
                "created_at": at(700),
                "server_version": "15.18",
                "pg_dump_major": 15,
                "row_counts": {"public.McpServer": 30, "public.OrganizationMember": 206},
                "toc_entries": 86,
                "proof": {"read_back": "every data block"},  # a field this report does not know
            }
        )
    )
    return run_dir


FORECAST = {"steps": {"backup": 450, "transform": 812}, "window_s": 1500}


def test_report_shows_budgets_forecast_failure_and_sections(tmp_path: Path) -> None:
    html = render_run_report(synthetic_run(tmp_path), forecast=FORECAST)
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert "failed at verify; rolled back" in html
    assert "shop on 10.0.0.5:5432" in html
    assert "1056 s (0:17:36) wall clock" in html  # from the first line to the last one with a time
    # backup ran 700 s of a 600 s budget: marked in the picture and in the table, by colour and text
    backup_row = re.search(r'<g class="step ok over-budget">.*?</g>', svg, re.S)
    assert backup_row and ">backup<" in backup_row.group(0) and "over budget" in backup_row.group(0)
    assert svg.count("over budget") == 2  # the legend and the backup row; no other step is over
    assert re.search(r"<th scope=\"row\">backup</th>.*?over budget", html, re.S)
    # the failed step is marked in both, and its error is shown
    assert re.search(r'<g class="step failed">.*?>verify<.*?failed</tspan>', svg, re.S)
    assert "0001_personal_organizations.sql: 2 violations" in html
    # forecast numbers: drawn, tabled, and compared with what was measured
    assert "forecast 450 s" in svg and "forecast 812 s" in svg
    assert "+250 s (156% of forecast)" in html
    assert "forecast 1500 s" in html
    # steps never reached are listed, rollback steps come after the window
    assert html.index(">unfence<") < html.index(">rollback-prepare<")
    # verify, manifest and audit sections from their files
    for text in (
        "OrganizationMember",
        "DIFFER",
        "UserMcpServerConfig.oauthScopes",
        "ab" * 32,
        "public.McpServer",
        "236",
    ):
        assert text in html, text
    assert "McpServer: 30 legacy → 30 target rows, checksums match" in html
    assert "every data block" in html[html.index('id="backup"') :]
    assert "UserMcpServerConfig.oauthScopes dropped by design: 198 non-NULL values" in html
    # values are escaped and secrets masked
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html
    assert "<script" not in html.lower()
    assert PASSWORD not in html and "password=***" in html and "app:***@db" in html
    # nothing loads from elsewhere
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"https?://|<link|@import|url\(\s*['\"]?(?:https?:)?//", html, re.I)


def test_report_of_a_run_that_stopped_early_names_what_is_missing(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / RUN
    run_dir.mkdir(parents=True)
    lines = step_lines("preflight", 0, 1.0, 60) + [
        # an end line with nonsense numbers and no over_budget, then a start with no end
        {"step": "maintenance-on", "event": "end", "outcome": "ok", "duration_s": "fast"},
        {"run": RUN, "step": "fence", "event": "start", "at": at(2), "budget_s": None},
    ]
    (run_dir / "journal.jsonl").write_text("\n".join(json.dumps(ln) for ln in lines) + "\n{torn")
    (run_dir / "forecast.json").write_text("[not an object]")
    path = write_run_report(run_dir, manifest_path=tmp_path / "nowhere" / "manifest.json")
    html = path.read_text(encoding="utf-8")
    assert path == run_dir / "report.html"
    assert "running (or stopped without an end line) at fence" in html
    assert "No verify results: report.json is missing" in html
    assert "No backup manifest at" in html and "did not complete in this run" in html
    assert "No audit" in html and "unknown: no run.json" in html
    assert "Forecast not shown: forecast.json cannot be read: Expecting value" in html
    assert html.count(">not reached<") == 2 * (len(STEP_NAMES) - 3)  # picture and table
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "No journal lines" in render_run_report(empty)


def test_report_of_a_resumed_window_counts_its_last_try(tmp_path: Path) -> None:
    run_dir = tmp_path / RUN
    run_dir.mkdir()
    lines = step_lines("preflight", 0, 1.0, 60) + step_lines("transform", 2, 5.0, 900, "failed")
    for i, step in enumerate(STEP_NAMES[1:]):  # --resume: what was done is done again or skipped
        lines += step_lines(step, 100 + i, 0.5, 30, "skipped" if step == "fence" else "ok")
    (run_dir / "journal.jsonl").write_text("\n".join(json.dumps(ln) for ln in lines))
    html = render_run_report(run_dir)
    assert '<span class="badge ok">completed</span>' in html
    assert ">transform (try 2)<" in html and "not reached" not in html


def test_template_ships_as_package_data() -> None:
    assert files("pgcutover").joinpath("templates", "run_report.html.j2").is_file()


# --- the page in a real browser -----------------------------------------------------------------


def chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Debian's headless chromium on a page; a missing chromium fails (never skips)."""
    exe = shutil.which("chromium")
    assert exe, (
        "chromium is not installed: apt-get install chromium (.ci/run does); this test never skips"
    )
    return subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,1600",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def page_errors(stderr: str) -> list[str]:
    """Every console message the page logged (the report has no script: any message is a fault)."""
    return [ln for ln in stderr.splitlines() if re.search(r":CONSOLE[:(]|Uncaught", ln)]


def png_pixels(path: Path) -> tuple[int, int, list[tuple[int, ...]]]:
    """Decode an 8-bit RGB/RGBA PNG with the standard library: width, height, RGB pixels."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header[:13])
    assert depth == 8 and colour in (2, 6) and not interlace, f"unexpected PNG: {header[8:13]!r}"
    bpp = 3 if colour == 2 else 4
    stride, raw = width * bpp, zlib.decompress(idat)
    prev, pixels = bytearray(stride), []
    for y in range(height):
        start = y * (stride + 1)
        filt, row = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a, b = row[i - bpp] if i >= bpp else 0, prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if filt == 1:
                row[i] = (row[i] + a) & 255
            elif filt == 2:
                row[i] = (row[i] + b) & 255
            elif filt == 3:
                row[i] = (row[i] + (a + b) // 2) & 255
            elif filt == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        pixels += [tuple(row[i : i + 3]) for i in range(0, stride, bpp)]
        prev = row
    return width, height, pixels


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = write_run_report(synthetic_run(tmp_path), forecast=FORECAST)
    shot = tmp_path / "report.png"
    done = chromium(tmp_path, page, f"--screenshot={shot}")
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    assert not page_errors(done.stderr), page_errors(done.stderr)
    assert shot.is_file() and shot.stat().st_size > 0, f"no screenshot: {done.stderr[-2000:]}"
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (1200, 1600)
    colours = Counter(pixels)
    assert len(colours) > 50, f"the screenshot is blank: {len(colours)} colours"
    assert colours.most_common(1)[0][1] < 0.95 * len(pixels), "the screenshot is nearly one colour"
    assert colours[OVER_BUDGET_RGB] > 100, "no over-budget red drawn: the picture did not render"
    assert colours[WITHIN_BUDGET_RGB] > 20, "no within-budget green drawn"
    dom = chromium(tmp_path, page, "--dump-dom")
    assert dom.returncode == 0 and not page_errors(dom.stderr), dom.stderr[-2000:]
    for part in (
        '<svg class="timeline"',
        'id="steps"',
        'id="verify-tables"',
        'id="manifest-rows"',
        'id="audit-table"',
        "</html>",
    ):
        assert part in dom.stdout, part
    assert dom.stdout.count('<g class="step ') == len(STEP_NAMES) + 4  # the window and the rollback


def test_browser_check_sees_page_errors(tmp_path: Path) -> None:
    """The harness must see a faulty page's errors, or its silence above proves nothing."""
    page = tmp_path / "faulty.html"
    page.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); null.x;</script>")
    errors = page_errors(chromium(tmp_path, page, "--dump-dom").stderr)
    assert any("boom" in e for e in errors) and any("Uncaught" in e for e in errors), errors


# --- real windows ----------------------------------------------------------------------------


def test_report_of_a_real_completed_window(tmp_path: Path, legacy_url: str) -> None:
    settings = make_settings(tmp_path, legacy_url, BUDGET_BACKUP="0.001")
    run_id = commands.migrate_offline(settings, yes=True)
    run_dir = settings.runs_dir / run_id
    html = write_run_report(run_dir, forecast={"steps": {"transform": 0.5}}).read_text()
    manifest = json.loads((settings.backup_dir / run_id / "manifest.json").read_text())
    assert '<span class="badge ok">completed</span>' in html
    assert all(f">{step}<" in html for step in STEP_NAMES if step not in BESIDE)
    assert all(f">{step} (beside)<" in html for step in BESIDE)  # bars overlapping the next ones
    assert "over budget" in html and "forecast 0.5 s" in html
    assert manifest["sha256"] in html and "PASSED" in html and "not reached" not in html


def test_report_of_a_real_window_that_failed_at_verify(tmp_path: Path, legacy_url: str) -> None:
    settings = make_settings(tmp_path, legacy_url, CUTOVER_FAULT="verify:after:error")
    try:
        commands.migrate_offline(settings, yes=True)
    except CutoverError as exc:
        assert exc.step == "verify"
    else:
        raise AssertionError("the injected fault did not fail the window")
    (run_dir,) = settings.runs_dir.iterdir()
    html = write_run_report(run_dir).read_text()
    assert "failed at verify; rolled back" in html
    assert "injected fault at after" in html and 'id="verify-tables"' in html
    assert "No backup manifest" not in html and "No audit" not in html
