-- Verify R11: per kept table, the legacy rows (with the rules applied: R2 sizes, R5/R7 organizations,
-- R6 AuthType) against the target rows, as row counts and order-independent content checksums.
-- One pass per table and side: each row's md5 is split into two 64-bit halves and summed (a sum does
-- not depend on row order; bytea is hashed with md5 first so no row is ever held as text whole).
-- Personal organizations and their memberships are new rows (R3) and are checked by 0001 instead.
-- Returns (table_name, legacy_rows, legacy_checksum, target_rows, target_checksum). Read-only.
WITH personal AS (
    SELECT "createdBy" AS user_id, min(id) AS org_id FROM public."Organization" WHERE "isPersonal" GROUP BY 1
)
SELECT 'User' AS table_name, l.n AS legacy_rows, l.checksum AS legacy_checksum, t.n AS target_rows, t.checksum AS target_checksum
FROM (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(u.id, u.name, u.email, u.image, u.role::text, u."createdAt", u."updatedAt")::text) AS h
            FROM cutover_legacy."User" u) s) l,
     (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(u.id, u.name, u.email, u.image, u.role::text, u."createdAt", u."updatedAt")::text) AS h
            FROM public."User" u) s) t
UNION ALL
SELECT 'Organization' AS table_name, l.n AS legacy_rows, l.checksum AS legacy_checksum, t.n AS target_rows, t.checksum AS target_checksum
FROM (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(o.id, o.name, o.description, o."logoUrl", o."isDeleted", false, greatest(coalesce(m.members, 0), 10), o."createdBy", o."createdAt", o."updatedAt")::text) AS h
            FROM cutover_legacy."Organization" o
      LEFT JOIN (SELECT "organizationId", count(*) AS members FROM cutover_legacy."OrganizationMember" GROUP BY 1) m
             ON m."organizationId" = o.id) s) l,
     (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(o.id, o.name, o.description, o."logoUrl", o."isDeleted", o."isPersonal", o."maxMembers", o."createdBy", o."createdAt", o."updatedAt")::text) AS h
            FROM public."Organization" o WHERE NOT o."isPersonal") s) t
UNION ALL
SELECT 'OrganizationMember' AS table_name, l.n AS legacy_rows, l.checksum AS legacy_checksum, t.n AS target_rows, t.checksum AS target_checksum
FROM (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(m.id, m."organizationId", m."userId", m."isAdmin", m."createdAt", m."updatedAt")::text) AS h
            FROM cutover_legacy."OrganizationMember" m) s) l,
     (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(m.id, m."organizationId", m."userId", m."isAdmin", m."createdAt", m."updatedAt")::text) AS h
            FROM public."OrganizationMember" m JOIN public."Organization" o ON o.id = m."organizationId" WHERE NOT o."isPersonal") s) t
UNION ALL
SELECT 'McpServer' AS table_name, l.n AS legacy_rows, l.checksum AS legacy_checksum, t.n AS target_rows, t.checksum AS target_checksum
FROM (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(s.id, s.name, s."iconPath", s."transportType"::text, s.command, s.args, s.url, s."envVars", CASE s."authType"::text WHEN 'BOTH' THEN 'OAUTH' ELSE s."authType"::text END, s."oauthProvider", s."oauthScopes", s."serverType"::text, s."createdBy", s.visibility::text, s."organizationId", s."isPublic", s."createdAt", s."updatedAt")::text) AS h
            FROM cutover_legacy."McpServer" s) s) l,
     (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(s.id, s.name, s."iconPath", s."transportType"::text, s.command, s.args, s.url, s."envVars", s."authType"::text, s."oauthProvider", s."oauthScopes", s."serverType"::text, s."createdBy", s.visibility::text, s."organizationId", s."isPublic", s."createdAt", s."updatedAt")::text) AS h
            FROM public."McpServer" s) s) t
UNION ALL
SELECT 'Tool' AS table_name, l.n AS legacy_rows, l.checksum AS legacy_checksum, t.n AS target_rows, t.checksum AS target_checksum
FROM (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(t.id, t.name, t.description, t."inputSchema", t."isEnabled", t."mcpServerId", t."createdAt", t."updatedAt")::text) AS h
            FROM cutover_legacy."Tool" t) s) l,
     (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(t.id, t.name, t.description, t."inputSchema", t."isEnabled", t."mcpServerId", t."createdAt", t."updatedAt")::text) AS h
            FROM public."Tool" t) s) t
UNION ALL
SELECT 'UserMcpServerConfig' AS table_name, l.n AS legacy_rows, l.checksum AS legacy_checksum, t.n AS target_rows, t.checksum AS target_checksum
FROM (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(c.id, c.name, c.description, c."envVars", c."oauthConnection", c."mcpServerId", coalesce(c."organizationId", p.org_id), c."createdAt", c."updatedAt")::text) AS h
            FROM cutover_legacy."UserMcpServerConfig" c LEFT JOIN personal p ON p.user_id = c."userId") s) l,
     (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(c.id, c.name, c.description, c."envVars", c."oauthConnection", c."mcpServerId", c."organizationId", c."createdAt", c."updatedAt")::text) AS h
            FROM public."UserMcpServerConfig" c) s) t
UNION ALL
SELECT 'UserToolGroupTool' AS table_name, l.n AS legacy_rows, l.checksum AS legacy_checksum, t.n AS target_rows, t.checksum AS target_checksum
FROM (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(j."userMcpServerConfigId", j."toolGroupId", j."toolId", j."sortOrder", j."createdAt")::text) AS h
            FROM cutover_legacy."UserToolGroupTool" j) s) l,
     (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(j."userMcpServerConfigId", j."toolGroupId", j."toolId", j."sortOrder", j."createdAt")::text) AS h
            FROM public."UserToolGroupTool" j) s) t
UNION ALL
SELECT 'UserToolGroup' AS table_name, l.n AS legacy_rows, l.checksum AS legacy_checksum, t.n AS target_rows, t.checksum AS target_checksum
FROM (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(g.id, g.name, g.description, g."isEnabled", coalesce(g."organizationId", p.org_id), g."createdAt", g."updatedAt")::text) AS h
            FROM cutover_legacy."UserToolGroup" g LEFT JOIN personal p ON p.user_id = g."userId") s) l,
     (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(g.id, g.name, g.description, g."isEnabled", g."organizationId", g."createdAt", g."updatedAt")::text) AS h
            FROM public."UserToolGroup" g) s) t
UNION ALL
SELECT 'UserMcpServerInstanceToolGroup' AS table_name, l.n AS legacy_rows, l.checksum AS legacy_checksum, t.n AS target_rows, t.checksum AS target_checksum
FROM (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(j."mcpServerInstanceId", j."toolGroupId", j."sortOrder", j."createdAt")::text) AS h
            FROM cutover_legacy."UserMcpServerInstanceToolGroup" j) s) l,
     (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(j."mcpServerInstanceId", j."toolGroupId", j."sortOrder", j."createdAt")::text) AS h
            FROM public."UserMcpServerInstanceToolGroup" j) s) t
UNION ALL
SELECT 'UserMcpServerInstance' AS table_name, l.n AS legacy_rows, l.checksum AS legacy_checksum, t.n AS target_rows, t.checksum AS target_checksum
FROM (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(i.id, i.name, i.description, i."iconPath", i."serverStatus"::text, i."serverType"::text, i."toolGroupId", CASE i."authType"::text WHEN 'BOTH' THEN 'OAUTH' ELSE i."authType"::text END, coalesce(i."organizationId", p.org_id), i."displayOrder", i."createdAt", i."updatedAt", i."deletedAt")::text) AS h
            FROM cutover_legacy."UserMcpServerInstance" i LEFT JOIN personal p ON p.user_id = i."userId") s) l,
     (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(i.id, i.name, i.description, i."iconPath", i."serverStatus"::text, i."serverType"::text, i."toolGroupId", i."authType"::text, i."organizationId", i."displayOrder", i."createdAt", i."updatedAt", i."deletedAt")::text) AS h
            FROM public."UserMcpServerInstance" i) s) t
UNION ALL
SELECT 'McpServerRequestLog' AS table_name, l.n AS legacy_rows, l.checksum AS legacy_checksum, t.n AS target_rows, t.checksum AS target_checksum
FROM (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(l.id, l."mcpServerInstanceId", l."toolName", l."transportType"::text, l.method, l."responseStatus", l."durationMs", l."errorMessage", l."errorCode", l."inputBytes", l."outputBytes", coalesce(l."organizationId", i."organizationId", p.org_id), l."userAgent", l."createdAt")::text) AS h
            FROM cutover_legacy."McpServerRequestLog" l
      LEFT JOIN cutover_legacy."UserMcpServerInstance" i ON i.id = l."mcpServerInstanceId"
      LEFT JOIN personal p ON p.user_id = i."userId") s) l,
     (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(l.id, l."mcpServerInstanceId", l."toolName", l."transportType"::text, l.method, l."responseStatus", l."durationMs", l."errorMessage", l."errorCode", l."inputBytes", l."outputBytes", l."organizationId", l."userAgent", l."createdAt")::text) AS h
            FROM public."McpServerRequestLog" l) s) t
UNION ALL
SELECT 'McpServerRequestData' AS table_name, l.n AS legacy_rows, l.checksum AS legacy_checksum, t.n AS target_rows, t.checksum AS target_checksum
FROM (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(d.id, d."requestLogId", md5(d."inputDataCompressed"), md5(d."outputDataCompressed"), d."originalInputSize", d."originalOutputSize", d."compressedInputSize", d."compressedOutputSize", d."compressionRatio", d."createdAt")::text) AS h
            FROM cutover_legacy."McpServerRequestData" d) s) l,
     (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(d.id, d."requestLogId", md5(d."inputDataCompressed"), md5(d."outputDataCompressed"), d."originalInputSize", d."originalOutputSize", d."compressedInputSize", d."compressedOutputSize", d."compressionRatio", d."createdAt")::text) AS h
            FROM public."McpServerRequestData" d) s) t
UNION ALL
SELECT 'McpApiKey' AS table_name, l.n AS legacy_rows, l.checksum AS legacy_checksum, t.n AS target_rows, t.checksum AS target_checksum
FROM (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(k.id, k.name, k."apiKey", k."apiKeyHash", k."isActive", k."lastUsedAt", k."expiresAt", k."userMcpServerInstanceId", k."createdAt", k."updatedAt")::text) AS h
            FROM cutover_legacy."McpApiKey" k) s) l,
     (SELECT count(*) AS n,
           coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0) || ':' ||
           coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) AS checksum
      FROM (SELECT md5(ROW(k.id, k.name, k."apiKey", k."apiKeyHash", k."isActive", k."lastUsedAt", k."expiresAt", k."userMcpServerInstanceId", k."createdAt", k."updatedAt")::text) AS h
            FROM public."McpApiKey" k) s) t;
