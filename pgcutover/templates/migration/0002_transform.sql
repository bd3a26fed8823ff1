-- Transform (R1, …): move every legacy row into the target tables, as the rules say.
-- Reads the legacy schema, still in "{{app_schema}}" (fenced: nothing writes to it, and the backup
-- dumps it beside this transaction: only read it); writes the target tables that
-- 0001_target_schema.sql created in "{{build_schema}}". All the transform files of plan.toml run in
-- one transaction, in plan order: the data moves entirely or not at all.
-- Must: be set-based SQL (INSERT … SELECT, one statement per table, never a row at a time); qualify
-- every table with its schema (search_path is not pinned here, and a rehearsal's forecast reads
-- which "schema".table each file names); write every rule once, reading shared values from
-- current_setting('pgcutover.<name>') (plan.toml [parameters]; pgcutover.migration_ts is the run's
-- one timestamp, for new rows); end with the secondary indexes, foreign keys and ANALYZE of the
-- target tables. Make a re-run add nothing (skip rows already there) where you can.
-- Verify must prove: each rule, in its own words and never by calling this file's expressions:
-- a rule that changes a value in verify/0100_reconcile.toml's legacy expressions, new rows and
-- anything else in verify/0001_rules_hold.sql.

-- pgcutover-scaffold: delete this statement once the file is written.
DO $$ BEGIN RAISE EXCEPTION 'pgcutover-scaffold: 0002_transform.sql is not written yet'; END $$;

-- INSERT INTO "{{build_schema}}"."<table>" ("id", …)
-- SELECT x."id", …
--   FROM "{{app_schema}}"."<table>" x;
--
-- ANALYZE "{{build_schema}}"."<table>";
