"""The rows of the metadata store as immutable dataclasses, and the acting user.

Both backends return exactly these types, so nothing above the store knows which database holds
the data. Times are timezone-aware UTC datetimes; ids are ints that are never reused (a run id
names its samples file and its cache keys, so a reused id would serve stale data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

ROLES = ("admin", "analyst")
RUN_STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ACTIVE_STATUSES = ("queued", "running")
FINAL_STATUSES = ("done", "failed", "cancelled", "interrupted")
CHUNK_STATES = ("queued", "running", "done", "failed")
MAX_FAILED_ATTEMPTS = 5  # consecutive wrong passwords before the account is locked


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    email: str
    password_hash: str
    roles: tuple[str, ...]
    created: datetime
    last_login: datetime | None
    failed_attempts: int
    disabled: bool

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def locked(self) -> bool:
        """Too many consecutive wrong passwords: logins are refused until an admin resets the
        password or re-enables the account."""
        return self.failed_attempts >= MAX_FAILED_ATTEMPTS


@dataclass(frozen=True)
class Actor:
    """Who is acting, passed to every read and write of workbooks and runs.

    The store checks it against the users table on every call: a disabled or deleted user can do
    nothing, and ``is_admin`` counts only while the user still holds the admin role (so a stale
    session loses its rights at once). ``is_admin=False`` for an admin acts as an analyst.
    """

    user_id: int
    is_admin: bool = False

    @classmethod
    def for_user(cls, user: User) -> Actor:
        return cls(user.id, user.is_admin)


# Internal jobs that act for no user (the cleanup, the worker process reading its run): admin
# rights, recorded as the system (actor_id None) in the audit trail, and it owns nothing (adding
# a workbook or run with it is refused). Never hand it to a UI session. User ids start at 1.
SYSTEM_ACTOR = Actor(0, is_admin=True)


@dataclass(frozen=True)
class WorkbookRecord:
    id: int
    owner_id: int
    filename: str
    content_hash: str
    size_bytes: int
    uploaded: datetime
    stored_path: str
    retain_until: datetime | None


@dataclass(frozen=True)
class RunRecord:
    id: int
    owner_id: int
    workbook_id: int
    engine_version: str
    spec: dict[str, Any]
    seed: int
    iterations: int
    sampling: str
    device: str
    status: str
    progress: float
    created: datetime
    started: datetime | None
    finished: datetime | None
    error: str | None
    summary: dict[str, Any] | None
    samples_path: str | None
    # The run ledger (schema version 2). Defaults keep older constructions working.
    name: str | None = None  # the display name the user gave, if any
    cancel_requested: bool = False  # the holder stops the run at its next check
    worker: str | None = None  # the worker service instance holding the run, None when none
    heartbeat: datetime | None = None  # when the holder last said it is alive
    chunk_size: int | None = None  # iterations per chunk; None for runs without chunks
    iterations_done: int = 0  # iterations of the chunks done so far

    @property
    def active(self) -> bool:
        """Queued or running: a worker may still write to it."""
        return self.status in ACTIVE_STATUSES


@dataclass(frozen=True)
class ChunkRecord:
    """One fixed range of a run's iterations, ``[start, start + count)``, executed as one task.

    ``attempts`` counts the starts (a retried chunk is started again); ``worker`` is the worker
    service that started it last; ``error`` is the last failure's message."""

    run_id: int
    idx: int
    start: int
    count: int
    state: str  # one of CHUNK_STATES
    attempts: int
    worker: str | None
    heartbeat: datetime | None
    started: datetime | None
    finished: datetime | None
    error: str | None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor_id: int | None
    action: str
    target: str
    detail: dict[str, Any]
