"""`invoke bench` on a small size: every row there and sane, and nothing left behind.

Only the output's correctness is checked, never a timing threshold: timings depend on the machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pgcutover.bench import bench_command, run_bench, writable_out
from pgcutover.errors import CutoverError

USERS, SCALE = 200, 2
SKEW = 3  # the scaled database is not a scaled copy: three times the request logs per user
ROWS = [
    "backup",
    "transform",
    "transform vs row-by-row peer",
    "verify",
    "window, each step in line (--no-overlap)",
    "window (maintenance on → off)",
    "progress watching",
    "fast rollback (swap back)",
    "restore-path rollback (--from-backup)",
    f"window at {SCALE}·N ({USERS * SCALE}) vs N",
    f"fast rollback at {SCALE}·N ({USERS * SCALE}) vs N",
    f"peak RSS at {SCALE}·N ({USERS * SCALE}) vs N",
    f"forecast of the {SCALE}·N window ({SKEW}× the request logs per user) from N",
]


def test_a_small_bench_writes_every_row_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"
    monkeypatch.setenv("RUNS_DIR", str(runs))  # the default output goes to RUNS_DIR
    result = run_bench(
        users=USERS, scale=SCALE, jobs=None, out=None, base_dir=tmp_path, log_skew=SKEW
    )

    out = Path(result.out)
    assert out.parent == runs and out.name.startswith("bench-") and out.suffix == ".json"
    data = json.loads(out.read_text())
    assert [r["name"] for r in data["rows"]] == ROWS
    for row in data["rows"]:
        assert row["pgcutover"] > 0 and row["floor"] > 0 and row["ratio"] > 0, row
        assert row["floor_name"] and row["unit"] in ("s", "MiB"), row
    assert data["users"] == USERS and data["scale"] == SCALE and data["jobs"] >= 1
    assert data["machine"]["nproc"] >= 1 and data["machine"]["postgresql"]

    n, scaled = data["sizes"]["n"], data["sizes"]["scaled"]
    assert (n["users"], scaled["users"]) == (USERS, USERS * SCALE)
    logs = "public.McpServerRequestLog"
    assert n["fast"]["target_rows"][logs] == 12 * USERS
    assert scaled["fast"]["target_rows"][logs] == 12 * SKEW * USERS * SCALE
    assert "(36 request logs per user against 12)" in data["rows"][-4]["notes"]
    # The transform floor moves exactly the rows the transform step moves, table by table.
    transformed = n["fast"]["target_rows"]
    assert n["floors"]["floor_rows"] == transformed
    assert len(transformed) == 13 and transformed["public.User"] == USERS
    assert transformed["public.Organization"] > USERS  # the team ones plus one personal per user
    # Each rollback took the path its row names.
    assert n["fast"]["rollback_path"] == scaled["fast"]["rollback_path"] == "swap"
    assert n["restore"]["rollback_path"] == "backup"
    # Each step's row times it alone: from the window run with --no-overlap, in line.
    alone = n["alone"]
    assert alone["target_rows"] == transformed and alone["rollback_path"] == "swap"
    by_name = {r["name"]: r for r in data["rows"]}
    for step in ("backup", "transform", "verify"):
        assert by_name[step]["pgcutover"] == alone["steps"][step], step
        assert "with --no-overlap" in by_name[step]["notes"], step
    assert by_name["window, each step in line (--no-overlap)"]["pgcutover"] == alone["window_s"]
    assert "profile" not in alone  # the forecast reads the overlapped windows only
    ends = [ln["step"] for ln in alone["window_lines"]]
    assert ends.index("backup-proof") < ends.index("deploy-schema")  # in line, in plan order
    # The peer's sample is every user here (min(N, 1000)), so nothing is extrapolated.
    peer = n["floors"]["row_by_row"]
    assert peer["sample_users"] == USERS and peer["extrapolated_s"] == peer["seconds"]
    assert peer["rows_written"] == sum(transformed.values())
    assert n["rss_mib"] > 0 and scaled["rss_mib"] > 0
    assert 0 <= n["fast"]["progress_s"] < n["fast"]["window_s"]
    # The forecast row is made as `rehearse --forecast` makes one: N's profile and windows.
    assert (
        scaled["fast"]["profile"]["table_bytes"]["User"]
        > n["fast"]["profile"]["table_bytes"]["User"]
    )
    forecast = data["rows"][-1]
    assert forecast["floor"] == scaled["fast"]["window_s"] and "transform" in forecast["notes"]
    assert "the measured window is " in forecast["notes"]

    # Cleaned up: no bench database was left, the cluster stopped, .bench/ removed.
    assert data["databases_left"] == [] and data["cluster_stopped"] is True
    assert not (tmp_path / ".bench").exists()


@pytest.mark.parametrize(
    "users, scale, jobs, error",
    [
        (10, 1, None, "--users must be 40 to 1000000"),
        (200_000, 10, None, "--scale must be 1 or more"),
        (1000, 0, None, "--scale must be 1 or more"),
        (1000, 1, 65, "--jobs must be 1 to 64"),
    ],
)
def test_bad_flags_are_refused_before_a_cluster_starts(
    tmp_path: Path, users: int, scale: int, jobs: int | None, error: str
) -> None:
    with pytest.raises(CutoverError, match=error):
        run_bench(users=users, scale=scale, jobs=jobs, out=tmp_path / "x.json", base_dir=tmp_path)
    assert not (tmp_path / ".bench").exists() and not (tmp_path / "x.json").exists()


def test_an_unknown_backup_format_is_refused_before_a_cluster_starts(tmp_path: Path) -> None:
    with pytest.raises(
        CutoverError, match="--backup-format must be directory or custom, not 'tar'"
    ):
        bench_command(
            users=1000, scale=1, jobs=None, out=None, base_dir=tmp_path, backup_format="tar"
        )
    assert not (tmp_path / ".bench").exists()


@pytest.mark.parametrize(
    "scale, skew, error",
    [
        (2, "0", "--log-skew must be 1 to 10, not 0"),
        (2, "11", "--log-skew must be 1 to 10, not 11"),
        (2, "x", "--log-skew 'x' is not a whole number"),
        (1, "3", "--log-skew shapes the N × SCALE database: give --scale 2 or more"),
    ],
)
def test_a_silly_log_skew_is_refused_before_a_cluster_starts(
    tmp_path: Path, scale: int, skew: str, error: str
) -> None:
    with pytest.raises(CutoverError, match=error):
        bench_command(
            users=1000, scale=scale, jobs=None, out=None, base_dir=tmp_path, log_skew=skew
        )
    assert not (tmp_path / ".bench").exists()


def test_an_out_it_could_not_write_is_refused_before_a_cluster_starts(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory\n")
    for out, error in (
        (tmp_path, "is a directory: give a file path"),
        (tmp_path / "a-file" / "bench.json", "cannot make"),
    ):
        with pytest.raises(CutoverError, match=error):
            run_bench(users=1000, scale=1, jobs=None, out=out, base_dir=tmp_path)
        assert not (tmp_path / ".bench").exists()
    # A missing directory is made up front, as the JSON's write would make it after the run.
    writable_out(tmp_path / "new" / "bench.json")
    assert (tmp_path / "new").is_dir()
