-- Deploy-schema (R<n+1>): create the target schema's tables, types and primary keys in the empty
-- "{{app_schema}}" schema.
-- Runs in one transaction, right after reset set the legacy schema aside as "{{aside_schema}}" and
-- created an empty "{{app_schema}}" with the same owner, grants and comment. Afterwards the engine
-- gives each new table the grants its legacy namesake had (same transaction).
-- Must: create every target object, qualified with its schema ("{{app_schema}}".table), and nothing
-- else; never read or change "{{aside_schema}}" (the data moves in the transform). Secondary
-- indexes and foreign keys are cheaper built after the bulk load: put them at the end of the
-- transform. After this file, preflight/0001_schema_state.sql must no longer say 'legacy' (a
-- resumed window reads it to know the file's result is still there).
-- Verify must prove: every table here that has a legacy namesake is reconciled
-- (verify/0100_reconcile.toml); for an exact schema, add an invariant comparing the catalog
-- (sql/migration/verify/0002_schema_shape.sql is one).

-- pgcutover-scaffold: delete this statement once the file is written.
DO $$ BEGIN RAISE EXCEPTION 'pgcutover-scaffold: 0001_target_schema.sql is not written yet'; END $$;

-- CREATE TABLE "{{app_schema}}"."<table>" (
--     "id" integer NOT NULL,
--     …
--     CONSTRAINT "<table>_pkey" PRIMARY KEY ("id")
-- );
