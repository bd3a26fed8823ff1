"""The forecast: its arithmetic on known rates, and `rehearse --forecast` on real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import app_url, fresh_database, make_settings, run_cli

from pgcutover.compare import database_fingerprint, diff_fingerprints
from pgcutover.db import connect
from pgcutover.errors import CutoverError
from pgcutover.forecast import build_forecast
from pgcutover.forecast_files import statement_growth, tables_named
from pgcutover.forecast_layout import window_seconds
from pgcutover.forecast_profile import DatabaseProfile
from pgcutover.forecast_report import find_forecast, render_markdown
from pgcutover.rehearse import rehearse
from steps.window import MIGRATE_OFFLINE


def profile(sizes: dict[str, int], **settings: str) -> DatabaseProfile:
    return DatabaseProfile(
        identity={"system_identifier": "1", "database_oid": 5, "database": "x"},
        table_bytes=sizes,
        table_rows={t: b // 100 for t, b in sizes.items()},
        settings={"work_mem": "4096kB", **settings},
    )


def end(step: str, seconds: float, **details: Any) -> dict[str, Any]:
    line = {"event": "end", "outcome": "ok", "step": step, "duration_s": seconds}
    return {**line, "details": details}


WINDOW = [
    {"event": "start", "step": "preflight"},
    end("preflight", 1.0, data_s=0.4),
    end("fence", 0.5),
    end("backup", 10.0),
    end(
        "transform",
        7.0,
        files=[{"file": "f1.sql", "duration_s": 4.0}, {"file": "f2.sql", "duration_s": 2.0}],
    ),
    end("verify", 5.0, table_seconds={"a": 2.0, "b": 1.0}),
    {"event": "end", "outcome": "failed", "step": "smoke", "duration_s": 99.0},
]
STAGING = {"a": 100, "b": 100}
TARGET = {"a": 1000, "b": 300}  # a grows 10x, b 3x: not a scaled copy


def test_forecast_scales_each_piece_by_its_own_tables() -> None:
    forecast = build_forecast(
        [WINDOW],
        profile(STAGING),
        profile(TARGET),
        file_tables={"f1.sql": ("a",), "f2.sql": ("b",)},
        backup_fixed_s=1.0,
    )
    everything = 1300 / 200
    expected = {
        "preflight": 0.6 + 0.4 * everything,  # the audit grows, the rest is fixed
        "fence": 0.5,  # fixed
        "backup": 1.0 + 9.0 * everything,  # start-up fixed, the dump grows with all tables
        "transform": 4.0 * 10 + 2.0 * 3 + 1.0,  # per file, by the tables it names; rest fixed
        "verify": 2.0 * 10 + 1.0 * 3 + 2.0 * everything,  # per table; invariants with all
    }
    assert forecast.steps == pytest.approx(expected)
    assert "smoke" not in forecast.steps  # a failed step measured nothing
    # The dump runs beside the transform: the window takes the longer of the two.
    beside = max(expected["backup"], expected["transform"])
    assert forecast.window_s == pytest.approx(
        expected["preflight"] + expected["fence"] + beside + expected["verify"]
    )
    assert forecast.data_ratio == pytest.approx(everything)
    assert forecast.fixed["transform"] == pytest.approx(1.0)
    # One window: the only doubt is the model's margin on what grew (5 %).
    assert forecast.spread["fence"] == 0
    assert forecast.spread["transform"] == pytest.approx(0.05 * 46.0)
    budgets = forecast.budgets()
    assert budgets["BUDGET_FENCE"] == 5  # the floor
    assert budgets["BUDGET_TRANSFORM"] == 74  # ceil((47 + 2.3) * 1.5 = 73.95)


def test_two_windows_average_and_their_spread_counts() -> None:
    slower = [dict(line) for line in WINDOW]
    slower[2] = end("fence", 1.5)
    forecast = build_forecast([WINDOW, slower], profile(STAGING), profile(STAGING), file_tables={})
    assert forecast.steps["fence"] == pytest.approx(1.0)
    assert forecast.spread["fence"] == pytest.approx(0.5)
    assert forecast.measured["fence"] == [0.5, 1.5]
    assert forecast.steps["transform"] == pytest.approx(7.0)  # same data: nothing scales


def test_differences_and_missing_tables_are_named() -> None:
    forecast = build_forecast(
        [WINDOW],
        profile(STAGING),
        profile({**TARGET, "c": 50}, work_mem="64MB"),
        file_tables={},
    )
    assert any(n.startswith("work_mem differs: 4096kB") for n in forecast.notes)
    assert any("tables on one side only" in n and "c" in n for n in forecast.notes)


def test_a_table_empty_on_the_rehearsal_falls_back_on_the_whole_ratio() -> None:
    forecast = build_forecast(
        [[end("transform", 2.0, files=[{"file": "f.sql", "duration_s": 2.0}])]],
        profile({"a": 0, "b": 100}),
        profile({"a": 10, "b": 400}),
        file_tables={"f.sql": ("a",)},
    )
    assert forecast.steps["transform"] == pytest.approx(2.0 * 410 / 100)


def test_tables_named_reads_qualified_names_outside_comments() -> None:
    sql = (
        '-- cutover_legacy."Ghost" is only mentioned\n'
        'INSERT INTO public."User" SELECT * FROM cutover_legacy."User" u\n'
        'JOIN cutover_legacy.plain p ON true JOIN other."Organization" o ON true;'
    )
    found = tables_named(sql, ("cutover_legacy", "public"), {"User", "plain", "Ghost", "Org"})
    assert found == ("User", "plain")


def test_the_markdown_has_budgets_to_paste() -> None:
    forecast = build_forecast([WINDOW], profile(STAGING), profile(TARGET), file_tables={})
    doc = {
        **forecast.as_dict(),
        "forecast_for": "prod",
        "target_identity": {"target": "db@prod", "database": "app"},
        "rehearsal_identity": {"target": "db@staging"},
        "rehearsal_run": "20261130T000000Z-abcd",
        "made_at": "now",
    }
    text = render_markdown(doc)
    assert "BUDGET_TRANSFORM=" in text and "whole window:" in text


def test_rehearse_forecasts_another_database_and_never_changes_it(
    tmp_path: Path, legacy_url: str, cluster, template: str, app_password: str
) -> None:
    with fresh_database(cluster, template) as prod_name:
        prod_url = app_url(cluster, app_password, prod_name)
        # Production holds three times the request logs of the rehearsal's database.
        db = connect(prod_url, "psycopg")
        try:
            rest = (
                '"userId", "mcpServerInstanceId", "toolName", "transportType", "method", '
                '"responseStatus", "durationMs", "errorMessage", "errorCode", "inputBytes", '
                '"outputBytes", "organizationId", "userAgent", "createdAt"'
            )
            db.execute(
                f'INSERT INTO public."McpServerRequestLog" ("id", {rest}) '
                f'SELECT gen_random_uuid()::text, {rest} FROM public."McpServerRequestLog", '
                "generate_series(1, 2)"
            )
            db.execute('ANALYZE public."McpServerRequestLog"')
        finally:
            db.close()
        prod = make_settings(tmp_path / "prod", prod_url)
        before = database_fingerprint(prod_url, "psycopg")
        settings = make_settings(tmp_path, legacy_url)
        report = rehearse(settings, yes=True, base_dir=tmp_path, forecast_for=prod)
        assert report.passed
        assert diff_fingerprints(before, database_fingerprint(prod_url, "psycopg")) == []
        doc = report.forecast
        assert doc is not None
        run_dir = settings.runs_dir / report.run_ids["migrate-offline"]
        on_disk = json.loads((run_dir / "forecast.json").read_text())
        assert on_disk["steps"] == doc["steps"] and on_disk["window_s"] == doc["window_s"]
        assert set(doc["steps"]) >= {"preflight", "backup", "transform", "verify"}
        # The dump and its proof run beside the window: they add only what outlasts it.
        assert doc["window_s"] == pytest.approx(
            window_seconds(doc["steps"], MIGRATE_OFFLINE), abs=0.01
        )
        assert doc["window_s"] < sum(doc["steps"].values())
        logs = "McpServerRequestLog"
        assert doc["target"]["table_bytes"][logs] > 2 * doc["rehearsal"]["table_bytes"][logs]
        assert "BUDGET_BACKUP=" in (run_dir / "forecast.md").read_text()
        # The windows' WAL was measured, and the target's forecast from it.
        assert (
            doc["wal_bytes"] > 0
            and "WAL the window will write" in (run_dir / "forecast.md").read_text()
        )
        assert app_password not in (run_dir / "forecast.json").read_text()
        # The copy where prod's runs live is found by prod's identity, not by staging's.
        assert find_forecast(prod.runs_dir, doc["target_identity"]) == on_disk
        assert find_forecast(prod.runs_dir, doc["rehearsal_identity"]) is None
        assert "Forecast for" in Path(report.report_md).read_text()


def test_an_unreachable_forecast_profile_refuses_before_anything_changes(
    tmp_path: Path, legacy_url: str
) -> None:
    bad = make_settings(tmp_path / "bad", legacy_url.rsplit("/", 1)[0] + "/no_such_database")
    settings = make_settings(tmp_path, legacy_url)
    before = database_fingerprint(legacy_url, "psycopg")
    with pytest.raises(CutoverError, match="^rehearse: --forecast"):
        rehearse(settings, yes=True, base_dir=tmp_path, forecast_for=bad)
    assert diff_fingerprints(before, database_fingerprint(legacy_url, "psycopg")) == []
    assert not settings.runs_dir.exists() or not any(settings.runs_dir.iterdir())


def test_a_forecast_of_a_database_without_the_legacy_schema_is_refused(
    tmp_path: Path, legacy_url: str, empty_url: str
) -> None:
    # An empty or already migrated database has no window to forecast: its tables would be
    # read as legacy ones.
    settings = make_settings(tmp_path, legacy_url)
    before = database_fingerprint(legacy_url, "psycopg")
    with pytest.raises(CutoverError, match="holds no application tables.*no window to forecast"):
        rehearse(
            settings,
            yes=True,
            base_dir=tmp_path,
            forecast_for=make_settings(tmp_path / "e", empty_url),
        )
    assert diff_fingerprints(before, database_fingerprint(legacy_url, "psycopg")) == []


def test_forecast_flag_needs_a_name(tmp_path: Path, legacy_url: str) -> None:
    before = database_fingerprint(legacy_url, "psycopg")
    env = {"DATABASE_URL": legacy_url}
    for name, cause in ((" ", "--forecast needs a profile name"), ("nope", "unknown profile")):
        proc = run_cli(["rehearse", "--yes", "--forecast", name], cwd=tmp_path, env=env)
        assert proc.returncode != 0
        assert cause in proc.stderr.strip().splitlines()[-1]
    assert diff_fingerprints(before, database_fingerprint(legacy_url, "psycopg")) == []


def test_a_catalog_invariant_stays_fixed_and_a_data_invariant_grows() -> None:
    line = end(
        "verify",
        4.0,
        table_seconds={"a": 1.0},
        invariant_seconds={"shape.sql": 0.5, "rules.sql": 1.5},
    )
    forecast = build_forecast(
        [[line]],
        profile(STAGING),
        profile(TARGET),
        file_tables={"shape.sql": (), "rules.sql": ("b",)},
    )
    # a: 1.0 x 10; shape: fixed 0.5; rules: 1.5 x 3 (b); the other 1.0 s grows with all (6.5)
    assert forecast.steps["verify"] == pytest.approx(10.0 + 0.5 + 4.5 + 6.5)


def test_the_dump_grows_with_bytes_and_row_work_with_rows() -> None:
    staging = DatabaseProfile({}, {"a": 100}, {"a": 10}, {})
    target = DatabaseProfile({}, {"a": 500}, {"a": 100}, {})  # wider rows: bytes ×5, rows ×10
    forecast = build_forecast(
        [[end("backup", 2.0), end("verify", 1.0, table_seconds={"a": 1.0})]],
        staging,
        target,
        file_tables={},
    )
    assert forecast.steps["backup"] == pytest.approx(2.0 * 5)
    assert forecast.steps["verify"] == pytest.approx(1.0 * 10)


def test_rows_never_estimated_fall_back_on_bytes() -> None:
    staging = DatabaseProfile({}, {"a": 100}, {"a": 0}, {})  # never analyzed: reltuples unknown
    target = DatabaseProfile({}, {"a": 300}, {"a": 1000}, {})
    forecast = build_forecast(
        [[end("verify", 1.0, table_seconds={"a": 1.0})]], staging, target, file_tables={}
    )
    assert forecast.steps["verify"] == pytest.approx(3.0)


def test_analyze_grows_with_its_capped_sample_not_with_the_data() -> None:
    assert statement_growth("-- for the planner\nANALYZE public.a;\nanalyze b;\n") == "sample"
    assert statement_growth("ANALYZE a; CREATE INDEX i ON a (x);") == "sort"
    assert statement_growth("-- nothing\n") == "sort"
    settings = {"default_statistics_target": "100"}  # a sample of 30,000 rows, as many blocks
    page = 8192
    staging = DatabaseProfile(
        {}, {"big": 10_000 * page, "small": 100 * page}, {"big": 10**6, "small": 10**4}, settings
    )
    target = DatabaseProfile(
        {}, {"big": 100_000 * page, "small": 1_000 * page}, {"big": 10**7, "small": 10**5}, settings
    )
    forecast = build_forecast(
        [[end("transform", 3.1, files=[{"file": "9_analyze.sql", "duration_s": 3.1}])]],
        staging,
        target,
        file_tables={"9_analyze.sql": ()},
        grows_by={"9_analyze.sql": "sample"},
    )
    # Blocks read: 10,000 + 100 before (every block), 30,000 + 1,000 after (the cap, every block).
    assert forecast.steps["transform"] == pytest.approx(3.1 * 31_000 / 10_100)


def test_a_rehearsal_in_cache_for_a_target_that_is_not_is_named_and_widens() -> None:
    small = DatabaseProfile({}, {"a": 10 * 2**20}, {"a": 1}, {"shared_buffers": "128MB"})
    big = DatabaseProfile({}, {"a": 100 * 2**20}, {"a": 10}, {"shared_buffers": "128MB"})
    crossed = build_forecast([[end("verify", 1.0)]], small, big, file_tables={})
    assert any("had 100% of it room in shared_buffers (128 MiB)" in n for n in crossed.notes)
    assert any("will have 64%" in n for n in crossed.notes), crossed.notes
    # The same ratio inside one regime (both far outside the cache): no note, the model's 5 %.
    large = DatabaseProfile({}, {"a": 1000 * 2**20}, {"a": 1}, {"shared_buffers": "128MB"})
    huge = DatabaseProfile({}, {"a": 10000 * 2**20}, {"a": 10}, {"shared_buffers": "128MB"})
    same = build_forecast([[end("verify", 1.0)]], large, huge, file_tables={})
    assert not any("shared_buffers" in n for n in same.notes), same.notes
    assert same.spread["verify"] == pytest.approx(0.05 * 10)
    # Crossing the cache: the spread allows 5 % + 20 % of the growing time.
    assert crossed.spread["verify"] == pytest.approx(0.25 * 10)


def test_a_target_window_past_max_wal_size_is_named() -> None:
    settings = {"shared_buffers": "16GB", "max_wal_size": "1GB"}
    small = DatabaseProfile({}, {"a": 10 * 2**20}, {"a": 1}, settings)
    big = DatabaseProfile({}, {"a": 100 * 2**20}, {"a": 10}, settings)
    window = [end("transform", 1.0, wal_bytes=200 * 2**20), end("verify", 1.0)]
    forecast = build_forecast([window], small, big, file_tables={})
    assert any(
        "about 2,000 MiB of WAL, more than its max_wal_size (1,024 MiB" in n for n in forecast.notes
    )
    assert forecast.wal_bytes == pytest.approx(2000 * 2**20)  # the rehearsal's × the data's ratio
    # Under the limit on both sides, or over it already in the rehearsal: nothing to name.
    window[0] = end("transform", 1.0, wal_bytes=50 * 2**20)
    assert build_forecast([window], small, big, file_tables={}).notes == []
    window[0] = end("transform", 1.0, wal_bytes=2000 * 2**20)
    assert build_forecast([window], small, big, file_tables={}).notes == []


def test_side_by_side_statements_grow_n_log_n() -> None:
    sql = (
        'CREATE UNIQUE INDEX "a_k" ON public.a ("k");\n'
        "ALTER TABLE public.a\n  ADD CONSTRAINT a_fk FOREIGN KEY (b) REFERENCES public.b (id);"
    )
    assert statement_growth(sql) == "sort"
    staging = DatabaseProfile({}, {"a": 1}, {"a": 1_000}, {})
    target = DatabaseProfile({}, {"a": 10}, {"a": 10_000}, {})
    forecast = build_forecast(
        [[end("transform", 1.0, files=[{"file": "6_idx.sql", "duration_s": 1.0}])]],
        staging,
        target,
        file_tables={"6_idx.sql": ("a",)},
        grows_by={"6_idx.sql": "sort"},
    )
    # 10 × log(10,000) / log(1,000) = 13.3: a sort of ten times the rows costs a third more per row
    assert forecast.steps["transform"] == pytest.approx(10 * 4 / 3, rel=1e-3)
