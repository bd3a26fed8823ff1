"""The task boundary: settings from flags, domain errors to one `step: cause` line (traceback with --debug)."""
from __future__ import annotations

import functools
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from invoke.exceptions import Exit

from .config import Settings, load_settings
from .db import DB_ERRORS, error_text
from .errors import CutoverError
from .redact import mask
from .timeline import console

F = TypeVar("F", bound=Callable[..., Any])


def operator_errors(task_name: str) -> Callable[[F], F]:
    """Turn any failure inside a task into invoke.Exit with one masked line; --debug adds the traceback."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            debug = bool(kwargs.get("debug"))
            try:
                return fn(*args, **kwargs)
            except Exit:
                raise
            except CutoverError as exc:
                message = str(exc)
            except DB_ERRORS as exc:
                message = f"{task_name}: {error_text(exc)}"
            except KeyboardInterrupt:
                message = f"{task_name}: interrupted"
            except Exception as exc:  # an unexpected bug still gets one line; --debug shows where
                message = f"{task_name}: unexpected {type(exc).__name__}: {exc}"
            if debug:
                console.print(mask(traceback.format_exc()), markup=False, highlight=False)
            raise Exit(mask(message.splitlines()[0] if message else task_name), code=1)

        return wrapper  # type: ignore[return-value]

    return decorate


def settings_for(env: str | None) -> Settings:
    """Load settings for the --env profile (or CUTOVER_ENV) from the current directory."""
    return load_settings(env or None, base_dir=Path.cwd())
