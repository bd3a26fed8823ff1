-- Transform, servers and tools (R6, R9): kept unchanged except AuthType 'BOTH', which becomes 'OAUTH'.
-- Requires: 0001 applied. Idempotent (rows already there are skipped).

-- R6, the transform's one AuthType mapping (this file and 0004 use it; 0004 drops it): the value
-- 'BOTH' no longer exists and becomes 'OAUTH', every other value is kept. A temporary function, so
-- it is never part of the target schema; verify checks R6 with its own mapping, never with this.
CREATE OR REPLACE FUNCTION pg_temp.cutover_auth_type(legacy text) RETURNS cutover_target."AuthType"
LANGUAGE sql STABLE AS $fn$
    SELECT (CASE legacy WHEN 'BOTH' THEN 'OAUTH' ELSE legacy END)::cutover_target."AuthType"
$fn$;

INSERT INTO cutover_target."McpServer" ("id", "name", "iconPath", "transportType", "command", "args", "url", "envVars",
                                "authType", "oauthProvider", "oauthScopes", "serverType", "createdBy", "visibility",
                                "organizationId", "isPublic", "createdAt", "updatedAt")
SELECT s."id", s."name", s."iconPath", s."transportType"::text::cutover_target."TransportType", s."command", s."args", s."url",
       s."envVars",
       pg_temp.cutover_auth_type(s."authType"::text),
       s."oauthProvider", s."oauthScopes", s."serverType"::text::cutover_target."ServerType", s."createdBy",
       s."visibility"::text::cutover_target."McpServerVisibility", s."organizationId", s."isPublic", s."createdAt", s."updatedAt"
FROM public."McpServer" s
WHERE NOT EXISTS (SELECT 1 FROM cutover_target."McpServer" there WHERE there."id" = s."id");

INSERT INTO cutover_target."Tool" ("id", "name", "description", "inputSchema", "isEnabled", "mcpServerId", "createdAt", "updatedAt")
SELECT t."id", t."name", t."description", t."inputSchema", t."isEnabled", t."mcpServerId", t."createdAt", t."updatedAt"
FROM public."Tool" t
WHERE NOT EXISTS (SELECT 1 FROM cutover_target."Tool" there WHERE there."id" = t."id");
