-- Preflight and `invoke audit`: does the live legacy schema in "{{app_schema}}" have the shape this
-- migration was written against? Compares its tables, their columns with types and nullability,
-- and its enums with their labels in order, so drift (a column added by a hotfix, a changed type,
-- a missing table) is named before the downtime starts, not by verify after it.
-- Must: stay read-only, a single SELECT on pg_catalog (which shows every object whatever the
-- role's privileges); types are named with their schema, so search_path does not matter. Returns
-- one row per drift: (problem, kind, name, expected, found), problem like
-- 'person.nickname (unknown column)'; the columns of a missing or unknown table are not listed.
-- Only the EXPECTED rows are yours to write, and they are generated, never typed: on a database
-- that holds the legacy schema (production too: it only reads the catalog), `actual` lists them:
--   { sed '/^-- DIFFERENCES/,$d' preflight/0002_legacy_shape.sql
--     echo "SELECT string_agg(format('    (%L, %L, %L)', kind, name, definition), E',\n'"
--     echo "                  ORDER BY name, kind) FROM actual;"
--   } | psql "$DATABASE_URL" -XAt -f -
-- Paste its output between the BEGIN and END lines, in place of the scaffold's row.
-- Verify must prove: nothing (the transform only ever runs on a shape this file accepts).
WITH expected(kind, name, definition) AS (
    VALUES
    -- BEGIN EXPECTED
    ('pgcutover-scaffold', 'the legacy shape: generate these rows', '')
    -- END EXPECTED
), rel AS (
    SELECT c.oid, c.relname, c.relkind
      FROM pg_class c
     WHERE c.relnamespace = '{{app_schema}}'::regnamespace AND c.relkind IN ('r', 'p')
       AND NOT c.relispartition
), actual(kind, name, definition) AS (
    SELECT 'table', r.relname, CASE r.relkind WHEN 'p' THEN 'partitioned table' ELSE 'table' END
      FROM rel r
    UNION ALL
    SELECT 'column', r.relname || '.' || a.attname,
           CASE WHEN t.typnamespace = 'pg_catalog'::regnamespace
                THEN format_type(a.atttypid, a.atttypmod)
                ELSE quote_ident(tn.nspname) || '.' || quote_ident(t.typname) END
           || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
      FROM rel r
      JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      JOIN pg_type t ON t.oid = a.atttypid
      JOIN pg_namespace tn ON tn.oid = t.typnamespace
    UNION ALL
    SELECT 'enum', t.typname, '(' || string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder) || ')'
      FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
     WHERE t.typnamespace = '{{app_schema}}'::regnamespace
     GROUP BY t.typname
), diff AS (
    SELECT coalesce(e.kind, a.kind) AS kind, coalesce(e.name, a.name) AS name,
           e.definition AS expected, a.definition AS found
      FROM expected e FULL JOIN actual a ON a.kind = e.kind AND a.name = e.name
     WHERE e.definition IS DISTINCT FROM a.definition
)
-- DIFFERENCES (everything above is the expected and the actual shape; the generator reads `actual`)
SELECT d.name || CASE WHEN d.found IS NULL THEN ' (missing ' || d.kind || ')'
                      WHEN d.expected IS NULL THEN ' (unknown ' || d.kind || ')'
                      ELSE ' (' || d.kind || ' is ' || d.found || ', expected ' || d.expected || ')'
                 END AS problem,
       d.kind, d.name, d.expected, d.found
  FROM diff d
 WHERE d.name IS NOT NULL
   AND NOT (d.kind = 'column' AND EXISTS (
        SELECT 1 FROM diff t
         WHERE t.kind = 'table' AND (t.expected IS NULL OR t.found IS NULL)
           AND left(d.name, length(t.name) + 1) = t.name || '.'))
 ORDER BY d.name, d.kind;
