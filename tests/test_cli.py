"""The task boundary's flags: every flag says its default, and a short flag means one thing."""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli
from invoke.loader import FilesystemLoader
from invoke.tasks import Task

from pgcutover.settings import PROJECT_ROOT


def runbook_tasks() -> dict[str, Task[object]]:
    """Return every task of tasks.py's collection by its name, loaded as invoke loads it."""
    module, _ = FilesystemLoader(start=str(PROJECT_ROOT)).load("tasks")
    return {name: module.ns[name] for name in module.ns.task_names}


def test_every_flag_states_its_default_or_that_it_is_required() -> None:
    for name, t in runbook_tasks().items():
        for arg in t.get_arguments():
            text = arg.help or ""
            assert "(default" in text or "(required)" in text, f"{name} --{arg.name}: {text!r}"


def test_a_short_flag_means_the_same_in_every_task() -> None:
    for name, t in runbook_tasks().items():
        flags = {arg.name: set(arg.names) - {arg.name} for arg in t.get_arguments()}
        # -d is --debug everywhere: it once meant --dry-run, and in the sandbox --down.
        assert flags["debug"] == {"d"}, name
        assert not flags.get("down") and not flags.get("overlap"), name
        if "dry-run" in flags:
            assert flags["dry-run"] == {"n"}, name


def test_help_after_the_task_name_shows_help_for_every_task(tmp_path: Path) -> None:
    for name in runbook_tasks():
        proc = run_cli([name, "--help"], cwd=tmp_path, env={})
        # A required positional argument used to swallow `--help` (cleanup's run id).
        said = proc.stdout + proc.stderr
        assert "Usage:" in said or "invoke --help new-migration" in said, (name, said)
    assert not list(tmp_path.iterdir())  # nothing was created


def test_cleanup_without_a_run_is_refused_never_the_last_run(tmp_path: Path) -> None:
    proc = run_cli(["cleanup", "--yes"], cwd=tmp_path, env={})
    assert proc.returncode == 1
    assert (
        proc.stderr.strip().splitlines()[-1]
        == "cleanup: --run ID is required (invoke status lists the runs)"
    )


def test_a_dry_run_needs_no_database(tmp_path: Path) -> None:
    # new-migration's next step is a dry run, printed before any profile exists.
    proc = run_cli(["migrate-offline", "-n"], cwd=tmp_path, env={})
    assert proc.returncode == 0, proc.stderr
    assert "against no database (dry run: nothing runs)" in proc.stdout
    assert "statistics" in proc.stdout and not list(tmp_path.iterdir())
