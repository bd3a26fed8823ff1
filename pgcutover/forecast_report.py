"""The forecast's inputs and files: measure both databases, write forecast.json/.md, find one later.

A rehearsal with `--forecast NAME` reads NAME's database read-only before anything else, measures
its own target before the first window, and after a passing rehearsal writes
RUNS_DIR/<run-id>/forecast.json and forecast.md in its first window's run directory. A copy of the
JSON goes to NAME's RUNS_DIR/forecasts/, where `status` and the run report of NAME's real window
find it by the database's identity.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from pgcutover.db import DB_ERRORS, connect, error_text
from pgcutover.dumpfiles import dump_name
from pgcutover.errors import CutoverError
from pgcutover.forecast import Forecast, build_forecast
from pgcutover.forecast_files import file_growth, transform_tables
from pgcutover.forecast_profile import DatabaseProfile, read_profile
from pgcutover.identity import read_run_meta, same_database
from pgcutover.journal import iso, utc_now
from pgcutover.migration import load_migration
from pgcutover.pgtools import client_env, run_tool
from pgcutover.redact import mask, mask_data
from pgcutover.run import RunContext
from pgcutover.settings import Settings
from steps.preflight import schema_state, state_text

STEP = "rehearse"
FORECASTS = "forecasts"


def profile_database(settings: Settings, who: str) -> DatabaseProfile:
    """Connect, read the database's sizes and settings read-only, and disconnect."""
    migration = load_migration(settings.migration_dir)
    try:
        db = connect(
            settings.database_url,
            settings.db_driver,
            application_name="pgcutover forecast",
            step=STEP,
        )
    except CutoverError as exc:
        raise CutoverError(STEP, f"{who}: {exc.cause}; nothing was changed") from None
    try:
        # A window still to run is forecast from the legacy schema; a migrated one would be read
        # as legacy tables (a window there is refused in preflight all the same).
        state, detail = schema_state(db, migration)
        if state != "legacy":
            raise CutoverError(
                STEP,
                f"{who}: the database {state_text(state)} ({detail}): there is no window to "
                "forecast; nothing was changed",
            )
        return read_profile(db, settings.database_url, migration.app_schema)
    except DB_ERRORS as exc:
        raise CutoverError(STEP, f"{who}: cannot read sizes: {error_text(exc)}") from None
    finally:
        db.close()


def backup_fixed_seconds(settings: Settings) -> float:
    """Time a schema-only dump and its read-back: the backup's cost that does not grow with data."""
    conninfo, env = client_env(settings.database_url, "pgcutover forecast")
    with tempfile.TemporaryDirectory(prefix="pgcutover-forecast-") as tmp:
        dump = Path(tmp) / dump_name(settings.backup_format)  # the window's format
        started = time.monotonic()
        run_tool(
            STEP,
            [
                settings.tool("pg_dump"),
                "--schema-only",
                f"--format={settings.backup_format}",
                "--no-password",
                "--file",
                str(dump),
                "--dbname",
                conninfo,
            ],
            env,
        )
        run_tool(STEP, [settings.tool("pg_restore"), "--file", "/dev/null", str(dump)], env)
        return time.monotonic() - started


def forecast_document(
    forecast: Forecast, staging: DatabaseProfile, target: DatabaseProfile, *, name: str, run: str
) -> dict[str, Any]:
    """Assemble forecast.json: the forecast, what it was made from, and for which database."""
    doc: dict[str, Any] = mask_data(
        {
            **forecast.as_dict(),
            "forecast_for": name,
            "target_identity": target.identity,
            "rehearsal_identity": staging.identity,
            "rehearsal_run": run,
            "made_at": iso(utc_now()),
            "target": target.as_dict(),
            "rehearsal": staging.as_dict(),
        }
    )
    return doc


def render_markdown(doc: dict[str, Any]) -> str:
    """Render forecast.md: per step forecast ± spread, the window, budgets to paste, caveats."""
    steps: dict[str, float] = doc["steps"]
    lines = [
        f"# Forecast of the window on {doc['forecast_for']}",
        "",
        f"- for: {doc['target_identity'].get('target')} "
        f"(database {doc['target_identity'].get('database')})",
        f"- from rehearsal run {doc['rehearsal_run']} on "
        f"{doc['rehearsal_identity'].get('target')}; made {doc['made_at']}",
        f"- legacy data: {doc['data_ratio']:.2f}× the rehearsal's bytes",
        f"- **whole window: {doc['window_s']:.1f} s ± {doc['window_spread_s']:.1f} s**"
        + ("" if doc.get("overlap", True) else " (--no-overlap: every step in line)"),
        *wal_line(doc),
        "",
        "| step | rehearsal s | fixed s | forecast s | ± s |",
        "|---|---:|---:|---:|---:|",
    ]
    for step, seconds in steps.items():
        measured = ", ".join(f"{m:.2f}" for m in doc["measured_s"].get(step, []))
        lines.append(
            f"| {step} | {measured} | {doc['fixed_s'].get(step, 0.0):.2f} | {seconds:.2f} | "
            f"{doc['spread_s'].get(step, 0.0):.2f} |"
        )
    lines += [
        "",
        "How sure: ± is half the spread between the rehearsal's two windows plus 5 % of the part",
        "that grows with the data (25 % when a cache or checkpoint regime is crossed: see",
        "below). Fixed costs (connecting, catalog work, DDL, process start-up) are not scaled;",
        "the rest is scaled per table by what pays for it: the dump by bytes, row work by rows,",
        "loads and index builds by n log n, ANALYZE by its capped sample of blocks.",
        "",
        "## Budgets to paste into the profile",
        "",
        "```",
        *[f"{k}={v}" for k, v in doc["budgets"].items()],
        "```",
    ]
    if doc["notes"]:
        lines += ["", "## What makes it less sure", ""] + [f"- {n}" for n in doc["notes"]]
    return "\n".join(lines) + "\n"


def wal_line(doc: dict[str, Any]) -> list[str]:
    """Say how much WAL the window will write: pg_wal's room, the archive, replicas' catch-up."""
    wal = float(doc.get("wal_bytes") or 0.0)
    if not wal:
        return []
    limit = (doc.get("target") or {}).get("settings", {}).get("max_wal_size", "?")
    return [
        f"- WAL the window will write: about {wal / 2**20:,.0f} MiB (max_wal_size there: {limit}); "
        "room in pg_wal and the archive, and replicas replay it after the window"
    ]


def write_forecast(run_dir: Path, doc: dict[str, Any], forecast_runs_dir: Path) -> list[Path]:
    """Write forecast.json and .md into the run directory and a copy where the target's runs are."""
    run_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    written = [run_dir / "forecast.json", run_dir / "forecast.md"]
    written[0].write_text(text, encoding="utf-8")
    written[1].write_text(mask(render_markdown(doc)), encoding="utf-8")
    copies = forecast_runs_dir / FORECASTS
    copies.mkdir(parents=True, exist_ok=True)
    copy = copies / f"{doc['rehearsal_run']}.json"
    copy.write_text(text, encoding="utf-8")
    return [*written, copy]


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def find_forecast(runs_dir: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """Return the newest forecast made for this database, if any."""
    folder = runs_dir / FORECASTS
    if not folder.is_dir() or not identity:
        return None
    for path in sorted(folder.glob("*.json"), reverse=True):  # run ids sort by time
        doc = _read(path)
        if doc and same_database(doc.get("target_identity") or {}, identity):
            return doc
    return None


def forecast_for_run(
    runs_dir: Path, run_dir: Path, identity: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Return the newest forecast made for a run's database (a rehearsal's own is for another):
    by the identity given, else the one its run.json recorded."""
    recorded = identity or read_run_meta(run_dir).get("identity")
    return find_forecast(runs_dir, recorded) if isinstance(recorded, dict) else None


def run_forecast(ctx: RunContext) -> dict[str, Any]:
    """Return this run's forecast ({} when none), looked up once per run."""
    if "_forecast" not in ctx.state:
        ctx.state["_forecast"] = forecast_for_run(ctx.settings.runs_dir, ctx.run_dir, ctx.identity)
    return ctx.state["_forecast"] or {}


class ForecastPlanner:
    """Forecast another profile's window: read it, measure the rehearsal's side, then write."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.profile or "default (.env)"
        # Read the forecast's database before the rehearsal changes anything: a typo fails early.
        self.target = profile_database(settings, f"--forecast {self.name}")
        self.staging: DatabaseProfile | None = None
        self.backup_fixed_s = 0.0

    def measure_rehearsal(self, rehearsal: Settings) -> None:
        """Measure the rehearsal's database before its first window: sizes and fixed costs."""
        self.staging = profile_database(rehearsal, "measure")
        self.backup_fixed_s = backup_fixed_seconds(rehearsal)

    def write(
        self,
        rehearsal: Settings,
        run: str,
        windows: list[list[dict[str, Any]]],
        *,
        overlap: bool = True,
    ) -> tuple[dict[str, Any], list[Path]]:
        """Build the forecast from the rehearsal's windows; write it; return it and its files."""
        if self.staging is None:
            raise CutoverError("forecast", "the rehearsal's database was not measured")
        migration = load_migration(rehearsal.migration_dir)
        forecast = build_forecast(
            windows,
            self.staging,
            self.target,
            file_tables=transform_tables(migration, set(self.staging.table_bytes)),
            backup_fixed_s=self.backup_fixed_s,
            grows_by=file_growth(migration),
            overlap=overlap,
        )
        doc = forecast_document(forecast, self.staging, self.target, name=self.name, run=run)
        return doc, write_forecast(rehearsal.runs_dir / run, doc, self.settings.runs_dir)
