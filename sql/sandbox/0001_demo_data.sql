-- pgcutover sandbox: deterministic, awkward demo data for the LEGACY schema (sql/legacy-schema.sql).
--
-- Reads ONE parameter:  current_setting('pgcutover.sandbox_users')::int  = number of "User" rows (>= 40).
--   The caller runs  SELECT set_config('pgcutover.sandbox_users', '2000', false)  first, then this whole
--   file as one statement batch (psycopg 3 conn.execute(text), no parameters, one transaction).
-- And one optional:  current_setting('pgcutover.sandbox_logs_per_user')::int  = McpServerRequestLog rows
--   per user (1 to 120; unset or empty: 12). `invoke bench --log-skew` uses it to make a database
--   that is not a scaled copy of another (three times the request logs per user).
--
-- Generates (n = sandbox_users), everything set-based (INSERT ... SELECT over generate_series / joins):
--   User                            n      (Auth0-style ids; ~1/3 of them deliberately awkward name/email)
--   Organization                    max(28, n/8) team orgs: 25 / 11-20 / exactly 10 / 2-9 / 1 member
--                                   (creator or not) / 0 members; some deleted; some ids that look like
--                                   generated personal-org ids ('personal-'||userId, 'org_'||md5(userId), ...)
--   OrganizationMember              ~0.75 n (users in 0, 1 and several orgs; every 7th user in none)
--   McpServer / Tool                max(30, n/25) servers, 2-8 tools each
--   UserToolGroup                   1.5 n (one per instance + extra groups)
--   UserMcpServerInstance           1.25 n (every one with its own tool group)
--   UserMcpServerConfig             1.5 n
--   UserToolGroupTool, UserMcpServerInstanceToolGroup, _ToolToUserMcpServerConfig, McpApiKey
--   McpServerRequestLog             15 n   (the bulk)
--   McpServerRequestData            7.5 n  (half the logs; gzip-like bytea payloads from 0 bytes to ~1 MB)
-- Size: roughly 10 kB per user on disk (n = 100000 gives about 1 GB).
--
-- Deterministic: no random(), no now(); every value derives from generate_series indices via md5 and
-- integer arithmetic, timestamps from fixed bases. Same n => same rows, byte for byte.
-- Plain SQL only (no psql meta-commands, no extensions). Object names are unqualified (the legacy schema is
-- expected on the search_path). Helper functions live in pg_temp and are dropped at the end.
-- The file is pure ASCII: non-ASCII text is written as U&'' escapes (names in comments are transliterated).

-- =====================================================================================================
-- Helpers (session-temporary)
-- =====================================================================================================

-- Sizes. Raises a readable error when the parameter is missing or too small.
CREATE FUNCTION pg_temp.sbx_params(
    OUT n int, OUT n_e int, OUT n_org int, OUT sp int, OUT n_srv int, OUT n_inst int, OUT n_extra int,
    OUT n_cfg int, OUT n_log int, OUT n_big int)
LANGUAGE sql STABLE AS $f$
    SELECT n,
           (n * 6) / 7,                     -- n_e:     member "slots"; every 7th user is never an org member
           greatest(28, n / 8),             -- n_org:   team organizations (28 = two full cycles of org kinds)
           greatest(1, ((n * 6) / 7) / greatest(28, n / 8)),  -- sp: slot spacing between orgs
           greatest(30, n / 25),            -- n_srv:   McpServer rows
           n,                               -- n_inst:  UserMcpServerInstance rows (= first n_inst UserToolGroup rows)
           greatest(10, n / 5),             -- n_extra: extra UserToolGroup rows (second group of an instance)
           n + greatest(10, n / 10),        -- n_cfg:   UserMcpServerConfig rows
           logs * n,                        -- n_log:   McpServerRequestLog rows (12 n unless set)
           greatest(3, n / 20000)           -- n_big:   McpServerRequestData rows with ~1 MB payloads
    FROM (SELECT CASE WHEN v::int >= 40 THEN v::int
                      ELSE ('pgcutover.sandbox_users must be an integer >= 40, got: '
                            || coalesce(v, '<unset>'))::int END AS n,
                 CASE WHEN coalesce(lv, '') = '' THEN 12
                      WHEN lv::int BETWEEN 1 AND 120 THEN lv::int
                      ELSE ('pgcutover.sandbox_logs_per_user must be an integer from 1 to 120, got: '
                            || lv)::int END AS logs
          FROM (SELECT current_setting('pgcutover.sandbox_users', true) AS v,
                       current_setting('pgcutover.sandbox_logs_per_user', true) AS lv) s0) s1
$f$;

-- 32-bit unsigned hash of a text (md5 based), and 32-bit slices of an md5 hex string.
CREATE FUNCTION pg_temp.sbx_h(t text) RETURNS bigint LANGUAGE sql IMMUTABLE AS
$f$ SELECT ('x' || substr(md5(t), 1, 8))::bit(32)::bigint $f$;
CREATE FUNCTION pg_temp.sbx_hx(m text, pos int) RETURNS bigint LANGUAGE sql IMMUTABLE AS
$f$ SELECT ('x' || substr(m, pos, 8))::bit(32)::bigint $f$;

-- Prisma-ish ids: cuid-like (25 chars) and uuid-v4-looking.
CREATE FUNCTION pg_temp.sbx_cuid(tag text, k bigint) RETURNS text LANGUAGE sql IMMUTABLE AS
$f$ SELECT 'c' || substr(md5(tag || ':' || k), 1, 24) $f$;
CREATE FUNCTION pg_temp.sbx_uuid(tag text, k bigint) RETURNS text LANGUAGE sql IMMUTABLE AS
$f$ SELECT overlay(overlay(md5(tag || ':' || k)::uuid::text placing '4' from 15)
                   placing substr('89ab', (k % 4)::int + 1, 1) from 20) $f$;

-- User id of user index i (1..n): Auth0 subs of several connection types; every 100th (i%100=49)
-- contains a quote and a non-ASCII character.
CREATE FUNCTION pg_temp.sbx_uid(i int) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
    SELECT CASE
        WHEN i % 100 = 49      THEN U&'samlp|acm\00E9-corp|o''neil.' || i
        WHEN i % 10 IN (0,1,2,3) THEN 'auth0|' || substr(md5('user:' || i), 1, 24)
        WHEN i % 10 IN (4,5,6) THEN 'google-oauth2|10' || lpad((i::bigint * 104729)::text, 19, '0')
        WHEN i % 10 = 7        THEN 'github|' || (1000000 + i::bigint * 13)
        WHEN i % 10 = 8        THEN 'email|' || substr(md5('user:' || i), 1, 24)
        ELSE                        'windowslive|' || substr(md5('user:' || i), 1, 16)
    END $f$;

-- A string made only of Unicode White_Space (space, tab, U+00A0, U+3000), unique per i >= 1
-- (base-4 digits of i) -- used for blank emails, which the unique index forces to be distinct.
CREATE FUNCTION pg_temp.sbx_ws(i int) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
    SELECT string_agg(substr(E' \t' || U&'\00A0\3000', ((i >> (2 * p)) & 3) + 1, 1), '' ORDER BY p)
    FROM generate_series(0, 15) p
    WHERE (1::bigint << (2 * p)) <= i $f$;

-- Organization j (1..o). Members occupy consecutive member slots starting at slot pos(j); slot -> user
-- index skips every 7th user, so those users are in no organization at all.
CREATE FUNCTION pg_temp.sbx_slot_user(slot int, n_e int) RETURNS int LANGUAGE sql IMMUTABLE AS
$f$ SELECT 1 + (slot % n_e) + (slot % n_e) / 6 $f$;
CREATE FUNCTION pg_temp.sbx_org_pos(j int, n_e int, sp int) RETURNS int LANGUAGE sql IMMUTABLE AS
$f$ SELECT ((j - 1) * sp) % n_e $f$;
-- member count by kind (j % 14): 0 -> 25, 1 -> 11..20, 11 -> exactly 10, 7/8 -> 1 (the creator),
-- 12 -> 1 (not the creator), 9/10 -> 0, others -> 2..9
CREATE FUNCTION pg_temp.sbx_org_m(j int, n_e int) RETURNS int LANGUAGE sql IMMUTABLE AS $f$
    SELECT least(n_e, CASE j % 14
        WHEN 0 THEN 25 WHEN 1 THEN 11 + (j / 14) % 10 WHEN 11 THEN 10
        WHEN 7 THEN 1 WHEN 8 THEN 1 WHEN 12 THEN 1 WHEN 9 THEN 0 WHEN 10 THEN 0
        ELSE 2 + (j * 7 + j / 14) % 8 END) $f$;
-- member t of org j. Kinds 7 and 12 (single member) use a "reserved" user (i % 7 = 0, never in a slot),
-- so that users in exactly one organization exist even at small n.
CREATE FUNCTION pg_temp.sbx_org_member(j int, t int, n int, n_e int, sp int) RETURNS int LANGUAGE sql IMMUTABLE AS $f$
    SELECT CASE WHEN j % 14 IN (7, 12) THEN 7 * (1 + ((j / 14) * 2 + (j % 14 = 12)::int) % greatest(1, n / 7))
                ELSE pg_temp.sbx_slot_user(pg_temp.sbx_org_pos(j, n_e, sp) + t, n_e) END $f$;
CREATE FUNCTION pg_temp.sbx_org_creator(j int, n int, n_e int, sp int) RETURNS int LANGUAGE sql IMMUTABLE AS $f$
    SELECT CASE
        WHEN j % 14 IN (7, 8) THEN pg_temp.sbx_org_member(j, 0, n, n_e, sp)         -- sole member is the creator
        WHEN j % 14 = 12 THEN pg_temp.sbx_slot_user(pg_temp.sbx_org_pos(j, n_e, sp) + 1, n_e)  -- ... is not
        WHEN j % 14 IN (2,3,4) AND j % 3 = 1                                        -- creator left the org
             THEN pg_temp.sbx_slot_user(pg_temp.sbx_org_pos(j, n_e, sp) + pg_temp.sbx_org_m(j, n_e), n_e)
        ELSE pg_temp.sbx_slot_user(pg_temp.sbx_org_pos(j, n_e, sp), n_e) END $f$;
-- ids: mostly cuid, some uuid, and some that look like what a tool could generate for a personal org
-- of the org's first-slot user (unique because pos(j) is injective on 1..o).
CREATE FUNCTION pg_temp.sbx_org_id(j int, n_e int, sp int) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
    SELECT CASE j % 20
        WHEN 0  THEN 'personal-' || u
        WHEN 5  THEN 'org_' || md5(u)
        WHEN 8  THEN u                                  -- org id == a user id
        WHEN 10 THEN 'personal_' || u
        WHEN 15 THEN md5(u)::uuid::text
        WHEN 18 THEN 'personal-' || md5(u)
        WHEN 3  THEN pg_temp.sbx_uuid('org', j)
        WHEN 13 THEN pg_temp.sbx_uuid('org', j)
        ELSE pg_temp.sbx_cuid('org', j) END
    FROM (SELECT pg_temp.sbx_uid(pg_temp.sbx_slot_user(pg_temp.sbx_org_pos(j, n_e, sp), n_e)) AS u) x $f$;
-- an organization with zero members (kind 9 or 10), chosen by x
CREATE FUNCTION pg_temp.sbx_zero_org(x bigint, o int) RETURNS int LANGUAGE sql IMMUTABLE AS
$f$ SELECT (14 * (x % (o / 14)) + 9 + (x / 7) % 2)::int $f$;

-- servers, tools, instances, configs
CREATE FUNCTION pg_temp.sbx_tool_count(s int) RETURNS int LANGUAGE sql IMMUTABLE AS
$f$ SELECT 2 + s % 7 $f$;
CREATE FUNCTION pg_temp.sbx_inst_user(k int, n int) RETURNS int LANGUAGE sql IMMUTABLE AS
$f$ SELECT (pg_temp.sbx_h('inst-user:' || k) % n + 1)::int $f$;
-- config c <= i belongs to the owner of instance c (its tools feed tool group c)
CREATE FUNCTION pg_temp.sbx_cfg_user(c int, i int, n int) RETURNS int LANGUAGE sql IMMUTABLE AS $f$
    SELECT CASE WHEN c <= i THEN pg_temp.sbx_inst_user(c, n)
                ELSE (pg_temp.sbx_h('cfg-user:' || c) % n + 1)::int END $f$;
CREATE FUNCTION pg_temp.sbx_cfg_srv(c int, s int) RETURNS int LANGUAGE sql IMMUTABLE AS
$f$ SELECT (pg_temp.sbx_h('cfg-srv:' || c) % s + 1)::int $f$;

-- fake "encrypted" blob (prisma-field-encryption style, no newlines)
CREATE FUNCTION pg_temp.sbx_cipher(tag text, blocks int) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
    SELECT 'v1.aesgcm256.' || substr(md5('fp:' || tag), 1, 8) || '.'
           || translate(encode(decode(md5('iv:' || tag), 'hex'), 'base64'), E'\n', '') || '.'
           || translate(encode(sha512(convert_to(tag, 'UTF8'))
                               || CASE WHEN blocks > 1 THEN sha512(convert_to('2:' || tag, 'UTF8')) ELSE '' END
                               || CASE WHEN blocks > 2 THEN sha256(convert_to('3:' || tag, 'UTF8')) ELSE '' END,
                               'base64'), E'\n', '') $f$;

-- =====================================================================================================
-- User
-- =====================================================================================================
-- The first 2*29 users cycle through 29 awkward archetypes (so every case exists even at n = 40..60);
-- after that one user in 8 gets an archetype, the rest get ordinary names/emails.
INSERT INTO "User" ("id", "name", "email", "image", "role", "hasCompletedOnboarding", "createdAt", "updatedAt")
WITH arch(k, nm, ek, eloc, edom) AS (VALUES
    ( 0, NULL, 'null', NULL, NULL),                                              -- neither name nor email
    ( 1, '', 'empty', NULL, NULL),                                               -- both blank (one '' email)
    ( 2, '   ', 'null', NULL, NULL),
    ( 3, E'\t\n \r', 'spaced', 'tabby', 'example.com'),                          -- blank name, padded email
    ( 4, U&'\00A0', 'plain', 'nbsp.only', 'example.com'),                        -- NBSP-only name
    ( 5, U&'\3000', 'null', NULL, NULL),                                         -- ideographic space only
    ( 6, U&'\2003\2002\2009\0085\2028\3000', 'plus', 'ws+mcp', 'example.com'),   -- mixed Unicode whitespace
    ( 7, '  Ana  ', 'plain', 'ana', 'example.com'),
    ( 8, U&'\00A0Carla Mendes\3000' || E'\t', 'plain', 'carla.mendes', 'example.com'),
    ( 9, U&'Jos\00E9 \00D1\00FA\00F1ez', 'plain', U&'jos\00E9.\00F1\00FA\00F1ez', 'correo.example'),
    (10, U&'\5C71\7530\592A\90CE', 'plain', U&'\5C71\7530', U&'\4F8B\3048.jp'),  -- Yamada Taro
    (11, U&'\0141ukasz \017B\00F3\0142\0107', 'plain', 'lukasz.zolc', 'example.pl'),
    (12, U&'\0395\03BB\03AD\03BD\03B7 \03A0\03B1\03C0\03B1\03B4\03BF\03C0\03BF\03CD\03BB\03BF\03C5',
         'plain', 'ELENI.P', 'EXAMPLE.COM'),                                     -- Greek, upper-case email
    (13, U&'\+01F680 Rocket', 'plus', 'rocket+mcp', 'example.com'),              -- emoji, plus-addressing
    (14, U&'\0645\062D\0645\062F \0627\0644\0639\0644\064A', 'plain', 'mohammed', 'example.sa'),  -- Arabic RTL
    (15, U&'\05D3\05D5\05D3 \05DB\05D4\05DF', 'null', NULL, NULL),               -- Hebrew RTL, no email
    (16, 'O''Brien', 'plain', 'obrien', 'example.ie'),
    (17, 'D''Angelo', 'spaced', 'dangelo', 'example.it'),
    (18, 'Jane "JJ" Doe', 'plain', 'jane.doe', 'example.com'),
    (19, E'C:\\Users\\bob\\', 'plain', 'bob', 'example.com'),
    (20, '100% _real_ name', 'null', NULL, NULL),
    (21, NULL, 'long', 'long', 'example.com'),                                   -- 200+ char name (built below)
    (22, NULL, 'spaced', 'nullname', 'example.com'),                             -- NULL name, padded email
    (23, '', 'plain', 'blankname', 'example.com'),                               -- blank name, real email
    (24, E'  Anne\n  Marie ', 'ws', NULL, NULL),                                 -- inner whitespace kept
    (25, 'Robert''); DROP TABLE "User";--', 'plain', 'bobby.tables', 'example.com'),
    (26, 'Zoe' || U&'\0308', 'plain', 'zoe', 'example.com'),                     -- combining diaeresis (NFD)
    (27, U&'\200B', 'null', NULL, NULL),                                         -- zero-width space: NOT blank
    (28, NULL, 'ws', NULL, NULL)                                                 -- NULL name, blank email
),
fn(k, nm, lo) AS (VALUES (0,'Alice','alice'),(1,'Bruno','bruno'),(2,'Chen','chen'),(3,'Dmitri','dmitri'),
    (4,'Emma','emma'),(5,'Fatima','fatima'),(6,'Gustavo','gustavo'),(7,'Hana','hana'),(8,'Ivan','ivan'),
    (9,'Julia','julia'),(10,'Kenji','kenji'),(11,'Lena','lena'),(12,'Mateo','mateo'),(13,'Nadia','nadia'),
    (14,'Omar','omar'),(15,'Priya','priya'),(16,'Quentin','quentin'),(17,'Rosa','rosa'),(18,'Sven','sven'),
    (19,'Tariq','tariq'),(20,'Uma','uma'),(21,'Viktor','viktor'),(22,'Wei','wei'),(23,'Ximena','ximena'),
    (24,U&'Zo\00EB','zoe'),(25,U&'Fran\00E7ois','francois'),(26,U&'S\00F8ren','soren'),(27,'Yusuf','yusuf')),
ln(k, nm, lo) AS (VALUES (0,'Smith','smith'),(1,'Garcia','garcia'),(2,'Nguyen','nguyen'),(3,'Ivanova','ivanova'),
    (4,'Kowalski','kowalski'),(5,'Okafor','okafor'),(6,'Rossi','rossi'),(7,'Tanaka','tanaka'),
    (8,'Schmidt','schmidt'),(9,'Haddad','haddad'),(10,'Silva','silva'),(11,'Cohen','cohen'),
    (12,U&'M\00FCller','mueller'),(13,U&'Nu\00F1ez','nunez'),(14,'Andersson','andersson'),
    (15,'Kim','kim'),(16,'Patel','patel'),(17,'Dubois','dubois'),(18,'Novak','novak'),(19,'Larsen','larsen')),
dom(k, d) AS (VALUES (0,'gmail.com'),(1,'outlook.com'),(2,'acme.io'),(3,'example.org'),(4,'proton.me'),
    (5,'company.co.jp')),
u AS (
    SELECT g AS i, h.m,
           CASE WHEN g <= 58 THEN (g - 1) % 29
                WHEN pg_temp.sbx_hx(h.m, 1) % 8 = 0 THEN (pg_temp.sbx_hx(h.m, 9) % 29)::int
                ELSE -1 END AS a
    FROM (SELECT g, md5('user-attr:' || g) AS m
          FROM pg_temp.sbx_params() p, generate_series(1, p.n) g
          OFFSET 0) h    -- OFFSET 0: optimisation fence, so md5 is computed once per row, not per reference
)
SELECT pg_temp.sbx_uid(u.i),
       CASE WHEN u.a < 0 THEN fn.nm || ' ' || ln.nm
            WHEN arch.ek = 'long' THEN repeat('Bartholomew Featherstonehaugh-Cholmondeley ', 5) || 'the ' || u.i || 'th'
            ELSE arch.nm END,
       CASE WHEN u.a < 0 THEN fn.lo || '.' || ln.lo || '.' || u.i || '@' || dom.d
            ELSE CASE arch.ek
                WHEN 'null'   THEN NULL
                WHEN 'empty'  THEN CASE WHEN u.i <= 29 THEN '' ELSE pg_temp.sbx_ws(u.i) END
                WHEN 'ws'     THEN pg_temp.sbx_ws(u.i)
                WHEN 'plus'   THEN arch.eloc || '+' || u.i || '@' || arch.edom
                WHEN 'spaced' THEN CASE u.i % 3
                    WHEN 0 THEN '  ' || arch.eloc || '.' || u.i || '@' || arch.edom || ' '
                    WHEN 1 THEN E'\t' || arch.eloc || '.' || u.i || '@' || arch.edom || E'\n'
                    ELSE U&'\00A0' || arch.eloc || '.' || u.i || '@' || arch.edom || U&'\3000' END
                ELSE arch.eloc || '.' || u.i || '@' || arch.edom END
       END,
       CASE u.i % 5
            WHEN 0 THEN NULL
            WHEN 1 THEN 'https://lh3.googleusercontent.com/a/ACg8oc' || substr(md5('img:' || u.i), 1, 20) || '=s96-c'
            WHEN 2 THEN 'https://s.gravatar.com/avatar/' || md5('img:' || u.i) || '?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2Fjd.png'
            WHEN 3 THEN 'https://avatars.githubusercontent.com/u/' || (1000000 + u.i * 13) || '?v=4'
            ELSE '' END,
       CASE WHEN u.i % 250 IN (1, 37) THEN 'SYSTEM_ADMIN' ELSE 'USER' END::"Role",
       pg_temp.sbx_hx(u.m, 17) % 3 <> 0,
       timestamp '2022-01-01' + (pg_temp.sbx_hx(u.m, 25) % (730::bigint * 86400000)) * interval '1 millisecond',
       timestamp '2022-01-01' + (pg_temp.sbx_hx(u.m, 25) % (730::bigint * 86400000)) * interval '1 millisecond'
           + (pg_temp.sbx_hx(u.m, 17) % (90::bigint * 86400000)) * interval '1 millisecond'
FROM u
LEFT JOIN arch ON arch.k = u.a
LEFT JOIN fn ON fn.k = pg_temp.sbx_hx(u.m, 1) % 28
LEFT JOIN ln ON ln.k = pg_temp.sbx_hx(u.m, 9) % 20
LEFT JOIN dom ON dom.k = pg_temp.sbx_hx(u.m, 17) % 6;

-- =====================================================================================================
-- Organization (team organizations only; the migration adds the personal ones)
-- =====================================================================================================
INSERT INTO "Organization" ("id", "name", "description", "logoUrl", "isDeleted", "createdBy", "createdAt", "updatedAt")
WITH onames(k, nm) AS (VALUES
    (0, 'Acme''s Team'), (1, U&'\00D1and\00FA Labs'), (2, U&'\682A\5F0F\4F1A\793E\30C6\30B9\30C8'),
    (3, 'Team "Alpha"'), (4, 'O''Reilly & Sons'), (5, '   '), (6, E'Ops \\ Infra 100%_'),
    (7, U&'\+01F680 Launch crew'), (8, U&'\00C9quipe \00C9t\00E9'), (9, U&'\0634\0631\0643\0629 \0627\0644\0646\0648\0631'),
    (10, U&'  Personal workspace  '), (11, 'x''s Workspace'))
SELECT pg_temp.sbx_org_id(j, p.n_e, p.sp),
       CASE WHEN j % 4 = 0 THEN onames.nm || CASE WHEN j > 48 THEN ' ' || j ELSE '' END
            ELSE 'Team ' || (ARRAY['Platform','Data','Growth','Infra','Mobile','Research','Support','Design'])[1 + j % 8] || ' ' || j END,
       CASE WHEN j % 3 = 0 THEN NULL WHEN j % 3 = 1 THEN 'Shared MCP servers for team #' || j ELSE '' END,
       CASE WHEN j % 2 = 0 THEN NULL ELSE 'https://cdn.example.com/logos/' || pg_temp.sbx_cuid('logo', j) || '.png' END,
       j % 5 = 2,
       pg_temp.sbx_uid(pg_temp.sbx_org_creator(j, p.n, p.n_e, p.sp)),
       timestamp '2023-01-01' + (pg_temp.sbx_h('org-ts:' || j) % (300::bigint * 86400000)) * interval '1 millisecond',
       timestamp '2023-01-01' + (pg_temp.sbx_h('org-ts:' || j) % (300::bigint * 86400000)) * interval '1 millisecond'
           + (j % 97) * interval '1 day'
FROM pg_temp.sbx_params() p, generate_series(1, p.n_org) j
LEFT JOIN onames ON onames.k = (j / 4) % 12;

INSERT INTO "OrganizationMember" ("id", "organizationId", "userId", "isAdmin", "createdAt", "updatedAt")
SELECT pg_temp.sbx_cuid('om', j::bigint * 1000 + t),
       pg_temp.sbx_org_id(j, p.n_e, p.sp),
       pg_temp.sbx_uid(pg_temp.sbx_org_member(j, t, p.n, p.n_e, p.sp)),
       (t = 0 AND j % 14 <> 12) OR t % 5 = 3,
       timestamp '2023-11-01' + (j * 1000 + t) * interval '1 second',
       timestamp '2023-11-01' + (j * 1000 + t) * interval '1 second' + (t % 4) * interval '7 days'
FROM pg_temp.sbx_params() p, generate_series(1, p.n_org) j,
     generate_series(0, pg_temp.sbx_org_m(j, p.n_e) - 1) t;

ANALYZE "User", "Organization", "OrganizationMember";

-- =====================================================================================================
-- McpServer, Tool
-- =====================================================================================================
INSERT INTO "McpServer" ("id", "name", "iconPath", "transportType", "command", "args", "url", "envVars", "authType",
                         "oauthProvider", "oauthScopes", "serverType", "createdBy", "visibility", "organizationId",
                         "isPublic", "createdAt", "updatedAt")
SELECT pg_temp.sbx_cuid('srv', s),
       CASE WHEN x.typ = 'CUSTOM'
            THEN (ARRAY['My server', 'Bob''s "tools"', U&'\0421\0435\0440\0432\0435\0440 #', 'prod, db', E'tab\tname', 'ACME internal'])[1 + s % 6] || ' ' || s
            ELSE (ARRAY['GitHub', 'Slack', 'Linear', 'Notion', 'Postgres', 'Filesystem', 'Brave Search', 'Google Drive',
                        'Jira', 'Sentry', 'Stripe', 'Figma'])[1 + s % 12] || CASE WHEN s > 12 THEN ' ' || s ELSE '' END END,
       CASE WHEN s % 4 = 0 THEN NULL ELSE '/icons/' || pg_temp.sbx_cuid('icon', s % 40) || '.svg' END,
       x.tt::"TransportType",
       CASE WHEN x.tt = 'STDIO' THEN (ARRAY['npx', 'uvx', 'docker', '/usr/local/bin/mcp server'])[1 + s % 4] END,
       CASE s % 5
            WHEN 0 THEN NULL
            WHEN 1 THEN '{}'::text[]
            WHEN 2 THEN ARRAY['-y', '@modelcontextprotocol/server-github']
            WHEN 3 THEN ARRAY['--header', 'Authorization: Bearer ${TOKEN}', '--csv=a,b,c', 'say "hi"', E'C:\\path\\x', '']
            ELSE ARRAY['run', '-i', '--rm', '-e', 'GITHUB_PERSONAL_ACCESS_TOKEN', 'ghcr.io/github/github-mcp-server', NULL] END,
       CASE WHEN x.tt <> 'STDIO' THEN 'https://mcp.example.com/' || s || CASE WHEN x.tt = 'SSE' THEN '/sse' ELSE '/mcp' END END,
       CASE s % 4
            WHEN 0 THEN NULL
            WHEN 1 THEN '{}'::text[]
            WHEN 2 THEN ARRAY['GITHUB_TOKEN', 'API_KEY']
            ELSE ARRAY['QUOTED="a,b"', 'EMPTY=', E'BACKSLASH=C:\\x', U&'UNICODE=\00FC\00F1\00EE'] END,
       x.at::"AuthType",
       CASE WHEN x.at IN ('OAUTH', 'BOTH') THEN (ARRAY['github', 'google', 'slack', 'atlassian'])[1 + s % 4] END,
       CASE WHEN x.at IN ('OAUTH', 'BOTH') THEN
            CASE s % 3 WHEN 0 THEN NULL WHEN 1 THEN '{}'::text[]
                 ELSE ARRAY['repo', 'read:org', 'openid email profile', 'https://www.googleapis.com/auth/drive.readonly'] END
            ELSE CASE WHEN s % 9 = 4 THEN '{}'::text[] END END,
       x.typ::"ServerType",
       CASE WHEN x.typ = 'CUSTOM' OR s % 2 = 1 THEN pg_temp.sbx_uid((pg_temp.sbx_h('srv-by:' || s) % p.n + 1)::int) END,
       x.vis::"McpServerVisibility",
       CASE WHEN x.vis = 'ORGANIZATION' OR (x.vis = 'PRIVATE' AND s % 2 = 0) OR (x.vis = 'PUBLIC' AND s % 10 = 3)
            THEN pg_temp.sbx_org_id((pg_temp.sbx_h('srv-org:' || s) % p.n_org + 1)::int, p.n_e, p.sp) END,
       (x.vis = 'PUBLIC') <> (s % 17 = 5),          -- a few isPublic/visibility mismatches
       timestamp '2023-02-01' + (pg_temp.sbx_h('srv-ts:' || s) % (200::bigint * 86400000)) * interval '1 millisecond',
       timestamp '2023-02-01' + (pg_temp.sbx_h('srv-ts:' || s) % (200::bigint * 86400000)) * interval '1 millisecond'
           + (s % 50) * interval '1 hour'
FROM pg_temp.sbx_params() p, generate_series(1, p.n_srv) s,
     LATERAL (SELECT CASE WHEN s % 3 = 0 THEN 'CUSTOM' ELSE 'OFFICIAL' END AS typ,
                     (ARRAY['STDIO', 'SSE', 'STREAMABLE_HTTPS'])[1 + (s / 3) % 3] AS tt,
                     (ARRAY['NONE', 'NONE', 'NONE', 'API_KEY', 'API_KEY', 'OAUTH', 'OAUTH', 'BOTH'])[1 + (s * 5) % 8] AS at,
                     (ARRAY['PRIVATE', 'ORGANIZATION', 'PUBLIC'])[1 + (s / 2) % 3] AS vis) x;

INSERT INTO "Tool" ("id", "name", "description", "inputSchema", "isEnabled", "mcpServerId", "createdAt", "updatedAt")
SELECT pg_temp.sbx_cuid('tool', s::bigint * 100 + t),
       (ARRAY['search', 'read_file', 'write_file', 'list_issues', 'create_issue', 'query', 'send_message', 'get_weather'])[t],
       CASE (s + t) % 5
            WHEN 0 THEN ''
            WHEN 1 THEN 'Search the knowledge base'
            WHEN 2 THEN U&'Lit un fichier \2014 \8AAD\307F\53D6\308A'
            WHEN 3 THEN E'Creates an issue.\nArgs: "title" (string), ''body'' (markdown)'
            ELSE 'Runs a read-only SQL query; 100% safe_ish \ promise' END,
       (CASE (s * 3 + t) % 6
            WHEN 0 THEN '{}'
            WHEN 1 THEN '{"type":"object","properties":{"query":{"type":"string","description":"Search query"}},"required":["query"]}'
            WHEN 2 THEN '{"type":"object","properties":{"filter":{"type":"object","properties":{"labels":{"type":"array","items":{"type":"string"}},"state":{"enum":["open","closed"]},"nested":{"a":{"b":{"c":{"d":[1,[2,[3]]]}}}}}}},"additionalProperties":false}'
            WHEN 3 THEN '{"type":"object","properties":{"texte":{"type":"string","description":"Le texte \u00e0 traduire \u2014 \u65e5\u672c\u8a9e \u2713 \"quoted\" back\\slash \ud83d\ude80"}}}'
            WHEN 4 THEN '{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{},"x-null":null,"x-num":1.5e10,"x-neg":-0.25,"x-bool":false,"":"empty key"}'
            ELSE '{"anyOf":[{"type":"string"},{"type":"array","items":{"type":"integer","minimum":-1}}],"default":[1,2,3],"examples":[]}' END)::jsonb,
       (s + t) % 7 <> 0,
       pg_temp.sbx_cuid('srv', s),
       timestamp '2023-03-01' + (s * 100 + t) * interval '1 minute',
       timestamp '2023-03-01' + (s * 100 + t) * interval '1 minute' + t * interval '1 day'
FROM pg_temp.sbx_params() p, generate_series(1, p.n_srv) s, generate_series(1, pg_temp.sbx_tool_count(s)) t;

-- =====================================================================================================
-- UserMcpServerConfig
-- organizationId: NULL for most; one of the user's orgs for some; an org the user is NOT a member of
-- for a few (c % 20 in 18, 19).
-- =====================================================================================================
INSERT INTO "UserMcpServerConfig" ("id", "name", "description", "envVars", "oauthConnection", "oauthScopes", "mcpServerId",
                                   "userId", "organizationId", "createdAt", "updatedAt")
WITH uo AS (
    SELECT "userId", array_agg("organizationId" ORDER BY "organizationId" COLLATE "C") AS orgs
    FROM "OrganizationMember" GROUP BY "userId"
),
cfg AS (
    SELECT c, pg_temp.sbx_uid(pg_temp.sbx_cfg_user(c, p.n_inst, p.n)) AS uid, pg_temp.sbx_cfg_srv(c, p.n_srv) AS srv,
           pg_temp.sbx_org_id(pg_temp.sbx_zero_org(c, p.n_org), p.n_e, p.sp) AS zero_org,
           pg_temp.sbx_org_id((pg_temp.sbx_h('cfg-org:' || c) % p.n_org + 1)::int, p.n_e, p.sp) AS any_org
    FROM pg_temp.sbx_params() p, generate_series(1, p.n_cfg) c
)
SELECT pg_temp.sbx_cuid('cfg', cfg.c),
       (ARRAY['GitHub (work)', 'github personal', U&'Slack \2013 \00E9quipe', 'DB "prod"', 'Bob''s config', 'default'])[1 + cfg.c % 6],
       CASE WHEN cfg.c % 3 = 0 THEN '' ELSE 'Config #' || cfg.c END,
       pg_temp.sbx_cipher('cfg-env:' || cfg.c, 1 + (cfg.c % 5 = 0)::int + (cfg.c % 25 = 0)::int),
       CASE WHEN cfg.c % 6 = 0 THEN pg_temp.sbx_cipher('cfg-oauth:' || cfg.c, 2) END,
       CASE cfg.c % 5
            WHEN 0 THEN NULL WHEN 1 THEN '{}'::text[] WHEN 2 THEN ARRAY['repo', 'read:org']
            WHEN 3 THEN ARRAY['openid', 'email profile', 'scope,with,commas', 'quote"d']
            ELSE NULL END,
       pg_temp.sbx_cuid('srv', cfg.srv),
       cfg.uid,
       CASE cfg.c % 20
            WHEN 14 THEN uo.orgs[1] WHEN 15 THEN uo.orgs[1] WHEN 16 THEN uo.orgs[1]
            WHEN 17 THEN coalesce(uo.orgs[2], uo.orgs[1])
            WHEN 18 THEN cfg.zero_org
            WHEN 19 THEN CASE WHEN cfg.any_org = ANY (coalesce(uo.orgs, '{}')) THEN cfg.zero_org ELSE cfg.any_org END
       END,
       timestamp '2023-05-01' + (pg_temp.sbx_h('cfg-ts:' || cfg.c) % (240::bigint * 86400000)) * interval '1 millisecond',
       timestamp '2023-05-01' + (pg_temp.sbx_h('cfg-ts:' || cfg.c) % (240::bigint * 86400000)) * interval '1 millisecond'
           + (cfg.c % 30) * interval '1 day'
FROM cfg LEFT JOIN uo ON uo."userId" = cfg.uid;

-- =====================================================================================================
-- UserToolGroup: groups 1..i are the main groups of instances 1..i; groups i+1..i+e are extra groups
-- (owned by the owner of instance g-i, linked to it as a second group).
-- Group org by class k % 20: 12,13,19 user's org; 14 user's 2nd org; 15 an org without members;
-- 16 user's org (instance: NULL); 17 some team org (instance: a different org); others NULL.
-- =====================================================================================================
INSERT INTO "UserToolGroup" ("id", "name", "description", "isEnabled", "userId", "organizationId", "createdAt", "updatedAt")
WITH uo AS (
    SELECT "userId", array_agg("organizationId" ORDER BY "organizationId" COLLATE "C") AS orgs
    FROM "OrganizationMember" GROUP BY "userId"
),
grp AS (
    SELECT g, CASE WHEN g <= p.n_inst THEN g ELSE g - p.n_inst END AS k, g > p.n_inst AS extra,
           pg_temp.sbx_uid(pg_temp.sbx_inst_user(CASE WHEN g <= p.n_inst THEN g ELSE g - p.n_inst END, p.n)) AS uid,
           pg_temp.sbx_org_id(pg_temp.sbx_zero_org(g, p.n_org), p.n_e, p.sp) AS zero_org,
           pg_temp.sbx_org_id((pg_temp.sbx_h('inst-j1:' || g) % p.n_org + 1)::int, p.n_e, p.sp) AS j1_org
    FROM pg_temp.sbx_params() p, generate_series(1, p.n_inst + p.n_extra) g
)
SELECT pg_temp.sbx_cuid('grp', grp.g),
       (ARRAY['Default', 'Dev tools', 'Lecture seule', 'Team "core"', 'Bob''s picks', '', U&'\30C4\30FC\30EB'])[1 + grp.g % 7],
       CASE WHEN grp.g % 2 = 0 THEN '' ELSE 'Tool group ' || grp.g END,
       grp.g % 11 <> 0,
       grp.uid,
       CASE WHEN grp.extra THEN CASE WHEN grp.k % 5 = 1 THEN uo.orgs[1] END
            ELSE CASE grp.k % 20
                WHEN 12 THEN uo.orgs[1] WHEN 13 THEN uo.orgs[1] WHEN 19 THEN uo.orgs[1]
                WHEN 14 THEN coalesce(uo.orgs[2], uo.orgs[1])
                WHEN 15 THEN grp.zero_org
                WHEN 16 THEN coalesce(uo.orgs[1], grp.j1_org)
                WHEN 17 THEN grp.j1_org END END,
       timestamp '2023-06-01' + (pg_temp.sbx_h('grp-ts:' || grp.g) % (180::bigint * 86400000)) * interval '1 millisecond',
       timestamp '2023-06-01' + (pg_temp.sbx_h('grp-ts:' || grp.g) % (180::bigint * 86400000)) * interval '1 millisecond'
           + (grp.g % 13) * interval '1 day'
FROM grp LEFT JOIN uo ON uo."userId" = grp.uid;

-- =====================================================================================================
-- UserMcpServerInstance k (1..i), tool group k. organizationId = the group's org, except:
-- k%20 = 16 -> NULL (group in an org), 17 -> a different team org than the group's, 18 -> an org without
-- members (group NULL). Soft-deleted when k%7 = 3.
-- =====================================================================================================
INSERT INTO "UserMcpServerInstance" ("id", "name", "description", "iconPath", "serverStatus", "serverType", "toolGroupId",
                                     "authType", "userId", "organizationId", "displayOrder", "createdAt", "updatedAt", "deletedAt")
SELECT pg_temp.sbx_cuid('inst', k),
       (ARRAY['GitHub', 'Slack (work)', 'Linear', U&'Notion \2014 perso', 'Postgres "prod"', 'O''Reilly search', E'Files\\share', 'x'])[1 + k % 8],
       CASE WHEN k % 3 = 0 THEN '' ELSE 'Instance ' || k || ' of ' || (ARRAY['GitHub', 'Slack', 'Linear'])[1 + k % 3] END,
       CASE WHEN k % 4 = 1 THEN NULL ELSE '/icons/' || pg_temp.sbx_cuid('icon', k % 40) || '.svg' END,
       (ARRAY['RUNNING', 'RUNNING', 'RUNNING', 'RUNNING', 'RUNNING', 'RUNNING', 'STOPPED', 'STOPPED', 'ERROR', 'PENDING'])[1 + k % 10]::"ServerStatus",
       CASE WHEN k % 3 = 0 THEN 'CUSTOM' ELSE 'OFFICIAL' END::"ServerType",
       g."id",
       (ARRAY['NONE', 'API_KEY', 'API_KEY', 'API_KEY', 'API_KEY', 'OAUTH', 'OAUTH', 'BOTH', 'BOTH', 'API_KEY', 'API_KEY', 'API_KEY', 'API_KEY'])[1 + k % 13]::"AuthType",
       g."userId",
       CASE k % 20
            WHEN 16 THEN NULL
            WHEN 17 THEN pg_temp.sbx_org_id((pg_temp.sbx_h('inst-j1:' || k) % p.n_org + 1)::int % p.n_org + 1, p.n_e, p.sp)
            WHEN 18 THEN pg_temp.sbx_org_id(pg_temp.sbx_zero_org(k + 3, p.n_org), p.n_e, p.sp)
            ELSE g."organizationId" END,
       CASE WHEN k % 31 = 0 THEN 1000 + k WHEN k % 37 = 0 THEN -1 ELSE k % 7 END,
       timestamp '2023-07-01' + (pg_temp.sbx_h('inst-ts:' || k) % (180::bigint * 86400000)) * interval '1 millisecond',
       timestamp '2023-07-01' + (pg_temp.sbx_h('inst-ts:' || k) % (180::bigint * 86400000)) * interval '1 millisecond'
           + (k % 19) * interval '1 day',
       CASE WHEN k % 7 = 3 THEN timestamp '2024-02-01' + (pg_temp.sbx_h('inst-del:' || k) % (200::bigint * 86400000)) * interval '1 millisecond' END
FROM pg_temp.sbx_params() p, generate_series(1, p.n_inst) k
JOIN "UserToolGroup" g ON g."id" = pg_temp.sbx_cuid('grp', k);

ANALYZE "UserMcpServerConfig", "UserToolGroup", "UserMcpServerInstance", "Tool", "McpServer";

-- Group -> (config, tool): main group k uses config k (same owner) and up to 2 tools of its server;
-- extra group i+x uses config x and 1 tool. Groups with k % 9 = 4 stay empty.
INSERT INTO "UserToolGroupTool" ("userMcpServerConfigId", "toolGroupId", "toolId", "sortOrder", "createdAt")
SELECT pg_temp.sbx_cuid('cfg', x.k), pg_temp.sbx_cuid('grp', x.g), pg_temp.sbx_cuid('tool', x.srv::bigint * 100 + t),
       CASE WHEN x.g % 10 = 0 THEN 0 ELSE t - 1 END,
       timestamp '2023-08-01' + x.g * interval '1 minute' + t * interval '1 second'
FROM (SELECT g, CASE WHEN g <= p.n_inst THEN g ELSE g - p.n_inst END AS k, CASE WHEN g <= p.n_inst THEN 2 ELSE 1 END AS maxt,
             pg_temp.sbx_cfg_srv(CASE WHEN g <= p.n_inst THEN g ELSE g - p.n_inst END, p.n_srv) AS srv
      FROM pg_temp.sbx_params() p, generate_series(1, p.n_inst + p.n_extra) g) x,
     generate_series(1, least(x.maxt, pg_temp.sbx_tool_count(x.srv))) t
WHERE x.g % 9 <> 4;

-- Instance -> groups: its own group (missing for k % 29 = 0) plus the extra group i+k for k <= e.
INSERT INTO "UserMcpServerInstanceToolGroup" ("mcpServerInstanceId", "toolGroupId", "sortOrder", "createdAt")
SELECT pg_temp.sbx_cuid('inst', k), pg_temp.sbx_cuid('grp', k), 0, timestamp '2023-08-01' + k * interval '1 minute'
FROM pg_temp.sbx_params() p, generate_series(1, p.n_inst) k
WHERE k % 29 <> 0
UNION ALL
SELECT pg_temp.sbx_cuid('inst', k), pg_temp.sbx_cuid('grp', p.n_inst + k), 1, timestamp '2023-08-02' + k * interval '1 minute'
FROM pg_temp.sbx_params() p, generate_series(1, p.n_extra) k;

-- Implicit m2m Tool <-> UserMcpServerConfig (some of the first 3 tools of the config's server).
INSERT INTO "_ToolToUserMcpServerConfig" ("A", "B")
SELECT pg_temp.sbx_cuid('tool', x.srv::bigint * 100 + t), pg_temp.sbx_cuid('cfg', x.c)
FROM (SELECT c, pg_temp.sbx_cfg_srv(c, p.n_srv) AS srv FROM pg_temp.sbx_params() p, generate_series(1, p.n_cfg) c) x,
     generate_series(1, least(3, pg_temp.sbx_tool_count(x.srv))) t
WHERE (x.c + t) % 3 <> 0;

-- =====================================================================================================
-- McpApiKey: 0, 1 or 3 per instance; a few whose userId is not the instance owner.
-- =====================================================================================================
INSERT INTO "McpApiKey" ("id", "name", "apiKey", "apiKeyHash", "isActive", "lastUsedAt", "expiresAt",
                         "userMcpServerInstanceId", "userId", "createdAt", "updatedAt")
SELECT pg_temp.sbx_uuid('key', k::bigint * 10 + t),
       (ARRAY['Default', 'CI key', U&'Cl\00E9 \00ABprod\00BB', 'laptop "old"', '', 'n8n'])[1 + (k + t) % 6],
       pg_temp.sbx_cipher('apikey:' || k || ':' || t, 1),
       CASE WHEN (k + t) % 5 = 0 THEN NULL
            ELSE encode(sha256(convert_to('mcp_sk_' || md5('apikey:' || k || ':' || t), 'UTF8')), 'hex') END,
       (k + t) % 3 <> 0,
       CASE WHEN (k + t) % 4 = 0 THEN NULL
            ELSE timestamp '2024-03-01' + (pg_temp.sbx_h('key-used:' || k || ':' || t) % (300::bigint * 86400000)) * interval '1 millisecond' END,
       CASE (k + t) % 4 WHEN 0 THEN timestamp '2024-01-15' WHEN 1 THEN timestamp '2026-12-31 23:59:59.999' ELSE NULL END,
       pg_temp.sbx_cuid('inst', k),
       pg_temp.sbx_uid(CASE WHEN k % 50 = 7 THEN pg_temp.sbx_inst_user(k, p.n) % p.n + 1 ELSE pg_temp.sbx_inst_user(k, p.n) END),
       timestamp '2023-09-01' + k * interval '1 minute' + t * interval '1 second',
       timestamp '2023-09-01' + k * interval '1 minute' + t * interval '1 second' + (k % 9) * interval '1 day'
FROM pg_temp.sbx_params() p, generate_series(1, p.n_inst) k,
     generate_series(1, CASE k % 8 WHEN 4 THEN 1 WHEN 5 THEN 1 WHEN 6 THEN 1 WHEN 7 THEN 3 ELSE 0 END) t;

-- =====================================================================================================
-- McpServerRequestLog (bulk): l = 1..15n, instance chosen by hash.
-- userId: the instance owner; NULL for 10% (deleted user); another user for 2%.
-- organizationId: NULL for 85%; the instance's org for 10%; some (other) team org for 5%.
-- =====================================================================================================
INSERT INTO "McpServerRequestLog" ("id", "userId", "mcpServerInstanceId", "toolName", "transportType", "method",
                                   "responseStatus", "durationMs", "errorMessage", "errorCode", "inputBytes", "outputBytes",
                                   "organizationId", "userAgent", "createdAt")
SELECT pg_temp.sbx_cuid('log', x.l),
       CASE WHEN x.a % 10 = 3 THEN NULL
            WHEN x.a % 50 = 7 THEN pg_temp.sbx_uid((x.b % p.n + 1)::int)
            ELSE inst."userId" END,
       inst."id",
       (ARRAY['search', 'read_file', 'write_file', 'list_issues', 'create_issue', 'query', 'send_message', 'get_weather', '', U&'\691C\7D22'])[1 + x.b % 10],
       (ARRAY['STDIO', 'SSE', 'STREAMABLE_HTTPS'])[1 + x.c % 3]::"TransportType",
       (ARRAY['tools/call', 'tools/call', 'tools/call', 'tools/call', 'tools/list', 'initialize', 'resources/read', 'prompts/get', 'ping'])[1 + (x.c / 3) % 9],
       x.status,
       CASE WHEN x.d % 50 = 0 THEN 0 WHEN x.d % 997 = 1 THEN 120000 + (x.d % 1000) ELSE (x.d % 3000)::int END,
       CASE WHEN x.status <> 'success' THEN
            (ARRAY['Tool "search" failed: can''t connect',
                   U&'Tool \00ABsearch\00BB failed: can''t connect \2014 timeout apr\00E8s 30s \2717',
                   E'upstream returned 502\nBad Gateway',
                   'MCP error -32603: Internal error: column "userId" does not exist',
                   E'path C:\\temp\\x not found; 100% _wild_',
                   '',
                   NULL])[1 + (x.d / 7) % 7] END,
       CASE WHEN x.status <> 'success' THEN (ARRAY['-32603', '-32601', 'ETIMEDOUT', 'ECONNREFUSED', NULL])[1 + (x.d / 3) % 5] END,
       CASE WHEN x.c % 10 = 9 THEN NULL ELSE (x.c % 4000)::int END,
       CASE WHEN x.c % 10 = 9 THEN NULL ELSE (x.d % 250000)::int END,
       CASE WHEN x.a % 20 IN (1, 2) THEN inst."organizationId"
            WHEN x.a % 20 = 5 THEN pg_temp.sbx_org_id((x.b % p.n_org + 1)::int, p.n_e, p.sp) END,
       (ARRAY['claude-desktop/0.10.14', 'Cursor/1.2.4 (darwin arm64)', 'mcp-remote/0.1.17 node/v20.11.1',
              'python-httpx/0.27.0', 'Mozilla/5.0 (X11; Linux x86_64) "quoted"', NULL])[1 + x.a % 6],
       timestamp '2024-01-01' + (x.d % (540::bigint * 86400000)) * interval '1 millisecond'
FROM (SELECT l, pg_temp.sbx_hx(m, 1) AS a, pg_temp.sbx_hx(m, 9) AS b, pg_temp.sbx_hx(m, 17) AS c,
             pg_temp.sbx_hx(m, 25) AS d,
             CASE WHEN pg_temp.sbx_hx(m, 1) % 100 < 85 THEN 'success'
                  WHEN pg_temp.sbx_hx(m, 1) % 100 < 97 THEN 'error' ELSE 'timeout' END AS status
      FROM (SELECT l, md5('log:' || l) AS m FROM pg_temp.sbx_params() p0, generate_series(1, p0.n_log) l OFFSET 0) h
      OFFSET 0) x
CROSS JOIN pg_temp.sbx_params() p
JOIN "UserMcpServerInstance" inst ON inst."id" = pg_temp.sbx_cuid('inst', x.b % p.n_inst + 1);

-- =====================================================================================================
-- McpServerRequestData for the even-numbered logs (half of them). Payloads are gzip-looking byte strings
-- sliced from a 2.25 MB deterministic pool (sha512 blocks, so 0x00 and 0xFF occur): empty, 1 byte,
-- 2 bytes, a few hundred bytes, 2-16 kB, and `big` outputs of ~1 MB.
-- =====================================================================================================
INSERT INTO "McpServerRequestData" ("id", "requestLogId", "inputDataCompressed", "outputDataCompressed",
                                    "originalInputSize", "originalOutputSize", "compressedInputSize",
                                    "compressedOutputSize", "compressionRatio", "createdAt")
WITH pool AS MATERIALIZED (
    SELECT string_agg(sha512(int4send(b)), ''::bytea ORDER BY b) AS bytes
    FROM generate_series(1, 36864) b
),
d AS (
    SELECT q.l, q.x, q.y,
           CASE WHEN q.x % 1000 < 4 THEN '\x'::bytea
                WHEN q.x % 1000 < 6 THEN '\x00'::bytea
                WHEN q.x % 1000 < 8 THEN '\xff'::bytea
                WHEN q.x % 1000 < 10 THEN '\x00ff'::bytea
                WHEN q.x % 1000 < 15 THEN '\x1f8b08000000000000ff'::bytea || substring(pool.bytes from (q.y % 1000000)::int + 1 for 2048 + (q.x % 14336)::int)
                ELSE '\x1f8b08000000000000ff'::bytea || substring(pool.bytes from (q.y % 1000000)::int + 1 for 10 + (q.x % 200)::int)
           END AS inp,
           CASE WHEN q.big THEN '\x1f8b08000000000000ff'::bytea || substring(pool.bytes from (q.x % 100000)::int + 1 for 1000000 + (q.y % 48576)::int)
                WHEN q.y % 1000 < 3 THEN '\x'::bytea
                WHEN q.y % 1000 < 5 THEN '\xff'::bytea
                WHEN q.y % 1000 < 7 THEN '\x00'::bytea
                WHEN q.y % 1000 < 12 THEN '\x1f8b08000000000000ff'::bytea || substring(pool.bytes from (q.x % 1000000)::int + 1 for 4096 + (q.y % 12288)::int)
                ELSE '\x1f8b08000000000000ff'::bytea || substring(pool.bytes from (q.x % 1000000)::int + 1 for 20 + (q.y % 400)::int)
           END AS outp
    FROM (SELECT l, pg_temp.sbx_hx(m, 1) AS x, pg_temp.sbx_hx(m, 9) AS y,
                 (l / 2) % greatest(1, (p.n_log / 2) / p.n_big) = 17 % greatest(1, (p.n_log / 2) / p.n_big) AS big
          FROM (SELECT l, md5('data:' || l) AS m FROM pg_temp.sbx_params() p0, generate_series(2, p0.n_log, 2) l OFFSET 0) h,
               pg_temp.sbx_params() p
          OFFSET 0) q
    CROSS JOIN pool
    OFFSET 0     -- fence: each payload is built once per row
)
SELECT pg_temp.sbx_uuid('data', d.l), pg_temp.sbx_cuid('log', d.l), d.inp, d.outp,
       z.oi, z.oo, length(d.inp), length(d.outp),
       CASE WHEN z.oi = 0 OR z.oo = 0 THEN 0 ELSE (length(d.inp) + length(d.outp))::float8 / (z.oi + z.oo) END,  -- 0 when a side is empty
       timestamp '2024-01-01' + (d.x % (540::bigint * 86400000)) * interval '1 millisecond'
FROM d, LATERAL (SELECT CASE WHEN length(d.inp) = 0 THEN 0
                             WHEN length(d.inp) <= 2 THEN length(d.inp) + (d.y % 2)::int
                             ELSE length(d.inp) * (2 + (d.y % 7)::int) + (d.y % 97)::int END AS oi,
                        CASE WHEN length(d.outp) = 0 THEN 0
                             WHEN length(d.outp) <= 2 THEN length(d.outp) + (d.x % 2)::int
                             ELSE length(d.outp) * (3 + (d.x % 9)::int) + (d.x % 89)::int END AS oo) z;

-- =====================================================================================================
-- Clean up the session-temporary helpers.
-- =====================================================================================================
DROP FUNCTION pg_temp.sbx_params(), pg_temp.sbx_h(text), pg_temp.sbx_hx(text, int), pg_temp.sbx_cuid(text, bigint),
              pg_temp.sbx_uuid(text, bigint), pg_temp.sbx_uid(int), pg_temp.sbx_ws(int), pg_temp.sbx_slot_user(int, int),
              pg_temp.sbx_org_pos(int, int, int), pg_temp.sbx_org_m(int, int), pg_temp.sbx_org_member(int, int, int, int, int),
              pg_temp.sbx_org_creator(int, int, int, int),
              pg_temp.sbx_org_id(int, int, int), pg_temp.sbx_zero_org(bigint, int), pg_temp.sbx_tool_count(int),
              pg_temp.sbx_inst_user(int, int), pg_temp.sbx_cfg_user(int, int, int), pg_temp.sbx_cfg_srv(int, int),
              pg_temp.sbx_cipher(text, int);
