"""Load one typed settings object from a profile file and the process environment."""

from __future__ import annotations

import difflib
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from pgcutover.app_host_settings import HostEntry, parse_app_hosts, url_template
from pgcutover.backup_settings import (
    DEFAULT_COMPRESS,
    DEFAULT_FORMAT,
    CopyTarget,
    Keep,
    parse_compress,
    parse_copy_to,
    parse_format,
    parse_keep,
)
from pgcutover.errors import CutoverError
from pgcutover.numbers import ascii_float
from pgcutover.redact import register_secret
from pgcutover.timeline import warn
from pgcutover.window_session import window_session_settings

DRIVERS = ("psycopg", "pg8000")
# Every variable pgcutover reads; a profile file naming anything else is a typo until proven
# otherwise.
KNOWN = (
    "DATABASE_URL",
    "DB_DRIVER",
    "BACKUP_DIR",
    "BACKUP_KEEP",
    "BACKUP_COPY_TO",
    "BACKUP_COMPRESS",
    "BACKUP_FORMAT",
    "RUNS_DIR",
    "MIGRATION_DIR",
    "PG_BINDIR",
    "MAINTENANCE_ON_CMD",
    "MAINTENANCE_OFF_CMD",
    "DEPLOY_CMD",
    "DEPLOY_VERSION",
    "CURRENT_VERSION_CMD",
    "HEALTHCHECK_URL",
    "HEALTHCHECK_TIMEOUT",
    "SMOKE_CMD",
    "SMOKE_TIMEOUT",
    "APP_HOSTS",
    "SSH_CONFIG",
    "SSH_CONNECT_TIMEOUT",
    "MAINTENANCE_CHECK_URL",
    "MAINTENANCE_CHECK_TIMEOUT",
    "FENCE_WAIT",
    "WINDOW_WORK_MEM",
    "WINDOW_MAINTENANCE_WORK_MEM",
    "WINDOW_JIT",
    "NOTIFY_CMD",
    "NOTIFY_TIMEOUT",
    "CUTOVER_ENV",
    "CUTOVER_PRODUCTION",
    "CUTOVER_FAULT",
    "CUTOVER_FAULT_CMD",
    "PGPASSWORD",
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGAPPNAME",
)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The runs/ and backups/ subdirectory of a run without a profile (each profile has its own).
DEFAULT_HOME = "default"


@dataclass(frozen=True)
class Settings:
    """Everything a run reads from its configuration, resolved and typed."""

    database_url: str = ""
    missing_url: str = ""  # why there is no target, said when a task needs the database
    profile: str | None = None
    scratch_copy: str = ""  # rehearse --clone's database: no command printed reaches it
    db_driver: str = "psycopg"
    backup_dir: Path = Path("backups") / DEFAULT_HOME
    runs_dir: Path = Path("runs") / DEFAULT_HOME
    backup_keep: Keep | None = None  # None: `invoke backups --prune` refuses
    backup_copy_to: CopyTarget | None = None  # None: the dump stays on this machine only
    backup_compress: int = DEFAULT_COMPRESS  # pg_dump's gzip level
    backup_format: str = DEFAULT_FORMAT  # pg_dump's --format: directory (--jobs) or custom
    migration_dir: Path = PROJECT_ROOT / "sql" / "migration"
    pg_bindir: Path | None = None
    maintenance_on_cmd: str = ""
    maintenance_off_cmd: str = ""
    deploy_cmd: str = ""
    deploy_version: str = ""
    current_version_cmd: str = ""
    healthcheck_url: str = ""
    healthcheck_timeout_s: float = 60.0
    smoke_cmd: str = ""
    smoke_timeout_s: float = 300.0
    app_hosts: tuple[HostEntry, ...] = ()  # empty: app commands run on this machine
    ssh_config: Path | None = None  # None: ~/.ssh/config and /etc/ssh/ssh_config, as ssh does
    ssh_connect_timeout_s: float | None = None  # None: the SSH config's ConnectTimeout, else 10
    maintenance_check_url: str = ""
    maintenance_check_timeout_s: float = 30.0
    fence_wait_s: float = 10.0
    # work_mem, maintenance_work_mem and jit for the window's transactions (window_session.py)
    window_session: dict[str, str] = field(default_factory=lambda: window_session_settings({}))
    notify_cmd: str = ""  # run with each event as JSON on stdin (pgcutover/notify.py)
    notify_timeout_s: float = 10.0
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
    found = [
        p / "bin" for p in root.glob("*") if (p / "bin" / "pg_dump").exists() and p.name.isdigit()
    ]
    return max(found, key=lambda p: int(p.parent.name)) if found else None


def plain_name(name: str) -> bool:
    """Say whether a profile name is a plain name: never a path out of its directory."""
    return name not in (".", "..") and all(c.isalnum() or c in "._-" for c in name)


def read_profile(profile: str | None, base_dir: Path) -> dict[str, str]:
    """Read .env.NAME (or .env when no profile is named); an unknown profile is an error."""
    if profile:
        if not plain_name(profile):  # .env.../../x would be read from outside base_dir
            raise CutoverError(
                "config",
                f"{profile!r} is not a profile name: use letters, digits, '.', '_' and '-' "
                "(it names .env.NAME beside tasks.py)",
            )
        path = base_dir / f".env.{profile}"
        if not path.is_file():
            raise CutoverError("config", f"unknown profile {profile!r}: {path} not found")
    else:
        path = base_dir / ".env"
        if not path.is_file():
            return {}
    try:
        raw = path.read_bytes()
        raw.decode("utf-8")
    except OSError as exc:
        raise CutoverError("config", f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CutoverError(
            "config",
            f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line "
            f"{line}): save it as UTF-8",
        ) from None
    values = {k: v for k, v in dotenv_values(path, encoding="utf-8").items() if v is not None}
    unknown = [k for k in values if k not in KNOWN and not k.startswith("BUDGET_")]
    if unknown:
        raise CutoverError(
            "config",
            f"{path} sets unknown variable{'s' if len(unknown) > 1 else ''} "
            + ", ".join(_with_hint(k) for k in unknown)
            + ": fix the name or remove the line (see .env.example)",
        )
    return values


def _with_hint(name: str) -> str:
    """Name an unknown variable with the known one it most likely misspells."""
    close = difflib.get_close_matches(name, KNOWN, n=1, cutoff=0.8)
    return f"{name} (did you mean {close[0]}?)" if close else name


def near_misses(environ: dict[str, str]) -> list[str]:
    """List process variables that look like a misspelt pgcutover variable (DATABSE_URL …)."""
    return [
        _with_hint(k)
        for k in environ
        if k not in KNOWN
        and not k.startswith("BUDGET_")
        and difflib.get_close_matches(k, KNOWN, n=1, cutoff=0.85)
    ]


def load_settings(
    profile: str | None = None,
    *,
    base_dir: Path | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Resolve settings: defaults, then the profile file, then the process environment."""
    env = dict(os.environ if environ is None else environ)
    base = base_dir or Path.cwd()
    profile = profile or env.get("CUTOVER_ENV") or None
    values = {**read_profile(profile, base), **env}  # the process environment wins

    def path(key: str, default: str) -> Path:
        raw = Path(values.get(key) or default)
        return raw if raw.is_absolute() else base / raw

    def home(key: str, name: str) -> Path:
        # Per profile by default, so staging's runs and backups never mix with production's.
        return path(key, "") if values.get(key) else base / name / profile_home(profile)

    backup_dir = home("BACKUP_DIR", "backups")
    warn_unsorted(base, values)

    # The process environment holds other programs' variables too: a near miss is said, not fatal.
    for name in near_misses(env):
        warn(f"config: the environment sets {name}; pgcutover ignores it")
    driver = values.get("DB_DRIVER", "psycopg") or "psycopg"
    if driver not in DRIVERS:
        raise CutoverError(
            "config", f"unknown DB_DRIVER {driver!r}: use one of {', '.join(DRIVERS)}"
        )
    bindir = values.get("PG_BINDIR")
    budgets = {
        k[len("BUDGET_") :].lower().replace("_", "-"): _number(k, v)
        for k, v in values.items()
        if k.startswith("BUDGET_") and v
    }
    url = values.get("DATABASE_URL", "")
    if not url and not any(values.get(k) for k in ("PGHOST", "PGDATABASE", "PGSERVICE")):
        url_hint = [h for h in near_misses(values) if "DATABASE_URL" in h]
        missing_url = "DATABASE_URL is not set" + (f" ({url_hint[0]})" if url_hint else "")
    else:
        missing_url = ""
    register_secret(values.get("PGPASSWORD"))
    return Settings(
        database_url=url,
        missing_url=missing_url,
        profile=profile,
        db_driver=driver,
        backup_dir=backup_dir,
        runs_dir=home("RUNS_DIR", "runs"),
        backup_keep=parse_keep(values.get("BACKUP_KEEP", "")),
        window_session=window_session_settings(values),
        backup_compress=parse_compress(values.get("BACKUP_COMPRESS", "")),
        backup_format=parse_format(values.get("BACKUP_FORMAT", "")),
        backup_copy_to=parse_copy_to(values.get("BACKUP_COPY_TO", ""), base, backup_dir),
        migration_dir=path("MIGRATION_DIR", str(PROJECT_ROOT / "sql" / "migration")),
        pg_bindir=Path(bindir) if bindir else default_pg_bindir(),
        maintenance_on_cmd=values.get("MAINTENANCE_ON_CMD", ""),
        maintenance_off_cmd=values.get("MAINTENANCE_OFF_CMD", ""),
        deploy_cmd=values.get("DEPLOY_CMD", ""),
        deploy_version=values.get("DEPLOY_VERSION", ""),
        current_version_cmd=values.get("CURRENT_VERSION_CMD", ""),
        healthcheck_url=url_template("HEALTHCHECK_URL", values.get("HEALTHCHECK_URL", "")),
        healthcheck_timeout_s=_number(
            "HEALTHCHECK_TIMEOUT", values.get("HEALTHCHECK_TIMEOUT", "60")
        ),
        smoke_cmd=values.get("SMOKE_CMD", ""),
        smoke_timeout_s=_number("SMOKE_TIMEOUT", values.get("SMOKE_TIMEOUT", "300")),
        app_hosts=parse_app_hosts(values.get("APP_HOSTS", "")),
        ssh_config=(
            base / Path(values["SSH_CONFIG"]).expanduser() if values.get("SSH_CONFIG") else None
        ),
        ssh_connect_timeout_s=(
            _number("SSH_CONNECT_TIMEOUT", values["SSH_CONNECT_TIMEOUT"])
            if values.get("SSH_CONNECT_TIMEOUT")
            else None
        ),
        maintenance_check_url=url_template(
            "MAINTENANCE_CHECK_URL", values.get("MAINTENANCE_CHECK_URL", "")
        ),
        maintenance_check_timeout_s=_number(
            "MAINTENANCE_CHECK_TIMEOUT", values.get("MAINTENANCE_CHECK_TIMEOUT", "30")
        ),
        fence_wait_s=_number("FENCE_WAIT", values.get("FENCE_WAIT", "10")),
        notify_cmd=values.get("NOTIFY_CMD", ""),
        notify_timeout_s=_number("NOTIFY_TIMEOUT", values.get("NOTIFY_TIMEOUT", "10")),
        budgets=budgets,
        fault=values.get("CUTOVER_FAULT", ""),
    )


def _number(key: str, raw: str) -> float:
    """Parse a positive, finite number of seconds (at most a day) or fail naming the variable."""
    try:
        value = ascii_float(raw)
    except ValueError:
        raise CutoverError("config", f"{key}={raw!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0 or value > 86400:
        raise CutoverError(
            "config", f"{key}={raw!r} must be a number of seconds above 0 and at most 86400"
        )
    return value


def profile_home(profile: str | None) -> str:
    """Name the runs/ and backups/ subdirectory of a profile (read_profile refused a path)."""
    return profile or DEFAULT_HOME


def warn_unsorted(base: Path, values: dict[str, str]) -> None:
    """Say when runs/ or backups/ still hold runs from before each profile had its own directory."""
    for key, name, marker in (
        ("RUNS_DIR", "runs", "journal.jsonl"),
        ("BACKUP_DIR", "backups", "manifest.json"),
    ):
        old = [] if values.get(key) else sorted((base / name).glob(f"*/{marker}"))
        if old:
            warn(
                f"config: {base / name} holds {len(old)} run(s) from before per-profile "
                f"directories ({old[-1].parent.name}, …): move them into {name}/<profile or "
                f"{DEFAULT_HOME}>/, or set {key}={name}"
            )


def env_flag(settings: Settings) -> str:
    """Return the --env flag that reaches this profile again, for the commands we print."""
    return f" --env {settings.profile}" if settings.profile else ""
