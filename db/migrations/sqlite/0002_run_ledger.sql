-- The run ledger (embedded store): runs are executed by separate worker services, so a run
-- records who holds it and when that holder was last heard of, and its iterations are split into
-- chunks (fixed ranges) that are claimed, retried and counted one by one.
-- Rows of version 1 keep their meaning: no holder, chunk_size NULL, no chunks.

ALTER TABLE runs ADD COLUMN name TEXT;
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0
    CHECK (cancel_requested IN (0, 1));
ALTER TABLE runs ADD COLUMN worker TEXT;
ALTER TABLE runs ADD COLUMN heartbeat TEXT;
ALTER TABLE runs ADD COLUMN chunk_size INTEGER CHECK (chunk_size > 0);
ALTER TABLE runs ADD COLUMN iterations_done INTEGER NOT NULL DEFAULT 0
    CHECK (iterations_done >= 0);

CREATE TABLE run_chunks (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL CHECK (idx >= 0),
    start INTEGER NOT NULL CHECK (start >= 0),
    count INTEGER NOT NULL CHECK (count > 0),
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    heartbeat TEXT,
    started TEXT,
    finished TEXT,
    error TEXT,
    PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;
-- runs_status (version 1) serves the claims; this one the heartbeats and the reconciler.
CREATE INDEX runs_worker ON runs (worker) WHERE worker IS NOT NULL;
