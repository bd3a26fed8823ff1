-- pgcutover's own bookkeeping, kept out of the application's schema.
-- Requires: CREATE on the database. Idempotent: safe to run at the start of every run.
CREATE SCHEMA IF NOT EXISTS pgcutover;
COMMENT ON SCHEMA pgcutover IS 'pgcutover bookkeeping: runs, journal mirror, applied SQL files, fence state';

CREATE TABLE IF NOT EXISTS pgcutover.runs (
    run          text PRIMARY KEY,
    command      text NOT NULL,
    target       text NOT NULL,
    started_at   timestamptz NOT NULL,
    migration_ts timestamp(3) NOT NULL,
    status       text NOT NULL DEFAULT 'running',
    ended_at     timestamptz,
    fence        jsonb,             -- connection rights taken away by the fence step, restored by unfence
    app_release  text               -- the release that ran before deploy-app (for rollback)
);
COMMENT ON TABLE pgcutover.runs IS 'One row per migrate-offline or rollback run';

CREATE TABLE IF NOT EXISTS pgcutover.journal (
    run        text NOT NULL,
    step       text NOT NULL,
    event      text NOT NULL,
    at         timestamptz NOT NULL,
    outcome    text,
    duration_s double precision,
    line       jsonb NOT NULL
);
COMMENT ON TABLE pgcutover.journal IS 'Mirror of RUNS_DIR/<run>/journal.jsonl (the file is the truth)';

CREATE TABLE IF NOT EXISTS pgcutover.applied_sql (
    run        text NOT NULL,
    step       text NOT NULL,
    file       text NOT NULL,
    checksum   text NOT NULL,
    duration_s double precision NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run, file)
);
COMMENT ON TABLE pgcutover.applied_sql IS 'Migration SQL files applied per run, with sha256 (drift check)';

-- Added after the first release: which database a run belongs to (system identifier, oid, name),
-- so rollback, resume and cleanup refuse any other database. Idempotent for older bookkeeping.
ALTER TABLE pgcutover.runs ADD COLUMN IF NOT EXISTS identity jsonb;

-- Added with APP_HOSTS: each app host's release per run. deploy-app records `previous` before it
-- touches any host, sets `changed` to NULL (unknown) while a host's deploy runs, then true (with
-- `deployed`) or false; redeploy-app puts `previous` back where `changed` is not false.
CREATE TABLE IF NOT EXISTS pgcutover.host_release (
    run        text NOT NULL,
    host       text NOT NULL,             -- the APP_HOSTS entry's host part ('local' without it)
    position   integer NOT NULL,          -- its place in APP_HOSTS: the rollout order
    previous   text NOT NULL,             -- what CURRENT_VERSION_CMD said before deploy-app
    deployed   text,                      -- what deploy-app installed, once its command succeeded
    changed    boolean DEFAULT false,     -- NULL while its deploy runs: rollback redeploys it
    redeployed text,                      -- what redeploy-app put back
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run, host)
);
COMMENT ON TABLE pgcutover.host_release IS
    'Each app host''s release per run: before the window, deployed, redeployed';
