"""The read-only tasks: status, backups and audit (what an operator looks at, never changes)."""

from __future__ import annotations

import json

from rich.table import Table
from rich.text import Text

from pgcutover.db import DB_ERRORS, Database, connect, describe_target, error_text
from pgcutover.errors import CutoverError
from pgcutover.forecast_report import forecast_for_run
from pgcutover.journal import latest_run_dir, read_journal
from pgcutover.lock import lock_holder
from pgcutover.migration import load_migration
from pgcutover.next_steps import next_move
from pgcutover.settings import Settings
from pgcutover.timeline import console, say
from steps.preflight import audit as audit_rows
from steps.preflight import legacy_drift, refused_references, schema_state, state_text


def audit(settings: Settings) -> list[dict[str, object]]:
    """Check the live legacy schema, then count the rows rules will bend (R13); read-only."""
    migration = load_migration(settings.migration_dir)
    target = describe_target(settings.database_url)
    db = connect(
        settings.database_url, settings.db_driver, application_name="pgcutover audit", step="audit"
    )
    try:
        with db.transaction():
            db.execute("SET TRANSACTION READ ONLY")
            state, detail = schema_state(db, migration)
            if state != "legacy":  # the counts read legacy tables: say why there are none
                raise CutoverError(
                    "audit",
                    f"the database {state_text(state)} ({detail}): audit "
                    "reads the legacy schema before a window",
                )
            drift = legacy_drift(db, migration)
            # Drift may break a count's query (a missing column): count what still can be counted.
            db.execute("SAVEPOINT pgcutover_audit")
            try:
                findings = audit_rows(db, migration)
            except DB_ERRORS as exc:
                if not drift:
                    raise
                db.execute("ROLLBACK TO SAVEPOINT pgcutover_audit")
                findings, not_counted = [], error_text(exc)
            else:
                not_counted = ""
            refused = [] if drift else refused_references(db, migration)
    finally:
        db.close()
    if findings:
        table = Table(
            title=f"Rows the rules will bend in {target} (read-only)", title_justify="left"
        )
        for col in ("rule", "finding", "rows"):
            table.add_column(col)
        for f in findings:
            table.add_row(str(f["rule"]), str(f["finding"]), str(f["rows"]))
        console.print(table)
    if refused:
        table = Table(
            title=f"Legacy rows in {target} the target's keys would refuse", title_justify="left"
        )
        table.add_column("problem")
        table.add_column("how many")
        for problem, rows in refused:
            table.add_row(Text(problem), str(rows))
        console.print(table)
    if drift:
        table = Table(
            title=f"Drift of the legacy schema in {target} from what the migration expects",
            title_justify="left",
        )
        table.add_column("difference")
        for d in drift:
            table.add_row(Text(d))  # a name is data, never rich markup
        console.print(table)
        counts = f"; rows not counted ({not_counted})" if not_counted else ""
        raise CutoverError(
            "audit",
            "the live legacy schema differs from what the migration "
            f"expects: {', '.join(drift)}{counts}: preflight refuses the "
            "window until the migration or the schema is fixed",
        )
    if refused:
        raise CutoverError(
            "audit",
            f"legacy rows the target's keys would refuse, {len(refused)} kind(s) (listed "
            "above): preflight refuses the window until they are fixed or deleted",
        )
    return findings


def step_summary(lines: list[dict[str, object]]) -> list[tuple[str, str, str, str, str]]:
    """Fold journal lines into one row per step: its name, how to show it, state, time against
    budget, note or error. A step run beside the others shows so, and the step it was joined before.
    """
    rows: dict[str, tuple[str, str, str, str]] = {}
    shown: dict[str, str] = {}
    for line in lines:
        step = str(line["step"])
        if line["event"] == "start":
            until = line.get("beside_until")
            shown[step] = f"{step} (beside, joined before {until})" if until else step
            state = (
                "running beside the window (or stopped)" if until else "running (or stopped here)"
            )
            rows[step] = (step, state, f"since {line['at']}", "")
        elif line["event"] == "progress" and step in rows:
            rows[step] = (*rows[step][:3], f"{progress_text(line)} at {line['at']}")
        elif line["event"] == "end":
            over = " OVER BUDGET" if line.get("over_budget") else ""
            # A step stopped before it started has no budget on its end line: no "/ Nones".
            budget = f" / {line['budget_s']}s" if line.get("budget_s") is not None else ""
            rows[step] = (
                step,
                str(line.get("outcome")),
                f"{line.get('duration_s')}s{budget}{over}",
                str(line.get("error") or line.get("note") or ""),
            )
    return [(step, shown.get(step, step), *row[1:]) for step, row in rows.items()]


def releases_from_journal(lines: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    """Fold the journal's `release` lines into each host's release record, in rollout order."""
    hosts: dict[str, dict[str, object]] = {}
    for line in lines:
        if line.get("event") == "release":
            fields = {k: v for k, v in line.items() if k not in ("run", "step", "event", "at")}
            hosts.setdefault(str(fields.pop("host")), {}).update(fields)
    return hosts


def releases_from_bookkeeping(db: Database, run: str) -> dict[str, dict[str, object]]:
    """Read each host's release record for a run from pgcutover.host_release."""
    if not db.query("SELECT to_regclass('pgcutover.host_release') IS NOT NULL")[0][0]:
        return {}
    rows = db.query(
        "SELECT host, previous, deployed, changed, redeployed FROM pgcutover.host_release "
        "WHERE run = %s ORDER BY position, host",
        [run],
    )
    return {
        str(host): {
            "previous": previous,
            "deployed": deployed,
            "changed": "unknown" if changed is None else changed,
            "redeployed": redeployed,
        }
        for host, previous, deployed, changed, redeployed in rows
    }


def release_table(releases: dict[str, dict[str, object]], source: str) -> Table:
    """Show each app host's release: before the window, deployed, redeployed, and now."""
    table = Table(title=f"App releases per host ({source})", title_justify="left")
    for col in ("host", "before the window", "deployed", "redeployed by rollback", "now"):
        table.add_column(col)
    for host, r in releases.items():
        if r.get("redeployed"):
            now = str(r["redeployed"])
        elif r.get("changed") is True:
            now = str(r.get("deployed"))
        elif r.get("changed") is False or r.get("changed") is None:
            now = str(r.get("previous") or "")
        else:  # its deploy started and never said how it ended
            now = "unknown (deploy did not finish)"
        table.add_row(
            Text(host),
            Text(str(r.get("previous") or "")),
            Text(str(r.get("deployed") or "")),
            Text(str(r.get("redeployed") or "")),
            Text(now),
        )
    return table


def status(settings: Settings) -> None:
    """Show the current or last run, a row per step, from the bookkeeping schema (else RUNS_DIR)."""
    lines: list[dict[str, object]] = []
    releases: dict[str, dict[str, object]] = {}
    identity: dict[str, object] = {}
    header, source, run_status = "", "", ""
    try:
        db = connect(
            settings.database_url,
            settings.db_driver,
            application_name="pgcutover status",
            step="status",
        )
        try:
            if db.query("SELECT to_regclass('pgcutover.runs') IS NOT NULL")[0][0]:
                run = db.query(
                    "SELECT run, command, status, started_at, identity::text FROM pgcutover.runs "
                    "ORDER BY started_at DESC, run DESC LIMIT 1"
                )
                if run:
                    header = f"Run {run[0][0]} ({run[0][1]}): {run[0][2]}, started {run[0][3]}"
                    run_status = str(run[0][2])
                    if run[0][2] == "running" and lock_holder(db) is None:
                        run_status = "gone"
                        # A run holds the lock for as long as it lives: killed, or cut off.
                        header += (
                            " — but no pgcutover session holds the lock: the process is gone "
                            "(killed, or its machine lost the server); resume or roll it back"
                        )
                    identity = json.loads(run[0][4]) if run[0][4] else {}
                    lines = [
                        json.loads(r[0]) if isinstance(r[0], str) else r[0]
                        for r in db.query(
                            "SELECT line FROM pgcutover.journal WHERE run = %s ORDER BY at",
                            [run[0][0]],
                        )
                    ]
                    source = "bookkeeping schema pgcutover"
                    releases = releases_from_bookkeeping(db, str(run[0][0]))
        finally:
            db.close()
    except CutoverError as exc:
        say(f"database not reachable ({exc.cause}); reading {settings.runs_dir}", "yellow")
    except DB_ERRORS as exc:
        say(f"bookkeeping not readable ({error_text(exc)}); reading {settings.runs_dir}", "yellow")
    if not lines:
        last = latest_run_dir(settings.runs_dir)
        if last is None:
            say("No run recorded yet.")
            return
        lines = list(read_journal(last / "journal.jsonl"))
        header, source = f"Run {last.name}", str(last / "journal.jsonl")
    say(header, "bold")
    run_id = str(lines[0].get("run", "")) if lines else ""
    forecast = forecast_for_run(settings.runs_dir, settings.runs_dir / run_id, dict(identity))
    table = Table(title=f"Journal ({source})", title_justify="left")
    for col in ("step", "state", "time / budget", *(["forecast"] if forecast else []), "note"):
        table.add_column(col)
    steps = (forecast or {}).get("steps") or {}
    for step, label, state, timing, note in step_summary(lines):
        if forecast:
            guess = steps.get(step)
            shown = f"{guess:.3g}s" if isinstance(guess, (int, float)) else ""
            table.add_row(label, state, timing, shown, note)
        else:
            table.add_row(label, state, timing, note)
    console.print(table)
    if forecast:
        say(
            f"Forecast from rehearsal {forecast.get('rehearsal_run')}: window "
            f"{forecast.get('window_s')}s ± {forecast.get('window_spread_s')}s"
        )
    releases = releases or releases_from_journal(lines)
    if releases:
        where = "pgcutover.host_release" if "bookkeeping" in source else "the journal"
        console.print(release_table(releases, f"as recorded in {where}"))
    move = next_move(settings, run_id, list(lines), run_status)
    if move:
        say(f"Next: {move} (runbooks/rollback.md)", "bold yellow")


def progress_text(line: dict[str, object]) -> str:
    """Say a journaled progress line: done of total, time left when it could say."""
    unit, done, total = line.get("unit"), line.get("done"), line.get("total")
    text = f"{done} of {total} {unit}" if total is not None else f"{done} {unit}"
    if isinstance(line.get("label"), str):
        text = f"{line['label']}: {text}"
    eta = line.get("eta_s")
    return text + (f", ~{eta}s left" if isinstance(eta, (int, float)) else "")
