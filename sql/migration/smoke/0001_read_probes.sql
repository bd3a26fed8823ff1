-- Smoke, read probes: what the new release's hot queries return for a sample of existing users,
-- against what those users owned before (the set-aside legacy schema). One row per problem; none =
-- pass. Read-only. The sample is deterministic (ordered by a hash of the id), spread over the table.
-- Requires: the set-aside schema "cutover_legacy" (the window runs this before anything drops it).
WITH sample AS (
    SELECT u.id, u."defaultOrganizationId" AS org_id
      FROM public."User" u
     ORDER BY md5(u.id)
     LIMIT 200
), landing AS (
    -- Sign in: the user's default organization, as the app loads it with its membership.
    SELECT s.id AS user_id, s.org_id, o.id AS found_org, o."isPersonal", o."createdBy", m."isAdmin"
      FROM sample s
      LEFT JOIN public."Organization" o ON o.id = s.org_id AND NOT o."isDeleted"
      LEFT JOIN public."OrganizationMember" m ON m."organizationId" = o.id AND m."userId" = s.id
), legacy_personal AS (
    -- What each sampled user owned without an organization: it now lives in their personal one.
    SELECT s.id AS user_id,
           (SELECT count(*) FROM cutover_legacy."UserMcpServerInstance" i
             WHERE i."userId" = s.id AND i."organizationId" IS NULL AND i."deletedAt" IS NULL) AS instances,
           (SELECT count(*) FROM cutover_legacy."UserMcpServerConfig" c
             WHERE c."userId" = s.id AND c."organizationId" IS NULL) AS configs,
           (SELECT count(*) FROM cutover_legacy."UserToolGroup" g
             WHERE g."userId" = s.id AND g."organizationId" IS NULL) AS tool_groups
      FROM sample s
), listed AS (
    -- The organization-scoped lists the app shows on the user's landing page.
    SELECT s.id AS user_id,
           (SELECT count(*) FROM public."UserMcpServerInstance" i
             WHERE i."organizationId" = s.org_id AND i."deletedAt" IS NULL) AS instances,
           (SELECT count(*) FROM public."UserMcpServerConfig" c
             WHERE c."organizationId" = s.org_id) AS configs,
           (SELECT count(*) FROM public."UserToolGroup" g
             WHERE g."organizationId" = s.org_id) AS tool_groups
      FROM sample s
), team AS (
    -- Team organizations the sampled users belong to: their lists hold what the team held before.
    SELECT DISTINCT m."organizationId" AS org_id
      FROM sample s JOIN cutover_legacy."OrganizationMember" m ON m."userId" = s.id
)
SELECT 'user ' || l.user_id || ' lands in no organization (defaultOrganizationId '
       || coalesce(l.org_id, 'NULL') || ')' AS problem
  FROM landing l WHERE l.found_org IS NULL
UNION ALL
SELECT 'user ' || l.user_id || ' lands in organization ' || l.org_id || ', not their personal one'
  FROM landing l WHERE l.found_org IS NOT NULL AND NOT (l."isPersonal" AND l."createdBy" = l.user_id)
UNION ALL
SELECT 'user ' || l.user_id || ' is not an admin member of their personal organization ' || l.org_id
  FROM landing l WHERE l.found_org IS NOT NULL AND l."isAdmin" IS DISTINCT FROM true
UNION ALL
SELECT 'user ' || p.user_id || ' lists ' || n.instances || ' MCP server instances, '
       || p.instances || ' before'
  FROM legacy_personal p JOIN listed n USING (user_id) WHERE n.instances <> p.instances
UNION ALL
SELECT 'user ' || p.user_id || ' lists ' || n.configs || ' MCP server configs, ' || p.configs || ' before'
  FROM legacy_personal p JOIN listed n USING (user_id) WHERE n.configs <> p.configs
UNION ALL
SELECT 'user ' || p.user_id || ' lists ' || n.tool_groups || ' tool groups, ' || p.tool_groups || ' before'
  FROM legacy_personal p JOIN listed n USING (user_id) WHERE n.tool_groups <> p.tool_groups
UNION ALL
SELECT 'team organization ' || t.org_id || ' lists ' || now_n || ' MCP server instances, '
       || then_n || ' before'
  FROM team t,
       LATERAL (SELECT count(*) AS now_n FROM public."UserMcpServerInstance" i
                 WHERE i."organizationId" = t.org_id AND i."deletedAt" IS NULL) a,
       LATERAL (SELECT count(*) AS then_n FROM cutover_legacy."UserMcpServerInstance" i
                 WHERE i."organizationId" = t.org_id AND i."deletedAt" IS NULL) b
 WHERE now_n <> then_n;
