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
-- user id under a prefix no legacy id of that table starts with. The prefix is 'porg_' ('pmem_' for
-- the memberships) unless a legacy id starts with it; then 'porg1_', 'porg2_' …, the first that no
-- legacy id starts with (n legacy ids under the stem take at most n of the n + 1 tried). Re-hashing
-- only the ids a legacy row holds could meet a legacy row holding the new hash too; a prefix no
-- legacy id has cannot. It depends on the frozen legacy data alone: a re-run picks the same one.
CREATE TEMP TABLE cutover_id_prefix ON COMMIT DROP AS
SELECT t.stem,
       (SELECT t.stem || s.suffix || '_'
          FROM (SELECT k, CASE WHEN k = 0 THEN '' ELSE k::text END AS suffix
                  FROM generate_series(0, t.n) k) s
         WHERE s.suffix <> ALL (t.taken)
         ORDER BY s.k LIMIT 1) AS prefix
FROM (SELECT 'porg' AS stem, count(*) AS n,
             coalesce(array_agg(DISTINCT substring(id FROM '^porg([0-9]*)_'))
                      FILTER (WHERE id ~ '^porg[0-9]*_'), '{}') AS taken
        FROM public."Organization" WHERE id LIKE 'porg%'
      UNION ALL
      SELECT 'pmem', count(*),
             coalesce(array_agg(DISTINCT substring(id FROM '^pmem([0-9]*)_'))
                      FILTER (WHERE id ~ '^pmem[0-9]*_'), '{}')
        FROM public."OrganizationMember" WHERE id LIKE 'pmem%') t;

CREATE TEMP TABLE cutover_personal ON COMMIT DROP AS
SELECT u.id AS user_id,
       o.prefix || md5('pgcutover:org:' || u.id) AS org_id,
       m.prefix || md5('pgcutover:member:' || u.id) AS member_id,
       -- First non-blank of trimmed name, trimmed email, else 'User'. Blank and trim use Unicode
       -- White_Space (tabs, newlines, no-break and ideographic spaces …), not only ASCII spaces.
       coalesce(nullif(regexp_replace(u.name, ws.edges, '', 'g'), ''),
                nullif(regexp_replace(u.email, ws.edges, '', 'g'), ''),
                'User') || '''s Workspace' AS org_name
FROM public."User" u
-- Leading and trailing runs of R3's whitespace (one definition: plan.toml [parameters]).
CROSS JOIN (SELECT format('^[%1$s]+|[%1$s]+$', current_setting('pgcutover.whitespace')) AS edges) ws
CROSS JOIN (SELECT prefix FROM cutover_id_prefix WHERE stem = 'porg') o
CROSS JOIN (SELECT prefix FROM cutover_id_prefix WHERE stem = 'pmem') m;

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
