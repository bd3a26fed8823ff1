"""Refuse a production profile as a rehearsal target, by name or by CUTOVER_PRODUCTION=true."""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import dotenv_values

from pgcutover.errors import CutoverError
from pgcutover.settings import Settings, read_profile

STEP = "rehearse"
PRODUCTION_PROFILES = ("production", "prod")
TRUE_WORDS = ("1", "true", "yes", "on")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUE_WORDS


def _profile_values(profile: str | None, base_dir: Path) -> dict[str, str]:
    """Read the profile file's raw values; a file that does not exist says nothing."""
    try:
        return read_profile(profile, base_dir)
    except CutoverError:
        # read_profile refuses variables outside settings.KNOWN (CUTOVER_PRODUCTION is one until
        # Settings learns it) and unknown profiles: the guard still reads what the file says.
        path = base_dir / (f".env.{profile}" if profile else ".env")
        if not path.is_file():
            return {}
        try:
            raw = dotenv_values(path, encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return {}
        return {k: v for k, v in raw.items() if v is not None}


def refuse_production(settings: Settings, base_dir: Path | None = None) -> None:
    """Refuse a production profile by name, or one marked CUTOVER_PRODUCTION=true; connects to
    nothing. The environment or the profile file saying true is enough: neither unmarks the other.
    """
    name = settings.profile or ""
    shown = name or "default (.env)"
    if name.strip().lower() in PRODUCTION_PROFILES:
        raise CutoverError(
            STEP,
            f"profile {name!r} is a production profile: rehearse on staging or with --clone "
            "of a staging database",
        )
    marked = _truthy(os.environ.get("CUTOVER_PRODUCTION")) or _truthy(
        _profile_values(settings.profile, base_dir or Path.cwd()).get("CUTOVER_PRODUCTION")
    )
    if marked:
        raise CutoverError(
            STEP,
            f"profile {shown!r} is a production profile (CUTOVER_PRODUCTION=true): rehearse on "
            "staging or with --clone of a staging database",
        )
