-- Copied from sql/spec/target-schema.sql (primary keys and indexes); schema, enums and tables in
-- 0001, foreign keys in 0008. tests/test_sql_layout.py fails when the three drift from the spec.
-- Target schema, part 2: the tables' primary keys (the spec declares them inside CREATE TABLE, here
-- ALTER TABLE … ADD CONSTRAINT, same names, same columns), then the spec's indexes, built after the
-- transform has loaded the data: one index build per key and index instead of row-by-row upkeep.
-- Each statement builds one index and needs only the loaded rows, so plan.toml lists this file
-- under [transform] side_by_side: its statements run side by side on --jobs connections, each in a
-- transaction of its own, once 0002 to 0006 have committed (biggest table first).
-- Requires: 0001 to 0006 applied.

-- AddPrimaryKey
ALTER TABLE "cutover_target"."McpApiKey" ADD CONSTRAINT "McpApiKey_pkey" PRIMARY KEY ("id");

-- AddPrimaryKey
ALTER TABLE "cutover_target"."User" ADD CONSTRAINT "User_pkey" PRIMARY KEY ("id");

-- AddPrimaryKey
ALTER TABLE "cutover_target"."McpServer" ADD CONSTRAINT "McpServer_pkey" PRIMARY KEY ("id");

-- AddPrimaryKey
ALTER TABLE "cutover_target"."Tool" ADD CONSTRAINT "Tool_pkey" PRIMARY KEY ("id");

-- AddPrimaryKey
ALTER TABLE "cutover_target"."Organization" ADD CONSTRAINT "Organization_pkey" PRIMARY KEY ("id");

-- AddPrimaryKey
ALTER TABLE "cutover_target"."OrganizationMember" ADD CONSTRAINT "OrganizationMember_pkey" PRIMARY KEY ("id");

-- AddPrimaryKey
ALTER TABLE "cutover_target"."UserMcpServerConfig" ADD CONSTRAINT "UserMcpServerConfig_pkey" PRIMARY KEY ("id");

-- AddPrimaryKey
ALTER TABLE "cutover_target"."UserToolGroupTool" ADD CONSTRAINT "UserToolGroupTool_pkey" PRIMARY KEY ("toolGroupId","userMcpServerConfigId","toolId");

-- AddPrimaryKey
ALTER TABLE "cutover_target"."UserToolGroup" ADD CONSTRAINT "UserToolGroup_pkey" PRIMARY KEY ("id");

-- AddPrimaryKey
ALTER TABLE "cutover_target"."UserMcpServerInstanceToolGroup" ADD CONSTRAINT "UserMcpServerInstanceToolGroup_pkey" PRIMARY KEY ("mcpServerInstanceId","toolGroupId");

-- AddPrimaryKey
ALTER TABLE "cutover_target"."UserMcpServerInstance" ADD CONSTRAINT "UserMcpServerInstance_pkey" PRIMARY KEY ("id");

-- AddPrimaryKey
ALTER TABLE "cutover_target"."McpServerRequestLog" ADD CONSTRAINT "McpServerRequestLog_pkey" PRIMARY KEY ("id");

-- AddPrimaryKey
ALTER TABLE "cutover_target"."McpServerRequestData" ADD CONSTRAINT "McpServerRequestData_pkey" PRIMARY KEY ("id");

-- CreateIndex
CREATE UNIQUE INDEX "McpApiKey_apiKey_key" ON "cutover_target"."McpApiKey"("apiKey");

-- CreateIndex
CREATE UNIQUE INDEX "McpApiKey_apiKeyHash_key" ON "cutover_target"."McpApiKey"("apiKeyHash");

-- CreateIndex
CREATE INDEX "McpApiKey_userMcpServerInstanceId_idx" ON "cutover_target"."McpApiKey"("userMcpServerInstanceId");

-- CreateIndex
CREATE UNIQUE INDEX "User_email_key" ON "cutover_target"."User"("email");

-- CreateIndex
CREATE UNIQUE INDEX "Tool_mcpServerId_name_key" ON "cutover_target"."Tool"("mcpServerId", "name");

-- CreateIndex
CREATE UNIQUE INDEX "OrganizationMember_organizationId_userId_key" ON "cutover_target"."OrganizationMember"("organizationId", "userId");

-- CreateIndex
CREATE UNIQUE INDEX "UserMcpServerInstance_toolGroupId_key" ON "cutover_target"."UserMcpServerInstance"("toolGroupId");

-- CreateIndex
CREATE INDEX "UserMcpServerInstance_deletedAt_idx" ON "cutover_target"."UserMcpServerInstance"("deletedAt");

-- CreateIndex
CREATE UNIQUE INDEX "McpServerRequestData_requestLogId_key" ON "cutover_target"."McpServerRequestData"("requestLogId");
