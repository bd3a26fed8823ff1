-- Preflight: which schema does "public" hold? One row: (state, detail). Read-only.
-- state: 'legacy' (ready to migrate), 'migrated' (already organization-scoped), 'empty', or 'unknown'.
-- Reads pg_catalog only: information_schema hides the columns the connected role has no privilege
-- on, so a role that does not own the tables would be told the legacy schema is not there (instead
-- of which rights it lacks, which preflight says next).
WITH expected(tbl) AS (
    VALUES ('User'), ('Organization'), ('OrganizationMember'), ('McpServer'), ('Tool'), ('UserMcpServerConfig'),
           ('UserToolGroupTool'), ('UserToolGroup'), ('UserMcpServerInstanceToolGroup'), ('UserMcpServerInstance'),
           ('McpServerRequestLog'), ('McpServerRequestData'), ('McpApiKey'), ('_ToolToUserMcpServerConfig')
), present AS (
    SELECT e.tbl, c.oid IS NOT NULL AS found
    FROM expected e
    LEFT JOIN pg_class c ON c.relname = e.tbl AND c.relkind IN ('r', 'p')
                        AND c.relnamespace = 'public'::regnamespace
), user_columns AS (
    SELECT a.attname
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = 'public'::regnamespace AND c.relname = 'User'
       AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
), marks AS (
    SELECT
        EXISTS (SELECT 1 FROM user_columns WHERE attname = 'defaultOrganizationId') AS migrated,
        EXISTS (SELECT 1 FROM user_columns WHERE attname = 'hasCompletedOnboarding') AS legacy_user,
        (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')) AS tables
)
SELECT CASE
         WHEN m.migrated THEN 'migrated'
         WHEN m.tables = 0 THEN 'empty'
         WHEN m.legacy_user AND NOT EXISTS (SELECT 1 FROM present WHERE NOT found) THEN 'legacy'
         ELSE 'unknown'
       END AS state,
       CASE
         WHEN m.migrated THEN 'public."User" already has "defaultOrganizationId"'
         WHEN m.tables = 0 THEN 'schema public has no tables'
         ELSE coalesce('missing legacy tables: ' || (SELECT string_agg(tbl, ', ' ORDER BY tbl) FROM present WHERE NOT found),
                       CASE WHEN m.legacy_user THEN 'all 14 legacy tables present'
                            ELSE 'public."User" has no "hasCompletedOnboarding" column' END)
       END AS detail
FROM marks m;
