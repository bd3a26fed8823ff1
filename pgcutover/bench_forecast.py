"""The bench's forecast row: forecast the 10·N window from the windows at N, then compare it with
the window measured at 10·N, as `rehearse --forecast` would on a tenth of production."""

from __future__ import annotations

from typing import Any

from pgcutover.bench_report import WINDOW, BenchRow
from pgcutover.forecast import build_forecast
from pgcutover.forecast_files import file_growth, transform_tables
from pgcutover.forecast_layout import window_seconds
from pgcutover.forecast_profile import DatabaseProfile
from pgcutover.migration import load_migration
from pgcutover.settings import Settings
from steps.window import BESIDE, MIGRATE_OFFLINE

CHECKED = ("backup", "transform", "verify")  # the steps the forecast's bar names


def forecast_row(
    n: dict[str, Any], scaled: dict[str, Any], scale: int, *, log_skew: int = 1
) -> BenchRow:
    """Forecast the scaled window from N's windows (fast and restore) and pair it with the
    scaled window measured (with log_skew > 1, a database with more request logs per user)."""
    windows = [n[w]["window_lines"] for w in ("fast", "restore") if w in n]
    staging = DatabaseProfile(**n["fast"]["profile"])  # as_dict() gave the fields by name
    target = DatabaseProfile(**scaled["fast"]["profile"])
    migration = load_migration(Settings.migration_dir)
    forecast = build_forecast(
        windows,
        staging,
        target,
        file_tables=transform_tables(migration, set(staging.table_bytes)),
        backup_fixed_s=n["fast"]["backup_fixed_s"],
        grows_by=file_growth(migration),
    )
    measured = scaled["fast"]["steps"]
    errors = ", ".join(
        f"{s} {100 * (forecast.steps[s] - measured[s]) / measured[s]:+.0f} %"
        for s in CHECKED
        if measured.get(s) and s in forecast.steps
    )
    # As the forecast adds its window: a step beside the others counts only where it outlasts them.
    window = window_seconds({s: forecast.steps.get(s, 0.0) for s in WINDOW}, MIGRATE_OFFLINE)
    spread = sum(forecast.spread.get(s, 0.0) for s in WINDOW if s not in BESIDE)
    crossed = [note.split(":")[0] for note in forecast.regimes]
    inside = abs(window - scaled["fast"]["window_s"]) <= spread
    shape = f" ({log_skew}× the request logs per user)" if log_skew > 1 else ""
    return BenchRow(
        f"forecast of the {scale}·N window{shape} from N",
        window,
        scaled["fast"]["window_s"],
        f"the window measured at {scale}·N",
        f"± {spread:.2f} s (the measured window is {'inside' if inside else 'OUTSIDE'} it); "
        f"{errors}; the bar is ±5 % (window), ±10 % (steps)"
        + (f"; regime crossed: {'; '.join(crossed)}" if crossed else ""),
    )
