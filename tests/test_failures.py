"""Failure safety, real PostgreSQL: faults at each step boundary, rollback/resume judged on data."""

from __future__ import annotations

import os
import re
import resource
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import fingerprint, invoke_argv, run_cli
from rules import check_rules, snapshot

from pgcutover.compare import BOOKKEEPING_SCHEMA, Fingerprint
from pgcutover.db import connect
from steps.window import STEP_NAMES

# Before each step, inside the transform's loads, among its index builds (the loads committed,
# some keys built), and right after each step's work committed (before its end line): the crash
# an operator fears most.
POINTS = (
    [f"{s}:before" for s in STEP_NAMES]
    + ["transform:middle", "transform:keys"]
    + [f"{s}:after" for s in STEP_NAMES]
)


def app_env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    """An operator's environment with real app commands that leave traces in tmp_path."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "release").write_text("v1\n")
    return {
        "DATABASE_URL": url,
        "BACKUP_DIR": str(tmp_path / "backups"),
        "RUNS_DIR": str(tmp_path / "runs"),
        "FENCE_WAIT": "5",
        "MAINTENANCE_ON_CMD": f"touch {site}/maintenance",
        "MAINTENANCE_OFF_CMD": f"rm -f {site}/maintenance",
        "CURRENT_VERSION_CMD": f"cat {site}/release",
        "DEPLOY_CMD": f"echo {{version}} > {site}/release",
        "DEPLOY_VERSION": "v2",
        **extra,
    }


def app_state(tmp_path: Path) -> tuple[str, bool]:
    site = tmp_path / "site"
    return (site / "release").read_text().strip(), (site / "maintenance").exists()


def without_bookkeeping(fp: Fingerprint) -> Fingerprint:
    """The bookkeeping schema is pgcutover's own record of the window; all else must match."""
    return {**fp, "schemas": {k: v for k, v in fp["schemas"].items() if k != BOOKKEEPING_SCHEMA}}


def without_schema(fp: Fingerprint, schema: str) -> Fingerprint:
    """The fingerprint minus one schema and every object in it.

    Off the search path an object's name is schema-qualified (cutover_legacy."User".id), and a
    comment's is its type, then that name (table cutover_legacy."User", schema cutover_legacy).
    """
    own = re.compile(rf"(^| ){re.escape(schema)}(\.|$)")
    return {
        section: {name: fields for name, fields in objects.items() if not own.search(name)}
        for section, objects in fp.items()
    }


def assert_rolled_back(tmp_path: Path, url: str, original: Fingerprint) -> None:
    assert without_bookkeeping(fingerprint(url)) == without_bookkeeping(original)
    assert app_state(tmp_path) == ("v1", False)


def assert_migrated(url: str, before: dict) -> None:
    check_rules(before, snapshot(url))


@pytest.mark.parametrize("kind", ["error", "kill", "restart"])
@pytest.mark.parametrize("point", POINTS)
def test_fault_then_rollback_and_resume(
    tmp_path: Path,
    cluster,
    template: str,
    app_password: str,
    point: str,
    kind: str,
    restart_cmd: str,
) -> None:
    from conftest import app_url, fresh_database

    for recovery in ("rollback", "resume"):
        with fresh_database(cluster, template) as name:
            url = app_url(cluster, app_password, name)
            work = tmp_path / recovery
            work.mkdir()
            original, before = fingerprint(url), snapshot(url)
            env = app_env(work, url, CUTOVER_FAULT=f"{point}:{kind}", CUTOVER_FAULT_CMD=restart_cmd)
            failed = run_cli(
                ["migrate-offline", "--yes", "--on-failure", "pause"], cwd=work, env=env
            )
            # A server restart after the last database step cannot hurt the window: it completes.
            completed = kind == "restart" and (
                point.startswith("maintenance-off:") or point == "smoke:after"
            )
            assert (failed.returncode == 0) == completed, failed.stdout + failed.stderr
            assert "Traceback" not in failed.stderr
            env.pop("CUTOVER_FAULT")
            if completed and recovery == "resume":  # nothing to resume: refused, nothing touched
                migrated = fingerprint(url)
                proc = run_cli(["migrate-offline", "--resume", "--yes"], cwd=work, env=env)
                assert proc.returncode != 0 and "completed" in proc.stderr, proc.stderr
                assert fingerprint(url) == migrated
                assert_migrated(url, before)
                continue
            if recovery == "rollback":
                proc = run_cli(["rollback", "--yes"], cwd=work, env=env)
                if (
                    "nothing to roll back" in proc.stderr
                ):  # only true when no step past preflight started
                    assert proc.returncode != 0
                    started = {
                        ln
                        for ln in next((work / "runs").glob("*/journal.jsonl"))
                        .read_text()
                        .splitlines()
                        if '"event": "start"' in ln and '"step": "preflight"' not in ln
                    }
                    assert not started and point in (
                        "preflight:before",
                        "preflight:after",
                        "maintenance-on:before",
                    )
                    assert without_bookkeeping(fingerprint(url)) == without_bookkeeping(original)
                    continue
                assert proc.returncode == 0, proc.stdout + proc.stderr
                assert_rolled_back(work, url, original)
                again = run_cli(["rollback", "--yes"], cwd=work, env=env)  # safe to run twice
                assert again.returncode == 0, again.stderr
                assert_rolled_back(work, url, original)
            else:
                proc = run_cli(["migrate-offline", "--resume", "--yes"], cwd=work, env=env)
                assert proc.returncode == 0, proc.stdout + proc.stderr
                assert_migrated(url, before)
                assert app_state(work) == ("v2", False)


@pytest.mark.parametrize(
    "point",
    ["backup:after", "transform:middle", "transform:keys", "verify:before", "deploy-app:before"],
)
def test_failure_rolls_back_at_once_by_default(tmp_path: Path, legacy_url: str, point: str) -> None:
    original = fingerprint(legacy_url)
    proc = run_cli(
        ["migrate-offline", "--yes"],
        cwd=tmp_path,
        env=app_env(tmp_path, legacy_url, CUTOVER_FAULT=f"{point}:error"),
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert (
        last.startswith(point.split(":")[0] + ": injected fault") and "rollback completed" in last
    ), last
    assert_rolled_back(tmp_path, legacy_url, original)


def test_a_failure_taking_the_site_live_pauses_instead_of_rolling_back(
    tmp_path: Path, legacy_url: str
) -> None:
    # maintenance-off may fail after some hosts went live: users may be writing to the migrated
    # database, and an automatic rollback would drop what they wrote.
    before = snapshot(legacy_url)
    env = app_env(tmp_path, legacy_url, CUTOVER_FAULT="maintenance-off:after:error")
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode != 0
    said = " ".join(proc.stdout.split())
    assert "no rollback was started" in said and "Resume:" in said, said
    assert "rollback completed" not in proc.stderr, proc.stderr
    assert_migrated(legacy_url, before)
    assert app_state(tmp_path) == ("v2", False)


def test_a_release_command_that_cannot_answer_is_refused_at_preflight(
    tmp_path: Path, legacy_url: str
) -> None:
    original = fingerprint(legacy_url)
    env = app_env(tmp_path, legacy_url, CURRENT_VERSION_CMD="bin/versoin")  # a typo
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode != 0 and last.startswith("preflight: CURRENT_VERSION_CMD on "), last
    assert last.endswith("nothing was changed"), last
    assert without_bookkeeping(fingerprint(legacy_url)) == without_bookkeeping(original)
    assert app_state(tmp_path) == ("v1", False)


def test_a_stop_after_unfence_says_the_database_is_open(tmp_path: Path, legacy_url: str) -> None:
    env = app_env(tmp_path, legacy_url, CUTOVER_FAULT="deploy-app:before:term")
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode != 0
    said = " ".join(proc.stdout.split())
    assert "Stopped safely. Maintenance stays on, but the database is NOT fenced" in said, said


def test_rollback_from_backup_restores_everything(tmp_path: Path, legacy_url: str) -> None:
    original = fingerprint(legacy_url)
    env = app_env(tmp_path, legacy_url)
    assert run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env).returncode == 0
    proc = run_cli(["rollback", "--yes", "--from-backup", "--jobs", "2"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "restored from" in proc.stdout
    assert_rolled_back(tmp_path, legacy_url, original)


def test_damaged_aside_schema_falls_back_to_backup(tmp_path: Path, legacy_url: str) -> None:
    original = fingerprint(legacy_url)
    env = app_env(tmp_path, legacy_url)
    assert run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env).returncode == 0
    db = connect(legacy_url, "psycopg")
    try:
        # Someone got past the read-only seal (the owner can disable its guard)
        # and damaged the copy.
        db.execute('ALTER TABLE cutover_legacy."McpApiKey" DISABLE TRIGGER USER')
        db.execute('DELETE FROM cutover_legacy."McpApiKey"')
    finally:
        db.close()
    proc = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_rolled_back(tmp_path, legacy_url, original)


def test_cleanup_then_rollback_needs_the_backup(tmp_path: Path, legacy_url: str) -> None:
    original = fingerprint(legacy_url)
    env = app_env(tmp_path, legacy_url)
    assert run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env).returncode == 0
    run_id = sorted((tmp_path / "runs").iterdir())[-1].name
    migrated = fingerprint(legacy_url)
    assert run_cli(["cleanup", "--run", run_id, "--yes"], cwd=tmp_path, env=env).returncode == 0
    cleaned = fingerprint(legacy_url)
    assert "cutover_legacy" in migrated["schemas"] and "cutover_legacy" not in cleaned["schemas"]
    assert cleaned == without_schema(migrated, "cutover_legacy")  # only the set-aside copy went
    assert (tmp_path / "backups" / run_id / "database.dir" / "toc.dat").exists()  # the default
    again = run_cli(
        ["cleanup", "--run", run_id, "--yes"], cwd=tmp_path, env=env
    )  # twice: nothing more
    assert again.returncode == 0 and "already cleaned up" in again.stdout, (
        again.stdout + again.stderr
    )
    assert fingerprint(legacy_url) == cleaned
    # With the set-aside schema gone the dump is the only way back: a damaged one is refused
    # before the site goes into maintenance or the database is fenced.
    data = max(
        (tmp_path / "backups" / run_id / "database.dir").glob("*.dat.gz"), key=os.path.getsize
    )
    intact = data.read_bytes()
    data.write_bytes(intact[:100] + bytes([intact[100] ^ 0xFF]) + intact[101:])
    refused = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert refused.returncode != 0 and "nothing was changed" in refused.stderr, refused.stderr
    assert fingerprint(legacy_url) == cleaned  # CONNECT not revoked, nothing dropped
    assert app_state(tmp_path) == ("v2", False)  # not put in maintenance
    assert "the only way back" in refused.stderr.strip().splitlines()[-1]
    assert "without --from-backup" not in refused.stderr  # there is no other way to offer
    # No manifest at all (a proof that never ended): the dump is read back whole first, and a
    # damaged one is refused as early.
    manifest = tmp_path / "backups" / run_id / "manifest.json"
    kept = manifest.read_bytes()
    manifest.unlink()
    refused = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert refused.returncode != 0 and "nothing was changed" in refused.stderr, refused.stderr
    assert fingerprint(legacy_url) == cleaned
    assert app_state(tmp_path) == ("v2", False)
    assert "a data block of" in refused.stderr.strip().splitlines()[-1], refused.stderr
    data.write_bytes(intact)  # whole again, still without its manifest: proven, then restored
    proc = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode == 0 and "restored from" in proc.stdout, proc.stdout + proc.stderr
    assert "never proven; reading every block back first" in proc.stdout + proc.stderr
    assert manifest.exists() and kept
    assert_rolled_back(tmp_path, legacy_url, original)


def test_nothing_to_roll_back(tmp_path: Path, legacy_url: str) -> None:
    proc = run_cli(["rollback", "--yes"], cwd=tmp_path, env=app_env(tmp_path, legacy_url))
    assert proc.returncode != 0 and proc.stderr.strip().splitlines()[-1].startswith(
        "rollback: no run of "
    )


def fake_bindir(tmp_path: Path, dump_body: str) -> Path:
    """A PG_BINDIR whose pg_dump misbehaves, next to the real pg_restore."""
    real = Path(
        subprocess.run(
            ["sh", "-c", "ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    d = tmp_path / "bin"
    d.mkdir()
    script = d / "pg_dump"
    script.write_text(
        "#!/bin/sh\n"
        + f'if [ "$1" = "--version" ]; then exec {real}/pg_dump --version; fi\n'
        + dump_body
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    (d / "pg_restore").symlink_to(real / "pg_restore")
    return d


@pytest.mark.parametrize("backup_format", ["directory", "custom"])
@pytest.mark.parametrize("case", ["pg_dump fails", "corrupt dump", "disk full"])
def test_backup_cannot_be_skipped(
    tmp_path: Path, legacy_url: str, case: str, backup_format: str
) -> None:
    original = fingerprint(legacy_url)
    env = app_env(tmp_path, legacy_url, BACKUP_FORMAT=backup_format)
    limit = None
    if case == "pg_dump fails":
        env["PG_BINDIR"] = str(
            fake_bindir(tmp_path, 'echo "pg_dump: error: connection lost" >&2; exit 1\n')
        )
    elif case == "corrupt dump":  # random bytes where the archive should be: the file, or toc.dat
        body = 'while [ "$1" != "--file" ]; do shift; done; out="$2"\n'
        if backup_format == "directory":
            body += 'mkdir "$out"; out="$out/toc.dat"\n'
        body += 'head -c 4096 /dev/urandom > "$out"; exit 0\n'
        env["PG_BINDIR"] = str(fake_bindir(tmp_path, body))
    else:
        limit = 256 * 1024  # a file size limit: the dump cannot grow past 256 KiB, like a full disk

    def cap() -> None:
        if limit:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("PG", "DATABASE_URL", "CUTOVER"))
    }

    proc = subprocess.run(
        invoke_argv(["migrate-offline", "--yes"]),
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        preexec_fn=cap,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("backup: "), proc.stderr
    assert without_bookkeeping(fingerprint(legacy_url)) == without_bookkeeping(original)
    journal = (tmp_path / "runs").glob("*/journal.jsonl")
    assert not any('"step": "reset"' in j.read_text() for j in journal), "reset must never start"
    assert app_state(tmp_path) == ("v1", False)


def test_sigterm_stops_at_a_safe_point(tmp_path: Path, legacy_url: str) -> None:
    before = snapshot(legacy_url)
    env = app_env(tmp_path, legacy_url, CUTOVER_FAULT="backup:before:term")
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode != 0
    # The backup runs beside the steps in line: the stop comes at the next boundary after the
    # one running, at reset at the latest (after waiting for the dump), before anything moved.
    last = proc.stderr.strip().splitlines()[-1]
    assert re.match(r"(backup-proof|deploy-schema|transform|reset): stopped by SIGTERM", last), (
        proc.stderr
    )
    assert "migrate-offline --resume" in proc.stdout
    # The backup finished, nothing destructive ran: the legacy schema is in public, untouched.
    assert snapshot(legacy_url) == before
    assert "cutover_legacy" not in fingerprint(legacy_url)["schemas"]
    assert app_state(tmp_path) == ("v1", True)
    env.pop("CUTOVER_FAULT")
    resumed = run_cli(["migrate-offline", "--resume", "--yes"], cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "done earlier" in resumed.stdout
    assert_migrated(legacy_url, before)
    assert app_state(tmp_path) == ("v2", False)


def test_no_secret_anywhere(tmp_path: Path, legacy_url: str, app_password: str) -> None:
    env = app_env(tmp_path, legacy_url, CUTOVER_FAULT="verify:before:error")
    proc = run_cli(["migrate-offline", "--yes", "--debug"], cwd=tmp_path, env=env)
    texts = [proc.stdout, proc.stderr] + [
        p.read_text()
        for p in tmp_path.rglob("*")
        if p.is_file()
        and p.suffix in (".jsonl", ".json", ".md", "")
        and p.stat().st_size < 10_000_000
        and "backups" not in p.parts
    ]
    assert "Traceback" in proc.stdout + proc.stderr  # --debug shows it, masked
    assert all(app_password not in t for t in texts)


def test_refused_retry_does_not_hide_the_run_to_roll_back(tmp_path: Path, legacy_url: str) -> None:
    original = fingerprint(legacy_url)
    env = app_env(tmp_path, legacy_url, CUTOVER_FAULT="transform:middle:error")
    assert (
        run_cli(
            ["migrate-offline", "--yes", "--on-failure", "pause"], cwd=tmp_path, env=env
        ).returncode
        != 0
    )
    env.pop("CUTOVER_FAULT")
    retry = run_cli(
        ["migrate-offline", "--yes"], cwd=tmp_path, env=env
    )  # at 3 a.m., someone just tries again
    assert retry.returncode != 0 and retry.stderr.startswith("preflight: "), retry.stderr
    proc = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_rolled_back(tmp_path, legacy_url, original)


def test_resume_after_rollback_is_refused(tmp_path: Path, legacy_url: str) -> None:
    env = app_env(tmp_path, legacy_url, CUTOVER_FAULT="verify:before:error")
    assert (
        run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env).returncode != 0
    )  # rolled back at once
    env.pop("CUTOVER_FAULT")
    before = fingerprint(legacy_url)
    proc = run_cli(["migrate-offline", "--resume", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode != 0 and "was rolled back" in proc.stderr, proc.stderr
    assert fingerprint(legacy_url) == before


def test_server_restart_then_automatic_rollback_reconnects(
    tmp_path: Path, legacy_url: str, restart_cmd: str
) -> None:
    original = fingerprint(legacy_url)
    env = app_env(
        tmp_path,
        legacy_url,
        CUTOVER_FAULT="transform:before:restart",
        CUTOVER_FAULT_CMD=restart_cmd,
    )
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode != 0
    assert "rollback completed" in proc.stderr.strip().splitlines()[-1], proc.stdout + proc.stderr
    assert_rolled_back(tmp_path, legacy_url, original)


@pytest.mark.parametrize("recovery", ["rollback", "resume"])
def test_pg8000_survives_a_kill_in_the_transform(
    tmp_path: Path, legacy_url: str, recovery: str
) -> None:
    original, before = fingerprint(legacy_url), snapshot(legacy_url)
    env = app_env(tmp_path, legacy_url, DB_DRIVER="pg8000", CUTOVER_FAULT="transform:middle:kill")
    assert run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env).returncode == -9
    env.pop("CUTOVER_FAULT")
    args = (
        ["rollback", "--yes"]
        if recovery == "rollback"
        else ["migrate-offline", "--resume", "--yes"]
    )
    proc = run_cli(args, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if recovery == "rollback":
        assert_rolled_back(tmp_path, legacy_url, original)
    else:
        assert_migrated(legacy_url, before)


@pytest.mark.parametrize(
    ("fault", "fenced"), [("verify:before:error", True), ("smoke:before:error", False)]
)
def test_a_paused_window_says_whether_the_database_is_fenced(
    tmp_path: Path, legacy_url: str, fault: str, fenced: bool
) -> None:
    original = fingerprint(legacy_url)
    env = app_env(tmp_path, legacy_url, CUTOVER_FAULT=fault)
    proc = run_cli(["migrate-offline", "--yes", "--on-failure", "pause"], cwd=tmp_path, env=env)
    assert proc.returncode != 0
    db = connect(legacy_url, "psycopg", application_name="tests pause")
    try:
        open_to_all = db.query(
            "SELECT has_database_privilege('public', current_database(), 'CONNECT')"
        )[0][0]
    finally:
        db.close()
    # The line says what the database shows: after unfence (smoke fails later) it is open.
    assert open_to_all is not fenced
    said = " ".join(proc.stdout.split())
    assert ("stays fenced" in said) is fenced and ("NOT fenced" in said) is not fenced, said
    env.pop("CUTOVER_FAULT")
    assert run_cli(["rollback", "--yes"], cwd=tmp_path, env=env).returncode == 0
    assert_rolled_back(tmp_path, legacy_url, original)


def test_status_says_a_killed_run_is_gone_not_running(tmp_path: Path, legacy_url: str) -> None:
    env = app_env(tmp_path, legacy_url, CUTOVER_FAULT="verify:before:kill")
    assert run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env).returncode != 0
    env.pop("CUTOVER_FAULT")
    said = " ".join(run_cli(["status"], cwd=tmp_path, env=env).stdout.split())
    assert "running, started" in said and "— but no pgcutover session holds the lock" in said, said
    assert "Next: Resume: invoke migrate-offline --resume --yes" in said, said
    assert run_cli(["migrate-offline", "--resume", "--yes"], cwd=tmp_path, env=env).returncode == 0
    said = " ".join(run_cli(["status"], cwd=tmp_path, env=env).stdout.split())
    assert "succeeded" in said and "holds the lock" not in said and "Next:" not in said, said


def test_status_after_a_failed_rollback_says_to_finish_it(tmp_path: Path, legacy_url: str) -> None:
    original = fingerprint(legacy_url)
    env = app_env(tmp_path, legacy_url)
    assert run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env).returncode == 0
    run_id = sorted((tmp_path / "runs").iterdir())[-1].name
    failing = {**env, "CUTOVER_FAULT": "redeploy-app:before:error"}
    assert run_cli(["rollback", "--yes"], cwd=tmp_path, env=failing).returncode != 0
    said = " ".join(run_cli(["status"], cwd=tmp_path, env=env).stdout.split())
    assert f"Next: finish the rollback: invoke rollback --run {run_id} --yes" in said, said
    assert "--resume" not in said, said
    resumed = run_cli(["migrate-offline", "--resume", "--yes"], cwd=tmp_path, env=env)
    last = resumed.stderr.strip().splitlines()[-1]
    assert resumed.returncode != 0 and "its rollback did not finish" in last, last
    assert f"invoke rollback --run {run_id} --yes" in last, last
    assert run_cli(["rollback", "--yes"], cwd=tmp_path, env=env).returncode == 0
    assert_rolled_back(tmp_path, legacy_url, original)
    said = " ".join(run_cli(["status"], cwd=tmp_path, env=env).stdout.split())
    assert "rolled back" in said and "Next:" not in said, said
