-- Bench floor of the transform step (`invoke bench`, pgcutover/bench_floors.py): the simplest
-- hand-written set-based migration, one INSERT ... SELECT per target table straight from the legacy
-- tables. The bench runs this file as written, then sql/migration/0007_target_keys_and_indexes.sql,
-- 0008_target_foreign_keys.sql and 0009_validate_foreign_keys.sql as written (the target's indexes
-- and keys have no simpler form, and the spec has one copy only), all in one transaction, one
-- statement after the other, and times them together.
-- It ignores the finer rules on purpose: personal-organization ids are a plain md5 of the user id
-- (R3's collision check skipped), names are not trimmed of Unicode whitespace (R3), team
-- organizations get maxMembers 10 without counting members (R2), timestamps are now() instead of
-- the run's migration timestamp, no anti-join skipping rows already there (no re-run safety), no
-- ANALYZE afterwards.
-- It must still give every target table the same number of rows as the transform step does: the
-- bench compares the counts and fails when they differ.
-- Requires: the legacy schema in "public" and the empty target tables of
-- sql/migration/0001_target_tables.sql in "cutover_target" (where the window builds them).

INSERT INTO cutover_target."User" ("id", "name", "email", "image", "role", "defaultOrganizationId", "createdAt", "updatedAt")
SELECT u."id", u."name", u."email", u."image", u."role"::text::cutover_target."Role", 'porg_' || md5(u."id"),
       u."createdAt", u."updatedAt"
FROM public."User" u;

INSERT INTO cutover_target."Organization" ("id", "name", "description", "logoUrl", "isDeleted", "isPersonal", "maxMembers",
                                   "createdBy", "createdAt", "updatedAt")
SELECT o."id", o."name", o."description", o."logoUrl", o."isDeleted", false, 10, o."createdBy", o."createdAt",
       o."updatedAt"
FROM public."Organization" o
UNION ALL
SELECT 'porg_' || md5(u."id"), coalesce(u."name", u."email", 'User') || '''s Workspace', 'Personal workspace', NULL,
       false, true, 1, u."id", now(), now()
FROM public."User" u;

INSERT INTO cutover_target."OrganizationMember" ("id", "organizationId", "userId", "isAdmin", "createdAt", "updatedAt")
SELECT m."id", m."organizationId", m."userId", m."isAdmin", m."createdAt", m."updatedAt"
FROM public."OrganizationMember" m
UNION ALL
SELECT 'pmem_' || md5(u."id"), 'porg_' || md5(u."id"), u."id", true, now(), now()
FROM public."User" u;

INSERT INTO cutover_target."McpServer" ("id", "name", "iconPath", "transportType", "command", "args", "url", "envVars",
                                "authType", "oauthProvider", "oauthScopes", "serverType", "createdBy", "visibility",
                                "organizationId", "isPublic", "createdAt", "updatedAt")
SELECT s."id", s."name", s."iconPath", s."transportType"::text::cutover_target."TransportType", s."command", s."args", s."url",
       s."envVars", replace(s."authType"::text, 'BOTH', 'OAUTH')::cutover_target."AuthType", s."oauthProvider",
       s."oauthScopes", s."serverType"::text::cutover_target."ServerType", s."createdBy",
       s."visibility"::text::cutover_target."McpServerVisibility", s."organizationId", s."isPublic", s."createdAt",
       s."updatedAt"
FROM public."McpServer" s;

INSERT INTO cutover_target."Tool" ("id", "name", "description", "inputSchema", "isEnabled", "mcpServerId", "createdAt", "updatedAt")
SELECT t."id", t."name", t."description", t."inputSchema", t."isEnabled", t."mcpServerId", t."createdAt", t."updatedAt"
FROM public."Tool" t;

INSERT INTO cutover_target."UserMcpServerConfig" ("id", "name", "description", "envVars", "oauthConnection", "mcpServerId",
                                          "organizationId", "createdAt", "updatedAt")
SELECT c."id", c."name", c."description", c."envVars", c."oauthConnection", c."mcpServerId",
       coalesce(c."organizationId", 'porg_' || md5(c."userId")), c."createdAt", c."updatedAt"
FROM public."UserMcpServerConfig" c;

INSERT INTO cutover_target."UserToolGroup" ("id", "name", "description", "isEnabled", "organizationId", "createdAt", "updatedAt")
SELECT g."id", g."name", g."description", g."isEnabled", coalesce(g."organizationId", 'porg_' || md5(g."userId")),
       g."createdAt", g."updatedAt"
FROM public."UserToolGroup" g;

INSERT INTO cutover_target."UserMcpServerInstance" ("id", "name", "description", "iconPath", "serverStatus", "serverType",
                                            "toolGroupId", "authType", "organizationId", "displayOrder", "createdAt",
                                            "updatedAt", "deletedAt")
SELECT i."id", i."name", i."description", i."iconPath", i."serverStatus"::text::cutover_target."ServerStatus",
       i."serverType"::text::cutover_target."ServerType", i."toolGroupId",
       replace(i."authType"::text, 'BOTH', 'OAUTH')::cutover_target."AuthType",
       coalesce(i."organizationId", 'porg_' || md5(i."userId")), i."displayOrder", i."createdAt", i."updatedAt",
       i."deletedAt"
FROM public."UserMcpServerInstance" i;

INSERT INTO cutover_target."UserToolGroupTool" ("userMcpServerConfigId", "toolGroupId", "toolId", "sortOrder", "createdAt")
SELECT j."userMcpServerConfigId", j."toolGroupId", j."toolId", j."sortOrder", j."createdAt"
FROM public."UserToolGroupTool" j;

INSERT INTO cutover_target."UserMcpServerInstanceToolGroup" ("mcpServerInstanceId", "toolGroupId", "sortOrder", "createdAt")
SELECT j."mcpServerInstanceId", j."toolGroupId", j."sortOrder", j."createdAt"
FROM public."UserMcpServerInstanceToolGroup" j;

INSERT INTO cutover_target."McpApiKey" ("id", "name", "apiKey", "apiKeyHash", "isActive", "lastUsedAt", "expiresAt",
                                "userMcpServerInstanceId", "createdAt", "updatedAt")
SELECT k."id", k."name", k."apiKey", k."apiKeyHash", k."isActive", k."lastUsedAt", k."expiresAt",
       k."userMcpServerInstanceId", k."createdAt", k."updatedAt"
FROM public."McpApiKey" k;

INSERT INTO cutover_target."McpServerRequestLog" ("id", "mcpServerInstanceId", "toolName", "transportType", "method",
                                          "responseStatus", "durationMs", "errorMessage", "errorCode", "inputBytes",
                                          "outputBytes", "organizationId", "userAgent", "createdAt")
SELECT l."id", l."mcpServerInstanceId", l."toolName", l."transportType"::text::cutover_target."TransportType", l."method",
       l."responseStatus", l."durationMs", l."errorMessage", l."errorCode", l."inputBytes", l."outputBytes",
       coalesce(l."organizationId", i."organizationId"), l."userAgent", l."createdAt"
FROM public."McpServerRequestLog" l
JOIN cutover_target."UserMcpServerInstance" i ON i."id" = l."mcpServerInstanceId";

INSERT INTO cutover_target."McpServerRequestData" ("id", "requestLogId", "inputDataCompressed", "outputDataCompressed",
                                           "originalInputSize", "originalOutputSize", "compressedInputSize",
                                           "compressedOutputSize", "compressionRatio", "createdAt")
SELECT d."id", d."requestLogId", d."inputDataCompressed", d."outputDataCompressed", d."originalInputSize",
       d."originalOutputSize", d."compressedInputSize", d."compressedOutputSize", d."compressionRatio", d."createdAt"
FROM public."McpServerRequestData" d;
