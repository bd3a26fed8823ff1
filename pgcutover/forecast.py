"""Forecast another database's window from a rehearsal: per-table sizes, per-step rates.

The model, per step: the time a rehearsal measured is split into pieces, each either fixed (it
does not grow with the data: connecting, catalog work, DDL on empty tables, process start-up) or
growing with named legacy tables. A growing piece is scaled by the ratio of those tables' size
on the forecast database to their size on the rehearsal's, so a production with three times the
request logs per user gets three times the request-log work, not three times everything. Where a
step says which tables its time went to (the transform's files, verify's tables, the `data_s` of
others), the forecast uses that; otherwise the whole step grows with all legacy tables, or with
none. Verify's tables are checked side by side: their seconds share the step's time in
proportion (laying them out on its connections instead forecast +9 %, +10 % and +33 % in three
--log-skew 3 benches, where shares gave -15 %, -11 % and +10 %: see README). The forecast
assumes the same hardware and server settings; it lists the ones that differ.

Size means what the work is paid by. The dump writes bytes: the backup grows with the tables'
data bytes (heap and TOAST, not the free-space and visibility maps, which are a fixed few pages
per table and so skew small tables). SQL that touches each row (the transform, verify's hashes)
grows with rows; the transform's files, which load into indexed tables and build indexes, with
n log n. ANALYZE reads at most 300 × default_statistics_target blocks per table, so a file of
ANALYZE statements grows with that capped count of blocks, not with the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pgcutover.forecast_layout import window_seconds
from pgcutover.forecast_profile import (
    BYTES,
    ROWS,
    SAMPLE,
    DatabaseProfile,
    differences,
)
from pgcutover.forecast_regime import REGIME_MARGIN, cache_regime, wal_regime
from pgcutover.run import DATA_SECONDS, WAL_BYTES
from steps.window import MIGRATE_OFFLINE

ALL_TABLES: tuple[str, ...] = ()  # a piece that grows with every legacy table
# How much a growing piece may be off beyond what two windows' spread shows: linear scaling
# of set-based SQL holds well, but caches, plans and parallel workers shift with size.
MODEL_MARGIN = 0.05
BUDGET_HEADROOM = 1.5  # a budget is the forecast's upper end with this much room


@dataclass(frozen=True)
class Piece:
    """A part of a step's measured time and the legacy tables it grows with (None: fixed)."""

    seconds: float
    tables: tuple[str, ...] | None
    grows_by: str = ROWS


@dataclass
class Forecast:
    """A forecast of each step of a window, with how sure it is, and ready-to-paste budgets."""

    steps: dict[str, float]
    spread: dict[str, float]
    measured: dict[str, list[float]]
    fixed: dict[str, float]
    window_s: float
    window_spread_s: float
    data_ratio: float
    notes: list[str] = field(default_factory=list)
    regimes: list[str] = field(default_factory=list)  # the crossings among notes: the wider ±
    wal_bytes: float = 0.0  # WAL the target's window will write (pg_wal, archive, replicas)
    overlap: bool = True  # False: measured and forecast with --no-overlap, every step in line

    def budgets(self) -> dict[str, int]:
        """Return BUDGET_<STEP> values: the forecast's upper end with headroom, whole seconds."""
        return {
            "BUDGET_" + step.upper().replace("-", "_"): max(
                5, math.ceil((s + self.spread[step]) * BUDGET_HEADROOM)
            )
            for step, s in self.steps.items()
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "steps": {k: round(v, 3) for k, v in self.steps.items()},
            "window_s": round(self.window_s, 3),
            "spread_s": {k: round(v, 3) for k, v in self.spread.items()},
            "window_spread_s": round(self.window_spread_s, 3),
            "fixed_s": {k: round(v, 3) for k, v in self.fixed.items()},
            "measured_s": self.measured,
            "data_ratio": round(self.data_ratio, 4),
            "wal_bytes": round(self.wal_bytes),
            "overlap": self.overlap,
            "budgets": self.budgets(),
            "notes": self.notes,
        }


def pieces_of(
    step: str,
    duration: float,
    details: dict[str, Any],
    *,
    file_tables: dict[str, tuple[str, ...]],
    backup_fixed_s: float,
    grows_by: dict[str, str] | None = None,
) -> list[Piece]:
    """Split one step's measured time into fixed pieces and pieces that grow with tables."""
    if step == "backup":
        fixed = min(max(backup_fixed_s, 0.0), duration)
        return [Piece(fixed, None), Piece(duration - fixed, ALL_TABLES, BYTES)]
    if step in ("transform", "statistics"):  # each file by the tables it names, as it grows
        files = [f for f in details.get("files") or [] if isinstance(f, dict)]
        pieces = [
            # A file that names no legacy table still moves data (indexes, ANALYZE): all tables.
            Piece(
                float(f.get("duration_s") or 0.0),
                file_tables.get(str(f.get("file"))) or (),
                (grows_by or {}).get(str(f.get("file")), ROWS),
            )
            for f in files
        ]
        return [*pieces, Piece(max(duration - sum(p.seconds for p in pieces), 0.0), None)]
    if step == "verify":
        per_table = details.get("table_seconds") or {}
        pieces = [Piece(float(s), (str(t),)) for t, s in per_table.items()]
        # An invariant file grows with the tables it names; one naming none reads the catalog.
        pieces += [
            Piece(float(s), file_tables[str(f)] or None)
            for f, s in (details.get("invariant_seconds") or {}).items()
            if str(f) in file_tables
        ]
        # Tables are checked side by side: their seconds overlap, so they share the step's time
        # in proportion (the invariants run beside them too).
        spent = sum(p.seconds for p in pieces)
        if spent > duration > 0:
            pieces = [Piece(p.seconds * duration / spent, p.tables, p.grows_by) for p in pieces]
        # The rest (dropped-column counts, unknown invariants) grows with all the data.
        return [*pieces, Piece(max(duration - sum(p.seconds for p in pieces), 0.0), ALL_TABLES)]
    # Any other step may say how much of its time read the data (preflight's audit, smoke's read
    # probes): that part grows with every table, the rest is fixed.
    data = min(float(details.get(DATA_SECONDS) or 0.0), duration)
    return [Piece(data, ALL_TABLES), Piece(duration - data, None)]


def growth(tables: tuple[str, ...], staging: dict[str, int], target: dict[str, int]) -> float:
    """Return how many times more bytes the tables hold on the target than on the rehearsal's."""
    names = tables or tuple(staging)
    before = sum(staging.get(t, 0) for t in names)
    after = sum(target.get(t, 0) for t in names)
    if before <= 0:
        # Nothing measured to scale from: fall back on the whole database's ratio.
        return growth((), staging, target) if tables else 1.0
    return after / before


def piece_growth(piece: Piece, staging: DatabaseProfile, target: DatabaseProfile) -> float:
    """Return how many times more work a growing piece has on the target.

    Rows are the planner's estimates (reltuples): a database never analyzed has none, and its
    pieces grow with bytes instead.
    """
    assert piece.tables is not None
    names = piece.tables or tuple(staging.table_bytes)
    by = piece.grows_by
    if by not in (BYTES, SAMPLE) and not (
        sum(staging.table_rows.get(t, 0) for t in names)
        and sum(target.table_rows.get(t, 0) for t in names)
    ):
        by = BYTES
    return growth(piece.tables, staging.sizes(by), target.sizes(by))


def scale(pieces: list[Piece], staging: DatabaseProfile, target: DatabaseProfile) -> float:
    """Return the forecast seconds of a step's pieces on the target."""
    return sum(
        p.seconds if p.tables is None else p.seconds * piece_growth(p, staging, target)
        for p in pieces
    )


def build_forecast(
    windows: list[list[dict[str, Any]]],
    staging: DatabaseProfile,
    target: DatabaseProfile,
    *,
    file_tables: dict[str, tuple[str, ...]],
    backup_fixed_s: float = 0.0,
    grows_by: dict[str, str] | None = None,
    overlap: bool = True,
) -> Forecast:
    """Forecast each step from the end lines of one or more rehearsal windows on the same data.

    overlap: whether the windows (the rehearsal's and the target's) run steps beside the others.
    """
    per_step: dict[str, list[float]] = {}
    measured: dict[str, list[float]] = {}
    fixed: dict[str, list[float]] = {}
    growing: dict[str, list[float]] = {}
    wal: list[float] = []
    for lines in windows:
        wal.append(0.0)
        for line in lines:
            if line.get("event") != "end" or line.get("outcome") != "ok":
                continue
            step, duration = str(line.get("step")), float(line.get("duration_s") or 0.0)
            wal[-1] += float((line.get("details") or {}).get(WAL_BYTES) or 0.0)
            pieces = pieces_of(
                step,
                duration,
                line.get("details") or {},
                file_tables=file_tables,
                backup_fixed_s=backup_fixed_s,
                grows_by=grows_by,
            )
            forecast = scale(pieces, staging, target)
            still = sum(p.seconds for p in pieces if p.tables is None)
            per_step.setdefault(step, []).append(forecast)
            measured.setdefault(step, []).append(round(duration, 3))
            fixed.setdefault(step, []).append(still)
            growing.setdefault(step, []).append(forecast - still)
    steps = {s: sum(v) / len(v) for s, v in per_step.items()}
    ratio = growth((), staging.table_bytes, target.table_bytes)
    rehearsal_wal = max(wal, default=0.0)
    crossed = cache_regime(staging, target) + wal_regime(staging, target, rehearsal_wal, ratio)
    margin = MODEL_MARGIN + (REGIME_MARGIN if crossed else 0.0)
    spread = {
        s: (max(v) - min(v)) / 2 + margin * sum(growing[s]) / len(growing[s])
        for s, v in per_step.items()
    }
    return Forecast(
        steps=steps,
        spread=spread,
        measured=measured,
        fixed={s: sum(v) / len(v) for s, v in fixed.items()},
        window_s=window_seconds(steps, MIGRATE_OFFLINE, overlap=overlap),
        overlap=overlap,
        # Steps' errors are not independent (one machine, one cache): add them, do not root-sum.
        window_spread_s=sum(spread.values()),
        data_ratio=ratio,
        notes=differences(staging, target) + crossed,
        regimes=crossed,
        wal_bytes=rehearsal_wal * ratio,
    )
