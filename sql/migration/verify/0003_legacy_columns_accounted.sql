-- Verify R11: every legacy column is carried into the target table of the same name, or is listed as
-- dropped by design (R1, R5, R7, R8, R10). Returns one row per unaccounted column. Read-only.
WITH dropped(tbl, col) AS (
    VALUES ('User', 'hasCompletedOnboarding'), ('UserMcpServerConfig', 'userId'),
           ('UserMcpServerConfig', 'oauthScopes'), ('UserToolGroup', 'userId'), ('UserMcpServerInstance', 'userId'),
           ('McpServerRequestLog', 'userId'), ('McpApiKey', 'userId'),
           ('_ToolToUserMcpServerConfig', 'A'), ('_ToolToUserMcpServerConfig', 'B')
)
SELECT 'legacy column ' || l.table_name || '.' || l.column_name || ' is neither carried nor dropped by design' AS problem
  FROM information_schema.columns l
 WHERE l.table_schema = 'cutover_legacy'
   AND NOT EXISTS (SELECT 1 FROM information_schema.columns t
                    WHERE t.table_schema = 'public' AND t.table_name = l.table_name AND t.column_name = l.column_name)
   AND NOT EXISTS (SELECT 1 FROM dropped d WHERE d.tbl = l.table_name AND d.col = l.column_name);
