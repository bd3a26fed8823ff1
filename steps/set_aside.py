"""Reset: set the legacy schema aside (untouched, read-only, sealed); swap the built target in.

Deploy-schema and transform build the target in a schema of its own (plan.toml build_schema) while
the backup dumps the legacy one beside them; reset, once both are done, swaps the two in one
transaction: the legacy schema is renamed to the aside schema and the target takes the app
schema's name, owner, grants and comment.
The set-aside schema is the fast way back, so reset makes it read-only by construction: in the
transaction that renames it, every table gets a guard trigger refusing INSERT, UPDATE, DELETE and
TRUNCATE, and the bookkeeping schema records a seal of its catalog (what a superuser could still
get past: sql/engine/0002_set_aside_guard.sql). The seal row also tells a resumed run that reset
committed.
"""

from __future__ import annotations

from pgcutover.db import Database, ident, literal, schema_exists
from pgcutover.errors import CutoverError
from pgcutover.migration import Migration
from pgcutover.run import RunContext, Step, StepOutcome
from pgcutover.settings import Settings
from steps.backup_check import require_dumped

STEP = "reset"
GUARD_TRIGGER = "pgcutover_set_aside_guard"  # the name pgcutover.set_aside_tables() looks for
GUARD_FUNCTION = "pgcutover.refuse_set_aside_write()"


def copy_schema_rights(db: Database, source: str, target: str) -> int:
    """Give the new schema the owner, grants and comment the old one had."""
    owner, comment = db.query(
        "SELECT nspowner::regrole::text, obj_description(oid, 'pg_namespace') "
        "FROM pg_namespace WHERE nspname = %s",
        [source],
    )[0]
    db.execute(f"ALTER SCHEMA {ident(target)} OWNER TO {owner}")
    grants = db.query(
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, "
        "a.privilege_type, a.is_grantable FROM pg_namespace n, "
        "aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a "
        "WHERE n.nspname = %s AND a.grantee <> n.nspowner",
        [source],
    )
    for grantee, privilege, grantable in grants:
        option = " WITH GRANT OPTION" if grantable else ""
        db.execute(f"GRANT {privilege} ON SCHEMA {ident(target)} TO {grantee}{option}")
    if comment is not None:  # COMMENT takes no bind parameters: the server quotes the literal
        db.execute(f"COMMENT ON SCHEMA {ident(target)} IS {literal(db, comment)}")
    return len(grants)


# Default privileges set IN SCHEMA (ALTER DEFAULT PRIVILEGES … IN SCHEMA public …) belong to the
# schema's oid: renamed aside with the legacy schema, the tables the app creates later in the new
# one would lose them. Per-schema entries only ever add grants, so re-granting them carries them.
DEFAULT_PRIVILEGES = (
    "SELECT d.defaclrole::regrole::text, d.defaclobjtype::text, "
    "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, "
    "a.privilege_type, a.is_grantable, pg_has_role(d.defaclrole, 'MEMBER') "
    "FROM pg_default_acl d, aclexplode(d.defaclacl) a "
    "WHERE d.defaclnamespace = %s::regnamespace ORDER BY 1, 2, 3, 4"
)
DEFAULT_OBJECTS = {"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES"}


def carry_default_privileges(db: Database, source: str, target: str) -> tuple[int, list[str]]:
    """Give the new schema the old one's default privileges; return how many, and the roles
    whose entries this role may not set (it is not a member of them)."""
    carried, refused = 0, set()
    for role, kind, grantee, privilege, grantable, member in db.query(
        DEFAULT_PRIVILEGES, [ident(source)]
    ):
        if not member:
            refused.add(str(role))
            continue
        option = " WITH GRANT OPTION" if grantable else ""
        db.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {role} IN SCHEMA {ident(target)} "
            f"GRANT {privilege} ON {DEFAULT_OBJECTS[str(kind)]} TO {grantee}{option}"
        )
        carried += 1
    return carried, sorted(refused)


def copy_table_grants(db: Database, source: str, target: str) -> int:
    """Give each new table (and column) its legacy namesake's grants: app roles keep access."""
    grants = db.query(
        "SELECT c.relname, "
        "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, "
        "a.privilege_type, a.is_grantable FROM pg_class c, aclexplode(c.relacl) a "
        "WHERE c.relnamespace = %s::regnamespace AND c.relkind IN ('r', 'p') "
        "AND a.grantee <> c.relowner "
        "AND EXISTS (SELECT 1 FROM pg_class t "
        "WHERE t.relnamespace = %s::regnamespace AND t.relname = c.relname) "
        "ORDER BY 1, 2, 3",
        [ident(source), ident(target)],
    )
    for table, grantee, privilege, grantable in grants:
        option = " WITH GRANT OPTION" if grantable else ""
        db.execute(f"GRANT {privilege} ON {ident(target)}.{ident(table)} TO {grantee}{option}")
    columns = db.query(
        "SELECT c.relname, a.attname, "
        "CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END, "
        "g.privilege_type, g.is_grantable "
        "FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid, "
        "aclexplode(a.attacl) g "
        "WHERE c.relnamespace = %s::regnamespace AND c.relkind IN ('r', 'p') "
        "AND a.attnum > 0 AND NOT a.attisdropped AND g.grantee <> c.relowner "
        "AND EXISTS (SELECT 1 FROM pg_attribute t JOIN pg_class tc ON tc.oid = t.attrelid "
        "WHERE tc.relnamespace = %s::regnamespace AND tc.relname = c.relname "
        "AND t.attname = a.attname AND NOT t.attisdropped) ORDER BY 1, 2, 3",
        [ident(source), ident(target)],
    )
    for table, column, grantee, privilege, grantable in columns:
        option = " WITH GRANT OPTION" if grantable else ""
        db.execute(
            f"GRANT {privilege} ({ident(column)}) ON {ident(target)}.{ident(table)} "
            f"TO {grantee}{option}"
        )
    return len(grants) + len(columns)


def schema_tables(db: Database, schema: str, *, partitions: bool) -> list[str]:
    """List a schema's tables by name from the catalog ([] if there is no such schema).

    With partitions, every table that holds or routes rows: what carries the guard trigger (a
    write straight into a partition fires its own triggers only). Without, the tables the app
    names: what the reconcile covers (a partition's rows are its parent's).
    """
    return [
        str(r[0])
        for r in db.query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') "
            "AND (%s OR NOT c.relispartition) ORDER BY 1",
            [schema, partitions],
        )
    ]


def require_table_owner(db: Database, schema: str) -> None:
    """Refuse unless the role owns every table (it adds and later drops the guard triggers)."""
    foreign = db.query(
        "SELECT relname, relowner::regrole::text FROM pg_class "
        "WHERE relnamespace = %s::regnamespace AND relkind IN ('r', 'p') "
        "AND NOT pg_has_role(relowner, 'USAGE') ORDER BY 1",
        [ident(schema)],
    )
    if foreign:
        names = ", ".join(f"{t} (owner {o})" for t, o in foreign[:5])
        raise CutoverError(
            STEP,
            f"the connected role does not own {names}: the set-aside "
            "schema's guard triggers need the tables' owner; nothing was "
            "changed",
        )


def seal_aside(db: Database, run_id: str, app_schema: str, aside_schema: str) -> int:
    """Guard every set-aside table and record the seal (inside reset's transaction)."""
    tables = schema_tables(db, aside_schema, partitions=True)
    for table in tables:
        db.execute(
            f"CREATE TRIGGER {ident(GUARD_TRIGGER)} "
            "BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {ident(aside_schema)}.{ident(table)} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION {GUARD_FUNCTION}"
        )
    # Recorded after the triggers exist, so the stamps include them; same transaction as the rename,
    # so the seal row is the database's own word that this run's reset committed.
    db.execute(
        "INSERT INTO pgcutover.set_aside (run, app_schema, aside_schema, aside_oid) "
        "VALUES (%s, %s, %s, %s::regnamespace)",
        [run_id, app_schema, aside_schema, ident(aside_schema)],
    )
    db.execute(
        "INSERT INTO pgcutover.set_aside_table (run, table_name, table_oid, relfilenode, "
        "shape, guard_oid, guard_enabled, n_tup_ins, n_tup_upd, n_tup_del) "
        "SELECT %s::text, t.* FROM pgcutover.set_aside_tables(%s::regnamespace) t",
        [run_id, ident(aside_schema)],
    )
    db.execute(
        "INSERT INTO pgcutover.set_aside_stamp (run, kind, object, stamp) "
        "SELECT %s::text, s.* FROM pgcutover.set_aside_stamps(%s::regnamespace) s",
        [run_id, ident(aside_schema)],
    )
    return len(tables)


def reset_schema(
    db: Database, run_id: str, app_schema: str, aside_schema: str, build_schema: str
) -> tuple[int, int, tuple[int, list[str]]]:
    """Set the app schema aside, guarded and sealed, and swap the built one in; one transaction."""
    with db.transaction():
        require_table_owner(db, app_schema)
        if not schema_exists(db, build_schema):
            raise CutoverError(
                STEP,
                f"schema {build_schema}, where deploy-schema builds the target, is not there: "
                "nothing was changed; run the window again with --resume",
            )
        db.execute(f"ALTER SCHEMA {ident(app_schema)} RENAME TO {ident(aside_schema)}")
        db.execute(f"ALTER SCHEMA {ident(build_schema)} RENAME TO {ident(app_schema)}")
        grants = copy_schema_rights(db, aside_schema, app_schema)
        defaults = carry_default_privileges(db, aside_schema, app_schema)
        guarded = seal_aside(db, run_id, app_schema, aside_schema)
    return grants, guarded, defaults


def sealed_by(db: Database, run_id: str) -> bool:
    """Tell whether this run's reset committed: its seal row is written in the same transaction."""
    if not db.query("SELECT to_regclass('pgcutover.set_aside') IS NOT NULL")[0][0]:
        return False
    return bool(db.query("SELECT 1 FROM pgcutover.set_aside WHERE run = %s", [run_id]))


def run(ctx: RunContext) -> StepOutcome:
    """Set the legacy schema aside, unless this run already did (a crash may cut its end line)."""
    m = ctx.migration
    details = {"aside_schema": m.aside_schema}
    if done(ctx):  # the engine asks done() only of journaled steps: a crash after COMMIT lands here
        return StepOutcome(
            note=f"already committed by this run: {m.app_schema} set aside as "
            f"{m.aside_schema} (sealed)",
            details=details,
            skipped=True,
        )
    # Never without the run's dump, written whole. Its proof runs beside the window after this:
    # reset destroys nothing (the legacy schema stays, sealed, until cleanup), and the window
    # cannot pass unfence until the proof ends.
    require_dumped(ctx, STEP)
    grants, guarded, (defaults, refused) = reset_schema(
        ctx.db, ctx.run_id, m.app_schema, m.aside_schema, m.build_schema
    )
    # Not silent: tables the app creates later get none of these roles' default grants.
    missed = (
        f"; NOT carried: the default privileges FOR ROLE {', '.join(refused)} (this role is not "
        f"a member): set them again on {m.app_schema}"
        if refused
        else ""
    )
    return StepOutcome(
        note=f"{m.app_schema} set aside as {m.aside_schema} ({guarded} tables "
        f"guarded read-only, sealed); {m.build_schema} swapped in as {m.app_schema} ({grants} "
        f"schema grants, {defaults} default privileges copied){missed}",
        details={
            **details,
            "guarded_tables": guarded,
            "default_privileges": defaults,
            "default_privileges_not_carried": refused,
        },
    )


def done(ctx: RunContext) -> bool:
    """Ask the database, not the journal, whether this run's reset committed."""
    return sealed_by(ctx.db, ctx.run_id)


def describe(settings: Settings, migration: Migration) -> list[str]:
    return [
        "require the run's dump, written whole (unfence waits for its proof)",
        f"one transaction: ALTER SCHEMA {migration.app_schema} RENAME TO "
        f"{migration.aside_schema}; ALTER SCHEMA {migration.build_schema} RENAME TO "
        f"{migration.app_schema} (given the same owner, grants and comment); a guard trigger "
        f"refusing writes on every {migration.aside_schema} table; the seal in "
        "pgcutover.set_aside*",
    ]


RESET = Step(STEP, 30, run, describe, done=done)
