-- Users, workbooks, runs and the audit trail (PostgreSQL).
-- Identity ids are never reused (run ids name samples files and cache keys).
-- JSON columns are json, not jsonb: key order is kept (the outputs of a summary stay in the
-- order the user chose), as in the SQLite store.

CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    email text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    roles text NOT NULL,
    created timestamptz NOT NULL,
    last_login timestamptz,
    failed_attempts integer NOT NULL DEFAULT 0,
    disabled boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX users_username ON users (lower(username));

CREATE TABLE workbooks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id bigint NOT NULL REFERENCES users (id),
    filename text NOT NULL,
    content_hash text NOT NULL,
    size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
    uploaded timestamptz NOT NULL,
    stored_path text NOT NULL,
    retain_until timestamptz
);
CREATE INDEX workbooks_owner ON workbooks (owner_id);

CREATE TABLE runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id bigint NOT NULL REFERENCES users (id),
    workbook_id bigint NOT NULL REFERENCES workbooks (id) ON DELETE RESTRICT,
    engine_version text NOT NULL,
    spec json NOT NULL,
    seed bigint NOT NULL,
    iterations bigint NOT NULL CHECK (iterations > 0),
    sampling text NOT NULL,
    device text NOT NULL,
    status text NOT NULL CHECK (status IN
        ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')),
    progress double precision NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    created timestamptz NOT NULL,
    started timestamptz,
    finished timestamptz,
    error text,
    summary json,
    samples_path text
);
CREATE INDEX runs_owner ON runs (owner_id);
CREATE INDEX runs_workbook ON runs (workbook_id);
CREATE INDEX runs_status ON runs (status);

CREATE TABLE audit (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL,
    actor_id bigint REFERENCES users (id),
    action text NOT NULL,
    target text NOT NULL DEFAULT '',
    detail json NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_at ON audit (at);
