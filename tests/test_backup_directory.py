"""BACKUP_FORMAT=directory on real PostgreSQL: pg_dump --jobs, proven, copied and restored whole."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import pytest
from conftest import fingerprint, make_settings, run_cli
from lab import AppLab
from rules import check_rules, snapshot
from test_backup_proof import journal_lines, real_bindir
from test_failures import app_env, app_state, assert_rolled_back, fake_bindir
from test_offhost import end_details, newest_run, ssh_target

from pgcutover.dumpfiles import listing_sha256, sha256_of
from pgcutover.pgtools import pg_dump, pg_restore_list
from steps.backup_check import check_backup
from steps.backup_proof import (
    DUMP_RECORD,
    MANIFEST_NAME,
    Dumped,
    prove_dump,
    write_json_atomically,
)

DIR_NAME = "database.dir"
# After the real pg_dump: 16 bytes overwritten in the middle of the largest table's data file.
CORRUPT_PART = """{real}/pg_dump "$@" || exit $?
while [ "$1" != "--file" ]; do shift; done
big=$(ls -S "$2"/*.dat.gz | head -1)
size=$(stat -c %s "$big")
printf 'CORRUPT-CORRUPT-' | dd of="$big" bs=1 seek=$((size / 2)) conv=notrunc status=none
"""
# The real pg_dump writes its directory whole; then the window's process dies (kill -9), once.
KILL_AFTER_DUMP = """{real}/pg_dump "$@" || exit $?
if [ ! -e {marker} ]; then touch {marker}; kill -9 $PPID; sleep 5; fi
"""


def parts_on_disk(dump: Path) -> dict[str, list[object]]:
    return {f"{DIR_NAME}/{p.name}": [p.stat().st_size, sha256_of(p)] for p in dump.iterdir()}


def test_directory_dump_is_proven_copied_and_restored_from_the_copy(
    tmp_path: Path, legacy_url: str
) -> None:
    mount = tmp_path / "mount"
    extra = {"BACKUP_FORMAT": "directory", "BACKUP_COPY_TO": str(mount)}
    env = app_env(tmp_path, legacy_url, **extra)
    settings = make_settings(tmp_path, legacy_url, **extra)
    original, before = fingerprint(legacy_url), snapshot(legacy_url)
    # --jobs 3: pg_dump gets two of them (the transform beside it takes one), so the dump is
    # written by two processes side by side.
    done = run_cli(["migrate-offline", "--yes", "--jobs", "3"], cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    check_rules(before, snapshot(legacy_url))
    run = newest_run(tmp_path)
    backup_dir = tmp_path / "backups" / run
    dump = backup_dir / DIR_NAME
    assert dump.is_dir() and (dump / "toc.dat").is_file()
    assert sorted(p.name for p in backup_dir.iterdir()) == sorted(
        [DIR_NAME, DUMP_RECORD, MANIFEST_NAME, "offhost.json"]
    )  # no .partial left behind
    assert dump.stat().st_mode & 0o777 == 0o700  # every row of the database: its owner's alone
    toc = pg_restore_list(settings, dump)
    assert toc.header["Format"] == "DIRECTORY" and toc.compressed, toc.header
    details = end_details(tmp_path, run, "backup")
    assert (details["format"], details["jobs"]) == ("directory", 2), details

    manifest = json.loads((backup_dir / MANIFEST_NAME).read_text())
    on_disk = parts_on_disk(dump)
    assert manifest["format"] == "directory" and manifest["file"] == DIR_NAME
    assert manifest["parts"] == on_disk and len(on_disk) > 3, on_disk  # toc.dat and a file a table
    assert manifest["bytes"] == sum(int(str(size)) for size, _ in on_disk.values())
    digests = {name: (int(str(size)), str(sha)) for name, (size, sha) in on_disk.items()}
    assert manifest["sha256"] == listing_sha256(digests)
    assert (
        manifest["row_counts"] == json.loads((backup_dir / DUMP_RECORD).read_text())["row_counts"]
    )
    assert check_backup(settings, backup_dir, full_read=True).proven
    for name in on_disk:  # the copy is the directory's files, byte for byte, checked there
        assert (mount / run / name).read_bytes() == (backup_dir / name).read_bytes(), name

    # This host's backup is gone: the restore path fetches the directory back and restores it.
    shutil.rmtree(backup_dir)
    back = run_cli(["rollback", "--yes", "--from-backup", "--jobs", "2"], cwd=tmp_path, env=env)
    assert back.returncode == 0, back.stdout + back.stderr
    assert_rolled_back(tmp_path, legacy_url, original)
    assert check_backup(settings, backup_dir, full_read=True).proven  # back here, whole
    assert parts_on_disk(dump) == on_disk

    # And the same database migrates again, in the same format.
    again = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    check_rules(before, snapshot(legacy_url))
    assert (tmp_path / "backups" / newest_run(tmp_path) / DIR_NAME / "toc.dat").is_file()


def test_a_corrupt_part_stops_the_window_before_unfence(tmp_path: Path, legacy_url: str) -> None:
    original = fingerprint(legacy_url)
    bindir = fake_bindir(tmp_path, CORRUPT_PART.format(real=real_bindir()))
    env = app_env(tmp_path, legacy_url, BACKUP_FORMAT="directory", PG_BINDIR=str(bindir))
    proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("backup-proof: a data block of database.dir is unreadable"), last
    assert "not proven" in last and "rollback completed" in last, last
    assert_rolled_back(tmp_path, legacy_url, original)
    lines = journal_lines(tmp_path)
    assert not any(ln["step"] == "unfence" for ln in lines), "the window passed its join"
    backup_dir = next((tmp_path / "backups").iterdir())
    assert not (backup_dir / MANIFEST_NAME).exists()


@pytest.mark.parametrize("renamed", [False, True])
def test_a_window_killed_after_the_dump_dumps_again_on_resume(
    tmp_path: Path, legacy_url: str, renamed: bool
) -> None:
    before = snapshot(legacy_url)
    body = KILL_AFTER_DUMP.format(real=real_bindir(), marker=tmp_path / "killed-once")
    env = app_env(
        tmp_path, legacy_url, BACKUP_FORMAT="directory", PG_BINDIR=str(fake_bindir(tmp_path, body))
    )
    killed = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert killed.returncode != 0 and (tmp_path / "killed-once").exists()
    backup_dir = next((tmp_path / "backups").iterdir())
    # Killed before the rename: a whole directory, still named partial, never taken as the dump.
    (left,) = backup_dir.glob(DIR_NAME + ".partial-*")
    assert (left / "toc.dat").is_file()
    assert not (backup_dir / DIR_NAME).exists() and not (backup_dir / DUMP_RECORD).exists()
    if renamed:
        # As if the kill landed between the rename and dump.json (the dump runs beside the
        # transform, so a kill meant for a step in line can): whole, final name, unrecorded.
        left = left.rename(backup_dir / DIR_NAME)
        (left / "stale-marker").write_text("from the killed attempt\n")

    resumed = run_cli(["migrate-offline", "--resume", "--yes"], cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    check_rules(before, snapshot(legacy_url))
    assert app_state(tmp_path) == ("v2", False)
    assert not (left / "stale-marker").exists(), "the killed attempt's dump was kept"
    assert renamed or not left.exists()  # the partial is gone, not renamed into place
    assert not list(backup_dir.glob("*.partial*"))
    settings = make_settings(tmp_path, legacy_url, BACKUP_FORMAT="directory")
    assert check_backup(settings, backup_dir, full_read=True).proven


def test_a_directory_dump_is_checked_part_by_part(tmp_path: Path, legacy_url: str) -> None:
    settings = make_settings(tmp_path, legacy_url, BACKUP_FORMAT="directory")
    backup_dir = tmp_path / "b"
    backup_dir.mkdir()
    dump = backup_dir / DIR_NAME
    pg_dump(settings, dump, snapshot=None, exclude_schemas=[], app_name="test", jobs=2)
    parts = sorted(dump.glob("*.dat.gz"), key=lambda p: p.stat().st_size)
    size = sum(p.stat().st_size for p in dump.iterdir())
    record = Dumped(
        run="r",
        file=DIR_NAME,
        bytes=size,
        created_at="now",
        server_version="15",
        pg_dump_major=15,
        row_counts={},
        toc_entries=0,
        format="directory",
    )
    write_json_atomically(backup_dir / DUMP_RECORD, asdict(record))
    manifest = prove_dump(settings, backup_dir, "backup-proof")
    assert manifest.parts is not None and set(manifest.parts) == set(parts_on_disk(dump))
    assert check_backup(settings, backup_dir, full_read=True).proven

    big, small = parts[-1], parts[0]
    data = bytearray(big.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit, size unchanged
    big.write_bytes(data)
    check = check_backup(settings, backup_dir, full_read=False)
    assert check.problem == "sha256 mismatch", check
    assert check.reason.startswith(f"{DIR_NAME}/{big.name} has sha256 "), check.reason

    # A part's entry rewritten to match the damaged part: its listing no longer hashes to the
    # manifest's sha256 (what the journal recorded).
    faked = {**manifest.parts, f"{DIR_NAME}/{big.name}": [len(data), sha256_of(big)]}
    write_json_atomically(backup_dir / MANIFEST_NAME, asdict(replace(manifest, parts=faked)))
    check = check_backup(settings, backup_dir, full_read=False)
    assert check.problem == "manifest unreadable" and "do not hash to its sha256" in check.reason
    # The sha256 rewritten too: the run's journal still says what the proof found.
    digests = {n: (int(str(s)), str(h)) for n, (s, h) in faked.items()}
    fooled = replace(manifest, parts=faked, sha256=listing_sha256(digests))
    write_json_atomically(backup_dir / MANIFEST_NAME, asdict(fooled))
    journal = settings.runs_dir / backup_dir.name / "journal.jsonl"
    journal.parent.mkdir(parents=True)
    proof = {"step": "backup-proof", "event": "end", "outcome": "ok"}
    journal.write_text(json.dumps({**proof, "details": {"sha256": manifest.sha256}}) + "\n")
    check = check_backup(settings, backup_dir, full_read=False)
    assert check.problem == "manifest unreadable" and "the run's journal recorded" in check.reason
    # With no journal to ask (a backup copied from elsewhere), sha256 is fooled, not the full read.
    journal.unlink()
    assert check_backup(settings, backup_dir, full_read=False).proven
    check = check_backup(settings, backup_dir, full_read=True)
    assert check.problem == "unreadable" and "a data block of" in check.reason, check

    (dump / "stray.dat").write_bytes(b"x")
    check = check_backup(settings, backup_dir, full_read=False)
    assert (check.problem, check.reason) == (
        "size mismatch",
        f"{DIR_NAME}/stray.dat is not in the manifest",
    )
    (dump / "stray.dat").unlink()
    small.unlink()
    check = check_backup(settings, backup_dir, full_read=False)
    assert (check.problem, check.reason) == ("file missing", f"{DIR_NAME}/{small.name} is missing")
    shutil.rmtree(dump)
    check = check_backup(settings, backup_dir, full_read=False)
    assert (check.problem, check.reason) == ("file missing", f"{DIR_NAME} is missing")

    # A manifest whose names step outside the run's directory is no manifest of this one.
    for bad in ("../etc/passwd", f"{DIR_NAME}/../x", f"{DIR_NAME}/a/b", "/abs"):
        write_json_atomically(
            backup_dir / MANIFEST_NAME, asdict(replace(manifest, parts={bad: [1, "0" * 64]}))
        )
        check = check_backup(settings, backup_dir, full_read=False)
        assert check.problem == "manifest unreadable", (bad, check)


def test_directory_dump_over_ssh_is_copied_and_fetched_back_whole(
    tmp_path: Path, legacy_url: str, fresh_app_lab: AppLab
) -> None:
    vault = tmp_path / "vault"
    target = ssh_target(fresh_app_lab, vault)
    extra = {
        "BACKUP_FORMAT": "directory",
        "BACKUP_COPY_TO": target,
        "SSH_CONFIG": str(fresh_app_lab.ssh_config),
    }
    env = app_env(tmp_path, legacy_url, **extra)
    original = fingerprint(legacy_url)
    done = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    run = newest_run(tmp_path)
    local = tmp_path / "backups" / run
    on_disk = parts_on_disk(local / DIR_NAME)
    remote = sorted(str(p.relative_to(vault / run)) for p in (vault / run).rglob("*"))
    assert remote == sorted([DIR_NAME, MANIFEST_NAME, *on_disk]), remote  # no .partial
    assert (vault / run / DIR_NAME).stat().st_mode & 0o777 == 0o700

    # One part lost here: the local dump is not usable, so the restore fetches the copy by SFTP.
    next(iter(sorted((local / DIR_NAME).glob("*.dat.gz")))).unlink()
    (local / DIR_NAME / "stray.dat").write_bytes(b"not pg_dump's")
    back = run_cli(["rollback", "--yes", "--from-backup"], cwd=tmp_path, env=env)
    assert back.returncode == 0, back.stdout + back.stderr
    fetched = str(end_details(tmp_path, run, "restore-database")["fetched"])
    assert fetched == f"fetched from {target}/{run}; size and sha256 checked", fetched
    assert_rolled_back(tmp_path, legacy_url, original)
    assert parts_on_disk(local / DIR_NAME) == on_disk  # whole again, and the stray file gone


def test_a_rollback_removes_the_dump_a_killed_window_left_half_written(
    tmp_path: Path, legacy_url: str
) -> None:
    body = KILL_AFTER_DUMP.format(real=real_bindir(), marker=tmp_path / "killed-once")
    env = app_env(
        tmp_path, legacy_url, BACKUP_FORMAT="directory", PG_BINDIR=str(fake_bindir(tmp_path, body))
    )
    killed = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    assert killed.returncode != 0 and (tmp_path / "killed-once").exists()
    backup_dir = next((tmp_path / "backups").iterdir())
    assert list(backup_dir.glob(DIR_NAME + ".partial-*"))
    back = run_cli(["rollback", "--yes"], cwd=tmp_path, env=env)
    assert back.returncode == 0, back.stdout + back.stderr
    assert "1 half-written dump(s) removed" in back.stdout
    assert not list(backup_dir.glob("*.partial*"))  # never a way back: nothing finishes it now
