"""Step 11, smoke: prove the new release works on the migrated data before the site opens."""

from __future__ import annotations

import shlex
import time
from typing import Any

from pgcutover.apply_sql import set_run_parameters
from pgcutover.db import DB_ERRORS, Database, error_text
from pgcutover.errors import CutoverError
from pgcutover.hosts import open_hosts, run_on
from pgcutover.migration import Migration, SqlFile
from pgcutover.redact import mask
from pgcutover.run import DATA_SECONDS, RunContext, Step, StepOutcome
from pgcutover.settings import Settings

STEP = "smoke"
SAMPLE = 3  # problems named in the one-line error


def read_probe(ctx: RunContext, probe: SqlFile) -> list[str]:
    """Run a read probe in a read-only snapshot; every row it returns is a problem."""
    db = ctx.db
    with db.transaction():
        db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        set_run_parameters(ctx, db)
        try:
            return [str(r[0]) for r in db.query(probe.text)]
        except DB_ERRORS as exc:
            raise CutoverError(STEP, f"read probe {probe.name} failed: {error_text(exc)}") from None


def sequences(db: Database, schema: str) -> dict[str, Any]:
    """Return each sequence of a schema with its last value (rolled-back inserts still move it)."""
    sql = "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = %s"
    rows = db.query(sql, [schema])
    return {str(name): value for name, value in rows}


def write_probe(ctx: RunContext, probe: SqlFile) -> None:
    """Run a write probe in a transaction that is always rolled back; an error fails the step."""
    db, schema = ctx.db, ctx.migration.app_schema
    before = sequences(db, schema)
    db.execute("BEGIN")
    try:
        set_run_parameters(ctx, db)
        db.run_script(probe.text)
    except DB_ERRORS as exc:
        raise CutoverError(STEP, f"write probe {probe.name} failed: {error_text(exc)}") from None
    finally:
        db.execute("ROLLBACK")  # always: the probe proves the app could write, and leaves nothing
        for name, value in before.items():  # sequences are not transactional: put them back
            if sequences(db, schema).get(name) != value and value is not None:
                db.query("SELECT setval(%s::regclass, %s)", [f"{schema}.{name}", value])


def smoke_command(ctx: RunContext) -> str:
    """Run SMOKE_CMD on the first app host ({host}, {version} filled in); return its last line."""
    s = ctx.settings
    with open_hosts(s) as hosts:
        host = hosts[0]
        command = s.smoke_cmd.replace("{host}", shlex.quote(host.url_host)).replace(
            "{version}", shlex.quote(s.deploy_version)
        )
        result = run_on(STEP, host, command, timeout_s=s.smoke_timeout_s, journal=ctx.journal)
    output = (result.stdout + result.stderr).strip().splitlines()
    last = mask(output[-1]) if output else "no output"
    if result.exit_code != 0:
        raise CutoverError(STEP, f"SMOKE_CMD on {host.name} exited {result.exit_code}: {last}")
    return last


def run(ctx: RunContext) -> StepOutcome:
    m = ctx.migration
    problems: list[str] = []
    started = time.monotonic()
    for probe in m.smoke_reads:
        found = read_probe(ctx, probe)
        problems += [f"{probe.name}: {p}" for p in found]
    if problems:
        raise CutoverError(STEP, f"{len(problems)} problems, e.g. " + "; ".join(problems[:SAMPLE]))
    for probe in m.smoke_writes:
        write_probe(ctx, probe)
    details: dict[str, Any] = {
        "read_probes": [p.name for p in m.smoke_reads],
        "write_probes": [p.name for p in m.smoke_writes],
        # The read probes scan the migrated data: the forecast scales this part alone.
        DATA_SECONDS: round(time.monotonic() - started, 3),
    }
    note = f"{len(m.smoke_reads)} read and {len(m.smoke_writes)} write probes pass (rolled back)"
    if ctx.settings.smoke_cmd:
        details["smoke_cmd"] = smoke_command(ctx)
        note += f"; SMOKE_CMD: {details['smoke_cmd']}"
    return StepOutcome(note=note, details=details)


def describe(settings: Settings, migration: Migration) -> list[str]:
    lines = [f"read probe {p.name}: any row returned fails the step" for p in migration.smoke_reads]
    lines += [
        f"write probe {p.name}: in a transaction that is always rolled back"
        for p in migration.smoke_writes
    ]
    if settings.smoke_cmd:
        lines.append(f"SMOKE_CMD on the first app host: {settings.smoke_cmd}")
    else:
        lines.append("SMOKE_CMD not set: only the built-in probes run")
    return lines


SMOKE = Step(STEP, 120, run, describe)
