-- Verify (R1, …): what the reconcile cannot see holds. One row per violation, its first column
-- saying what is wrong (none = pass); any row fails the window, which then rolls back.
-- Runs in verify's one read-only REPEATABLE READ snapshot, with search_path pinned to
-- pg_catalog, "{{app_schema}}"; reads the migrated "{{app_schema}}" and the untouched legacy
-- rows in "{{aside_schema}}". current_setting('pgcutover.<name>') gives the run's values
-- (migration_ts, run_id) and plan.toml's [parameters].
-- Must prove: every rule the reconcile (verify/0100_reconcile.toml) does not already check row by
-- row: rows a rule creates (exactly the ones it should, no duplicate), new columns, values a rule
-- computes that must also be consistent with each other, keys and uniqueness the rules promise.
-- Say each rule in verify's own words: never call the transform's expressions or functions
-- (verify would be its own oracle, and a mistake in both would pass unseen).

-- pgcutover-scaffold: replace this query with the checks (UNION ALL of one SELECT per check).
SELECT 'pgcutover-scaffold: verify/0001_rules_hold.sql checks no rule yet' AS problem;
