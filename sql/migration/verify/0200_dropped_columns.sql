-- Verify R11 report: each column dropped by design and how many non-NULL values it held. Read-only.
-- One row per column: (table_name, column_name, rule, non_null_values).
SELECT 'User' AS table_name, 'hasCompletedOnboarding' AS column_name, 'R1' AS rule,
       count("hasCompletedOnboarding") AS non_null_values FROM cutover_legacy."User"
UNION ALL SELECT 'UserMcpServerConfig', 'userId', 'R5', count("userId") FROM cutover_legacy."UserMcpServerConfig"
UNION ALL SELECT 'UserMcpServerConfig', 'oauthScopes', 'R5', count("oauthScopes") FROM cutover_legacy."UserMcpServerConfig"
UNION ALL SELECT 'UserToolGroup', 'userId', 'R5', count("userId") FROM cutover_legacy."UserToolGroup"
UNION ALL SELECT 'UserMcpServerInstance', 'userId', 'R5', count("userId") FROM cutover_legacy."UserMcpServerInstance"
UNION ALL SELECT 'McpServerRequestLog', 'userId', 'R7', count("userId") FROM cutover_legacy."McpServerRequestLog"
UNION ALL SELECT 'McpApiKey', 'userId', 'R8', count("userId") FROM cutover_legacy."McpApiKey"
UNION ALL SELECT '_ToolToUserMcpServerConfig', 'A', 'R10', count("A") FROM cutover_legacy."_ToolToUserMcpServerConfig"
UNION ALL SELECT '_ToolToUserMcpServerConfig', 'B', 'R10', count("B") FROM cutover_legacy."_ToolToUserMcpServerConfig";
