"""Step 8, verify: invariants (rows returned = violations) and R11 reconciliation, into a report."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pgcutover.apply_sql import set_run_parameters
from pgcutover.db import DB_ERRORS, Database, error_text, ident, select_each
from pgcutover.errors import CutoverError
from pgcutover.journal import iso, utc_now
from pgcutover.migration import Migration, SqlFile
from pgcutover.run import RunContext, Step, StepOutcome
from pgcutover.settings import Settings
from pgcutover.window_jobs import window_jobs
from pgcutover.window_session import tune_window_session
from steps.backup_proof import dumped_counts
from steps.set_aside import schema_tables
from steps.verify_reconcile import reconcile, run_query
from steps.verify_report import write_report

STEP = "verify"
SAMPLE = 5
SHOWN = 3  # violations named in the one-line error; the report keeps SAMPLE of them


def pin_search_path(db: Database, migration: Migration) -> None:
    """Pin this transaction's search_path, so catalog deparsing reads alike on every database."""
    # pg_get_expr and pg_get_constraintdef qualify a name only when it is off the search_path: a
    # role's or database's own setting must not change what the schema-shape check compares.
    db.execute(f"SET LOCAL search_path = pg_catalog, {ident(migration.app_schema)}")


def run_file(db: Database, f: SqlFile) -> list[tuple[Any, ...]]:
    """Run one verify query file, naming the file when the server refuses it."""
    return run_query(db, f.name, f.text)


def check_invariants(db: Database, migration: Migration) -> list[dict[str, Any]]:
    """Run each invariant query; every row it returns is a violation."""
    results = []
    for f in migration.invariants:
        started = time.monotonic()
        rows = run_file(db, f)
        results.append(
            {
                "check": f.name,
                "violations": len(rows),
                "sample": [str(r[0]) for r in rows[:SAMPLE]],
                # A catalog check costs the same at any size, a data check grows: the forecast
                # tells them apart by the tables the file names.
                "seconds": round(time.monotonic() - started, 3),
            }
        )
    return results


def table_columns(db: Database, schema: str, table: str) -> list[str]:
    """List a table's columns in their order, from the catalog ([] if there is no such table)."""
    return [
        str(r[0])
        for r in db.query(
            "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
            "AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            [schema, table],
        )
    ]


def dropped_columns(db: Database, migration: Migration) -> list[dict[str, Any]]:
    """List each dropped-by-design column with how many non-NULL values it held (one query)."""
    aside = migration.aside_schema
    columns = []  # (table, column, rule) in the plan's order; a dropped table's in column order
    for d in migration.dropped:
        names = [d.column] if d.column is not None else table_columns(db, aside, d.table)
        columns += [(d.table, c, d.rule) for c in names]
    try:
        counts = select_each(
            db, [f"SELECT count({ident(c)}) FROM {ident(aside)}.{ident(t)}" for t, c, _ in columns]
        )
    except DB_ERRORS as exc:
        raise CutoverError(
            STEP, f"counting the dropped-by-design columns failed: {error_text(exc)}"
        ) from None
    return [
        {"table": t, "column": c, "rule": r, "non_null_values": int(n)}
        for (t, c, r), n in zip(columns, counts, strict=True)
    ]


def missing_results(
    migration: Migration,
    invariants: list[dict[str, Any]],
    tables: list[dict[str, Any]],
    aside_tables: list[str],
) -> list[str]:
    """Name every expected check or table the results lack: no result may read as a pass."""
    aside, dropped = migration.aside_schema, set(migration.dropped_tables)
    ran = {i["check"] for i in invariants}
    names = [t["table"] for t in tables]
    problems = [
        f"invariant {f.name} did not run" for f in migration.invariants if f.name not in ran
    ]
    if not aside_tables:
        problems.append(f"schema {aside} holds no tables to reconcile against")
    problems += [
        f"{t} is missing from the reconcile ({migration.reconcile.name}): a table of "
        f"{aside} not declared dropped by design"
        for t in aside_tables
        if t not in names and t not in dropped
    ]
    problems += [
        f"{t} is reconciled {names.count(t)} times"
        for t in sorted(set(names))
        if names.count(t) > 1
    ]
    problems += [
        f"{t} is reconciled but is not a table of {aside}"
        for t in sorted(set(names))
        if t not in aside_tables
    ]
    problems += [
        f"{t} is declared dropped by design (plan.toml) but is not a table of {aside}"
        for t in sorted(dropped)
        if t not in aside_tables
    ]
    problems += [
        f"{t} is declared dropped by design (plan.toml) but reconciled"
        for t in sorted(dropped)
        if t in names
    ]
    return problems


def check_against_backup(ctx: RunContext, tables: list[dict[str, Any]]) -> list[str]:
    """Check legacy row counts against the dump's (data set aside = data dumped).

    The dump's record is enough: its proof may still be running beside the window.
    """
    counts = dumped_counts(ctx.backup_dir, ctx.migration.app_schema)
    if counts is None:
        return ["no backup record to check the legacy row counts against"]
    problems = []
    for t in tables:
        dumped = counts.get(t["table"])
        if dumped != t["legacy_rows"]:
            problems.append(
                f"{t['table']} ({t['legacy_rows']} legacy rows now, {dumped} in the backup)"
            )
    return problems


def verify_database(ctx: RunContext) -> dict[str, Any]:
    """Run every check in one read-only snapshot and return the report."""
    db, migration = ctx.db, ctx.migration
    jobs = window_jobs(ctx, STEP)  # asked here, not in the reconcile's thread: one user of db
    with db.transaction():
        db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        set_run_parameters(ctx, db)
        # The invariants' joins and sorts get the window's memory and no JIT, as the reconcile's
        # workers do (JIT compiled 0001's plan for 30 ms of its 160 ms at 20,000 users).
        tune_window_session(db, ctx.settings.window_session)
        pin_search_path(db, migration)
        # The reconcile's workers check tables in this same snapshot while the invariants run.
        snapshot = str(db.query("SELECT pg_export_snapshot()")[0][0])
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconcile") as pool:
            tables = pool.submit(reconcile, ctx, snapshot, jobs=jobs, progress=ctx.progress)
            invariants = check_invariants(db, migration)
            dropped = dropped_columns(db, migration)
            reconciled = tables.result()
        report = {
            "run": ctx.run_id,
            "migration": migration.name,
            "at": iso(utc_now()),
            "migration_ts": ctx.migration_ts,
            "jobs": jobs,
            "invariants": invariants,
            "tables": reconciled,
            "dropped_by_design": dropped,
            "audit": ctx.state.get("preflight", {}).get("audit", []),
        }
        # What the reconcile must cover: the set-aside schema's tables, from the catalog.
        aside_tables = schema_tables(db, migration.aside_schema, partitions=False)
    report["missing_results"] = missing_results(
        migration, report["invariants"], report["tables"], aside_tables
    )
    report["backup_mismatches"] = check_against_backup(ctx, report["tables"])
    report["passed"] = (
        not report["missing_results"]
        and all(i["violations"] == 0 for i in report["invariants"])
        and all(t["match"] for t in report["tables"])
        and not report["backup_mismatches"]
    )
    return report


def run(ctx: RunContext) -> StepOutcome:
    report = verify_database(ctx)
    write_report(ctx.run_dir, report)
    bad_checks = [
        f"{i['check']} ({i['violations']}: {'; '.join(i['sample'][:SHOWN])})"
        for i in report["invariants"]
        if i["violations"]
    ]
    bad_tables = [
        f"{t['table']} ({t['legacy_rows']} legacy / {t['target_rows']} target rows, checksums "
        f"{'match' if t['legacy_checksum'] == t['target_checksum'] else 'differ'})"
        for t in report["tables"]
        if not t["match"]
    ]
    bad_backup = [f"legacy rows differ from the backup: {p}" for p in report["backup_mismatches"]]
    problems = report["missing_results"] + bad_checks + bad_tables + bad_backup
    if problems:
        raise CutoverError(STEP, "; ".join(problems) + f" — see {ctx.run_dir / 'report.md'}")
    rows = sum(t["target_rows"] for t in report["tables"])
    return StepOutcome(
        note=f"{len(report['tables'])} tables reconciled ({rows} rows), "
        f"{len(report['invariants'])} invariants hold; report.md written",
        details={
            "passed": True,
            "tables": len(report["tables"]),
            "rows": rows,
            "table_seconds": {t["table"]: t["seconds"] for t in report["tables"]},
            "invariant_seconds": {i["check"]: i["seconds"] for i in report["invariants"]},
            # The connections its tables were checked on: the forecast lays them out again.
            "jobs": report["jobs"],
        },
    )


def describe(settings: Settings, migration: Migration) -> list[str]:
    dropped = ", ".join(migration.dropped_tables) or "none"
    return [
        *[f"invariant {f.name}: any row returned fails the step" for f in migration.invariants],
        f"reconcile {migration.reconcile.name}: counts and checksums of its "
        f"{len(migration.reconcile.tables)} tables, a query each; every table of "
        f"{migration.aside_schema} must be there (dropped by design: {dropped})",
        "count the non-NULL values of each column dropped by design (plan.toml); "
        "write RUNS_DIR/<run-id>/report.md and report.json",
    ]


VERIFY = Step(STEP, 300, run, describe)
