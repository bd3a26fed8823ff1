-- Preflight and audit: legacy rows the target's keys would refuse, counted before the downtime.
-- The target (spec/target-schema.sql) has a foreign key for every reference below. The legacy
-- schema has the same ones, so a database built from it holds no such row; a live database that
-- lost one (a hotfix, a restore without constraints, an ORM that keeps references in the app)
-- can. The transform would then fail on them inside the window, after the downtime began: the
-- target's NOT NULL (R5's personal organization needs a user) or the foreign key built in 0006.
-- Each count runs only when the live schema lacks the validated single-column foreign key that
-- would rule it out (a one-time filter: with every key in place, no table is read).
-- Read-only. Returns one row per kind of problem that has rows: (problem, rows).
-- tests/test_orphans.py checks that every foreign key of the target is counted here.
WITH kept AS MATERIALIZED (  -- the live schema's validated single-column foreign keys
    SELECT t.relname::text AS tbl, a.attname::text AS col, r.relname::text AS ref
      FROM pg_constraint c
      JOIN pg_class t ON t.oid = c.conrelid
      JOIN pg_class r ON r.oid = c.confrelid
      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
     WHERE c.contype = 'f' AND c.convalidated AND cardinality(c.conkey) = 1
       AND t.relnamespace = 'public'::regnamespace AND r.relnamespace = 'public'::regnamespace
)
SELECT problem, rows FROM (
SELECT 'McpApiKey.userMcpServerInstanceId names no UserMcpServerInstance', count(*)
  FROM public."McpApiKey" x
 WHERE x."userMcpServerInstanceId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."UserMcpServerInstance" y WHERE y."id" = x."userMcpServerInstanceId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'McpApiKey' AND kept.col = 'userMcpServerInstanceId' AND kept.ref = 'UserMcpServerInstance')
UNION ALL
SELECT 'McpServer.createdBy names no User', count(*)
  FROM public."McpServer" x
 WHERE x."createdBy" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."User" y WHERE y."id" = x."createdBy")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'McpServer' AND kept.col = 'createdBy' AND kept.ref = 'User')
UNION ALL
SELECT 'McpServer.organizationId names no Organization', count(*)
  FROM public."McpServer" x
 WHERE x."organizationId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."Organization" y WHERE y."id" = x."organizationId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'McpServer' AND kept.col = 'organizationId' AND kept.ref = 'Organization')
UNION ALL
SELECT 'Tool.mcpServerId names no McpServer', count(*)
  FROM public."Tool" x
 WHERE x."mcpServerId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."McpServer" y WHERE y."id" = x."mcpServerId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'Tool' AND kept.col = 'mcpServerId' AND kept.ref = 'McpServer')
UNION ALL
SELECT 'Organization.createdBy names no User', count(*)
  FROM public."Organization" x
 WHERE x."createdBy" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."User" y WHERE y."id" = x."createdBy")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'Organization' AND kept.col = 'createdBy' AND kept.ref = 'User')
UNION ALL
SELECT 'OrganizationMember.organizationId names no Organization', count(*)
  FROM public."OrganizationMember" x
 WHERE x."organizationId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."Organization" y WHERE y."id" = x."organizationId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'OrganizationMember' AND kept.col = 'organizationId' AND kept.ref = 'Organization')
UNION ALL
SELECT 'OrganizationMember.userId names no User', count(*)
  FROM public."OrganizationMember" x
 WHERE x."userId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."User" y WHERE y."id" = x."userId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'OrganizationMember' AND kept.col = 'userId' AND kept.ref = 'User')
UNION ALL
SELECT 'UserMcpServerConfig.mcpServerId names no McpServer', count(*)
  FROM public."UserMcpServerConfig" x
 WHERE x."mcpServerId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."McpServer" y WHERE y."id" = x."mcpServerId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'UserMcpServerConfig' AND kept.col = 'mcpServerId' AND kept.ref = 'McpServer')
UNION ALL
SELECT 'UserToolGroupTool.userMcpServerConfigId names no UserMcpServerConfig', count(*)
  FROM public."UserToolGroupTool" x
 WHERE x."userMcpServerConfigId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."UserMcpServerConfig" y WHERE y."id" = x."userMcpServerConfigId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'UserToolGroupTool' AND kept.col = 'userMcpServerConfigId' AND kept.ref = 'UserMcpServerConfig')
UNION ALL
SELECT 'UserToolGroupTool.toolGroupId names no UserToolGroup', count(*)
  FROM public."UserToolGroupTool" x
 WHERE x."toolGroupId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."UserToolGroup" y WHERE y."id" = x."toolGroupId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'UserToolGroupTool' AND kept.col = 'toolGroupId' AND kept.ref = 'UserToolGroup')
UNION ALL
SELECT 'UserToolGroupTool.toolId names no Tool', count(*)
  FROM public."UserToolGroupTool" x
 WHERE x."toolId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."Tool" y WHERE y."id" = x."toolId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'UserToolGroupTool' AND kept.col = 'toolId' AND kept.ref = 'Tool')
UNION ALL
SELECT 'UserMcpServerInstanceToolGroup.mcpServerInstanceId names no UserMcpServerInstance', count(*)
  FROM public."UserMcpServerInstanceToolGroup" x
 WHERE x."mcpServerInstanceId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."UserMcpServerInstance" y WHERE y."id" = x."mcpServerInstanceId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'UserMcpServerInstanceToolGroup' AND kept.col = 'mcpServerInstanceId' AND kept.ref = 'UserMcpServerInstance')
UNION ALL
SELECT 'UserMcpServerInstanceToolGroup.toolGroupId names no UserToolGroup', count(*)
  FROM public."UserMcpServerInstanceToolGroup" x
 WHERE x."toolGroupId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."UserToolGroup" y WHERE y."id" = x."toolGroupId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'UserMcpServerInstanceToolGroup' AND kept.col = 'toolGroupId' AND kept.ref = 'UserToolGroup')
UNION ALL
SELECT 'UserMcpServerInstance.toolGroupId names no UserToolGroup', count(*)
  FROM public."UserMcpServerInstance" x
 WHERE x."toolGroupId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."UserToolGroup" y WHERE y."id" = x."toolGroupId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'UserMcpServerInstance' AND kept.col = 'toolGroupId' AND kept.ref = 'UserToolGroup')
UNION ALL
SELECT 'McpServerRequestLog.mcpServerInstanceId names no UserMcpServerInstance', count(*)
  FROM public."McpServerRequestLog" x
 WHERE x."mcpServerInstanceId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."UserMcpServerInstance" y WHERE y."id" = x."mcpServerInstanceId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'McpServerRequestLog' AND kept.col = 'mcpServerInstanceId' AND kept.ref = 'UserMcpServerInstance')
UNION ALL
SELECT 'McpServerRequestData.requestLogId names no McpServerRequestLog', count(*)
  FROM public."McpServerRequestData" x
 WHERE x."requestLogId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."McpServerRequestLog" y WHERE y."id" = x."requestLogId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'McpServerRequestData' AND kept.col = 'requestLogId' AND kept.ref = 'McpServerRequestLog')
UNION ALL
SELECT 'UserMcpServerConfig.organizationId names no Organization', count(*)
  FROM public."UserMcpServerConfig" x
 WHERE x."organizationId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."Organization" y WHERE y."id" = x."organizationId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'UserMcpServerConfig' AND kept.col = 'organizationId' AND kept.ref = 'Organization')
UNION ALL
SELECT 'UserMcpServerConfig without organizationId whose userId names no User (R5: no personal organization for it)', count(*)
  FROM public."UserMcpServerConfig" x
 WHERE x."organizationId" IS NULL AND NOT EXISTS (SELECT 1 FROM public."User" y WHERE y."id" = x."userId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'UserMcpServerConfig' AND kept.col = 'userId' AND kept.ref = 'User')
UNION ALL
SELECT 'UserToolGroup.organizationId names no Organization', count(*)
  FROM public."UserToolGroup" x
 WHERE x."organizationId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."Organization" y WHERE y."id" = x."organizationId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'UserToolGroup' AND kept.col = 'organizationId' AND kept.ref = 'Organization')
UNION ALL
SELECT 'UserToolGroup without organizationId whose userId names no User (R5: no personal organization for it)', count(*)
  FROM public."UserToolGroup" x
 WHERE x."organizationId" IS NULL AND NOT EXISTS (SELECT 1 FROM public."User" y WHERE y."id" = x."userId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'UserToolGroup' AND kept.col = 'userId' AND kept.ref = 'User')
UNION ALL
SELECT 'UserMcpServerInstance.organizationId names no Organization', count(*)
  FROM public."UserMcpServerInstance" x
 WHERE x."organizationId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."Organization" y WHERE y."id" = x."organizationId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'UserMcpServerInstance' AND kept.col = 'organizationId' AND kept.ref = 'Organization')
UNION ALL
SELECT 'UserMcpServerInstance without organizationId whose userId names no User (R5: no personal organization for it)', count(*)
  FROM public."UserMcpServerInstance" x
 WHERE x."organizationId" IS NULL AND NOT EXISTS (SELECT 1 FROM public."User" y WHERE y."id" = x."userId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'UserMcpServerInstance' AND kept.col = 'userId' AND kept.ref = 'User')
UNION ALL
SELECT 'McpServerRequestLog.organizationId names no Organization', count(*)
  FROM public."McpServerRequestLog" x
 WHERE x."organizationId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."Organization" y WHERE y."id" = x."organizationId")
   AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.tbl = 'McpServerRequestLog' AND kept.col = 'organizationId' AND kept.ref = 'Organization')
) found(problem, rows)
WHERE rows > 0
ORDER BY problem;
