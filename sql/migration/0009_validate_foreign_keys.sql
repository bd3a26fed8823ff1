-- Validates the foreign keys 0008 added NOT VALID: one pass over each table's loaded rows per key,
-- instead of a trigger per row. Each statement takes a lock that only another validation of the
-- same table waits for (SHARE UPDATE EXCLUSIVE on the table, ROW SHARE on the one it references),
-- so plan.toml lists this file under [transform] side_by_side: the validations run side by side on
-- --jobs connections, each in a transaction of its own, biggest table first. Once it has committed,
-- each key is what the spec declares (pg_constraint.convalidated).
-- tests/test_sql_layout.py fails unless it validates every key of 0008 once.
-- Requires: 0001 to 0008 applied.

ALTER TABLE "cutover_target"."McpApiKey" VALIDATE CONSTRAINT "McpApiKey_userMcpServerInstanceId_fkey";
ALTER TABLE "cutover_target"."User" VALIDATE CONSTRAINT "User_defaultOrganizationId_fkey";
ALTER TABLE "cutover_target"."McpServer" VALIDATE CONSTRAINT "McpServer_createdBy_fkey";
ALTER TABLE "cutover_target"."McpServer" VALIDATE CONSTRAINT "McpServer_organizationId_fkey";
ALTER TABLE "cutover_target"."Tool" VALIDATE CONSTRAINT "Tool_mcpServerId_fkey";
ALTER TABLE "cutover_target"."Organization" VALIDATE CONSTRAINT "Organization_createdBy_fkey";
ALTER TABLE "cutover_target"."OrganizationMember" VALIDATE CONSTRAINT "OrganizationMember_organizationId_fkey";
ALTER TABLE "cutover_target"."OrganizationMember" VALIDATE CONSTRAINT "OrganizationMember_userId_fkey";
ALTER TABLE "cutover_target"."UserMcpServerConfig" VALIDATE CONSTRAINT "UserMcpServerConfig_mcpServerId_fkey";
ALTER TABLE "cutover_target"."UserMcpServerConfig" VALIDATE CONSTRAINT "UserMcpServerConfig_organizationId_fkey";
ALTER TABLE "cutover_target"."UserToolGroupTool" VALIDATE CONSTRAINT "UserToolGroupTool_userMcpServerConfigId_fkey";
ALTER TABLE "cutover_target"."UserToolGroupTool" VALIDATE CONSTRAINT "UserToolGroupTool_toolGroupId_fkey";
ALTER TABLE "cutover_target"."UserToolGroupTool" VALIDATE CONSTRAINT "UserToolGroupTool_toolId_fkey";
ALTER TABLE "cutover_target"."UserToolGroup" VALIDATE CONSTRAINT "UserToolGroup_organizationId_fkey";
ALTER TABLE "cutover_target"."UserMcpServerInstanceToolGroup" VALIDATE CONSTRAINT "UserMcpServerInstanceToolGroup_mcpServerInstanceId_fkey";
ALTER TABLE "cutover_target"."UserMcpServerInstanceToolGroup" VALIDATE CONSTRAINT "UserMcpServerInstanceToolGroup_toolGroupId_fkey";
ALTER TABLE "cutover_target"."UserMcpServerInstance" VALIDATE CONSTRAINT "UserMcpServerInstance_toolGroupId_fkey";
ALTER TABLE "cutover_target"."UserMcpServerInstance" VALIDATE CONSTRAINT "UserMcpServerInstance_organizationId_fkey";
ALTER TABLE "cutover_target"."McpServerRequestLog" VALIDATE CONSTRAINT "McpServerRequestLog_mcpServerInstanceId_fkey";
ALTER TABLE "cutover_target"."McpServerRequestLog" VALIDATE CONSTRAINT "McpServerRequestLog_organizationId_fkey";
ALTER TABLE "cutover_target"."McpServerRequestData" VALIDATE CONSTRAINT "McpServerRequestData_requestLogId_fkey";
