"""The bench's result: each measured pair as a row, the table the operator reads, the JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from pgcutover.backup_settings import DEFAULT_FORMAT
from steps.window import BESIDE, STEP_NAMES

# The window from maintenance on to off: what the bench times against the three floors.
WINDOW = STEP_NAMES[STEP_NAMES.index("maintenance-on") : STEP_NAMES.index("maintenance-off") + 1]


@dataclass
class BenchRow:
    """One pair: pgcutover's number, its floor's, their ratio, and what the floor is."""

    name: str
    pgcutover: float
    floor: float
    floor_name: str
    notes: str = ""
    unit: str = "s"
    ratio: float | None = None  # pgcutover / floor

    def __post_init__(self) -> None:
        self.ratio = round(self.pgcutover / self.floor, 2) if self.floor > 0 else None


@dataclass
class BenchResult:
    """What one bench found: its rows, each size's raw measurements, and that it cleaned up."""

    users: int
    scale: int
    jobs: int
    out: str
    backup_format: str = DEFAULT_FORMAT
    log_skew: int = 1  # the scaled size's request logs per user, in N's
    started_at: str = ""
    finished_at: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    rows: list[BenchRow] = field(default_factory=list)
    sizes: dict[str, dict[str, Any]] = field(default_factory=dict)
    databases_left: list[str] = field(default_factory=list)
    cluster_stopped: bool = False


def build_rows(
    n: dict[str, Any], scaled: dict[str, Any] | None, scale: int, jobs: int
) -> list[BenchRow]:
    """Pair each measured step with its floor; with a scaled run, each size with the other."""
    fast, restore, f = n["fast"], n["restore"], n["floors"]
    steps, peer = fast["steps"], f["row_by_row"]
    # Each step against its floor, both alone: the window run with --no-overlap (older results
    # lack it: then the overlapped window's, which shares the cores).
    in_line = n.get("alone")
    alone = (in_line or fast)["steps"]
    how = "alone (the window with --no-overlap)" if in_line else "in the overlapped window"
    rows = sum(fast["target_rows"].values())
    floors = f["dump_s"] + f["transform_s"] + f["checksum_s"]
    others = sum(steps[s] for s in WINDOW if s not in ("backup", "transform", "verify", *BESIDE))
    proof = steps.get("backup-proof", 0.0)

    def overlapped(step: str) -> str:
        return f"{how}; in the overlapped window {steps[step]:.2f} s, sharing the cores"

    out = [
        BenchRow("backup", alone["backup"], f["dump_s"],
                 "bare pg_dump, same flags, alone",
                 f"{overlapped('backup')} with deploy-schema and transform (with --jobs − 1); "
                 f"dump {fast['dump_bytes'] / 2**20:.0f} MiB; the step adds row counts in the "
                 "dump's snapshot and pg_restore --list; its proof (full read-back, sha256: "
                 f"{proof:.2f} s) starts when it ends, beside the window, joined before unfence"),
        BenchRow("transform", alone["transform"], f["transform_s"],
                 "set-based floor: sql/bench/0001 + migration 0007 to 0009, one transaction",
                 f"{overlapped('transform')} with the dump; same row counts ({rows} rows, "
                 f"{len(fast['target_rows'])} tables); the floor skips R2's count, R3's "
                 "collision-proof ids and trim, the anti-joins that make a re-run add nothing; "
                 "ANALYZE is step statistics, beside verify "
                 f"({steps.get('statistics', 0.0):.2f} s)"),
        BenchRow("transform vs row-by-row peer", steps["transform"], peer["extrapolated_s"],
                 "driver read + one upsert per row, extrapolated",
                 f"peer timed on {peer['sample_users']} of {n['users']} users' share of every "
                 f"table ({peer['rows_written']} upserts, {peer['seconds']:.1f} s) × "
                 f"{n['users'] / peer['sample_users']:g}; one transaction, primary keys only"),
        BenchRow("verify", alone["verify"], f["checksum_s"],
                 "count(*), sum(hashtext(t::text)) per table of both schemas",
                 f"{overlapped('verify')} with ANALYZE; the step adds per-column rule "
                 "expressions, 64-bit row hashes, invariants, dropped-column counts, report"),
        *([BenchRow("window, each step in line (--no-overlap)", in_line["window_s"], floors,
                    "bare dump + transform floor + checksum pass",
                    "what the overlap saves: the same window with the dump, its proof and "
                    "ANALYZE in line")] if in_line else []),
        BenchRow("window (maintenance on → off)", fast["window_s"], floors,
                 "bare dump + transform floor + checksum pass",
                 f"wall clock, start of maintenance-on to end of maintenance-off, the dump "
                 f"beside the transform; steps other than backup, transform, verify: "
                 f"{others:.2f} s"),
        BenchRow("progress watching", fast["window_s"],
                 fast["window_s"] - fast.get("progress_s", 0.0),
                 "the window less the watcher's sampling time",
                 f"{fast.get('progress_s', 0.0):.3f} s spent sampling (a thread beside the "
                 "step, wall clock: an upper bound); the issue's bound is ×1.02"),
        BenchRow("fast rollback (swap back)", fast["rollback_steps"]["restore-database"],
                 f["swap_s"], "2 renames + DROP SCHEMA … CASCADE, one transaction",
                 f"whole rollback {sum(fast['rollback_steps'].values()):.2f} s"),
        BenchRow("restore-path rollback (--from-backup)",
                 restore["rollback_steps"]["restore-database"], f["restore_s"],
                 f"bare pg_restore --jobs {jobs} of the same dump",
                 "the step adds the dump's sha256, row-count and column proofs, old schemas "
                 f"dropped; whole rollback {sum(restore['rollback_steps'].values()):.2f} s"),
    ]  # fmt: skip
    if scaled is None:
        return out
    big, bf = scaled["fast"], scaled["floors"]

    def grew(pairs: list[tuple[str, float, float]]) -> str:
        return ", ".join(f"{what} ×{b / a:.1f}" if a else what for what, a, b in pairs)

    steps_grew = grew([(s, steps[s], big["steps"][s]) for s in ("backup", "transform", "verify")])
    floors_grew = grew([(k[:-2], f[k], bf[k]) for k in ("transform_s", "checksum_s")])
    at = f"{scale}·N ({scaled['users']}) vs N"
    linear = f"linear is ×{scale}"
    if scaled.get("logs_per_user", 0) != n.get("logs_per_user", 0):  # --log-skew: not a copy
        data = [sum(x["fast"]["profile"]["table_bytes"].values()) for x in (n, scaled)]
        linear = (
            f"linear is ×{data[1] / data[0]:.1f}, the data's bytes ({scaled['logs_per_user']} "
            f"request logs per user against {n['logs_per_user']})"
        )
    return out + [
        BenchRow(f"window at {at}", big["window_s"], fast["window_s"], "the window at N",
                 f"{linear}; steps: {steps_grew}; floors: {floors_grew}"),
        BenchRow(f"fast rollback at {at}", big["rollback_steps"]["restore-database"],
                 fast["rollback_steps"]["restore-database"], "fast rollback at N",
                 f"flat is ×1; its bare swap: {f['swap_s']:.2f} s → {bf['swap_s']:.2f} s"),
        BenchRow(f"peak RSS at {at}", scaled["rss_mib"], n["rss_mib"], "peak RSS at N",
                 "ru_maxrss of each size's own process through its windows; flat is ×1", "MiB"),
    ]  # fmt: skip


def render_table(result: BenchResult) -> Table:
    """The rows as the operator reads them, each pair side by side."""
    m = result.machine
    t = Table(
        title=f"pgcutover bench: N = {result.users} users; {m.get('nproc')} cores, "
        f"{m.get('ram_gib')} GiB, PostgreSQL {m.get('postgresql')}; --jobs {result.jobs}, "
        f"BACKUP_FORMAT={result.backup_format}",
        title_justify="left",
    )
    for col in ("row", "pgcutover", "floor", "ratio", "notes"):
        t.add_column(col, justify="right" if col in ("pgcutover", "floor", "ratio") else "left")
    for r in result.rows:
        fmt = "{:.0f} MiB" if r.unit == "MiB" else "{:.2f} s"
        ratio = "-" if r.ratio is None else f"×{r.ratio:g}"
        t.add_row(
            r.name,
            fmt.format(r.pgcutover),
            fmt.format(r.floor),
            ratio,
            f"floor: {r.floor_name}; {r.notes}",
        )
    return t


# --- a child: one size, each measurement on a fresh copy of that size's template ---------------
