"""Rollback paths on real PostgreSQL: the sealed read-only set-aside schema, the proven restore."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import READER, READER_PASSWORD, admin, fingerprint, make_settings, run_cli
from rules import check_rules, snapshot
from test_backup_proof import journal_lines
from test_failures import app_env, app_state, assert_rolled_back

from pgcutover.db import Database, connect, ident, parse_dsn
from pgcutover.engine import close_run, open_run
from pgcutover.errors import CutoverError
from pgcutover.sandbox.cluster import LocalCluster
from pgcutover.sandbox.demo import APP_ROLE
from pgcutover.settings import default_pg_bindir
from steps.aside_seal import seal_problems
from steps.backup_proof import dumped_counts
from steps.restore_database import restore_database, swap_back, table_counts

ASIDE, APP = "cutover_legacy", "public"
REFUSED = "is set aside read-only for rollback"


def migrate(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    """Run a whole window that must succeed; return the operator's environment."""
    env = app_env(tmp_path, url, **extra)
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return env


def only_run(tmp_path: Path) -> str:
    return sorted((tmp_path / "runs").iterdir())[-1].name


def journal(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "runs" / only_run(tmp_path) / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def last_end(tmp_path: Path, step: str) -> dict[str, Any]:
    return [ln for ln in journal(tmp_path) if ln["step"] == step and ln["event"] == "end"][-1]


@contextmanager
def session(url: str) -> Iterator[Database]:
    db = connect(url, "psycopg", application_name="tests rollback paths")
    try:
        yield db
    finally:
        db.close()


def aside_oids(url: str) -> dict[str, int]:
    with session(url) as db:
        return {
            str(n): int(o)
            for n, o in db.query(
                "SELECT relname, oid FROM pg_class WHERE relnamespace = %s::regnamespace "
                "AND relkind = 'r'",
                [ident(ASIDE)],
            )
        }


def reads(url: str, oids: list[int]) -> dict[int, int]:
    """Scans so far (sequential plus index) of each table, as the statistics system has them."""
    with session(url) as db:
        return {
            int(o): int(n)
            for o, n in db.query(
                "SELECT relid, coalesce(seq_scan, 0) + coalesce(idx_scan, 0) "
                "FROM pg_stat_all_tables WHERE relid = ANY(%s)",
                [oids],
            )
        }


def flush_stats(db: Database, url: str) -> None:
    """Make db's pending statistics visible: a control scan, a forced flush, wait for it."""
    control = db.query("SELECT 'pgcutover.runs'::regclass::oid")[0][0]
    before = reads(url, [control])[control]
    db.query("SELECT count(*) FROM pgcutover.runs")
    db.query("SELECT pg_stat_force_next_flush()")  # flushed, with all else pending, once idle
    wait_for(lambda: reads(url, [control])[control] > before, "the control scan's statistics")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def refused(db: Database, sql: str) -> str:
    """Run a statement that must fail; return the server's message."""
    with pytest.raises(psycopg.Error) as err:
        db.execute(sql)
    return str(err.value)


def superuser(cluster: LocalCluster, url: str) -> Database:
    """Connect to the test's database as the cluster's superuser."""
    return connect(
        cluster.superuser_url(parse_dsn(url)["dbname"]),
        "psycopg",
        application_name="tests superuser",
    )


def reader_url(cluster: LocalCluster, url: str) -> str:
    return (
        f"postgresql://{READER}:{READER_PASSWORD}@127.0.0.1:{cluster.port}/"
        f"{parse_dsn(url)['dbname']}"
    )


def test_set_aside_tables_refuse_every_write(
    tmp_path: Path, legacy_url: str, cluster: LocalCluster
) -> None:
    original = fingerprint(legacy_url)
    env = migrate(tmp_path, legacy_url)
    writes = [
        f'INSERT INTO {ASIDE}."Tool" SELECT * FROM {ASIDE}."Tool" LIMIT 1',
        f'UPDATE {ASIDE}."User" SET name = name || \'!\'',
        f'DELETE FROM {ASIDE}."McpApiKey"',
        f'TRUNCATE {ASIDE}."McpApiKey"',
        f'TRUNCATE {ASIDE}."User" CASCADE',
    ]
    with session(legacy_url) as owner:  # the owner of every table, and of the database
        for sql in writes:
            assert REFUSED in refused(owner, sql), sql
    with session(reader_url(cluster, legacy_url)) as reader:  # a role with a column UPDATE grant
        assert REFUSED in refused(reader, f'UPDATE {ASIDE}."Organization" SET name = \'x\'')
    proc = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert last_end(tmp_path, "restore-database")["details"]["path"] == "swap", proc.stdout
    assert_rolled_back(tmp_path, legacy_url, original)  # the guard triggers are gone again


def _owner_disables(url: str, cluster: LocalCluster) -> None:
    with session(url) as db:
        # DISABLE TRIGGER ALL takes the foreign keys' system triggers too, which only a superuser
        # may; USER is what the owner can do, and it disables the guard.
        db.execute(f'ALTER TABLE {ASIDE}."User" DISABLE TRIGGER USER')
        db.execute(
            f'UPDATE {ASIDE}."User" SET name = \'changed\' WHERE id = '
            f'(SELECT min(id) FROM {ASIDE}."User")'
        )


def _owner_disables_writes_enables(url: str, cluster: LocalCluster) -> None:
    _owner_disables(url, cluster)
    with session(url) as db:
        db.execute(f'ALTER TABLE {ASIDE}."User" ENABLE TRIGGER USER')


def _superuser_disables_all(url: str, cluster: LocalCluster) -> None:
    a = superuser(cluster, url)
    try:
        a.execute(f'ALTER TABLE {ASIDE}."Tool" DISABLE TRIGGER ALL')
        a.execute(
            f'UPDATE {ASIDE}."Tool" SET name = name || \'!\' WHERE id = '
            f'(SELECT min(id) FROM {ASIDE}."Tool")'
        )
        a.execute(f'ALTER TABLE {ASIDE}."Tool" ENABLE TRIGGER ALL')
    finally:
        a.close()


def _superuser_replica_role(url: str, cluster: LocalCluster) -> None:
    """Skip the guard without touching the catalog: only the write counters can tell."""
    oid = aside_oids(url)["McpServer"]

    def updates() -> int:
        with session(url) as db:
            return int(
                db.query("SELECT n_tup_upd FROM pg_stat_all_tables WHERE relid = %s", [oid])[0][0]
            )

    before = updates()
    a = superuser(cluster, url)
    try:
        a.execute("SET session_replication_role = replica")
        a.execute(
            f'UPDATE {ASIDE}."McpServer" SET name = name || \'!\' WHERE id = '
            f'(SELECT min(id) FROM {ASIDE}."McpServer")'
        )
        a.query("SELECT pg_stat_force_next_flush()")
    finally:
        a.close()
    wait_for(lambda: updates() > before, "the superuser's update in the statistics")


def _owner_adds_column(url: str, cluster: LocalCluster) -> None:
    with session(url) as db:
        db.execute(f'ALTER TABLE {ASIDE}."Tool" ADD COLUMN extra int')


def _owner_rewrites(url: str, cluster: LocalCluster) -> None:
    with session(url) as db:
        db.execute(f'VACUUM FULL {ASIDE}."McpApiKey"')


@pytest.mark.parametrize(
    "damage",
    [
        _owner_disables,
        _owner_disables_writes_enables,
        _superuser_disables_all,
        _superuser_replica_role,
        _owner_adds_column,
        _owner_rewrites,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_written_aside_is_refused_and_restored_from_backup(
    tmp_path: Path,
    legacy_url: str,
    cluster: LocalCluster,
    damage: Callable[[str, LocalCluster], None],
) -> None:
    original = fingerprint(legacy_url)
    env = migrate(tmp_path, legacy_url)
    with session(legacy_url) as db:
        counts = table_counts(db, ASIDE)
    damage(legacy_url, cluster)
    with session(legacy_url) as db:
        assert table_counts(db, ASIDE) == counts  # the same row counts: only the seal can tell
        problems = seal_problems(
            db,
            only_run(tmp_path),
            APP,
            ASIDE,
            dumped_counts(tmp_path / "backups" / only_run(tmp_path), APP),
        )
    assert problems
    proc = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    end = last_end(tmp_path, "restore-database")
    assert end["details"]["path"] == "backup" and end["details"]["fast_path_refused"] == problems
    assert_rolled_back(tmp_path, legacy_url, original)


def test_fast_path_reads_no_table_data(tmp_path: Path, legacy_url: str) -> None:
    original = fingerprint(legacy_url)
    env = migrate(tmp_path, legacy_url)
    run_id = only_run(tmp_path)
    dumped = dumped_counts(tmp_path / "backups" / run_id, APP)
    oids = aside_oids(legacy_url)
    with session(legacy_url) as db:
        before = reads(legacy_url, list(oids.values()))
        started = time.monotonic()
        assert seal_problems(db, run_id, APP, ASIDE, dumped) == []
        flush_stats(db, legacy_url)
        assert reads(legacy_url, list(oids.values())) == before, "the seal check read table data"
        # The counters do see a scan: the old row-count check would have moved them.
        db.query(f'SELECT count(*) FROM {ASIDE}."User"')
        flush_stats(db, legacy_url)
        after_scan = reads(legacy_url, list(oids.values()))
        assert after_scan[oids["User"]] > before[oids["User"]]
        assert swap_back(db, run_id, APP, ASIDE, dumped) == []
        elapsed = time.monotonic() - started
        flush_stats(db, legacy_url)
        assert reads(legacy_url, list(oids.values())) == after_scan, "the swap read table data"
    assert elapsed < 5
    proc = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)  # the rest of the way back
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert last_end(tmp_path, "restore-database")["details"]["path"] == "none"
    assert_rolled_back(tmp_path, legacy_url, original)


@pytest.mark.parametrize("driver", ["psycopg", "pg8000"])
def test_fast_path_through_the_cli(tmp_path: Path, legacy_url: str, driver: str) -> None:
    original = fingerprint(legacy_url)
    env = migrate(tmp_path, legacy_url, DB_DRIVER=driver)
    proc = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    end = last_end(tmp_path, "restore-database")
    assert end["details"]["path"] == "swap" and end["duration_s"] < 5
    assert_rolled_back(tmp_path, legacy_url, original)
    with session(legacy_url) as db:
        assert db.query("SELECT released FROM pgcutover.set_aside") == [("swapped back",)]


def failing_restore_bindir(tmp_path: Path) -> Path:
    """A PG_BINDIR whose pg_restore restores the table definitions only, then fails."""
    real = default_pg_bindir()
    assert real is not None
    d = tmp_path / "bin"
    d.mkdir()
    script = d / "pg_restore"
    script.write_text(
        "#!/bin/sh\n"
        f'case "$1" in --version|--list) exec {real}/pg_restore "$@";; esac\n'
        f'{real}/pg_restore --section=pre-data "$@" || true\n'
        'echo "pg_restore: error: could not read from input file: end of file" >&2\n'
        "exit 1\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    (d / "pg_dump").symlink_to(real / "pg_dump")
    return d


@pytest.mark.parametrize(
    "again",
    [["rollback", "--yes"], ["rollback", "--yes", "--from-backup"]],
    ids=["then-fast", "then-from-backup"],
)
def test_failed_restore_keeps_the_aside_schema(
    tmp_path: Path, legacy_url: str, again: list[str]
) -> None:
    original = fingerprint(legacy_url)
    env = migrate(tmp_path, legacy_url)
    aside_rows = snapshot(legacy_url, ASIDE)
    broken = {**env, "PG_BINDIR": str(failing_restore_bindir(tmp_path))}
    failed = run_cli(["rollback", "--yes", "--from-backup"], cwd=tmp_path, env=broken)
    assert failed.returncode != 0
    assert "pg_restore exited 1" in failed.stderr, failed.stderr
    assert snapshot(legacy_url, ASIDE) == aside_rows  # untouched, still the way back
    with session(legacy_url) as db:
        assert db.query(
            "SELECT nspname FROM pg_namespace WHERE nspname IN (%s, %s) ORDER BY 1",
            ["cutover_discard", ASIDE],
        ) == [("cutover_discard",), (ASIDE,)]
        assert table_counts(db, APP) and not any(table_counts(db, APP).values())  # partial
        assert seal_problems(db, only_run(tmp_path), APP, ASIDE, None) == []
    proc = run_cli(again, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    path = last_end(tmp_path, "restore-database")["details"]["path"]
    assert path == ("backup" if "--from-backup" in again else "swap")
    assert_rolled_back(tmp_path, legacy_url, original)


def test_unproven_restore_keeps_the_aside_schema(tmp_path: Path, legacy_url: str) -> None:
    env = migrate(tmp_path, legacy_url)
    aside_rows = snapshot(legacy_url, ASIDE)
    manifest = tmp_path / "backups" / only_run(tmp_path) / "manifest.json"
    data = json.loads(manifest.read_text())
    data["row_counts"]['public.User'] += 1  # the restored copy cannot match: it is not proven
    manifest.write_text(json.dumps(data))
    # The manifest alone edited: it disagrees with the dump's own record, refused up front.
    proc = run_cli(["rollback", "--yes", "--from-backup"], cwd=tmp_path, env=env)
    assert proc.returncode != 0 and "nothing was changed" in proc.stderr, proc.stderr
    assert "row counts are not the ones the dump recorded" in proc.stderr, proc.stderr
    # Both say so (a dump that holds other rows than it recorded): the restore's proof fails.
    record = manifest.with_name("dump.json")
    dumped = json.loads(record.read_text())
    dumped["row_counts"] = data["row_counts"]
    record.write_text(json.dumps(dumped))
    proc = run_cli(["rollback", "--yes", "--from-backup"], cwd=tmp_path, env=env)
    assert proc.returncode != 0
    assert "is not proven" in proc.stderr and "User: " in proc.stderr, proc.stderr
    assert "cutover_legacy is untouched" in proc.stderr, proc.stderr
    assert snapshot(legacy_url, ASIDE) == aside_rows


def test_kill_after_reset_commit_then_resume(tmp_path: Path, legacy_url: str) -> None:
    original, before = fingerprint(legacy_url), snapshot(legacy_url)
    env = app_env(tmp_path, legacy_url, CUTOVER_FAULT="reset:after:kill")
    assert run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env).returncode == -9
    resets = [ln["event"] for ln in journal(tmp_path) if ln["step"] == "reset"]
    assert resets == ["start"], "the kill came after COMMIT, before the end line"
    env.pop("CUTOVER_FAULT")
    proc = run_cli(["migrate-offline", "--resume", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Not run again: skipped on done()'s word (no line), or by reset itself (a "skipped" line).
    ends = [
        ln["outcome"] for ln in journal(tmp_path) if ln["step"] == "reset" and ln["event"] == "end"
    ]
    assert set(ends) <= {"skipped"}, ends
    with session(legacy_url) as db:
        assert db.query("SELECT count(*) FROM pgcutover.set_aside") == [(1,)]
    check_rules(before, snapshot(legacy_url))
    proc = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert last_end(tmp_path, "restore-database")["details"]["path"] == "swap"
    assert_rolled_back(tmp_path, legacy_url, original)


@pytest.mark.parametrize("jobs", [-3, 0, 65, "x", True])
def test_bad_jobs_moves_nothing(tmp_path: Path, legacy_url: str, jobs: object) -> None:
    migrate(tmp_path, legacy_url)
    before = fingerprint(legacy_url)
    settings = make_settings(tmp_path, legacy_url)
    ctx = open_run(settings, command="rollback", run_id=only_run(tmp_path))
    try:
        ctx.state["options"] = {"from_backup": True, "jobs": jobs}
        with pytest.raises(CutoverError) as err:
            restore_database(ctx)
    finally:
        close_run(ctx)
    assert err.value.step == "restore-database" and "--jobs" in err.value.cause
    assert fingerprint(legacy_url) == before


def test_reset_requires_owning_every_table(
    tmp_path: Path, legacy_url: str, cluster: LocalCluster
) -> None:
    a = admin(cluster)
    try:
        a.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
            "'cutover_stranger') THEN CREATE ROLE cutover_stranger; END IF; END $$"
        )
    finally:
        a.close()
    s = superuser(cluster, legacy_url)
    try:  # readable for the backup, but not the app role's to guard
        s.execute('ALTER TABLE public."Tool" OWNER TO cutover_stranger')
        s.execute(f'GRANT ALL ON public."Tool" TO {APP_ROLE}')
    finally:
        s.close()
    original = fingerprint(legacy_url)
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=app_env(tmp_path, legacy_url))
    assert proc.returncode != 0
    # Preflight names it before anything changes
    # (reset would refuse too, as a second line of defence).
    assert proc.stderr.startswith("preflight: the connected role lacks ownership of Tool"), (
        proc.stderr
    )
    assert fingerprint(legacy_url) == original
    assert app_state(tmp_path) == ("v1", False)


@pytest.mark.parametrize(
    "again",
    [["rollback", "--yes"], ["rollback", "--yes", "--from-backup"]],
    ids=["then-fast", "then-from-backup"],
)
def test_a_crash_between_the_swap_and_the_drop_of_the_migrated_schema(
    tmp_path: Path, legacy_url: str, again: list[str]
) -> None:
    original = fingerprint(legacy_url)
    env = migrate(tmp_path, legacy_url)
    # The fast path swaps the legacy schema back and keeps the migrated one as cutover_discard
    # for rollback-finish to drop once the site is back; the run dies in between.
    proc = run_cli(
        ["rollback", "--yes"],
        cwd=tmp_path,
        env={**env, "CUTOVER_FAULT": "rollback-finish:before:kill"},
    )
    assert proc.returncode != 0
    with session(legacy_url) as db:
        schemas = {r[0] for r in db.query("SELECT nspname FROM pg_namespace")}
        legacy_columns = db.query(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = 'UserMcpServerInstance' AND column_name = 'userId'"
        )
    assert "cutover_discard" in schemas and "cutover_legacy" not in schemas
    assert legacy_columns == [(1,)]  # public holds the legacy schema again
    # Finishing the rollback (either way) keeps the legacy data and drops the migrated copy.
    proc = run_cli(again, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_rolled_back(tmp_path, legacy_url, original)
    with session(legacy_url) as db:
        assert not db.query("SELECT 1 FROM pg_namespace WHERE nspname = 'cutover_discard'")


@pytest.mark.parametrize("back", ["swap", "from-backup"])
def test_default_privileges_follow_the_app_schema_and_come_back(
    tmp_path: Path, legacy_url: str, cluster: LocalCluster, back: str
) -> None:
    app = connect(legacy_url, "psycopg", application_name="tests defaults")
    try:
        app.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {READER}")
        app.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO {READER}"
        )
    finally:
        app.close()
    if back == "swap":  # one the app role may not set (a superuser's): named, not carried
        s = superuser(cluster, legacy_url)
        try:
            s.execute(
                f"ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public "
                f"GRANT SELECT ON TABLES TO {READER}"
            )
        finally:
            s.close()
    original = fingerprint(legacy_url)
    assert len(original["default_privileges"]) == (3 if back == "swap" else 2)
    env = migrate(tmp_path, legacy_url)
    (reset,) = [
        ln for ln in journal_lines(tmp_path) if ln["step"] == "reset" and ln["event"] == "end"
    ]
    assert reset["details"]["default_privileges"] == 2, reset
    if back == "swap":
        assert reset["details"]["default_privileges_not_carried"] == ["postgres"], reset
        assert "NOT carried: the default privileges FOR ROLE postgres" in reset["note"]
    app = connect(legacy_url, "psycopg", application_name="tests defaults")
    try:  # a table the new release creates later: the reader gets what it got before
        app.execute("CREATE TABLE public.created_later (id serial)")
        assert app.query(
            f"SELECT has_table_privilege('{READER}', 'public.created_later', 'SELECT'), "
            f"has_sequence_privilege('{READER}', 'public.created_later_id_seq', 'USAGE')"
        )[0] == (True, True)
        app.execute("DROP TABLE public.created_later")
    finally:
        app.close()
    args = ["rollback", "--yes"] + (["--from-backup"] if back == "from-backup" else [])
    done = run_cli(args, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_rolled_back(tmp_path, legacy_url, original)


def test_a_restore_that_failed_after_the_swap_back_keeps_the_legacy_data_it_moved(
    tmp_path: Path, legacy_url: str
) -> None:
    original = fingerprint(legacy_url)
    env = migrate(tmp_path, legacy_url)
    # The fast path swaps the legacy data back into public, then the run dies before
    # rollback-finish: cutover_discard holds the migrated schema, the seal says 'swapped back'.
    killed = run_cli(
        ["rollback", "--yes"],
        cwd=tmp_path,
        env={**env, "CUTOVER_FAULT": "rollback-finish:before:kill"},
    )
    assert killed.returncode != 0
    # A restore from the backup then drops that migrated copy, moves the legacy data in public
    # aside as cutover_discard, and fails part-way: public holds the legacy tables, empty.
    broken = {**env, "PG_BINDIR": str(failing_restore_bindir(tmp_path))}
    failed = run_cli(["rollback", "--yes", "--from-backup"], cwd=tmp_path, env=broken)
    assert failed.returncode != 0 and "pg_restore exited 1" in failed.stderr, failed.stderr
    with session(legacy_url) as db:
        assert table_counts(db, APP) and not any(table_counts(db, APP).values())
        assert any(table_counts(db, "cutover_discard").values())  # the legacy data, moved
    # A plain rollback must not take cutover_discard for the migrated schema: it restores.
    proc = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert last_end(tmp_path, "restore-database")["details"]["path"] == "backup"
    assert_rolled_back(tmp_path, legacy_url, original)


def test_a_completed_rollback_is_not_run_again(tmp_path: Path, legacy_url: str) -> None:
    original = fingerprint(legacy_url)
    env = migrate(tmp_path, legacy_url)
    proc = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_rolled_back(tmp_path, legacy_url, original)
    # Since then the app wrote a row and a new release went out.
    with session(legacy_url) as db:
        db.execute("""UPDATE "User" SET name = 'written since' WHERE id = (
                          SELECT min(id) FROM "User")""")
    (tmp_path / "site" / "release").write_text("v3\n")
    since = fingerprint(legacy_url)
    lines = len(journal_lines(tmp_path))
    again = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert "was already rolled back at" in again.stdout + again.stderr
    refused = run_cli(["rollback", "--yes", "--from-backup"], cwd=tmp_path, env=env)
    assert refused.returncode != 0
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith("rollback: run ") and "nothing was changed" in last, last
    # Neither touched the database, the site or the release, nor wrote to the run's journal.
    assert fingerprint(legacy_url) == since
    assert app_state(tmp_path) == ("v3", False)
    assert len(journal_lines(tmp_path)) == lines
