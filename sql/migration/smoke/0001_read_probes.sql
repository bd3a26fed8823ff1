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
    -- Counted with one scan per table joined to the sample (hash semi-joins), never a subquery
    -- per sampled user: neither schema indexes these columns, and 200 scans of a big table would
    -- cost the window minutes.
    SELECT s.id AS user_id,
           coalesce(i.n, 0) AS instances, coalesce(c.n, 0) AS configs, coalesce(g.n, 0) AS tool_groups
      FROM sample s
      LEFT JOIN (SELECT "userId", count(*) AS n FROM cutover_legacy."UserMcpServerInstance"
                  WHERE "userId" IN (SELECT id FROM sample) AND "organizationId" IS NULL
                    AND "deletedAt" IS NULL GROUP BY 1) i ON i."userId" = s.id
      LEFT JOIN (SELECT "userId", count(*) AS n FROM cutover_legacy."UserMcpServerConfig"
                  WHERE "userId" IN (SELECT id FROM sample) AND "organizationId" IS NULL
                  GROUP BY 1) c ON c."userId" = s.id
      LEFT JOIN (SELECT "userId", count(*) AS n FROM cutover_legacy."UserToolGroup"
                  WHERE "userId" IN (SELECT id FROM sample) AND "organizationId" IS NULL
                  GROUP BY 1) g ON g."userId" = s.id
), listed AS (
    -- The organization-scoped lists the app shows on the user's landing page.
    SELECT s.id AS user_id,
           coalesce(i.n, 0) AS instances, coalesce(c.n, 0) AS configs, coalesce(g.n, 0) AS tool_groups
      FROM sample s
      LEFT JOIN (SELECT "organizationId", count(*) AS n FROM public."UserMcpServerInstance"
                  WHERE "organizationId" IN (SELECT org_id FROM sample) AND "deletedAt" IS NULL
                  GROUP BY 1) i ON i."organizationId" = s.org_id
      LEFT JOIN (SELECT "organizationId", count(*) AS n FROM public."UserMcpServerConfig"
                  WHERE "organizationId" IN (SELECT org_id FROM sample)
                  GROUP BY 1) c ON c."organizationId" = s.org_id
      LEFT JOIN (SELECT "organizationId", count(*) AS n FROM public."UserToolGroup"
                  WHERE "organizationId" IN (SELECT org_id FROM sample)
                  GROUP BY 1) g ON g."organizationId" = s.org_id
), team AS (
    -- Team organizations the sampled users belong to: their lists hold what the team held before.
    SELECT DISTINCT m."organizationId" AS org_id
      FROM cutover_legacy."OrganizationMember" m WHERE m."userId" IN (SELECT id FROM sample)
), team_now AS (
    SELECT "organizationId" AS org_id, count(*) AS n FROM public."UserMcpServerInstance"
     WHERE "organizationId" IN (SELECT org_id FROM team) AND "deletedAt" IS NULL GROUP BY 1
), team_then AS (
    SELECT "organizationId" AS org_id, count(*) AS n FROM cutover_legacy."UserMcpServerInstance"
     WHERE "organizationId" IN (SELECT org_id FROM team) AND "deletedAt" IS NULL GROUP BY 1
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
SELECT 'team organization ' || t.org_id || ' lists ' || coalesce(a.n, 0) || ' MCP server instances, '
       || coalesce(b.n, 0) || ' before'
  FROM team t
  LEFT JOIN team_now a ON a.org_id = t.org_id
  LEFT JOIN team_then b ON b.org_id = t.org_id
 WHERE coalesce(a.n, 0) <> coalesce(b.n, 0);
