-- The run ledger (PostgreSQL): runs are executed by separate worker services, so a run records
-- who holds it and when that holder was last heard of, and its iterations are split into chunks
-- (fixed ranges) that are claimed, retried and counted one by one.
-- Rows of version 1 keep their meaning: no holder, chunk_size NULL, no chunks.

ALTER TABLE runs
    ADD COLUMN name text,
    ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false,
    ADD COLUMN worker text,
    ADD COLUMN heartbeat timestamptz,
    ADD COLUMN chunk_size bigint CHECK (chunk_size > 0),
    ADD COLUMN iterations_done bigint NOT NULL DEFAULT 0 CHECK (iterations_done >= 0);

CREATE TABLE run_chunks (
    run_id bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx integer NOT NULL CHECK (idx >= 0),
    start bigint NOT NULL CHECK (start >= 0),
    count bigint NOT NULL CHECK (count > 0),
    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    worker text,
    heartbeat timestamptz,
    started timestamptz,
    finished timestamptz,
    error text,
    PRIMARY KEY (run_id, idx)
);
-- runs_status (version 1) serves the claims; this one the heartbeats and the reconciler.
CREATE INDEX runs_worker ON runs (worker) WHERE worker IS NOT NULL;
