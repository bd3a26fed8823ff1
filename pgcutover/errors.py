"""The one error base of pgcutover: every domain failure names its step and its cause."""

from __future__ import annotations


class CutoverError(Exception):
    """Fail a step with one operator-readable line: ``step: cause``."""

    def __init__(self, step: str, cause: str) -> None:
        super().__init__(f"{step}: {cause}")
        self.step = step
        self.cause = cause


class Interrupted(CutoverError):
    """Stop a run at a safe point after SIGINT or SIGTERM."""


def some_of(n: int, items: list[str]) -> str:
    """Join the first n items for a cause, saying how many more there are."""
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more
