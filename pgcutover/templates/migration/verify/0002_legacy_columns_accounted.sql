-- Verify (R<n>): every legacy column is carried into the target table of the same name, or is
-- dropped by design: listed in plan.toml [verify] dropped_by_design, itself or with its whole
-- table, which the engine sets as pgcutover.dropped_by_design (JSON). Returns one row per
-- unaccounted column. Read-only.
-- Must prove: no legacy column is lost without a rule saying so. Generic: keep it as it is.
-- A legacy column a rule folds into new columns (renamed, split, merged) is not carried under
-- its name: list it in dropped_by_design with that rule; the reconcile proves where its values
-- went.
-- Reads pg_catalog, not information_schema: the latter hides the columns the connected role has no
-- privilege on, and a hidden legacy column would pass unaccounted.
WITH dropped AS (
    SELECT d ->> 'table' AS tbl, d ->> 'column' AS col -- col NULL: the whole table
      FROM json_array_elements(current_setting('pgcutover.dropped_by_design')::json) d
), columns_of AS (
    SELECT n.nspname AS schema_name, c.relname AS table_name, a.attname AS column_name
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p')
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('{{aside_schema}}', '{{app_schema}}')
       AND a.attnum > 0 AND NOT a.attisdropped
)
SELECT 'legacy column ' || l.table_name || '.' || l.column_name
       || ' is neither carried nor dropped by design' AS problem
  FROM columns_of l
 WHERE l.schema_name = '{{aside_schema}}'
   AND NOT EXISTS (SELECT 1 FROM columns_of t
                    WHERE t.schema_name = '{{app_schema}}' AND t.table_name = l.table_name
                      AND t.column_name = l.column_name)
   AND NOT EXISTS (SELECT 1 FROM dropped d
                    WHERE d.tbl = l.table_name AND coalesce(d.col, l.column_name) = l.column_name);
