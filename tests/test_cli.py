"""The task boundary's flags: every flag says its default, and a short flag means one thing."""

from __future__ import annotations

from invoke.tasks import Task

import tasks


def runbook_tasks() -> dict[str, Task[object]]:
    """Return every task of the collection by its name."""
    return {name: tasks.ns[name] for name in tasks.ns.task_names}


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
