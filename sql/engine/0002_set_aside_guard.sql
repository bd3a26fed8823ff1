-- Set-aside guard: the schema reset sets aside is read-only by construction, and sealed.
-- Requires: 0001_bookkeeping.sql. Idempotent (CREATE OR REPLACE / IF NOT EXISTS): it runs each time
-- bookkeeping is ensured.
--
-- reset, in the very transaction that renames the schema, puts a statement-level BEFORE INSERT
-- OR UPDATE OR DELETE OR TRUNCATE trigger calling pgcutover.refuse_set_aside_write() on every
-- set-aside table, and records a seal: the schema's oid; per table its relfilenode, guard
-- trigger, column shape and write counters; and a stamp (oid, xmin, ...) of every catalog row
-- that describes the schema.
-- The fast rollback compares the seal with the catalog only (no table is read, whatever its size)
-- and falls back to the backup on any difference.
--
-- What the guard stops, and what the seal still sees when it does not:
-- * any role without ownership (app roles with grants): every write is refused by the trigger.
-- * the table owner can disable or drop the trigger, ALTER, TRUNCATE or VACUUM FULL the tables: the
--   seal sees each (tgenabled, trigger oid, pg_trigger/pg_class/pg_attribute xmin, relfilenode).
-- * a superuser with session_replication_role = replica skips the trigger (an 'O' trigger does not
--   fire) and leaves the catalog alone: only the write counters of pg_stat_all_tables see that, and
--   they lag (a session reports at most about once a second, or when idle or exiting) and are lost
--   by a crash restart or pg_stat_reset(): writes made before such a reset go unseen.
-- * a superuser editing the catalogs or the data files directly: nothing here can see that.
-- Roll back with --from-backup if a superuser may have written to the set-aside schema.

CREATE OR REPLACE FUNCTION pgcutover.refuse_set_aside_write() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'pgcutover: %.% is set aside read-only for rollback: % refused',
                    TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
          USING ERRCODE = 'read_only_sql_transaction',
                HINT = 'invoke rollback brings it back; invoke cleanup drops it after a good '
                       || 'window';
END
$fn$;
COMMENT ON FUNCTION pgcutover.refuse_set_aside_write()
    IS 'Guard trigger of every set-aside table: refuses INSERT, UPDATE, DELETE and TRUNCATE';

-- The columns a restored copy must have too: names, types, typmods, nullability, identity, defaults
-- present. Unqualified type names and no attnum, so a pg_restore into another schema (dropped
-- columns renumber) hashes the same.
CREATE OR REPLACE FUNCTION pgcutover.column_shape(rel oid) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT md5(coalesce(string_agg(
               concat_ws(':', quote_ident(a.attname), quote_ident(t.typname), a.atttypmod,
                         a.attndims, a.attnotnull, a.attidentity, a.attgenerated, a.atthasdef,
                         coalesce(co.collname, '')),
               ',' ORDER BY a.attnum), ''))
      FROM pg_attribute a
      JOIN pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_collation co ON co.oid = a.attcollation
     WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
$fn$;

-- One row per table of a schema: what the per-table seal records (catalog and statistics only).
CREATE OR REPLACE FUNCTION pgcutover.set_aside_tables(nsp oid)
RETURNS TABLE (table_name text, table_oid oid, relfilenode oid, shape text, guard_oid oid,
               guard_enabled text, n_tup_ins bigint, n_tup_upd bigint, n_tup_del bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT c.relname::text, c.oid, c.relfilenode, pgcutover.column_shape(c.oid),
           g.oid, g.tgenabled::text,
           pg_stat_get_tuples_inserted(c.oid), pg_stat_get_tuples_updated(c.oid),
           pg_stat_get_tuples_deleted(c.oid)
      FROM pg_class c
      -- tgtype 62: BEFORE, FOR EACH STATEMENT, INSERT, DELETE, UPDATE and TRUNCATE
      LEFT JOIN pg_trigger g ON g.tgrelid = c.oid AND g.tgname = 'pgcutover_set_aside_guard'
                            AND g.tgfoid = 'pgcutover.refuse_set_aside_write()'::regprocedure
                            AND g.tgtype = 62
     WHERE c.relnamespace = nsp AND c.relkind IN ('r', 'p')
$fn$;

-- Every catalog row describing a schema, with what changes when it is altered: its xmin (a new
-- row version; VACUUM and ANALYZE update pg_class in place, keeping it), oid, relfilenode, trigger
-- state and sequence position. Reads catalogs and one tuple per sequence, never a table.
CREATE OR REPLACE FUNCTION pgcutover.set_aside_stamps(nsp oid)
RETURNS TABLE (kind text, object text, stamp text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT 'schema', n.nspname::text, concat_ws(' ', n.oid, n.xmin)
      FROM pg_namespace n WHERE n.oid = nsp
    UNION ALL
    SELECT 'relation', c.relname::text, concat_ws(' ', c.oid, c.relkind, c.relfilenode, c.xmin)
      FROM pg_class c WHERE c.relnamespace = nsp
    UNION ALL
    SELECT 'column', c.relname || '.' || a.attname, concat_ws(' ', a.attnum, a.xmin)
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = nsp AND a.attnum > 0
    UNION ALL
    SELECT 'default', c.relname || '.' || a.attname, concat_ws(' ', d.oid, d.xmin)
      FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
      JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
     WHERE c.relnamespace = nsp
    UNION ALL
    SELECT 'index', c.relname::text, concat_ws(' ', i.indrelid, i.xmin)
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = nsp
    UNION ALL
    SELECT 'constraint', coalesce(r.relname, t.typname, '-') || '.' || k.conname,
           concat_ws(' ', k.oid, k.xmin)
      FROM pg_constraint k LEFT JOIN pg_class r ON r.oid = k.conrelid
      LEFT JOIN pg_type t ON t.oid = k.contypid
     WHERE k.connamespace = nsp
    UNION ALL
    SELECT 'trigger', c.relname || '.' || g.tgname, concat_ws(' ', g.oid, g.tgenabled, g.xmin)
      FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid WHERE c.relnamespace = nsp
    UNION ALL
    SELECT 'rule', c.relname || '.' || w.rulename, concat_ws(' ', w.oid, w.xmin)
      FROM pg_rewrite w JOIN pg_class c ON c.oid = w.ev_class WHERE c.relnamespace = nsp
    UNION ALL
    SELECT 'policy', c.relname || '.' || p.polname, concat_ws(' ', p.oid, p.xmin)
      FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = nsp
    UNION ALL
    SELECT 'comment', c.relname || '.' || d.objsubid, d.xmin::text
      FROM pg_description d JOIN pg_class c ON c.oid = d.objoid
     WHERE d.classoid = 'pg_class'::regclass AND c.relnamespace = nsp
    UNION ALL
    SELECT 'type', t.typname::text, concat_ws(' ', t.oid, t.xmin)
      FROM pg_type t WHERE t.typnamespace = nsp
    UNION ALL
    SELECT 'enum label', t.typname || '.' || e.enumlabel,
           concat_ws(' ', e.oid, e.enumsortorder, e.xmin)
      FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typnamespace = nsp
    UNION ALL
    SELECT 'function', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
           concat_ws(' ', p.oid, p.xmin)
      FROM pg_proc p WHERE p.pronamespace = nsp
    UNION ALL
    SELECT 'statistics', x.stxname::text, concat_ws(' ', x.oid, x.xmin)
      FROM pg_statistic_ext x WHERE x.stxnamespace = nsp
    UNION ALL
    -- nextval() leaves the catalog alone: its position is part of the stamp
    SELECT 'sequence', c.relname::text,
           concat_ws(' ', s.xmin, CASE WHEN has_sequence_privilege(c.oid, 'SELECT')
                                       THEN pg_sequence_last_value(c.oid) END)
      FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid WHERE c.relnamespace = nsp
$fn$;

CREATE TABLE IF NOT EXISTS pgcutover.set_aside (
    run          text PRIMARY KEY,
    app_schema   text NOT NULL,
    aside_schema text NOT NULL,
    aside_oid    oid NOT NULL,
    sealed_at    timestamptz NOT NULL DEFAULT now(),
    released     text,              -- 'swapped back', or 'dropped after a proven restore'
    released_at  timestamptz
);
COMMENT ON TABLE pgcutover.set_aside IS
    'One row per run whose reset committed (written in its transaction): set-aside schema and seal';

CREATE TABLE IF NOT EXISTS pgcutover.set_aside_table (
    run           text NOT NULL REFERENCES pgcutover.set_aside (run) ON DELETE CASCADE,
    table_name    text NOT NULL,
    table_oid     oid NOT NULL,
    relfilenode   oid NOT NULL,      -- TRUNCATE, VACUUM FULL and CLUSTER give a new one
    shape         text NOT NULL,     -- pgcutover.column_shape()
    guard_oid     oid,
    guard_enabled text,
    n_tup_ins     bigint NOT NULL,   -- pg_stat_all_tables at reset: only an increase means writes
    n_tup_upd     bigint NOT NULL,
    n_tup_del     bigint NOT NULL,
    PRIMARY KEY (run, table_name)
);
COMMENT ON TABLE pgcutover.set_aside_table IS
    'Per-table seal of a set-aside schema, recorded at reset';

CREATE TABLE IF NOT EXISTS pgcutover.set_aside_stamp (
    run    text NOT NULL REFERENCES pgcutover.set_aside (run) ON DELETE CASCADE,
    kind   text NOT NULL,
    object text NOT NULL,
    stamp  text NOT NULL,
    PRIMARY KEY (run, kind, object)
);
COMMENT ON TABLE pgcutover.set_aside_stamp IS
    'Catalog stamps of a set-aside schema at reset: any change refuses the fast rollback';
