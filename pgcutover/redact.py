"""Mask secrets in every line pgcutover prints, journals or reports."""

from __future__ import annotations

import re
from typing import Any

# Up to the authority's last "@": a password with an unencoded "@" is masked whole.
_URL_PASSWORD = re.compile(
    r"(?P<pre>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^/\s]*)(?P<post>@)", re.I
)
# password=…, PGPASSWORD=…, DB_PASSWD: …, "password": "…" (JSON in a command's output).
_KV_PASSWORD = re.compile(
    r"""(?P<pre>\b\w*pass(?:word|wd)\w*"?\s*[:=]\s*)"""
    r"""(?P<pw>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S+)""",
    re.I,
)
_known: set[str] = set()


def register_secret(secret: str | None) -> None:
    """Remember a secret so that any later text containing it is masked."""
    if secret and len(secret) >= 3:
        _known.add(secret)


def mask(text: str) -> str:
    """Return text with URL passwords, password=… pairs and known secrets replaced by ***."""
    text = _URL_PASSWORD.sub(lambda m: m["pre"] + "***" + m["post"], text)
    text = _KV_PASSWORD.sub(lambda m: m["pre"] + "***", text)
    # Longest first, so a secret that contains another is masked whole.
    for secret in sorted(_known, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def mask_data(value: Any) -> Any:
    """Mask every string inside a JSON-shaped value, so masking never cuts through its syntax."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {mask(str(k)): mask_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_data(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return mask(str(value))  # anything else is serialized as its text: mask that text
