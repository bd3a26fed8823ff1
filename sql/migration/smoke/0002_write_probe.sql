-- Smoke, write probe: a new sign-up and one row in every organization-scoped table, written the way
-- the new release writes them (only the columns the app fills; every default, constraint and trigger
-- of the target schema applies). The engine runs this file inside a transaction that it always rolls
-- back: nothing persists. Any error fails the smoke step before the site opens.
-- Requires: current_setting('pgcutover.run_id') (probe ids unique to the run).
CREATE TEMP TABLE smoke_ids ON COMMIT DROP AS
SELECT 'smoke_' || md5(current_setting('pgcutover.run_id') || ':' || what) AS id, what
  FROM unnest(ARRAY['user', 'org', 'member', 'server', 'tool', 'group', 'config', 'instance',
                    'key', 'log', 'data']) AS what;

-- A new sign-up: the user, their personal organization (defaults: personal, one member), the
-- membership, and the user's default organization.
INSERT INTO public."User" ("id", "name", "email", "updatedAt")
SELECT id, 'Smoke Probe', id || '@smoke.invalid', now() FROM smoke_ids WHERE what = 'user';
INSERT INTO public."Organization" ("id", "name", "createdBy", "updatedAt")
SELECT o.id, 'Smoke Probe''s Workspace', u.id, now()
  FROM smoke_ids o, smoke_ids u WHERE o.what = 'org' AND u.what = 'user';
INSERT INTO public."OrganizationMember" ("id", "organizationId", "userId", "isAdmin", "updatedAt")
SELECT m.id, o.id, u.id, true, now()
  FROM smoke_ids m, smoke_ids o, smoke_ids u WHERE m.what = 'member' AND o.what = 'org' AND u.what = 'user';
UPDATE public."User" SET "defaultOrganizationId" = (SELECT id FROM smoke_ids WHERE what = 'org')
 WHERE id = (SELECT id FROM smoke_ids WHERE what = 'user');

-- One row in every organization-scoped table (and the catalog rows they point at).
INSERT INTO public."McpServer" ("id", "name", "organizationId", "createdBy", "updatedAt")
SELECT s.id, 'smoke server', o.id, u.id, now()
  FROM smoke_ids s, smoke_ids o, smoke_ids u WHERE s.what = 'server' AND o.what = 'org' AND u.what = 'user';
INSERT INTO public."Tool" ("id", "name", "description", "inputSchema", "mcpServerId", "updatedAt")
SELECT t.id, 'smoke_tool', 'smoke', '{}'::jsonb, s.id, now()
  FROM smoke_ids t, smoke_ids s WHERE t.what = 'tool' AND s.what = 'server';
INSERT INTO public."UserToolGroup" ("id", "name", "description", "organizationId", "updatedAt")
SELECT g.id, 'smoke group', 'smoke', o.id, now()
  FROM smoke_ids g, smoke_ids o WHERE g.what = 'group' AND o.what = 'org';
INSERT INTO public."UserMcpServerConfig" ("id", "name", "description", "envVars", "mcpServerId",
                                          "organizationId", "updatedAt")
SELECT c.id, 'smoke config', 'smoke', '', s.id, o.id, now()
  FROM smoke_ids c, smoke_ids s, smoke_ids o WHERE c.what = 'config' AND s.what = 'server' AND o.what = 'org';
INSERT INTO public."UserToolGroupTool" ("userMcpServerConfigId", "toolGroupId", "toolId")
SELECT c.id, g.id, t.id
  FROM smoke_ids c, smoke_ids g, smoke_ids t WHERE c.what = 'config' AND g.what = 'group' AND t.what = 'tool';
INSERT INTO public."UserMcpServerInstance" ("id", "name", "description", "serverStatus", "serverType",
                                            "toolGroupId", "organizationId", "updatedAt")
SELECT i.id, 'smoke instance', 'smoke', 'PENDING', 'CUSTOM', g.id, o.id, now()
  FROM smoke_ids i, smoke_ids g, smoke_ids o WHERE i.what = 'instance' AND g.what = 'group' AND o.what = 'org';
INSERT INTO public."UserMcpServerInstanceToolGroup" ("mcpServerInstanceId", "toolGroupId")
SELECT i.id, g.id FROM smoke_ids i, smoke_ids g WHERE i.what = 'instance' AND g.what = 'group';
INSERT INTO public."McpApiKey" ("id", "name", "apiKey", "userMcpServerInstanceId", "updatedAt")
SELECT k.id, 'smoke key', k.id, i.id, now()
  FROM smoke_ids k, smoke_ids i WHERE k.what = 'key' AND i.what = 'instance';
INSERT INTO public."McpServerRequestLog" ("id", "mcpServerInstanceId", "toolName", "transportType", "method",
                                          "responseStatus", "durationMs", "organizationId")
SELECT l.id, i.id, 'smoke_tool', 'STDIO', 'tools/call', 'success', 1, o.id
  FROM smoke_ids l, smoke_ids i, smoke_ids o WHERE l.what = 'log' AND i.what = 'instance' AND o.what = 'org';
INSERT INTO public."McpServerRequestData" ("id", "requestLogId", "inputDataCompressed", "outputDataCompressed",
                                           "originalInputSize", "originalOutputSize", "compressedInputSize",
                                           "compressedOutputSize", "compressionRatio")
SELECT d.id, l.id, '\x00'::bytea, '\x00'::bytea, 1, 1, 1, 1, 1.0
  FROM smoke_ids d, smoke_ids l WHERE d.what = 'data' AND l.what = 'log';

-- What the app reads back right after signing up: its landing organization, in one query.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM public."User" u
                     JOIN public."Organization" o ON o.id = u."defaultOrganizationId" AND o."isPersonal"
                     JOIN public."OrganizationMember" m ON m."organizationId" = o.id AND m."userId" = u.id
                    WHERE u.id = (SELECT id FROM smoke_ids WHERE what = 'user')) THEN
        RAISE EXCEPTION 'a new sign-up does not land in its personal organization';
    END IF;
END $$;
