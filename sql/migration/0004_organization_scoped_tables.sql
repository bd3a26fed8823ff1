-- Transform, user-scoped rows into organizations (R5, R6, R9).
-- organizationId = the legacy organizationId where set, else the personal organization of the legacy
-- userId; userId (and UserMcpServerConfig.oauthScopes) dropped by design.
-- Requires: 0002 and 0003 applied in this transaction (cutover_personal, R6's
-- pg_temp.cutover_auth_type, which this file drops after its last use). Idempotent.
-- LEFT JOIN, not JOIN: a row whose userId names no user (a database that lost its foreign key) is
-- never dropped here. With its own organizationId it is kept; without one, the target's NOT NULL
-- fails the transform naming the table, where an inner join would have left verify to find a row
-- missing.

INSERT INTO cutover_target."UserMcpServerConfig" ("id", "name", "description", "envVars", "oauthConnection", "mcpServerId",
                                          "organizationId", "createdAt", "updatedAt")
SELECT c."id", c."name", c."description", c."envVars", c."oauthConnection", c."mcpServerId",
       coalesce(c."organizationId", p.org_id), c."createdAt", c."updatedAt"
FROM public."UserMcpServerConfig" c
LEFT JOIN cutover_personal p ON p.user_id = c."userId"
WHERE NOT EXISTS (SELECT 1 FROM cutover_target."UserMcpServerConfig" there WHERE there."id" = c."id");

INSERT INTO cutover_target."UserToolGroup" ("id", "name", "description", "isEnabled", "organizationId", "createdAt", "updatedAt")
SELECT g."id", g."name", g."description", g."isEnabled", coalesce(g."organizationId", p.org_id), g."createdAt", g."updatedAt"
FROM public."UserToolGroup" g
LEFT JOIN cutover_personal p ON p.user_id = g."userId"
WHERE NOT EXISTS (SELECT 1 FROM cutover_target."UserToolGroup" there WHERE there."id" = g."id");

INSERT INTO cutover_target."UserMcpServerInstance" ("id", "name", "description", "iconPath", "serverStatus", "serverType",
                                            "toolGroupId", "authType", "organizationId", "displayOrder", "createdAt",
                                            "updatedAt", "deletedAt")
SELECT i."id", i."name", i."description", i."iconPath", i."serverStatus"::text::cutover_target."ServerStatus",
       i."serverType"::text::cutover_target."ServerType", i."toolGroupId",
       pg_temp.cutover_auth_type(i."authType"::text),
       coalesce(i."organizationId", p.org_id), i."displayOrder", i."createdAt", i."updatedAt", i."deletedAt"
FROM public."UserMcpServerInstance" i
LEFT JOIN cutover_personal p ON p.user_id = i."userId"
WHERE NOT EXISTS (SELECT 1 FROM cutover_target."UserMcpServerInstance" there WHERE there."id" = i."id");

DROP FUNCTION pg_temp.cutover_auth_type(text); -- R6's last use: the session keeps nothing of it

INSERT INTO cutover_target."UserToolGroupTool" ("userMcpServerConfigId", "toolGroupId", "toolId", "sortOrder", "createdAt")
SELECT j."userMcpServerConfigId", j."toolGroupId", j."toolId", j."sortOrder", j."createdAt"
FROM public."UserToolGroupTool" j
WHERE NOT EXISTS (SELECT 1 FROM cutover_target."UserToolGroupTool" there
                  WHERE there."toolGroupId" = j."toolGroupId"
                    AND there."userMcpServerConfigId" = j."userMcpServerConfigId"
                    AND there."toolId" = j."toolId");

INSERT INTO cutover_target."UserMcpServerInstanceToolGroup" ("mcpServerInstanceId", "toolGroupId", "sortOrder", "createdAt")
SELECT j."mcpServerInstanceId", j."toolGroupId", j."sortOrder", j."createdAt"
FROM public."UserMcpServerInstanceToolGroup" j
WHERE NOT EXISTS (SELECT 1 FROM cutover_target."UserMcpServerInstanceToolGroup" there
                  WHERE there."mcpServerInstanceId" = j."mcpServerInstanceId"
                    AND there."toolGroupId" = j."toolGroupId");

-- R8: API keys kept; userId dropped by design.
INSERT INTO cutover_target."McpApiKey" ("id", "name", "apiKey", "apiKeyHash", "isActive", "lastUsedAt", "expiresAt",
                                "userMcpServerInstanceId", "createdAt", "updatedAt")
SELECT k."id", k."name", k."apiKey", k."apiKeyHash", k."isActive", k."lastUsedAt", k."expiresAt",
       k."userMcpServerInstanceId", k."createdAt", k."updatedAt"
FROM public."McpApiKey" k
WHERE NOT EXISTS (SELECT 1 FROM cutover_target."McpApiKey" there WHERE there."id" = k."id");
