"""Step 5, reset: set the legacy schema aside (data untouched) and create an empty one in its place."""
from __future__ import annotations

from .backup import require_proven
from .config import Settings
from .db import Database, ident
from .engine import RunContext, Step, StepOutcome
from .migration import Migration

STEP = "reset"


def schema_exists(db: Database, name: str) -> bool:
    return bool(db.query("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name]))


def copy_schema_rights(db: Database, source: str, target: str) -> int:
    """Give the new schema the owner, grants and comment the old one had."""
    owner, comment = db.query("SELECT nspowner::regrole::text, obj_description(oid, 'pg_namespace') "
                              "FROM pg_namespace WHERE nspname = %s", [source])[0]
    db.execute(f"ALTER SCHEMA {ident(target)} OWNER TO {owner}")
    grants = db.query("SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, "
                      "a.privilege_type, a.is_grantable FROM pg_namespace n, "
                      "aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a "
                      "WHERE n.nspname = %s AND a.grantee <> n.nspowner", [source])
    for grantee, privilege, grantable in grants:
        option = " WITH GRANT OPTION" if grantable else ""
        db.execute(f"GRANT {privilege} ON SCHEMA {ident(target)} TO {grantee}{option}")
    if comment is not None:  # COMMENT takes no bind parameters: the server quotes the literal
        db.execute(f"COMMENT ON SCHEMA {ident(target)} IS {_literal(db, comment)}")
    return len(grants)


def copy_table_grants(db: Database, source: str, target: str) -> int:
    """Give each new table (and column) the grants its legacy namesake had, so app roles keep their access."""
    grants = db.query(
        "SELECT c.relname, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, "
        "a.privilege_type, a.is_grantable FROM pg_class c, aclexplode(c.relacl) a "
        "WHERE c.relnamespace = %s::regnamespace AND c.relkind IN ('r', 'p') AND a.grantee <> c.relowner "
        "AND EXISTS (SELECT 1 FROM pg_class t WHERE t.relnamespace = %s::regnamespace AND t.relname = c.relname) "
        "ORDER BY 1, 2, 3", [ident(source), ident(target)])
    for table, grantee, privilege, grantable in grants:
        option = " WITH GRANT OPTION" if grantable else ""
        db.execute(f"GRANT {privilege} ON {ident(target)}.{ident(table)} TO {grantee}{option}")
    columns = db.query(
        "SELECT c.relname, a.attname, CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END, "
        "g.privilege_type, g.is_grantable FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid, "
        "aclexplode(a.attacl) g WHERE c.relnamespace = %s::regnamespace AND c.relkind IN ('r', 'p') "
        "AND a.attnum > 0 AND NOT a.attisdropped AND g.grantee <> c.relowner AND EXISTS (SELECT 1 FROM pg_attribute t "
        "JOIN pg_class tc ON tc.oid = t.attrelid WHERE tc.relnamespace = %s::regnamespace AND tc.relname = c.relname "
        "AND t.attname = a.attname AND NOT t.attisdropped) ORDER BY 1, 2, 3", [ident(source), ident(target)])
    for table, column, grantee, privilege, grantable in columns:
        option = " WITH GRANT OPTION" if grantable else ""
        db.execute(f"GRANT {privilege} ({ident(column)}) ON {ident(target)}.{ident(table)} TO {grantee}{option}")
    return len(grants) + len(columns)


def _literal(db: Database, value: str) -> str:
    return str(db.query("SELECT quote_literal(%s)", [value])[0][0])


def reset_schema(db: Database, app_schema: str, aside_schema: str) -> int:
    """Rename the app schema to the aside name and create an empty app schema, in one transaction."""
    with db.transaction():
        db.execute(f"ALTER SCHEMA {ident(app_schema)} RENAME TO {ident(aside_schema)}")
        db.execute(f"CREATE SCHEMA {ident(app_schema)}")
        return copy_schema_rights(db, aside_schema, app_schema)


def run(ctx: RunContext) -> StepOutcome:
    require_proven(ctx, STEP)  # the one rule that is never bent: no destructive step without a proven backup
    m = ctx.migration
    grants = reset_schema(ctx.db, m.app_schema, m.aside_schema)
    return StepOutcome(note=f"{m.app_schema} set aside as {m.aside_schema}; empty {m.app_schema} created "
                            f"({grants} schema grants copied)", details={"aside_schema": m.aside_schema})


def done(ctx: RunContext) -> bool:
    m = ctx.migration
    return schema_exists(ctx.db, m.aside_schema) and schema_exists(ctx.db, m.app_schema)


def describe(settings: Settings, migration: Migration) -> list[str]:
    return ["require the run's proven backup (manifest sha256 matches)",
            f"ALTER SCHEMA {migration.app_schema} RENAME TO {migration.aside_schema}; "
            f"CREATE SCHEMA {migration.app_schema} (same owner, grants and comment)"]


RESET = Step(STEP, 30, run, describe, done=done)
