-- Deploy-schema (R<n+1>): create the schema "{{build_schema}}" and in it the target's tables and
-- types, apart from the legacy schema, which stays in "{{app_schema}}".
-- Runs in one transaction, after the fence, while the backup dumps "{{app_schema}}" beside it (the
-- dump leaves "{{build_schema}}" out). Afterwards the engine gives each new table the grants its
-- legacy namesake had (same transaction). Reset, after the transform, renames "{{app_schema}}" to
-- "{{aside_schema}}" and "{{build_schema}}" to "{{app_schema}}", with the app schema's owner,
-- grants and comment.
-- Must: CREATE SCHEMA "{{build_schema}}" (a window refuses to start while one is there), then
-- create every target object, qualified with it ("{{build_schema}}".table), and nothing else;
-- never change "{{app_schema}}" (the backup is dumping it; the data moves in the transform).
-- Primary keys, secondary indexes and foreign keys are cheaper built after the bulk load: put
-- them at the end of the transform.
-- Verify must prove: every table here that has a legacy namesake is reconciled
-- (verify/0100_reconcile.toml); for an exact schema, add an invariant comparing the catalog
-- (sql/migration/verify/0002_schema_shape.sql is one).

-- pgcutover-scaffold: delete this statement once the file is written.
DO $$ BEGIN RAISE EXCEPTION 'pgcutover-scaffold: 0001_target_schema.sql is not written yet'; END $$;

-- CREATE SCHEMA "{{build_schema}}";
-- CREATE TABLE "{{build_schema}}"."<table>" (
--     "id" integer NOT NULL,
--     …
--     CONSTRAINT "<table>_pkey" PRIMARY KEY ("id")
-- );
