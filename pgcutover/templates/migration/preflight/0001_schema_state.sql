-- Preflight: which schema does "{{app_schema}}" hold? Exactly one row: (state, detail). Read-only.
-- state: 'legacy' (ready to migrate: the only state a window starts from), 'migrated' (the target
-- schema is there), 'empty' (no tables), or 'unknown' (anything else; detail says what is wrong).
-- The engine also reads it on resume: after 0001_target_schema.sql it must not say 'legacy'.
-- Must: tell the legacy schema from the target by the catalog alone, never by the data: a legacy
-- table list, one column only the legacy schema has and one only the target has. Read pg_catalog,
-- not information_schema (which hides the columns the role has no privilege on).
-- Verify must prove: nothing (preflight acts on it before anything changes).
-- pgcutover-scaffold: fill in both lists (names as the catalog spells them); delete this line.
WITH legacy_tables(tbl) AS (
    VALUES ('pgcutover-scaffold: the legacy tables')  -- ('person'), ('address'), …
), marks(kind, tbl, col) AS (
    VALUES ('legacy', 'pgcutover-scaffold', 'a column only the legacy schema has'),
           ('migrated', 'pgcutover-scaffold', 'a column only the target schema has')
), rel AS (
    SELECT c.oid, c.relname
      FROM pg_class c
     WHERE c.relnamespace = '{{app_schema}}'::regnamespace AND c.relkind IN ('r', 'p')
), found AS (
    SELECT m.kind, m.tbl || '.' || m.col AS mark,
           EXISTS (SELECT 1 FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid
                    WHERE r.relname = m.tbl AND a.attname = m.col
                      AND a.attnum > 0 AND NOT a.attisdropped) AS present
      FROM marks m
), missing AS (
    SELECT string_agg(l.tbl, ', ' ORDER BY l.tbl) AS tables
      FROM legacy_tables l
     WHERE NOT EXISTS (SELECT 1 FROM rel r WHERE r.relname = l.tbl)
)
SELECT CASE
         WHEN f_new.present THEN 'migrated'
         WHEN NOT EXISTS (SELECT 1 FROM rel) THEN 'empty'
         WHEN f_old.present AND m.tables IS NULL THEN 'legacy'
         ELSE 'unknown'
       END AS state,
       CASE
         WHEN f_new.present THEN '{{app_schema}}.' || f_new.mark || ' is there: already migrated'
         WHEN NOT EXISTS (SELECT 1 FROM rel) THEN 'schema {{app_schema}} has no tables'
         WHEN m.tables IS NOT NULL THEN 'missing legacy tables: ' || m.tables
         WHEN NOT f_old.present THEN '{{app_schema}}.' || f_old.mark || ' is not there'
         ELSE 'the legacy tables and ' || f_old.mark || ' are there'
       END AS detail
  FROM missing m,
       (SELECT * FROM found WHERE kind = 'legacy') f_old,
       (SELECT * FROM found WHERE kind = 'migrated') f_new;
