-- Preflight and audit: legacy rows the target's keys would refuse, counted before the downtime.
-- The target (spec/target-schema.sql) has a foreign key for every reference below. The legacy
-- schema has the same ones, so a database built from it holds no such row; a live database that
-- lost one (a hotfix, a restore without constraints, an ORM that keeps references in the app)
-- can. The transform would then fail on them inside the window, after the downtime began: the
-- target's NOT NULL (R5's personal organization needs a user) or the foreign key added in 0008 (validated in 0009).
-- Every reference is counted, even where the live schema has its foreign key: a key marked
-- valid does not prove the rows are (rows written with session_replication_role = replica, or
-- with the key's triggers disabled, as pg_restore --disable-triggers does, bypass it). A repeated
-- key is counted only where the live schema lacks the valid unique index that rules it out (a
-- one-time filter): nothing writes past a unique index.
-- Read-only. Returns one row per kind of problem that has rows: (problem, rows).
-- tests/test_refused_references.py checks that every foreign key of the target is counted here.
WITH uniq AS MATERIALIZED (  -- the live schema's valid unique indexes (primary keys too), by columns
    SELECT t.relname::text AS tbl, array_agg(a.attname::text ORDER BY a.attname::text COLLATE "C") AS cols
      FROM pg_index i
      JOIN pg_class t ON t.oid = i.indrelid
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
     WHERE i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
       AND t.relnamespace = 'public'::regnamespace
     GROUP BY i.indexrelid, t.relname
)
SELECT problem, rows FROM (
SELECT 'McpApiKey rows whose userMcpServerInstanceId names no UserMcpServerInstance', count(*)
  FROM public."McpApiKey" x
 WHERE x."userMcpServerInstanceId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."UserMcpServerInstance" y WHERE y."id" = x."userMcpServerInstanceId")
UNION ALL
SELECT 'McpServer rows whose createdBy names no User', count(*)
  FROM public."McpServer" x
 WHERE x."createdBy" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."User" y WHERE y."id" = x."createdBy")
UNION ALL
SELECT 'McpServer rows whose organizationId names no Organization', count(*)
  FROM public."McpServer" x
 WHERE x."organizationId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."Organization" y WHERE y."id" = x."organizationId")
UNION ALL
SELECT 'Tool rows whose mcpServerId names no McpServer', count(*)
  FROM public."Tool" x
 WHERE x."mcpServerId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."McpServer" y WHERE y."id" = x."mcpServerId")
UNION ALL
SELECT 'Organization rows whose createdBy names no User', count(*)
  FROM public."Organization" x
 WHERE x."createdBy" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."User" y WHERE y."id" = x."createdBy")
UNION ALL
SELECT 'OrganizationMember rows whose organizationId names no Organization', count(*)
  FROM public."OrganizationMember" x
 WHERE x."organizationId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."Organization" y WHERE y."id" = x."organizationId")
UNION ALL
SELECT 'OrganizationMember rows whose userId names no User', count(*)
  FROM public."OrganizationMember" x
 WHERE x."userId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."User" y WHERE y."id" = x."userId")
UNION ALL
SELECT 'UserMcpServerConfig rows whose mcpServerId names no McpServer', count(*)
  FROM public."UserMcpServerConfig" x
 WHERE x."mcpServerId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."McpServer" y WHERE y."id" = x."mcpServerId")
UNION ALL
SELECT 'UserToolGroupTool rows whose userMcpServerConfigId names no UserMcpServerConfig', count(*)
  FROM public."UserToolGroupTool" x
 WHERE x."userMcpServerConfigId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."UserMcpServerConfig" y WHERE y."id" = x."userMcpServerConfigId")
UNION ALL
SELECT 'UserToolGroupTool rows whose toolGroupId names no UserToolGroup', count(*)
  FROM public."UserToolGroupTool" x
 WHERE x."toolGroupId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."UserToolGroup" y WHERE y."id" = x."toolGroupId")
UNION ALL
SELECT 'UserToolGroupTool rows whose toolId names no Tool', count(*)
  FROM public."UserToolGroupTool" x
 WHERE x."toolId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."Tool" y WHERE y."id" = x."toolId")
UNION ALL
SELECT 'UserMcpServerInstanceToolGroup rows whose mcpServerInstanceId names no UserMcpServerInstance', count(*)
  FROM public."UserMcpServerInstanceToolGroup" x
 WHERE x."mcpServerInstanceId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."UserMcpServerInstance" y WHERE y."id" = x."mcpServerInstanceId")
UNION ALL
SELECT 'UserMcpServerInstanceToolGroup rows whose toolGroupId names no UserToolGroup', count(*)
  FROM public."UserMcpServerInstanceToolGroup" x
 WHERE x."toolGroupId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."UserToolGroup" y WHERE y."id" = x."toolGroupId")
UNION ALL
SELECT 'UserMcpServerInstance rows whose toolGroupId names no UserToolGroup', count(*)
  FROM public."UserMcpServerInstance" x
 WHERE x."toolGroupId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."UserToolGroup" y WHERE y."id" = x."toolGroupId")
UNION ALL
SELECT 'McpServerRequestLog rows whose mcpServerInstanceId names no UserMcpServerInstance', count(*)
  FROM public."McpServerRequestLog" x
 WHERE x."mcpServerInstanceId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."UserMcpServerInstance" y WHERE y."id" = x."mcpServerInstanceId")
UNION ALL
SELECT 'McpServerRequestData rows whose requestLogId names no McpServerRequestLog', count(*)
  FROM public."McpServerRequestData" x
 WHERE x."requestLogId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."McpServerRequestLog" y WHERE y."id" = x."requestLogId")
UNION ALL
SELECT 'UserMcpServerConfig rows whose organizationId names no Organization', count(*)
  FROM public."UserMcpServerConfig" x
 WHERE x."organizationId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."Organization" y WHERE y."id" = x."organizationId")
UNION ALL
SELECT 'UserMcpServerConfig rows without organizationId whose userId names no User (R5: no personal organization for them)', count(*)
  FROM public."UserMcpServerConfig" x
 WHERE x."organizationId" IS NULL AND NOT EXISTS (SELECT 1 FROM public."User" y WHERE y."id" = x."userId")
UNION ALL
SELECT 'UserToolGroup rows whose organizationId names no Organization', count(*)
  FROM public."UserToolGroup" x
 WHERE x."organizationId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."Organization" y WHERE y."id" = x."organizationId")
UNION ALL
SELECT 'UserToolGroup rows without organizationId whose userId names no User (R5: no personal organization for them)', count(*)
  FROM public."UserToolGroup" x
 WHERE x."organizationId" IS NULL AND NOT EXISTS (SELECT 1 FROM public."User" y WHERE y."id" = x."userId")
UNION ALL
SELECT 'UserMcpServerInstance rows whose organizationId names no Organization', count(*)
  FROM public."UserMcpServerInstance" x
 WHERE x."organizationId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."Organization" y WHERE y."id" = x."organizationId")
UNION ALL
SELECT 'UserMcpServerInstance rows without organizationId whose userId names no User (R5: no personal organization for them)', count(*)
  FROM public."UserMcpServerInstance" x
 WHERE x."organizationId" IS NULL AND NOT EXISTS (SELECT 1 FROM public."User" y WHERE y."id" = x."userId")
UNION ALL
SELECT 'McpServerRequestLog rows whose organizationId names no Organization', count(*)
  FROM public."McpServerRequestLog" x
 WHERE x."organizationId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public."Organization" y WHERE y."id" = x."organizationId")
UNION ALL
SELECT 'McpApiKey id values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."McpApiKey" WHERE "id" IS NOT NULL GROUP BY "id" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'McpApiKey' AND uniq.cols = ARRAY['id'])
UNION ALL
SELECT 'User id values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."User" WHERE "id" IS NOT NULL GROUP BY "id" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'User' AND uniq.cols = ARRAY['id'])
UNION ALL
SELECT 'McpServer id values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."McpServer" WHERE "id" IS NOT NULL GROUP BY "id" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'McpServer' AND uniq.cols = ARRAY['id'])
UNION ALL
SELECT 'Tool id values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."Tool" WHERE "id" IS NOT NULL GROUP BY "id" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'Tool' AND uniq.cols = ARRAY['id'])
UNION ALL
SELECT 'Organization id values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."Organization" WHERE "id" IS NOT NULL GROUP BY "id" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'Organization' AND uniq.cols = ARRAY['id'])
UNION ALL
SELECT 'OrganizationMember id values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."OrganizationMember" WHERE "id" IS NOT NULL GROUP BY "id" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'OrganizationMember' AND uniq.cols = ARRAY['id'])
UNION ALL
SELECT 'UserMcpServerConfig id values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."UserMcpServerConfig" WHERE "id" IS NOT NULL GROUP BY "id" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'UserMcpServerConfig' AND uniq.cols = ARRAY['id'])
UNION ALL
SELECT 'UserToolGroupTool (toolGroupId, userMcpServerConfigId, toolId) values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."UserToolGroupTool" WHERE "toolGroupId" IS NOT NULL AND "userMcpServerConfigId" IS NOT NULL AND "toolId" IS NOT NULL GROUP BY "toolGroupId", "userMcpServerConfigId", "toolId" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'UserToolGroupTool' AND uniq.cols = ARRAY['toolGroupId', 'toolId', 'userMcpServerConfigId'])
UNION ALL
SELECT 'UserToolGroup id values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."UserToolGroup" WHERE "id" IS NOT NULL GROUP BY "id" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'UserToolGroup' AND uniq.cols = ARRAY['id'])
UNION ALL
SELECT 'UserMcpServerInstanceToolGroup (mcpServerInstanceId, toolGroupId) values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."UserMcpServerInstanceToolGroup" WHERE "mcpServerInstanceId" IS NOT NULL AND "toolGroupId" IS NOT NULL GROUP BY "mcpServerInstanceId", "toolGroupId" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'UserMcpServerInstanceToolGroup' AND uniq.cols = ARRAY['mcpServerInstanceId', 'toolGroupId'])
UNION ALL
SELECT 'UserMcpServerInstance id values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."UserMcpServerInstance" WHERE "id" IS NOT NULL GROUP BY "id" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'UserMcpServerInstance' AND uniq.cols = ARRAY['id'])
UNION ALL
SELECT 'McpServerRequestLog id values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."McpServerRequestLog" WHERE "id" IS NOT NULL GROUP BY "id" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'McpServerRequestLog' AND uniq.cols = ARRAY['id'])
UNION ALL
SELECT 'McpServerRequestData id values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."McpServerRequestData" WHERE "id" IS NOT NULL GROUP BY "id" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'McpServerRequestData' AND uniq.cols = ARRAY['id'])
UNION ALL
SELECT 'McpApiKey apiKey values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."McpApiKey" WHERE "apiKey" IS NOT NULL GROUP BY "apiKey" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'McpApiKey' AND uniq.cols = ARRAY['apiKey'])
UNION ALL
SELECT 'McpApiKey apiKeyHash values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."McpApiKey" WHERE "apiKeyHash" IS NOT NULL GROUP BY "apiKeyHash" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'McpApiKey' AND uniq.cols = ARRAY['apiKeyHash'])
UNION ALL
SELECT 'User email values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."User" WHERE "email" IS NOT NULL GROUP BY "email" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'User' AND uniq.cols = ARRAY['email'])
UNION ALL
SELECT 'Tool (mcpServerId, name) values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."Tool" WHERE "mcpServerId" IS NOT NULL AND "name" IS NOT NULL GROUP BY "mcpServerId", "name" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'Tool' AND uniq.cols = ARRAY['mcpServerId', 'name'])
UNION ALL
SELECT 'OrganizationMember (organizationId, userId) values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."OrganizationMember" WHERE "organizationId" IS NOT NULL AND "userId" IS NOT NULL GROUP BY "organizationId", "userId" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'OrganizationMember' AND uniq.cols = ARRAY['organizationId', 'userId'])
UNION ALL
SELECT 'UserMcpServerInstance toolGroupId values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."UserMcpServerInstance" WHERE "toolGroupId" IS NOT NULL GROUP BY "toolGroupId" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'UserMcpServerInstance' AND uniq.cols = ARRAY['toolGroupId'])
UNION ALL
SELECT 'McpServerRequestData requestLogId values held by more than one row', count(*)
  FROM (SELECT 1 FROM public."McpServerRequestData" WHERE "requestLogId" IS NOT NULL GROUP BY "requestLogId" HAVING count(*) > 1) repeated
 WHERE NOT EXISTS (SELECT 1 FROM uniq WHERE uniq.tbl = 'McpServerRequestData' AND uniq.cols = ARRAY['requestLogId'])
UNION ALL
-- R3 gives every user a membership of a personal organization, so every user id goes into the
-- target's unique (organizationId, userId) index, where legacy put only members' ids. A btree
-- entry holds at most 2704 bytes: 8 of header, the ~40-byte organization id with its header and
-- padding (48), the user id as stored (pg_column_size: compressed where the heap compressed it).
SELECT 'User ids too long for the key of their personal membership (R3), over 2648 bytes', count(*)
  FROM public."User" u
 WHERE pg_column_size(u."id") > 2648
) found(problem, rows)
WHERE rows > 0
ORDER BY problem;
