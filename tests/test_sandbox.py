"""The README's path: sandbox, the window, rollback to identical, status, the sandbox going away."""

from __future__ import annotations

from pathlib import Path

from conftest import fingerprint, run_cli
from rules import check_rules, snapshot
from test_failures import without_bookkeeping

from pgcutover.sandbox.demo import sandbox_env


def test_sandbox_window_then_rollback_is_identical(tmp_path: Path) -> None:
    try:
        proc = run_cli(
            ["sandbox", "--users", "40", "migrate-offline", "--yes"], cwd=tmp_path, env={}
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        url = sandbox_env(tmp_path)["DATABASE_URL"]
        assert "verify .. ok" in proc.stdout or "verify" in proc.stdout
        assert url.split(":")[2].split("@")[0] not in proc.stdout  # the sandbox password is masked
        migrated = fingerprint(url)
        assert "cutover_legacy" in migrated["schemas"]
        # The set-aside schema is the legacy data as it was: judge the window on it by every rule.
        check_rules(snapshot(url, "cutover_legacy"), snapshot(url))

        status = run_cli(["status", "--env", "sandbox"], cwd=tmp_path, env={})
        assert status.returncode == 0 and "succeeded" in status.stdout, (
            status.stdout + status.stderr
        )

        rebuilt = run_cli(["sandbox", "--users", "40"], cwd=tmp_path, env={})
        assert rebuilt.returncode == 0, rebuilt.stderr
        url = sandbox_env(tmp_path)["DATABASE_URL"]
        original = fingerprint(url)
        assert (
            run_cli(
                ["migrate-offline", "--env", "sandbox", "--yes"], cwd=tmp_path, env={}
            ).returncode
            == 0
        )
        back = run_cli(["rollback", "--env", "sandbox", "--yes"], cwd=tmp_path, env={})
        assert back.returncode == 0, back.stdout + back.stderr
        assert without_bookkeeping(fingerprint(url)) == original
    finally:
        down = run_cli(["sandbox", "--down"], cwd=tmp_path, env={})
    assert down.returncode == 0 and not (tmp_path / ".sandbox").exists()
