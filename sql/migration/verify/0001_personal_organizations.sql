-- Verify R3: every user has exactly one personal organization shaped as the rule says, is its one
-- admin member, and has it as default. Returns one row per violation (none = pass). Read-only.
-- Requires: current_setting('pgcutover.migration_ts') (the run's migration timestamp).
-- The expected name is deliberately NOT computed the way the transform computes it (a regular
-- expression over plan.toml's [parameters] whitespace, which the audit shares): here it is btrim
-- with a character set built from code points, the set Python's str.isspace() accepts (what the
-- tests' oracle strips; tests/test_sql_layout.py holds both sets to it). Had verify reused the
-- transform's definition, a character both miss would pass unseen, verify being its own oracle;
-- with two formulations, a mistake in either one fails the window.
-- expected and personal are inlined (NOT MATERIALIZED), each use planned on its own tables: a
-- materialized CTE has no statistics, so the planner took every join of one for 200 million rows
-- and sorted both sides of a merge join. Inlined, the joins hash: at 200,000 users 1.8 s against
-- 3.1 s, and the cost grows with the users (it grew x19 for x10 the users, materialized).
WITH ws(chars) AS (
    SELECT string_agg(chr(cp), '' ORDER BY cp)
      FROM (SELECT generate_series(9, 13)              -- tab, line feed, vertical tab, ff, CR
            UNION ALL SELECT generate_series(28, 32)     -- file/group/record/unit separators, space
            UNION ALL VALUES (133), (160), (5760)        -- next line, no-break space, ogham space
            UNION ALL SELECT generate_series(8192, 8202) -- en quad to hair space
            -- line and paragraph separators, narrow no-break, medium mathematical, ideographic
            UNION ALL VALUES (8232), (8233), (8239), (8287), (12288)) s(cp)
), expected AS NOT MATERIALIZED (
    SELECT u.id AS user_id,
           coalesce(nullif(btrim(u.name, ws.chars), ''), nullif(btrim(u.email, ws.chars), ''),
                    'User')
           || '''s Workspace' AS org_name
      FROM cutover_legacy."User" u CROSS JOIN ws
), personal AS NOT MATERIALIZED (
    SELECT * FROM public."Organization" WHERE "isPersonal"
), ts AS (
    SELECT current_setting('pgcutover.migration_ts')::timestamp(3) AS at
)
SELECT 'user ' || e.user_id || ' has ' || count(p.id) || ' personal organizations, not 1' AS problem
  FROM expected e LEFT JOIN personal p ON p."createdBy" = e.user_id
 GROUP BY e.user_id HAVING count(p.id) <> 1
UNION ALL
SELECT 'personal organization ' || p.id || ' differs from R3 (name, size, description, logo, deleted or timestamps)'
  FROM personal p JOIN expected e ON e.user_id = p."createdBy" CROSS JOIN ts
 WHERE p.name IS DISTINCT FROM e.org_name OR p."maxMembers" <> 1 OR p."isDeleted"
    OR p.description IS DISTINCT FROM 'Personal workspace' OR p."logoUrl" IS NOT NULL
    OR p."createdAt" <> ts.at OR p."updatedAt" <> ts.at
UNION ALL
SELECT 'personal organization ' || p.id || ' belongs to no legacy user'
  FROM personal p WHERE NOT EXISTS (SELECT 1 FROM expected e WHERE e.user_id = p."createdBy")
UNION ALL
SELECT 'personal organization ' || p.id || ' reuses a legacy organization id'
  FROM personal p JOIN cutover_legacy."Organization" o ON o.id = p.id
UNION ALL
SELECT 'personal organization ' || p.id || ' has ' || count(m.id) || ' members, not exactly its creator as admin'
  FROM personal p LEFT JOIN public."OrganizationMember" m ON m."organizationId" = p.id
 GROUP BY p.id, p."createdBy"
HAVING count(m.id) <> 1 OR count(*) FILTER (WHERE m."userId" = p."createdBy" AND m."isAdmin") <> 1
UNION ALL
SELECT 'personal membership ' || m.id || ' reuses a legacy membership id'
  FROM public."OrganizationMember" m
  JOIN personal p ON p.id = m."organizationId"
  JOIN cutover_legacy."OrganizationMember" l ON l.id = m.id
UNION ALL
SELECT 'user ' || u.id || ' has a default organization that is not their personal one'
  FROM public."User" u LEFT JOIN personal p ON p.id = u."defaultOrganizationId"
 WHERE p.id IS NULL OR p."createdBy" <> u.id;
