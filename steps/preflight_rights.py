"""Preflight's rights check: what the connected role needs for the window, each with its fix."""

from __future__ import annotations

from pgcutover.db import Database, ident


def missing_rights(db: Database, app_schema: str) -> list[str]:
    """List the rights the window needs that the connected role lacks, each with the fix."""
    me, is_super, owns_db, can_create, owns_schema, can_signal = db.query(
        "SELECT current_user, r.rolsuper, pg_has_role(current_user, d.datdba, 'USAGE'), "
        "has_database_privilege(current_database(), 'CREATE'), "
        "pg_has_role(current_user, n.nspowner, 'USAGE'), "
        "r.rolsuper OR pg_has_role(current_user, 'pg_signal_backend', 'USAGE') "
        "FROM pg_roles r, pg_database d, pg_namespace n "
        "WHERE r.rolname = current_user AND d.datname = current_database() AND n.nspname = %s",
        [app_schema],
    )[0]
    missing: list[str] = []
    if not owns_db:
        missing.append(
            f"ownership of the database (to fence connections): ALTER DATABASE … OWNER TO {me}"
        )
    if not can_create:
        missing.append(
            "CREATE on the database (bookkeeping and new schema): "
            f"GRANT CREATE ON DATABASE … TO {me}"
        )
    if not owns_schema:
        missing.append(
            f"ownership of schema {app_schema} (to set it aside): "
            f"ALTER SCHEMA {app_schema} OWNER TO {me}"
        )
    unreadable = db.query(
        "SELECT c.relname FROM pg_class c WHERE c.relnamespace = %s::regnamespace "
        "AND c.relkind IN ('r', 'p') AND NOT has_table_privilege(c.oid, 'SELECT') ORDER BY 1",
        [ident(app_schema)],
    )
    if unreadable:
        missing.append(f"SELECT on {', '.join(r[0] for r in unreadable[:5])} (for pg_dump)")
    not_owned = db.query(
        "SELECT c.relname FROM pg_class c WHERE c.relnamespace = %s::regnamespace "
        "AND c.relkind IN ('r', 'p') AND NOT pg_has_role(c.relowner, 'USAGE') ORDER BY 1",
        [ident(app_schema)],
    )
    if not_owned:  # reset seals every set-aside table read-only with a trigger: only an owner may
        missing.append(
            f"ownership of {', '.join(r[0] for r in not_owned[:5])} (to seal the set-aside "
            f"copy read-only): ALTER TABLE … OWNER TO {me}"
        )
    others = db.query(
        "SELECT DISTINCT r.rolname, r.rolsuper, pg_has_role(current_user, r.oid, 'USAGE') "
        "FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid "
        "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() "
        "AND coalesce(a.backend_type, 'client backend') = 'client backend' "
        "AND coalesce(a.application_name, '') NOT LIKE 'pgcutover%%' ORDER BY 1"
    )
    if not is_super:
        supers = [str(name) for name, sup, _ in others if sup]
        if supers:
            missing.append(
                f"superuser rights to end the sessions of {', '.join(supers)} (end them first)"
            )
        foreign = [str(name) for name, sup, mine in others if not sup and not mine]
        if foreign and not can_signal:
            missing.append(
                f"pg_signal_backend (to end sessions of {', '.join(foreign)}): "
                f"GRANT pg_signal_backend TO {me}"
            )
    return missing
