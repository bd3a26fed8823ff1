"""Numbers an operator types: ASCII digits only."""

from __future__ import annotations

import re

# int() and float() also read '1_0' as 10 and other scripts' digits ('２'): not what an operator
# typing a count or a number of seconds means, so such a value is refused, not guessed at.
_WHOLE = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def ascii_int(raw: object) -> int:
    """Read a whole number in ASCII digits (surrounding blanks allowed); raise ValueError else."""
    text = str(raw).strip()
    if not _WHOLE.fullmatch(text):
        raise ValueError(text)
    return int(text)


def ascii_float(raw: object) -> float:
    """Read a decimal number in ASCII digits (no exponent, nan or inf); raise ValueError else."""
    text = str(raw).strip()
    if not _DECIMAL.fullmatch(text):
        raise ValueError(text)
    return float(text)
