-- Audit (R13), read-only, safe on the live database before the window: rows that a rule has to bend.
-- One row per finding: (finding, rule, count). Reads the legacy schema in "public".
-- Requires: current_setting('pgcutover.whitespace') (R3's whitespace, from plan.toml [parameters],
-- the one the transform trims with; set by the engine for this read-only transaction).
SELECT 'McpServer.authType BOTH becomes OAUTH' AS finding, 'R6' AS rule, count(*) AS rows
  FROM public."McpServer" WHERE "authType"::text = 'BOTH'
UNION ALL
SELECT 'UserMcpServerInstance.authType BOTH becomes OAUTH', 'R6', count(*)
  FROM public."UserMcpServerInstance" WHERE "authType"::text = 'BOTH'
UNION ALL
SELECT 'request logs without organizationId, resolved through their instance', 'R7', count(*)
  FROM public."McpServerRequestLog" WHERE "organizationId" IS NULL
UNION ALL
SELECT 'request logs whose user was deleted (userId NULL)', 'R7', count(*)
  FROM public."McpServerRequestLog" WHERE "userId" IS NULL
UNION ALL
SELECT 'single-member team organizations (stay team organizations)', 'R2', count(*)
  FROM (SELECT "organizationId" FROM public."OrganizationMember" GROUP BY 1 HAVING count(*) = 1) s
UNION ALL
SELECT 'team organizations with no member', 'R2', count(*)
  FROM public."Organization" o
 WHERE NOT EXISTS (SELECT 1 FROM public."OrganizationMember" m WHERE m."organizationId" = o.id)
UNION ALL
SELECT 'users with neither name nor email (personal org named ''User''s Workspace'')', 'R3', count(*)
  FROM public."User" u
 CROSS JOIN (SELECT format('^[%1$s]+|[%1$s]+$', current_setting('pgcutover.whitespace')) AS edges) ws
 WHERE coalesce(regexp_replace(u."name", ws.edges, '', 'g'), '') = ''
   AND coalesce(regexp_replace(u."email", ws.edges, '', 'g'), '') = ''
UNION ALL
SELECT 'instances whose tool group sits in another organization', 'R5', count(*)
  FROM public."UserMcpServerInstance" i
  JOIN public."UserToolGroup" g ON g.id = i."toolGroupId"
 -- Where R5 puts each: its legacy organization, else its user's personal one. The pair keeps the
 -- two kinds apart (a legacy organization id may be any text, 'personal:u1' too).
 WHERE (i."organizationId" IS NULL, coalesce(i."organizationId", i."userId"))
       IS DISTINCT FROM (g."organizationId" IS NULL, coalesce(g."organizationId", g."userId"))
UNION ALL
SELECT 'UserMcpServerConfig.oauthScopes values dropped by design', 'R5', count(*)
  FROM public."UserMcpServerConfig" WHERE "oauthScopes" IS NOT NULL
UNION ALL
SELECT '_ToolToUserMcpServerConfig rows dropped by design', 'R10', count(*)
  FROM public."_ToolToUserMcpServerConfig";
