"""A backup is proven by reading every data block back, and checked against its manifest later."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import fingerprint, make_settings, run_cli
from test_failures import app_env, app_state, fake_bindir, without_bookkeeping

from pgcutover.dumpfiles import DUMP_NAMES, sha256_of
from pgcutover.pgtools import pg_dump, pg_restore_list
from pgcutover.settings import default_pg_bindir
from steps.backup_check import check_backup
from steps.backup_proof import MANIFEST_NAME

# Overwrite 32 bytes at 3/4 of the archive: past the table of contents (written first), inside the
# data blocks that follow it, so `pg_restore --list` still reads the archive.
CORRUPT_BODY = """{real}/pg_dump "$@" || exit $?
while [ "$1" != "--file" ]; do shift; done
size=$(stat -c %s "$2")
printf 'CORRUPT-CORRUPT-CORRUPT-CORRUPT-' |
  dd of="$2" bs=1 seek=$((size * 3 / 4)) conv=notrunc status=none
"""

DUMP_NAME = DUMP_NAMES["custom"]  # these tests take the one-file format apart


def real_bindir() -> Path:
    bindir = default_pg_bindir()
    assert bindir is not None, "PostgreSQL client programs not found under /usr/lib/postgresql"
    return bindir


def pg_restore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(real_bindir() / "pg_restore"), *args], capture_output=True, text=True
    )


def journal_lines(tmp_path: Path) -> list[dict[str, object]]:
    journal = next((tmp_path / "runs").glob("*/journal.jsonl"))
    return [json.loads(line) for line in journal.read_text().splitlines()]


def test_corrupt_data_block_stops_the_window_before_unfence(
    tmp_path: Path, legacy_url: str
) -> None:
    original = fingerprint(legacy_url)
    env = app_env(
        tmp_path,
        legacy_url,
        BACKUP_FORMAT="custom",
        PG_BINDIR=str(fake_bindir(tmp_path, CORRUPT_BODY.format(real=real_bindir()))),
    )
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    # The TOC reads fine, so the window goes on while the proof reads every block beside it;
    # the proof fails, the window stops at its join, before unfence, and rolls back.
    assert last.startswith("backup-proof: ") and "data block" in last and "not proven" in last
    assert "rollback completed" in last, last
    assert without_bookkeeping(fingerprint(legacy_url)) == without_bookkeeping(original)
    lines = journal_lines(tmp_path)
    assert not any(ln["step"] == "unfence" for ln in lines), "the window passed its join"
    proof = [ln.get("outcome") for ln in lines if ln["step"] == "backup-proof"]
    assert proof == [None, "failed"], proof
    assert app_state(tmp_path) == ("v1", False)
    # The damage is where only a full read finds it: the table of contents still reads fine.
    backup_dir = next((tmp_path / "backups").iterdir())
    dump = backup_dir / DUMP_NAME
    listed = pg_restore("--list", str(dump))
    assert listed.returncode == 0 and " TABLE DATA " in listed.stdout, listed.stderr
    full = pg_restore("--file", "/dev/null", str(dump))
    assert full.returncode != 0 and "could not uncompress data" in full.stderr, full.stderr
    assert not (backup_dir / MANIFEST_NAME).exists()
    check = check_backup(make_settings(tmp_path, legacy_url), backup_dir, full_read=True)
    assert not check.proven and check.problem == "manifest missing", check


def test_tampered_backup_is_not_proven(tmp_path: Path, legacy_url: str) -> None:
    env = app_env(tmp_path, legacy_url, BACKUP_FORMAT="custom")
    done = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    settings = make_settings(tmp_path, legacy_url, BACKUP_FORMAT="custom")
    backup_dir = next((tmp_path / "backups").iterdir())
    dump, manifest_path = backup_dir / DUMP_NAME, backup_dir / MANIFEST_NAME
    good = check_backup(settings, backup_dir, full_read=True)
    assert good.proven and good.problem is None and good.manifest is not None, good
    wide = {**env, "COLUMNS": "400"}  # one table row per line: the reason is never wrapped
    listing = run_cli(["backups"], cwd=tmp_path, env=wide)
    assert listing.returncode == 0 and "yes (sha256)" in listing.stdout, listing.stderr
    narrow = run_cli(["backups"], cwd=tmp_path, env={**env, "COLUMNS": "80"})
    assert good.manifest.run in narrow.stdout, narrow.stdout  # whole: --verify RUN takes it

    data = bytearray(dump.read_bytes())
    data[len(data) * 3 // 4] ^= 0x01  # one flipped bit, size unchanged
    dump.write_bytes(data)
    listing = run_cli(["backups"], cwd=tmp_path, env=wide)
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if good.manifest.run in line)
    assert f"NO: {DUMP_NAME} has sha256" in row and "the manifest says" in row, listing.stdout
    for full_read in (False, True):
        check = check_backup(settings, backup_dir, full_read=full_read)
        assert not check.proven and check.problem == "sha256 mismatch", check
        assert check.reason.startswith(f"{DUMP_NAME} has sha256 "), check.reason

    # A manifest rewritten to match the damaged file: the run's journal still holds the sha256
    # the proof found (and without the journal, the full read still fails it).
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "sha256": sha256_of(dump)}))
    for full_read in (False, True):
        check = check_backup(settings, backup_dir, full_read=full_read)
        assert not check.proven and check.problem == "manifest unreadable", check
        assert "the run's journal recorded" in check.reason, check.reason
    journal = settings.runs_dir / backup_dir.name / "journal.jsonl"
    kept = journal.read_text()
    journal.unlink()
    assert check_backup(settings, backup_dir, full_read=False).proven
    check = check_backup(settings, backup_dir, full_read=True)
    assert not check.proven and check.problem == "unreadable", check
    assert check.reason.startswith(f"a data block of {DUMP_NAME} is unreadable: "), check.reason
    journal.write_text(kept)
    manifest_path.write_text(json.dumps(manifest))
    # A row count edited: the restore would prove the restored tables against it, after the
    # schemas moved, and fail every time; refused up front instead.
    counts = dict(manifest["row_counts"])
    table = next(iter(counts))
    edited = {**manifest, "row_counts": {**counts, table: counts[table] + 1}}
    manifest_path.write_text(json.dumps(edited))
    check = check_backup(settings, backup_dir, full_read=False)
    assert check.problem == "manifest unreadable" and "row counts" in check.reason, check
    manifest_path.write_text(json.dumps(manifest))

    dump.write_bytes(data[:-10])
    check = check_backup(settings, backup_dir, full_read=False)
    assert not check.proven and check.problem == "size mismatch", check
    dump.unlink()
    check = check_backup(settings, backup_dir, full_read=False)
    assert (check.proven, check.problem) == (False, "file missing")
    assert check.reason == f"{DUMP_NAME} is missing"
    listing = run_cli(["backups"], cwd=tmp_path, env=wide)
    assert f"NO: {DUMP_NAME} is missing" in listing.stdout, listing.stdout
    manifest_path.write_text("{not json")
    assert check_backup(settings, backup_dir, full_read=False).problem == "manifest unreadable"
    manifest_path.unlink()
    assert check_backup(settings, backup_dir, full_read=False).problem == "manifest missing"


def test_the_dump_is_written_at_the_configured_gzip_level(tmp_path: Path, legacy_url: str) -> None:
    for level in ("1", "9"):
        settings = make_settings(tmp_path, legacy_url, BACKUP_COMPRESS=level)
        dump = tmp_path / f"z{level}.dump"
        pg_dump(settings, dump, snapshot=None, exclude_schemas=[], app_name="test")
        toc = pg_restore_list(settings, dump)
        assert toc.header["Compression"] == level and toc.compressed
