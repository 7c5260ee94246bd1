-- Users, workbooks, runs and the audit trail (embedded store).
-- Times are ISO 8601 text in UTC with microseconds, so text order is time order.
-- AUTOINCREMENT: ids are never reused (run ids name samples files and cache keys).

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    roles TEXT NOT NULL,
    created TEXT NOT NULL,
    last_login TEXT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
);
CREATE UNIQUE INDEX users_username ON users (lower(username));

CREATE TABLE workbooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id INTEGER NOT NULL REFERENCES users (id),
    filename TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
    uploaded TEXT NOT NULL,
    stored_path TEXT NOT NULL,
    retain_until TEXT
);
CREATE INDEX workbooks_owner ON workbooks (owner_id);

CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id INTEGER NOT NULL REFERENCES users (id),
    workbook_id INTEGER NOT NULL REFERENCES workbooks (id) ON DELETE RESTRICT,
    engine_version TEXT NOT NULL,
    spec TEXT NOT NULL,
    seed INTEGER NOT NULL,
    iterations INTEGER NOT NULL CHECK (iterations > 0),
    sampling TEXT NOT NULL,
    device TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')),
    progress REAL NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    created TEXT NOT NULL,
    started TEXT,
    finished TEXT,
    error TEXT,
    summary TEXT,
    samples_path TEXT
);
CREATE INDEX runs_owner ON runs (owner_id);
CREATE INDEX runs_workbook ON runs (workbook_id);
CREATE INDEX runs_status ON runs (status);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor_id INTEGER REFERENCES users (id),
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_at ON audit (at);
