"""The set-aside schema against the seal reset recorded (steps/set_aside.py): catalog reads only.

The fast rollback swaps the schema back only when this finds nothing; anything it finds sends the
rollback to the backup instead. What the seal sees and what it cannot: the header of
sql/engine/0002_set_aside_guard.sql.
"""

from __future__ import annotations

from pgcutover.db import Database, ident
from pgcutover.errors import some_of


def has_seal_tables(db: Database) -> bool:
    """Tell whether the bookkeeping schema holds the seal's tables at all."""
    return bool(db.query("SELECT to_regclass('pgcutover.set_aside_stamp') IS NOT NULL")[0][0])


def seal_problems(
    db: Database, run_id: str, app_schema: str, aside_schema: str, dumped: dict[str, int] | None
) -> list[str]:
    """Say how the set-aside schema differs from its seal ([] if it holds); reads no table rows."""
    if not has_seal_tables(db):
        return ["no seal: the bookkeeping schema has no pgcutover.set_aside"]
    sealed = db.query(
        "SELECT aside_schema, aside_oid, released FROM pgcutover.set_aside WHERE run = %s", [run_id]
    )
    if not sealed:
        return [f"run {run_id}'s reset recorded no seal"]
    name, aside_oid, released = sealed[0]
    if released:
        return [f"run {run_id}'s set-aside schema was already {released}"]
    now = db.query("SELECT oid FROM pg_namespace WHERE nspname = %s", [aside_schema])
    if not now:
        return [f"schema {aside_schema} is gone"]
    if name != aside_schema or int(now[0][0]) != int(aside_oid):
        return [f"schema {aside_schema} is not the one run {run_id} set aside"]
    problems = _table_problems(db, run_id, aside_schema)
    changed = db.query(
        "SELECT coalesce(n.kind, o.kind), coalesce(n.object, o.object), "
        "CASE WHEN o.stamp IS NULL THEN 'added' WHEN n.stamp IS NULL THEN 'removed' "
        "ELSE 'changed' END FROM pgcutover.set_aside_stamps(%s::regnamespace) n "
        "FULL JOIN (SELECT kind, object, stamp FROM pgcutover.set_aside_stamp WHERE run = %s) o "
        "ON o.kind = n.kind AND o.object = n.object WHERE n.stamp IS DISTINCT FROM o.stamp "
        "ORDER BY 1, 2",
        [ident(aside_schema), run_id],
    )
    if changed:
        problems.append(
            "catalog changed since reset: "
            + some_of(5, [f"{kind} {obj} {how}" for kind, obj, how in changed])
        )
    if dumped is not None:  # the tables the backup step counted in the dump's snapshot
        tables = {
            str(r[0])
            for r in db.query(
                "SELECT table_name FROM pgcutover.set_aside_table WHERE run = %s", [run_id]
            )
        }
        want = set(dumped)
        if tables != want:
            problems.append(
                "the sealed tables are not the dumped ones: " + some_of(5, sorted(tables ^ want))
            )
    return problems


def _table_problems(db: Database, run_id: str, aside_schema: str) -> list[str]:
    """Compare each set-aside table with its seal row: identity, file, columns, guard, writes."""
    cols = (
        "table_oid, relfilenode, shape, guard_oid, guard_enabled, n_tup_ins, n_tup_upd, n_tup_del"
    )
    was = {
        str(r[0]): r[1:]
        for r in db.query(
            f"SELECT table_name, {cols} FROM pgcutover.set_aside_table WHERE run = %s", [run_id]
        )
    }
    now = {
        str(r[0]): r[1:]
        for r in db.query(
            f"SELECT table_name, {cols} FROM pgcutover.set_aside_tables(%s::regnamespace)",
            [ident(aside_schema)],
        )
    }
    problems = []
    for table in sorted(was.keys() | now.keys()):
        where = f"{aside_schema}.{ident(table)}"
        if table not in now:
            problems.append(f"{where} is gone")
            continue
        if table not in was:
            problems.append(f"{where} was added after reset")
            continue
        (oid0, node0, shape0, guard0, _, *stats0), (oid1, node1, shape1, guard1, on1, *stats1) = (
            was[table],
            now[table],
        )
        if oid1 != oid0:
            problems.append(f"{where} was re-created")
        elif node1 != node0:
            problems.append(f"{where} was truncated or rewritten (new relfilenode)")
        if shape1 != shape0:
            problems.append(f"{where} has other columns")
        if guard1 is None or guard1 != guard0:
            problems.append(f"{where} lost its guard trigger")
        elif on1 != "O":
            problems.append(f"{where} has its guard trigger disabled")
        # Counters only grow between resets of the statistics; a smaller value says nothing.
        grew = [
            f"{n1 - n0} {what}"
            for what, n0, n1 in zip(("inserted", "updated", "deleted"), stats0, stats1, strict=True)
            if int(n1) > int(n0)
        ]
        if grew:
            problems.append(f"{where} has rows written since reset ({', '.join(grew)})")
    return problems
