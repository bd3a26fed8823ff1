"""A database's whole state as one comparable value, and the differences between two of them.

The rehearsal (pgcutover/rehearse.py) takes a fingerprint before the window and another after the
rollback: every difference is something the rollback did not bring back. Row contents are judged
in SQL (row count and an order-independent checksum per table); no row travels to Python.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pgcutover.db import DB_ERRORS, Database, connect, error_text
from pgcutover.errors import CutoverError

# section -> object name -> field -> value (JSON-friendly: str, int, bool, None, lists)
Fingerprint = dict[str, dict[str, dict[str, Any]]]

BOOKKEEPING_SCHEMA = "pgcutover"
# Schemas a fingerprint covers: every user schema but pgcutover's own bookkeeping record.
_IN_SCOPE = (
    f"NOT (n.nspname ~ '^pg_' OR n.nspname IN ('information_schema', '{BOOKKEEPING_SCHEMA}'))"
)
# Comments on user objects only: built-in ones (below FirstNormalObjectId) carry thousands. A
# schema's counts whenever the schema is in scope: public's is built in, until a restore from the
# backup creates public anew (a new oid, the same comment).
_FIRST_USER_OID = 16384

_SCHEMA_ROWS = "SELECT n.nspname, n.nspowner::regrole::text, n.nspacl::text FROM pg_namespace n "
_QUERIES: dict[str, str] = {
    "schemas": f"{_SCHEMA_ROWS}WHERE {_IN_SCOPE}",
    "relations": (
        "SELECT c.oid::regclass::text, c.relkind::text, c.relpersistence::text, "
        "c.relowner::regrole::text, c.relacl::text, "
        "CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE {_IN_SCOPE} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
    ),
    "columns": (
        "SELECT c.oid::regclass::text || '.' || quote_ident(a.attname), a.attnum, "
        "format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), "
        "a.attidentity::text, a.attgenerated::text, a.attacl::text, "
        "CASE WHEN a.attcollation <> 0 THEN a.attcollation::regcollation::text END "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        f"WHERE {_IN_SCOPE} AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 "
        "AND NOT a.attisdropped"
    ),
    "enums": (
        "SELECT t.oid::regtype::text, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) "
        "FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
        f"JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {_IN_SCOPE} GROUP BY 1"
    ),
    "indexes": (
        "SELECT c.oid::regclass::text, pg_get_indexdef(i.indexrelid), i.indisvalid "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_IN_SCOPE}"
    ),
    "constraints": (
        "SELECT coalesce(nullif(co.conrelid, 0)::regclass::text, co.contypid::regtype::text) "
        "|| '.' || quote_ident(co.conname), co.contype::text, pg_get_constraintdef(co.oid), "
        "co.convalidated, co.confdeltype::text, co.confupdtype::text, co.condeferrable, "
        "co.condeferred FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace "
        f"WHERE {_IN_SCOPE}"
    ),
    "triggers": (
        "SELECT t.tgrelid::regclass::text || '.' || quote_ident(t.tgname), t.tgenabled::text, "
        "pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_IN_SCOPE} AND NOT t.tgisinternal"
    ),
    "functions": (
        "SELECT p.oid::regprocedure::text, p.proowner::regrole::text, p.proacl::text, "
        "md5(CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) "
        "ELSE coalesce(p.prosrc, '') END) "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {scope}"
    ).replace("{scope}", _IN_SCOPE),
    "sequences": (
        "SELECT quote_ident(s.schemaname) || '.' || quote_ident(s.sequencename), "
        "s.data_type::text, s.start_value::text, s.increment_by::text, s.last_value::text "
        f"FROM pg_sequences s JOIN pg_namespace n ON n.nspname = s.schemaname WHERE {_IN_SCOPE}"
    ),
    # ALTER DEFAULT PRIVILEGES: global ones, and those set IN SCHEMA for a schema in scope.
    "default_privileges": (
        "SELECT concat_ws(' ', 'for role ' || d.defaclrole::regrole::text, "
        "'in schema ' || quote_ident(n.nspname), 'on ' || d.defaclobjtype::text), "
        "d.defaclacl::text FROM pg_default_acl d "
        "LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace "
        f"WHERE d.defaclnamespace = 0 OR {_IN_SCOPE}"
    ),
    "comments": (
        "SELECT i.type || ' ' || i.identity, d.description FROM pg_description d, "
        "LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) i "
        "WHERE CASE WHEN d.classoid = 'pg_namespace'::regclass "
        f"THEN d.objoid IN (SELECT n.oid FROM pg_namespace n WHERE {_IN_SCOPE}) "
        f"ELSE d.objoid >= {_FIRST_USER_OID} AND coalesce(i.schema, '') <> '{BOOKKEEPING_SCHEMA}' "
        "END"
    ),
}
# The bookkeeping schema's own row of the `schemas` section, for a caller that asks for it.
_BOOKKEEPING_SCHEMA_ROW = f"{_SCHEMA_ROWS}WHERE n.nspname = '{BOOKKEEPING_SCHEMA}'"
_FIELDS: dict[str, tuple[str, ...]] = {
    "schemas": ("owner", "acl"),
    "relations": ("kind", "persistence", "owner", "acl", "definition"),
    "columns": (
        "position",
        "type",
        "not null",
        "default",
        "identity",
        "generated",
        "acl",
        "collation",
    ),
    "enums": ("labels",),
    "indexes": ("definition", "valid"),
    "constraints": (
        "type",
        "definition",
        "validated",
        "on delete",
        "on update",
        "deferrable",
        "deferred",
    ),
    "triggers": ("enabled", "definition"),
    "functions": ("owner", "acl", "definition md5"),
    "sequences": ("type", "start", "increment", "last value"),
    "default_privileges": ("acl",),
    "comments": ("text",),
}
# How a difference names its object: "column users.email: default differs".
LABELS = {
    "database": "database",
    "schemas": "schema",
    "relations": "relation",
    "columns": "column",
    "enums": "enum",
    "indexes": "index",
    "constraints": "constraint",
    "triggers": "trigger",
    "functions": "function",
    "sequences": "sequence",
    "default_privileges": "default privileges",
    "comments": "comment on",
    "tables": "table",
}
# Fields whose values are the data itself: name the difference, never print them.
_SILENT = {("tables", "checksum")}


def _plain(value: Any) -> Any:
    """Make a driver's value JSON-friendly and equal across drivers (Decimal, tuples, arrays)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def database_fingerprint(
    db_url: str, driver: str, *, step: str = "rehearse", bookkeeping_schema: bool = False
) -> Fingerprint:
    """Describe a database's state: catalog, owners, ACLs, comments, every table's content sum.

    Covers every user schema but the bookkeeping schema `pgcutover`: schemas with owners and ACLs;
    the database's owner, ACL and settings; relations with kind, persistence, owner, ACL (and view
    definitions); columns with position, type, NOT NULL, default, identity, ACL; enums; indexes;
    constraints with ON DELETE/UPDATE; triggers; functions; sequences; comments; and per table its
    row count and an order-independent checksum of md5(row::text), both computed in SQL.
    With bookkeeping_schema, `schemas` also holds the bookkeeping schema (owner and ACL, none of its
    contents) when it exists: whether a command created it.
    """
    db = connect(db_url, driver, application_name="pgcutover fingerprint", step=step)
    try:
        with db.transaction():
            # One snapshot for the whole fingerprint; never a write.
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            fingerprint = _fingerprint(db)
            if bookkeeping_schema:
                fingerprint["schemas"].update(_section(db, "schemas", _BOOKKEEPING_SCHEMA_ROW))
            return fingerprint
    except DB_ERRORS as exc:
        raise CutoverError(step, f"cannot fingerprint the database: {error_text(exc)}") from None
    finally:
        db.close()


def _section(db: Database, section: str, sql: str) -> dict[str, dict[str, Any]]:
    """Run one section's query: each row is an object's name, then its fields in order."""
    fields = _FIELDS[section]
    return {
        str(r[0]): dict(zip(fields, (_plain(v) for v in r[1:]), strict=True)) for r in db.query(sql)
    }


def _fingerprint(db: Database) -> Fingerprint:
    out: Fingerprint = {}
    row = db.query(
        "SELECT d.datdba::regrole::text, "
        "array(SELECT a.grantee::regrole::text || ':' || a.privilege_type || "
        "CASE WHEN a.is_grantable THEN ' (grantable)' ELSE '' END "
        "FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a ORDER BY 1), "
        "array(SELECT s.setrole::regrole::text || ':' || array_to_string(s.setconfig, ',') "
        "FROM pg_db_role_setting s WHERE s.setdatabase = d.oid ORDER BY 1), "
        "shobj_description(d.oid, 'pg_database') "
        "FROM pg_database d WHERE d.datname = current_database()"
    )[0]
    out["database"] = {
        "current": {
            "owner": row[0],
            "acl": _plain(row[1]),
            "settings": _plain(row[2]),
            "comment": row[3],
        }
    }
    for section, sql in _QUERIES.items():
        out[section] = _section(db, section, sql)
    out["tables"] = {}
    tables = db.query(
        "SELECT c.oid::regclass::text FROM pg_class c "
        f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_IN_SCOPE} AND c.relkind = 'r' "
        "ORDER BY 1"
    )
    for (table,) in tables:
        # Two 64-bit halves of each row's md5 summed as numeric: set-based, order-independent.
        count, high, low = db.query(
            "SELECT count(*), "
            "coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0), "
            "coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0) "
            f"FROM (SELECT md5(x::text) AS h FROM {table} x) s"
        )[0]
        out["tables"][str(table)] = {"rows": int(count), "checksum": f"{high}:{low}"}
    return out


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def diff_fingerprints(before: Fingerprint, after: Fingerprint) -> list[str]:
    """Name every difference: `table users: checksum differs`, `column t.c: default differs …`."""
    out: list[str] = []
    for section in sorted(set(before) | set(after), key=_section_order):
        label = LABELS.get(section, section)
        a, b = before.get(section, {}), after.get(section, {})
        for name in sorted(set(a) | set(b)):
            if name not in b:
                out.append(f"{label} {name}: missing after")
            elif name not in a:
                out.append(f"{label} {name}: new after")
            else:
                for fld in sorted(set(a[name]) | set(b[name])):
                    old, new = a[name].get(fld), b[name].get(fld)
                    if old == new:
                        continue
                    if (section, fld) in _SILENT:
                        out.append(f"{label} {name}: {fld} differs")
                    else:
                        out.append(f"{label} {name}: {fld} differs ({_show(old)} -> {_show(new)})")
    return out


def _section_order(section: str) -> int:
    order = list(LABELS)
    return order.index(section) if section in order else len(order)
