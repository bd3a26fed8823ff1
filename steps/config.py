"""Load one typed settings object from a profile file and the process environment."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from .errors import CutoverError
from .redact import register_secret

DRIVERS = ("psycopg", "pg8000")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Everything a run reads from its configuration, resolved and typed."""

    database_url: str = ""
    profile: str | None = None
    db_driver: str = "psycopg"
    backup_dir: Path = Path("backups")
    runs_dir: Path = Path("runs")
    migration_dir: Path = PROJECT_ROOT / "sql" / "migration"
    pg_bindir: Path | None = None
    maintenance_on_cmd: str = ""
    maintenance_off_cmd: str = ""
    deploy_cmd: str = ""
    deploy_version: str = ""
    current_version_cmd: str = ""
    healthcheck_url: str = ""
    healthcheck_timeout_s: float = 60.0
    fence_wait_s: float = 10.0
    budgets: dict[str, float] = field(default_factory=dict)
    fault: str = ""

    def tool(self, name: str) -> str:
        """Return the path of a PostgreSQL client program (pg_dump, pg_restore, …)."""
        if self.pg_bindir is not None:
            return str(self.pg_bindir / name)
        return shutil.which(name) or name


def default_pg_bindir() -> Path | None:
    """Pick the newest /usr/lib/postgresql/N/bin, so pg_dump is never older than needed."""
    root = Path("/usr/lib/postgresql")
    found = [p / "bin" for p in root.glob("*") if (p / "bin" / "pg_dump").exists() and p.name.isdigit()]
    return max(found, key=lambda p: int(p.parent.name)) if found else None


def read_profile(profile: str | None, base_dir: Path) -> dict[str, str]:
    """Read .env.NAME (or .env when no profile is named); an unknown profile is an error."""
    if profile:
        path = base_dir / f".env.{profile}"
        if not path.is_file():
            raise CutoverError("config", f"unknown profile {profile!r}: {path} not found")
    else:
        path = base_dir / ".env"
        if not path.is_file():
            return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def load_settings(profile: str | None = None, *, base_dir: Path | None = None,
                  environ: dict[str, str] | None = None) -> Settings:
    """Resolve settings: defaults, then the profile file, then the process environment."""
    env = dict(os.environ if environ is None else environ)
    base = base_dir or Path.cwd()
    profile = profile or env.get("CUTOVER_ENV") or None
    values = {**read_profile(profile, base), **env}  # the process environment wins

    def path(key: str, default: str) -> Path:
        raw = Path(values.get(key) or default)
        return raw if raw.is_absolute() else base / raw

    driver = values.get("DB_DRIVER", "psycopg") or "psycopg"
    if driver not in DRIVERS:
        raise CutoverError("config", f"unknown DB_DRIVER {driver!r}: use one of {', '.join(DRIVERS)}")
    bindir = values.get("PG_BINDIR")
    budgets = {k[len("BUDGET_"):].lower().replace("_", "-"): _number(k, v)
               for k, v in values.items() if k.startswith("BUDGET_") and v}
    url = values.get("DATABASE_URL", "")
    register_secret(values.get("PGPASSWORD"))
    return Settings(
        database_url=url,
        profile=profile,
        db_driver=driver,
        backup_dir=path("BACKUP_DIR", "backups"),
        runs_dir=path("RUNS_DIR", "runs"),
        migration_dir=path("MIGRATION_DIR", str(PROJECT_ROOT / "sql" / "migration")),
        pg_bindir=Path(bindir) if bindir else default_pg_bindir(),
        maintenance_on_cmd=values.get("MAINTENANCE_ON_CMD", ""),
        maintenance_off_cmd=values.get("MAINTENANCE_OFF_CMD", ""),
        deploy_cmd=values.get("DEPLOY_CMD", ""),
        deploy_version=values.get("DEPLOY_VERSION", ""),
        current_version_cmd=values.get("CURRENT_VERSION_CMD", ""),
        healthcheck_url=values.get("HEALTHCHECK_URL", ""),
        healthcheck_timeout_s=_number("HEALTHCHECK_TIMEOUT", values.get("HEALTHCHECK_TIMEOUT", "60")),
        fence_wait_s=_number("FENCE_WAIT", values.get("FENCE_WAIT", "10")),
        budgets=budgets,
        fault=values.get("CUTOVER_FAULT", ""),
    )


def _number(key: str, raw: str) -> float:
    """Parse a positive number of seconds or fail naming the variable."""
    try:
        value = float(raw)
    except ValueError:
        raise CutoverError("config", f"{key}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise CutoverError("config", f"{key}={raw!r} must be positive")
    return value
