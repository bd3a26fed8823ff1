"""The off-host copy on real PostgreSQL and the real SSH lab: it survives losing the local dump."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import fingerprint, make_settings, run_cli
from lab import AppLab
from test_failures import app_env, app_state, assert_rolled_back, without_bookkeeping

from pgcutover.backups import verify_backup
from pgcutover.compare import diff_fingerprints
from pgcutover.dumpfiles import DUMP_NAMES
from pgcutover.errors import CutoverError
from pgcutover.journal import read_journal
from pgcutover.offhost import copy_files, digests_at, reach, remove_copy
from pgcutover.retention import prune
from pgcutover.settings import load_settings
from steps.backup_check import check_backup
from steps.backup_proof import MANIFEST_NAME

RUN = "20260101T000000Z-beef"

DUMP_NAME = DUMP_NAMES["custom"]  # these tests take the one-file format apart


def newest_run(tmp_path: Path) -> str:
    return sorted(p.name for p in (tmp_path / "runs").iterdir() if p.is_dir())[-1]


def cli(tmp_path: Path, env: dict[str, str], *args: str) -> str:
    """Run a task that must succeed; return the newest run id afterwards."""
    proc = run_cli(list(args), cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return newest_run(tmp_path)


def ssh_target(lab: AppLab, path: Path) -> str:
    h = lab.hosts[0]
    return f"{lab.user}@{h.address}:{h.ssh_port}:{path}"


def end_details(tmp_path: Path, run: str, step: str) -> dict[str, object]:
    lines = read_journal(tmp_path / "runs" / run / "journal.jsonl")
    ends = [ln for ln in lines if ln["step"] == step and ln["event"] == "end"]
    return dict(ends[-1].get("details") or {})


def logins(lab: AppLab) -> int:
    return lab.hosts[0].sshd_log.read_text().count("Accepted publickey")


def test_ssh_copy_survives_losing_the_local_one(
    tmp_path: Path, legacy_url: str, fresh_app_lab: AppLab
) -> None:
    lab, vault = fresh_app_lab, tmp_path / "vault"
    target = ssh_target(lab, vault)
    # One file: test_backup_directory.py copies and fetches a directory dump over SSH.
    extra = {"BACKUP_COPY_TO": target, "SSH_CONFIG": str(lab.ssh_config), "BACKUP_FORMAT": "custom"}
    env = app_env(tmp_path, legacy_url, **extra)
    original, before = fingerprint(legacy_url), logins(lab)
    run = cli(tmp_path, env, "migrate-offline", "--yes")
    assert end_details(tmp_path, run, "backup-proof")["copied_to"] == f"{target}/{run}"
    assert logins(lab) > before  # through the lab's sshd, not a file copy on the side
    local, remote = tmp_path / "backups" / run, vault / run
    for name in (DUMP_NAME, MANIFEST_NAME):
        assert (remote / name).read_bytes() == (local / name).read_bytes(), name
    assert sorted(p.name for p in remote.iterdir()) == [DUMP_NAME, MANIFEST_NAME]  # no .partial
    assert remote.stat().st_mode & 0o777 == 0o700

    cli(tmp_path, env, "cleanup", "--run", run, "--yes")  # the set-aside schema is gone
    shutil.rmtree(local)  # and so is this host's dump: the off-host copy is the only way back
    settings = make_settings(tmp_path, legacy_url, **extra)
    with pytest.raises(CutoverError, match="the off-host copy is intact: `invoke rollback"):
        verify_backup(settings, run)

    proc = run_cli(["rollback", "--yes", "--from-backup"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fetched = str(end_details(tmp_path, run, "restore-database")["fetched"])
    assert fetched == f"fetched from {target}/{run}; size and sha256 checked", fetched
    after = fingerprint(legacy_url)
    assert diff_fingerprints(without_bookkeeping(original), without_bookkeeping(after)) == []
    assert app_state(tmp_path) == ("v1", False)
    assert check_backup(settings, local, full_read=True).proven  # back here, whole


def test_failing_copy_fails_the_window_in_one_line(
    tmp_path: Path, legacy_url: str, fresh_app_lab: AppLab
) -> None:
    lab = fresh_app_lab
    target = ssh_target(lab, tmp_path / "vault")
    sshd = lab.hosts[0].sshd
    assert sshd is not None
    # Preflight reaches the host; then its sshd goes away before the proof copies the dump.
    env = app_env(
        tmp_path,
        legacy_url,
        BACKUP_COPY_TO=target,
        SSH_CONFIG=str(lab.ssh_config),
        CUTOVER_FAULT="backup-proof:before:restart",
        CUTOVER_FAULT_CMD=f"kill {sshd.pid}; sleep 0.5",
    )
    original = fingerprint(legacy_url)
    try:
        proc = run_cli(["migrate-offline", "--yes"], cwd=tmp_path, env=env)
    finally:
        lab.reset()  # starts the sshd again for the tests after this one
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    # The copy runs beside the window (after the proof): it fails the window at its join.
    assert last.startswith(f"backup-proof: off-host copy to {target}/") and (
        "cannot connect over SSH" in last and "rollback completed" in last
    ), last
    assert_rolled_back(tmp_path, legacy_url, original)


def test_directory_copy_is_checked_before_use_and_pruned_with_the_local_one(
    tmp_path: Path, legacy_url: str
) -> None:
    mount = tmp_path / "mount"
    env = app_env(tmp_path, legacy_url, BACKUP_COPY_TO=str(mount), BACKUP_FORMAT="custom")
    settings = make_settings(
        tmp_path, legacy_url, BACKUP_COPY_TO=str(mount), BACKUP_FORMAT="custom"
    )
    original = fingerprint(legacy_url)
    first = cli(tmp_path, env, "migrate-offline", "--yes")
    verify_backup(settings, first)  # every block read back here; size and sha256 there
    listing = run_cli(["backups"], cwd=tmp_path, env={**env, "COLUMNS": "400"})
    row = next(line for line in listing.stdout.splitlines() if first in line)
    assert "yes (sha256)" in row and str(mount / first) in row, listing.stdout

    copy = mount / first / DUMP_NAME
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit off the host, size unchanged
    copy.write_bytes(data)
    with pytest.raises(CutoverError, match="proven here, but its off-host copy is not"):
        verify_backup(settings, first)
    migrated = fingerprint(legacy_url)
    shutil.move(tmp_path / "backups" / first, tmp_path / "away")
    proc = run_cli(["rollback", "--yes", "--from-backup"], cwd=tmp_path, env=env)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode != 0 and last.startswith(f"rollback: backup of run {first} is not"), last
    assert "does not match its manifest (size or sha256)" in last and "nothing was changed" in last
    assert fingerprint(legacy_url) == migrated
    shutil.move(tmp_path / "away", tmp_path / "backups" / first)
    cli(tmp_path, env, "rollback", "--yes")  # the set-aside schema: the fast way back
    assert_rolled_back(tmp_path, legacy_url, original)

    second = cli(tmp_path, env, "migrate-offline", "--yes")
    keep_one = make_settings(tmp_path, legacy_url, BACKUP_COPY_TO=str(mount), BACKUP_KEEP="1")
    assert prune(keep_one, yes=True) == [first]
    assert not (tmp_path / "backups" / first).exists() and not (mount / first).exists()
    assert (mount / second / MANIFEST_NAME).exists() and (tmp_path / "backups" / second).is_dir()


def test_ssh_copy_is_checked_on_the_host(tmp_path: Path, app_lab: AppLab) -> None:
    vault = tmp_path / "vault"
    environ = {
        "DATABASE_URL": "postgresql:///x",
        "BACKUP_COPY_TO": ssh_target(app_lab, vault),
        "SSH_CONFIG": str(app_lab.ssh_config),
    }
    settings = load_settings(None, base_dir=tmp_path, environ=environ)
    dump = tmp_path / DUMP_NAME
    dump.write_bytes(os.urandom(3 << 20))
    good = (dump.stat().st_size, hashlib.sha256(dump.read_bytes()).hexdigest())
    part = tmp_path / "database.dir" / "toc.dat"  # a directory dump's part: a name with a folder
    part.parent.mkdir()
    part.write_bytes(os.urandom(5000))
    part_good = (5000, hashlib.sha256(part.read_bytes()).hexdigest())
    heard: list[tuple[int, int]] = []
    files = {DUMP_NAME: (dump, good), "database.dir/toc.dat": (part, part_good)}
    copy_files(settings, RUN, files, step="backup", on_bytes=lambda n, t: heard.append((n, t)))
    assert (vault / RUN / DUMP_NAME).read_bytes() == dump.read_bytes()
    assert (vault / RUN / "database.dir" / "toc.dat").read_bytes() == part.read_bytes()
    assert (vault / RUN / "database.dir").stat().st_mode & 0o777 == 0o700
    total = good[0] + 5000
    assert heard[-1] == (total, total) and all(t == total for _, t in heard), heard[-3:]
    assert [n for n, _ in heard] == sorted(n for n, _ in heard)  # one count over both files
    names = [DUMP_NAME, "database.dir/toc.dat", "absent"]
    assert digests_at(settings, RUN, names, step="backup") == {
        DUMP_NAME: good,
        "database.dir/toc.dat": part_good,
    }

    other = RUN[:-4] + "cafe"
    with pytest.raises(CutoverError, match=r"arrived with sha256 [0-9a-f]{12}…, not 000000000000…"):
        copy_files(settings, other, {DUMP_NAME: (dump, (good[0], "0" * 64))}, step="backup")
    assert not (vault / other / DUMP_NAME).exists()  # never renamed into place
    remove_copy(settings, RUN, step="backups")
    assert not (vault / RUN).exists() and (vault / other).exists()

    # An unknown host key is refused, as for the app hosts: nothing is added anywhere.
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    config = tmp_path / "ssh_config"
    config.write_text(app_lab.ssh_config.read_text().replace(str(app_lab.known_hosts), str(empty)))
    stranger = load_settings(
        None, base_dir=tmp_path, environ={**environ, "SSH_CONFIG": str(config)}
    )
    with pytest.raises(CutoverError, match="unknown host key") as caught:
        reach(stranger, step="preflight")
    assert str(caught.value).startswith("preflight: BACKUP_COPY_TO ") and empty.read_text() == ""


@pytest.mark.parametrize(
    ("raw", "cause"),
    [
        ("sftp://vault/x", "is a URL, not a target"),
        ("vault:/", "[user@]host[:port]:/absolute/path"),
        ("vault:relative", "[user@]host[:port]:/absolute/path"),
        ("2001:db8::1:/x", "an IPv6 address goes in brackets"),
        ("u@vault:70000:/x", "port 70000 is not 1 to 65535"),
        ("backups", "is BACKUP_DIR itself"),
    ],
)
def test_bad_copy_targets_are_refused(tmp_path: Path, raw: str, cause: str) -> None:
    environ = {"DATABASE_URL": "postgresql:///x", "BACKUP_DIR": "backups", "BACKUP_COPY_TO": raw}
    with pytest.raises(CutoverError) as caught:
        load_settings(None, base_dir=tmp_path, environ=environ)
    assert caught.value.step == "config" and cause in caught.value.cause, caught.value
    assert json.dumps(str(caught.value)).count("\\n") == 0


def test_resume_copies_the_proven_dump_without_taking_it_again(
    tmp_path: Path, legacy_url: str
) -> None:
    mount = tmp_path / "mount"
    env = app_env(tmp_path, legacy_url, BACKUP_COPY_TO=str(mount), BACKUP_FORMAT="custom")
    original = fingerprint(legacy_url)
    # Preflight finds the directory writable; by the backup step it has become a file.
    broken = {
        **env,
        "CUTOVER_FAULT": "backup-proof:before:restart",
        "CUTOVER_FAULT_CMD": f"rm -rf {mount} && touch {mount}",
    }
    proc = run_cli(["migrate-offline", "--yes", "--on-failure", "pause"], cwd=tmp_path, env=broken)
    run = newest_run(tmp_path)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode != 0
    want = f"backup-proof: off-host copy to {mount}/{run} failed: {mount}/{run}: Not a directory"
    assert last == want
    local = tmp_path / "backups" / run
    proven = (local / MANIFEST_NAME).read_bytes()  # the dump was proven before the copy failed
    mount.unlink()
    cli(tmp_path, env, "migrate-offline", "--resume", "--yes")
    assert (local / MANIFEST_NAME).read_bytes() == proven  # the same dump, not a second one
    for name in (DUMP_NAME, MANIFEST_NAME):
        assert (mount / run / name).read_bytes() == (local / name).read_bytes(), name

    # Damaged here (one flipped bit, size unchanged): the restore takes the off-host copy instead.
    data = bytearray((local / DUMP_NAME).read_bytes())
    data[len(data) * 3 // 4] ^= 0x01
    (local / DUMP_NAME).write_bytes(data)
    cli(tmp_path, env, "rollback", "--yes", "--from-backup")
    assert end_details(tmp_path, run, "restore-database")["fetched"] == (
        f"fetched from {mount}/{run}; size and sha256 checked"
    )
    assert_rolled_back(tmp_path, legacy_url, original)
