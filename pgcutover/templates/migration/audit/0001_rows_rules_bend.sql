-- Audit (R<n+2>), read-only, safe on the live database before the window: the legacy rows that a
-- rule has to bend, so the operator knows before the downtime starts. One row per finding:
-- (finding, rule, rows); a finding that counts 0 is still listed. Reads the legacy schema in
-- "{{app_schema}}" (it runs in preflight and `invoke audit`, before reset sets it aside), in a
-- read-only transaction with plan.toml's [parameters] set.
-- Must count: every kind of value a rule changes, defaults, drops or resolves indirectly (NULLs,
-- blanks, odd spellings, orphans), each with its rule.
-- Verify must prove: the same rules on the migrated data (verify's report shows these counts beside
-- what it found).

-- pgcutover-scaffold: replace this query with the counts (UNION ALL of one SELECT per finding),
-- e.g.  SELECT 'person.full_name NULL or blank: no name parts' AS finding, 'R1' AS rule,
--              count(*) AS rows
--         FROM "{{app_schema}}"."person" WHERE btrim(coalesce(full_name, '')) = ''
SELECT 'pgcutover-scaffold: audit/0001_rows_rules_bend.sql counts nothing yet' AS finding,
       '-' AS rule, 0 AS rows;
