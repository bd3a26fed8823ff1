-- Copied from sql/spec/target-schema.sql (primary keys, indexes and foreign keys); schema, enums
-- and tables in 0001. tests/test_sql_layout.py fails when the two drift from the spec.
-- Target schema, part 2: the tables' primary keys (the spec declares them inside CREATE TABLE, here
-- ALTER TABLE … ADD CONSTRAINT, same names, same columns), then the spec's indexes and foreign keys,
-- built after the transform has loaded the data: one index build per key and index instead of
-- row-by-row maintenance, and one validation pass per foreign key instead of a trigger per row.
-- Primary keys first: a foreign key needs the key it references.
-- Requires: 0001 to 0005 applied in the same transaction.

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

-- AddForeignKey
ALTER TABLE "cutover_target"."McpApiKey" ADD CONSTRAINT "McpApiKey_userMcpServerInstanceId_fkey" FOREIGN KEY ("userMcpServerInstanceId") REFERENCES "cutover_target"."UserMcpServerInstance"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."User" ADD CONSTRAINT "User_defaultOrganizationId_fkey" FOREIGN KEY ("defaultOrganizationId") REFERENCES "cutover_target"."Organization"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."McpServer" ADD CONSTRAINT "McpServer_createdBy_fkey" FOREIGN KEY ("createdBy") REFERENCES "cutover_target"."User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."McpServer" ADD CONSTRAINT "McpServer_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "cutover_target"."Organization"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."Tool" ADD CONSTRAINT "Tool_mcpServerId_fkey" FOREIGN KEY ("mcpServerId") REFERENCES "cutover_target"."McpServer"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."Organization" ADD CONSTRAINT "Organization_createdBy_fkey" FOREIGN KEY ("createdBy") REFERENCES "cutover_target"."User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."OrganizationMember" ADD CONSTRAINT "OrganizationMember_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "cutover_target"."Organization"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."OrganizationMember" ADD CONSTRAINT "OrganizationMember_userId_fkey" FOREIGN KEY ("userId") REFERENCES "cutover_target"."User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."UserMcpServerConfig" ADD CONSTRAINT "UserMcpServerConfig_mcpServerId_fkey" FOREIGN KEY ("mcpServerId") REFERENCES "cutover_target"."McpServer"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."UserMcpServerConfig" ADD CONSTRAINT "UserMcpServerConfig_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "cutover_target"."Organization"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."UserToolGroupTool" ADD CONSTRAINT "UserToolGroupTool_userMcpServerConfigId_fkey" FOREIGN KEY ("userMcpServerConfigId") REFERENCES "cutover_target"."UserMcpServerConfig"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."UserToolGroupTool" ADD CONSTRAINT "UserToolGroupTool_toolGroupId_fkey" FOREIGN KEY ("toolGroupId") REFERENCES "cutover_target"."UserToolGroup"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."UserToolGroupTool" ADD CONSTRAINT "UserToolGroupTool_toolId_fkey" FOREIGN KEY ("toolId") REFERENCES "cutover_target"."Tool"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."UserToolGroup" ADD CONSTRAINT "UserToolGroup_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "cutover_target"."Organization"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."UserMcpServerInstanceToolGroup" ADD CONSTRAINT "UserMcpServerInstanceToolGroup_mcpServerInstanceId_fkey" FOREIGN KEY ("mcpServerInstanceId") REFERENCES "cutover_target"."UserMcpServerInstance"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."UserMcpServerInstanceToolGroup" ADD CONSTRAINT "UserMcpServerInstanceToolGroup_toolGroupId_fkey" FOREIGN KEY ("toolGroupId") REFERENCES "cutover_target"."UserToolGroup"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."UserMcpServerInstance" ADD CONSTRAINT "UserMcpServerInstance_toolGroupId_fkey" FOREIGN KEY ("toolGroupId") REFERENCES "cutover_target"."UserToolGroup"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."UserMcpServerInstance" ADD CONSTRAINT "UserMcpServerInstance_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "cutover_target"."Organization"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."McpServerRequestLog" ADD CONSTRAINT "McpServerRequestLog_mcpServerInstanceId_fkey" FOREIGN KEY ("mcpServerInstanceId") REFERENCES "cutover_target"."UserMcpServerInstance"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."McpServerRequestLog" ADD CONSTRAINT "McpServerRequestLog_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "cutover_target"."Organization"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cutover_target"."McpServerRequestData" ADD CONSTRAINT "McpServerRequestData_requestLogId_fkey" FOREIGN KEY ("requestLogId") REFERENCES "cutover_target"."McpServerRequestLog"("id") ON DELETE CASCADE ON UPDATE CASCADE;
