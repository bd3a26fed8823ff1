-- Transform, servers and tools (R6, R9): kept unchanged except AuthType 'BOTH', which becomes 'OAUTH'.
-- Requires: 0001 applied. Idempotent (rows already there are skipped).

INSERT INTO public."McpServer" ("id", "name", "iconPath", "transportType", "command", "args", "url", "envVars",
                                "authType", "oauthProvider", "oauthScopes", "serverType", "createdBy", "visibility",
                                "organizationId", "isPublic", "createdAt", "updatedAt")
SELECT s."id", s."name", s."iconPath", s."transportType"::text::public."TransportType", s."command", s."args", s."url",
       s."envVars",
       (CASE s."authType"::text WHEN 'BOTH' THEN 'OAUTH' ELSE s."authType"::text END)::public."AuthType",
       s."oauthProvider", s."oauthScopes", s."serverType"::text::public."ServerType", s."createdBy",
       s."visibility"::text::public."McpServerVisibility", s."organizationId", s."isPublic", s."createdAt", s."updatedAt"
FROM cutover_legacy."McpServer" s
ON CONFLICT ("id") DO NOTHING;

INSERT INTO public."Tool" ("id", "name", "description", "inputSchema", "isEnabled", "mcpServerId", "createdAt", "updatedAt")
SELECT t."id", t."name", t."description", t."inputSchema", t."isEnabled", t."mcpServerId", t."createdAt", t."updatedAt"
FROM cutover_legacy."Tool" t
ON CONFLICT ("id") DO NOTHING;
