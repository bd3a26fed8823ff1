"""Task boundary: flags to settings, domain errors to one `step: cause` line; --debug: traceback."""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from invoke.exceptions import Exit
from invoke.tasks import Task
from invoke.tasks import task as invoke_task

from pgcutover.db import DB_ERRORS, error_text
from pgcutover.errors import CutoverError
from pgcutover.redact import mask
from pgcutover.settings import Settings, load_settings
from pgcutover.timeline import console

P = ParamSpec("P")
R = TypeVar("R")


# Short flags that mean one thing in every task: invoke gives each flag the first free letter of
# its name, which made -d --debug in one task, --dry-run in another and --down (which removes the
# sandbox) in a third. A name listed here gets its letter or, with None, none; every other flag
# keeps invoke's choice, never -d.
SHORT_FLAGS: dict[str, str | None] = {
    "debug": "d",
    "dry_run": "n",  # as make -n and rsync -n
    "down": None,  # destructive: spelt out
    "overlap": None,  # rarely typed; -o and -v were both taken elsewhere
}
RESERVED = {"d"}  # every task has --debug


class OperatorTask(Task[Any]):
    """An invoke task whose short flags follow SHORT_FLAGS."""

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        if name not in SHORT_FLAGS:
            return super().arg_opts(name, default, taken_names | RESERVED)
        opts = super().arg_opts(name, default, taken_names)
        letter = SHORT_FLAGS[name]
        opts["names"] = [opts["names"][0], *([letter] if letter else [])]
        return opts


def task(**kwargs: Any) -> Callable[[Callable[..., Any]], Task[Any]]:
    """Declare a runbook task: invoke's @task, with the suite's short flags."""
    return invoke_task(klass=OperatorTask, **kwargs)


def operator_errors(task_name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Turn any failure in a task into invoke.Exit: one masked line; --debug adds the traceback."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            debug = bool(kwargs.get("debug"))
            try:
                return fn(*args, **kwargs)
            except (Exit, SystemExit):
                raise
            except (
                BaseException
            ) as exc:  # every failure becomes one line; --debug adds where it came from
                if debug:
                    console.print(mask(traceback.format_exc()), markup=False, highlight=False)
                raise Exit(mask(one_line(task_name, exc)), code=1) from None

        return wrapper

    return decorate


def one_line(task_name: str, exc: BaseException) -> str:
    """Say what failed in one line: `step: cause`."""
    if isinstance(exc, CutoverError):
        message = str(exc)
    elif isinstance(exc, DB_ERRORS):
        message = f"{task_name}: {error_text(exc)}"
    elif isinstance(exc, KeyboardInterrupt):
        message = f"{task_name}: interrupted"
    else:  # an unexpected bug still gets one line; --debug shows where
        message = f"{task_name}: unexpected {type(exc).__name__}: {exc}"
    return message.splitlines()[0] if message else task_name


def settings_for(env: str | None) -> Settings:
    """Load settings for the --env profile (or CUTOVER_ENV) from the current directory."""
    # --env "$PROFILE" with PROFILE unset must not fall back on the default profile's database.
    return named_settings("--env", env) or load_settings(None, base_dir=Path.cwd())


def named_settings(flag: str, name: str | None) -> Settings | None:
    """Load the settings of a profile a flag names (None when the flag is absent)."""
    if name is None:
        return None
    if not name.strip():
        raise CutoverError("config", f"{flag} needs a profile name (.env.NAME): nothing changed")
    return load_settings(name.strip(), base_dir=Path.cwd())
