-- Verify R12 (the parts a query can judge on its own): the 13 target tables and no others in
-- "public", none UNLOGGED, every constraint valid, every trigger enabled, no AuthType 'BOTH'.
-- Returns one row per violation. Read-only. (The tests also compare the whole catalog with
-- spec/target-schema.sql.)
WITH expected(tbl) AS (
    VALUES ('User'), ('Organization'), ('OrganizationMember'), ('McpServer'), ('Tool'), ('UserMcpServerConfig'),
           ('UserToolGroupTool'), ('UserToolGroup'), ('UserMcpServerInstanceToolGroup'), ('UserMcpServerInstance'),
           ('McpServerRequestLog'), ('McpServerRequestData'), ('McpApiKey')
), actual AS (
    SELECT relname AS tbl, relpersistence FROM pg_class
     WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')
)
SELECT 'missing table public.' || e.tbl AS problem FROM expected e WHERE e.tbl NOT IN (SELECT tbl FROM actual)
UNION ALL
SELECT 'unexpected table public.' || a.tbl FROM actual a WHERE a.tbl NOT IN (SELECT tbl FROM expected)
UNION ALL
SELECT 'table public.' || a.tbl || ' is not a logged table' FROM actual a WHERE a.relpersistence <> 'p'
UNION ALL
SELECT 'constraint ' || c.conname || ' is not validated' FROM pg_constraint c
 WHERE c.connamespace = 'public'::regnamespace AND NOT c.convalidated
UNION ALL
SELECT 'trigger ' || t.tgname || ' on ' || t.tgrelid::regclass || ' is not enabled' FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'public'::regnamespace AND t.tgenabled = 'D'
UNION ALL
SELECT 'enum public."AuthType" still has BOTH' FROM pg_enum
 WHERE enumtypid = 'public."AuthType"'::regtype AND enumlabel = 'BOTH'
UNION ALL
SELECT 'foreign key count is ' || count(*) || ', target-schema.sql has 21' FROM pg_constraint
 WHERE connamespace = 'public'::regnamespace AND contype = 'f' HAVING count(*) <> 21
UNION ALL
SELECT 'index count is ' || count(*) || ', target-schema.sql has 22' FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
 WHERE c.relnamespace = 'public'::regnamespace HAVING count(*) <> 22;
