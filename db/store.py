"""The metadata store: users, workbooks, runs and the audit trail, with ownership enforced here.

Every read and write of a workbook or run takes the acting user (``Actor``); analysts see and
change only their own rows, admins all. The actor is checked against the users table inside the
same transaction, so a disabled user or a demoted admin loses access at once, whatever the UI
still believes. The SQL is written once for both backends (``db.store_sqlite``,
``db.store_postgres``); ``open_store`` picks one from the settings and migrates it.

The store writes the audit entries of its own changes (logins, user changes, uploads, runs
created, deletions) in the same transaction as the change, so none can be forgotten; ``audit()``
is for actions that happen elsewhere (cleanup, cancellations, console queries).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bcrypt

from db.backend import Database, Row, Tx
from db.config import Settings
from db.entities import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    MAX_FAILED_ATTEMPTS,
    ROLES,
    RUN_STATUSES,
    SYSTEM_ACTOR,
    Actor,
    AuditEntry,
    RunRecord,
    User,
    WorkbookRecord,
)
from db.errors import Conflict, InvalidValue, NotFound, PermissionDenied
from db.schema import migrate

__all__ = [
    "ACTIVE_STATUSES", "FINAL_STATUSES", "MAX_FAILED_ATTEMPTS", "ROLES", "RUN_STATUSES",
    "SYSTEM_ACTOR", "Actor", "AuditEntry", "RunRecord", "Store", "User", "WorkbookRecord",
    "database_problem", "open_database", "open_store",
]

BCRYPT_ROUNDS = 12
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt ignores (bcrypt 5 refuses) anything longer
MAX_SEED = 2**63 - 1  # the engine's range, and what a signed 64-bit column holds
_ACTIVE_SQL = "('queued', 'running')"  # ACTIVE_STATUSES, as an SQL list


def open_store(settings: Settings, *, bcrypt_rounds: int = BCRYPT_ROUNDS) -> Store:
    """PostgreSQL when ``settings.database_url`` is set, else ``data_dir/metadata.sqlite3``;
    migrated to the latest schema before it is returned. Lower ``bcrypt_rounds`` only in tests."""
    db = open_database(settings)
    try:
        migrate(db)
    except BaseException:
        db.close()
        raise
    return Store(db, bcrypt_rounds=bcrypt_rounds)


def open_database(settings: Settings) -> Database:
    """The backend the settings select, connected but not migrated (``open_store`` migrates)."""
    if settings.database_url:
        from db.store_postgres import PostgresDatabase

        return PostgresDatabase(settings.database_url,
                                max_connections=max(4, settings.workers + 2))
    from db.store_sqlite import SqliteDatabase

    return SqliteDatabase(settings.sqlite_path)


def database_problem(settings: Settings) -> str | None:
    """Why the metadata database cannot answer a query now (one sentence), or None: the health
    check's question, asked without a pool or a migration."""
    if settings.database_url:
        from db.store_postgres import connection_problem

        return connection_problem(settings.database_url)
    path = settings.sqlite_path
    try:  # read-only: a health check must never create the file
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                     timeout=5)) as conn:
            conn.execute("SELECT 1 FROM schema_version LIMIT 1")
    except sqlite3.Error as exc:
        return f"Cannot read the metadata database {path}: {exc}"
    return None


def _now() -> datetime:
    return datetime.now(UTC)


class Store:
    """One interface over either backend; thread-safe, one instance per process."""

    def __init__(self, db: Database, *, bcrypt_rounds: int = BCRYPT_ROUNDS) -> None:
        self._db = db
        self._rounds = bcrypt_rounds
        self._dummy_hash: bytes | None = None
        self.dialect = db.dialect

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- users

    def create_user(self, username: str, password: str, display_name: str = "",
                    email: str = "", roles: Sequence[str] = ("analyst",), *,
                    actor: Actor | None = None) -> User:
        """A new account. Without ``actor`` it is the set-up path (the first admin, scripts);
        with one, that actor must be an admin and is recorded in the audit trail."""
        username = _username(username)
        role_text = _roles_text(roles)
        password_hash = self._hash(password)
        with self._db.transaction() as tx:
            if actor is not None:
                self._require_admin(tx, actor, "create users")
            if tx.one("SELECT id FROM users WHERE lower(username) = lower(?)", (username,)):
                raise Conflict(f"The username {username!r} is taken.")
            try:
                row = tx.one(
                    "INSERT INTO users (username, display_name, email, password_hash, roles,"
                    " created) VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
                    (username, display_name, email, password_hash, role_text,
                     self._db.time_param(_now())))
            except self._db.integrity_error:  # created by another process just now
                raise Conflict(f"The username {username!r} is taken.") from None
            user = self._user(_row(row))
            self._audit(tx, None if actor is None else _who(actor), "user.create", username,
                        {"user_id": user.id, "roles": list(user.roles)})
        return user

    def get_user(self, username: str) -> User | None:
        """The account with this username (case-insensitive), or None."""
        with self._db.transaction() as tx:
            row = tx.one("SELECT * FROM users WHERE lower(username) = lower(?)",
                         (username.strip(),))
        return self._user(row) if row else None

    def get_user_by_id(self, user_id: int) -> User | None:
        """The account with this id, or None: the app re-reads its session's user on every page
        view this way, so a disabled or demoted user loses access at once."""
        with self._db.transaction() as tx:
            row = tx.one("SELECT * FROM users WHERE id = ?", (user_id,))
        return self._user(row) if row else None

    def list_users(self, actor: Actor) -> list[User]:
        with self._db.transaction() as tx:
            self._require_admin(tx, actor, "list users")
            rows = tx.all("SELECT * FROM users ORDER BY lower(username)")
        return [self._user(r) for r in rows]

    def verify_password(self, username: str, password: str) -> User | None:
        """The user when the password is right and the account usable, else None.

        Each attempt is counted before the (slow) hash check, in one atomic update that refuses
        disabled and locked accounts, so parallel guesses cannot exceed the limit; success resets
        the count and sets ``last_login``. Unknown users cost the same hash check, so timing does
        not reveal which usernames exist.
        """
        username = username.strip()
        with self._db.transaction() as tx:
            row = tx.one(
                "UPDATE users SET failed_attempts = failed_attempts + 1"
                " WHERE lower(username) = lower(?) AND disabled = ? AND failed_attempts < ?"
                " RETURNING *", (username, False, MAX_FAILED_ATTEMPTS))
            if row is None:
                known = tx.one("SELECT id, username, disabled FROM users"
                               " WHERE lower(username) = lower(?)", (username,))
                reason = ("unknown user" if known is None
                          else "disabled" if known["disabled"] else "locked")
                self._audit(tx, known["id"] if known else None, "login.refused",
                            known["username"] if known else username, {"reason": reason})
        if row is None:
            self._check(password, self._dummy())
            return None
        if not self._check(password, row["password_hash"]):
            with self._db.transaction() as tx:
                self._audit(tx, row["id"], "login.failed", row["username"],
                            {"failed_attempts": row["failed_attempts"]})
            return None
        with self._db.transaction() as tx:
            row = tx.one("UPDATE users SET failed_attempts = 0, last_login = ?"
                         " WHERE id = ? AND disabled = ? RETURNING *",
                         (self._db.time_param(_now()), row["id"], False))
            if row is not None:
                self._audit(tx, row["id"], "login", row["username"])
        return self._user(row) if row else None

    def set_password(self, actor: Actor, user_id: int, password: str) -> User:
        """Users change their own password, admins anyone's; it also unlocks the account."""
        password_hash = self._hash(password)
        with self._db.transaction() as tx:
            if not self._authorize(tx, actor) and actor.user_id != user_id:
                raise PermissionDenied("Only an admin can change another user's password.")
            row = tx.one("UPDATE users SET password_hash = ?, failed_attempts = 0"
                         " WHERE id = ? RETURNING *", (password_hash, user_id))
            user = self._user(_row(row, f"user {user_id}"))
            self._audit(tx, _who(actor), "user.password", user.username, {"user_id": user_id})
        return user

    def set_disabled(self, actor: Actor, user_id: int, disabled: bool) -> User:
        """Admins only. Re-enabling also clears the failed-attempt count (unlocks)."""
        with self._db.transaction() as tx:
            self._require_admin(tx, actor, "disable or enable users")
            sql = ("UPDATE users SET disabled = ? WHERE id = ? RETURNING *" if disabled else
                   "UPDATE users SET disabled = ?, failed_attempts = 0 WHERE id = ? RETURNING *")
            user = self._user(_row(tx.one(sql, (bool(disabled), user_id)), f"user {user_id}"))
            self._keep_an_admin(tx)
            self._audit(tx, _who(actor), "user.disable" if disabled else "user.enable",
                        user.username, {"user_id": user_id})
        return user

    def set_roles(self, actor: Actor, user_id: int, roles: Sequence[str]) -> User:
        """Admins only; refused when it would leave no enabled admin."""
        role_text = _roles_text(roles)
        with self._db.transaction() as tx:
            self._require_admin(tx, actor, "change roles")
            row = tx.one("UPDATE users SET roles = ? WHERE id = ? RETURNING *",
                         (role_text, user_id))
            user = self._user(_row(row, f"user {user_id}"))
            self._keep_an_admin(tx)
            self._audit(tx, _who(actor), "user.roles", user.username,
                        {"user_id": user_id, "roles": list(user.roles)})
        return user

    # ---------------------------------------------------------------- workbooks

    def add_workbook(self, actor: Actor, filename: str, content_hash: str, size_bytes: int,
                     stored_path: str | Path,
                     retain_until: datetime | None = None) -> WorkbookRecord:
        """Records an upload the caller has already stored at ``stored_path``; owned by the
        actor. ``retain_until`` None means the default retention (uploaded + retention_days)."""
        if not isinstance(size_bytes, int) or size_bytes < 0:
            raise InvalidValue(f"size_bytes must be a whole number of bytes, got {size_bytes!r}.")
        with self._db.transaction() as tx:
            self._authorize(tx, actor, owning=True)
            row = tx.one(
                "INSERT INTO workbooks (owner_id, filename, content_hash, size_bytes, uploaded,"
                " stored_path, retain_until) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (actor.user_id, filename, content_hash, size_bytes, self._db.time_param(_now()),
                 str(stored_path), self._time_or_none(retain_until, "retain_until")))
            workbook = self._workbook(_row(row))
            self._audit(tx, _who(actor), "workbook.upload", filename,
                        {"workbook_id": workbook.id, "size_bytes": size_bytes,
                         "content_hash": content_hash})
        return workbook

    def get_workbook(self, actor: Actor, workbook_id: int) -> WorkbookRecord:
        with self._db.transaction() as tx:
            return self._workbook(self._owned(tx, actor, "workbooks", workbook_id))

    def list_workbooks(self, actor: Actor) -> list[WorkbookRecord]:
        """The actor's workbooks (an admin's: everyone's), newest first."""
        with self._db.transaction() as tx:
            admin = self._authorize(tx, actor)
            rows = tx.all("SELECT * FROM workbooks WHERE ? OR owner_id = ? ORDER BY id DESC",
                          (admin, actor.user_id))
        return [self._workbook(r) for r in rows]

    def delete_workbook(self, actor: Actor, workbook_id: int) -> WorkbookRecord:
        """Removes the row and returns it, so the caller deletes the stored file. Refused while
        any run uses the workbook: delete those runs (and their samples) first."""
        with self._db.transaction() as tx:
            workbook = self._workbook(self._owned(tx, actor, "workbooks", workbook_id))
            runs = self._runs_of(tx, workbook_id)
            if runs:
                raise Conflict(f"Workbook {workbook_id} is used by {len(runs)} run(s); "
                               "delete them first.")
            tx.run("DELETE FROM workbooks WHERE id = ?", (workbook_id,))
            self._audit(tx, _who(actor), "workbook.delete", workbook.filename,
                        {"workbook_id": workbook_id, "owner_id": workbook.owner_id})
        return workbook

    # ---------------------------------------------------------------- runs

    def create_run(self, actor: Actor, workbook_id: int, spec: dict[str, Any], seed: int,
                   iterations: int, sampling: str, device: str,
                   engine_version: str) -> RunRecord:
        """A queued run of a workbook the actor may read; owned by the actor."""
        if not isinstance(spec, dict):
            raise InvalidValue("A run's spec must be a dict of inputs, outputs and settings.")
        if not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise InvalidValue(f"The seed must be a whole number from 0 to 2**63-1, got {seed!r}.")
        if not isinstance(iterations, int) or iterations < 1:
            raise InvalidValue(f"Iterations must be a whole number of at least 1, "
                               f"got {iterations!r}.")
        with self._db.transaction() as tx:
            self._authorize(tx, actor, owning=True)
            self._owned(tx, actor, "workbooks", workbook_id)
            row = tx.one(
                "INSERT INTO runs (owner_id, workbook_id, engine_version, spec, seed, iterations,"
                " sampling, device, status, progress, created) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?) RETURNING *",
                (actor.user_id, workbook_id, engine_version, self._db.json_param(spec), seed,
                 iterations, sampling, device, self._db.time_param(_now())))
            run = self._run(_row(row))
            self._audit(tx, _who(actor), "run.create", f"run {run.id}",
                        {"run_id": run.id, "workbook_id": workbook_id,
                         "iterations": iterations, "device": device})
        return run

    def get_run(self, actor: Actor, run_id: int) -> RunRecord:
        with self._db.transaction() as tx:
            return self._run(self._owned(tx, actor, "runs", run_id))

    def list_runs(self, actor: Actor, workbook_id: int | None = None) -> list[RunRecord]:
        """The actor's runs (an admin's: everyone's), newest first; with ``workbook_id``, only
        that workbook's, which the actor must be allowed to read."""
        with self._db.transaction() as tx:
            admin = self._authorize(tx, actor)
            if workbook_id is None:
                rows = tx.all("SELECT * FROM runs WHERE ? OR owner_id = ? ORDER BY id DESC",
                              (admin, actor.user_id))
            else:
                self._owned(tx, actor, "workbooks", workbook_id)
                rows = tx.all("SELECT * FROM runs WHERE workbook_id = ? AND (? OR owner_id = ?)"
                              " ORDER BY id DESC", (workbook_id, admin, actor.user_id))
        return [self._run(r) for r in rows]

    def set_run_status(self, run_id: int, status: str, *, progress: float | None = None,
                       error: str | None = None, summary: dict[str, Any] | None = None,
                       samples_path: str | Path | None = None) -> RunRecord:
        """The worker's update (no actor: it acts for the run's owner). ``running`` sets
        ``started`` once; a final status sets ``finished``; ``done`` sets progress to 1 unless
        given. Fields left None keep their value. Any transition is accepted: the job runner
        owns the state machine."""
        if status not in RUN_STATUSES:
            raise InvalidValue(f"Unknown run status {status!r}; expected one of "
                               f"{', '.join(RUN_STATUSES)}.")
        now = self._db.time_param(_now())
        sets, params = ["status = ?"], [status]
        if status == "running":
            sets.append("started = COALESCE(started, ?)")
            params.append(now)
        sets.append("finished = ?")
        params.append(now if status in FINAL_STATUSES else None)
        if progress is None and status == "done":
            progress = 1.0
        changes = {
            "progress": None if progress is None else _progress(progress),
            "error": error,
            "summary": None if summary is None else self._db.json_param(summary),
            "samples_path": None if samples_path is None else str(samples_path),
        }
        for column, value in changes.items():
            if value is not None:
                sets.append(f"{column} = ?")
                params.append(value)
        with self._db.transaction() as tx:
            row = tx.one(f"UPDATE runs SET {', '.join(sets)} WHERE id = ? RETURNING *",
                         (*params, run_id))
            return self._run(_row(row, f"run {run_id}"))

    def update_progress(self, run_id: int, progress: float) -> None:
        """Cheap, frequent: one indexed update, nothing read back."""
        with self._db.transaction() as tx:
            if not tx.run("UPDATE runs SET progress = ? WHERE id = ?",
                          (_progress(progress), run_id)):
                raise NotFound(f"There is no run {run_id}.")

    def count_active_runs(self, user_id: int) -> int:
        """Queued and running runs of one user, for the per-user concurrency limit."""
        with self._db.transaction() as tx:
            row = tx.one(f"SELECT COUNT(*) AS n FROM runs WHERE owner_id = ?"
                         f" AND status IN {_ACTIVE_SQL}", (user_id,))
        return int(row["n"]) if row else 0

    def mark_interrupted(self) -> list[int]:
        """At start-up: every run still queued or running was left by a process that died; it
        becomes ``interrupted`` (finished now, with an error message). Returns their ids."""
        with self._db.transaction() as tx:
            rows = tx.all(
                f"UPDATE runs SET status = 'interrupted', finished = ?,"
                f" error = COALESCE(error, ?) WHERE status IN {_ACTIVE_SQL} RETURNING id",
                (self._db.time_param(_now()),
                 "The process running it stopped before the run finished."))
        return sorted(int(r["id"]) for r in rows)

    def delete_run(self, actor: Actor, run_id: int) -> RunRecord:
        """Removes the row and returns it, so the caller deletes its samples file. Refused
        while the run is queued or running: cancel it first."""
        with self._db.transaction() as tx:
            run = self._run(self._owned(tx, actor, "runs", run_id))
            if run.active:
                raise Conflict(f"Run {run_id} is {run.status}; cancel it before deleting it.")
            tx.run("DELETE FROM runs WHERE id = ?", (run_id,))
            self._audit(tx, _who(actor), "run.delete", f"run {run_id}",
                        {"run_id": run_id, "owner_id": run.owner_id,
                         "workbook_id": run.workbook_id})
        return run

    def runs_needing_workbook(self, workbook_id: int) -> list[int]:
        """Ids of every run (any status) that references the workbook, oldest first; the
        cleanup keeps a workbook while this is not empty. Internal: no actor."""
        with self._db.transaction() as tx:
            return self._runs_of(tx, workbook_id)

    # ---------------------------------------------------------------- audit

    def audit(self, actor_id: int | None, action: str, target: str,
              detail: dict[str, Any] | None = None) -> AuditEntry:
        """Records an action done outside the store (``actor_id`` None: the system)."""
        with self._db.transaction() as tx:
            return self._audit(tx, actor_id, action, target, detail)

    def list_audit(self, actor: Actor, limit: int = 200) -> list[AuditEntry]:
        """Admins only; newest first."""
        if not isinstance(limit, int) or limit < 1:
            raise InvalidValue(f"limit must be a whole number of at least 1, got {limit!r}.")
        with self._db.transaction() as tx:
            self._require_admin(tx, actor, "read the audit trail")
            rows = tx.all("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [self._entry(r) for r in rows]

    # ---------------------------------------------------------------- internals

    def _authorize(self, tx: Tx, actor: Actor, *, owning: bool = False) -> bool:
        """Whether the actor acts as admin now; refuses unknown and disabled users, and the
        system actor where the actor would become an owner (``owning``)."""
        if actor == SYSTEM_ACTOR:
            if owning:
                raise PermissionDenied("The system cannot own workbooks or runs.")
            return True
        row = tx.one("SELECT roles, disabled FROM users WHERE id = ?", (actor.user_id,))
        if row is None or row["disabled"]:
            raise PermissionDenied(f"User {actor.user_id} does not exist or is disabled.")
        return bool(actor.is_admin and "admin" in _split_roles(row["roles"]))

    def _require_admin(self, tx: Tx, actor: Actor, what: str) -> None:
        if not self._authorize(tx, actor):
            raise PermissionDenied(f"Only an admin can {what}.")

    def _owned(self, tx: Tx, actor: Actor, table: str, row_id: int) -> Row:
        """The row of ``table`` (workbooks or runs) if the actor may see it."""
        admin = self._authorize(tx, actor)
        noun = table[:-1]
        row = tx.one(f"SELECT * FROM {table} WHERE id = ?", (row_id,))
        if row is None:
            raise NotFound(f"There is no {noun} {row_id}.")
        if not admin and row["owner_id"] != actor.user_id:
            raise PermissionDenied(f"The {noun} {row_id} belongs to another user.")
        return row

    def _runs_of(self, tx: Tx, workbook_id: int) -> list[int]:
        rows = tx.all("SELECT id FROM runs WHERE workbook_id = ? ORDER BY id", (workbook_id,))
        return [int(r["id"]) for r in rows]

    def has_admin(self) -> bool:
        """Whether an enabled admin exists (the app creates the first one when not)."""
        with self._db.transaction() as tx:
            return self._enabled_admin(tx)

    def _enabled_admin(self, tx: Tx) -> bool:
        rows = tx.all("SELECT roles FROM users WHERE disabled = ?", (False,))
        return any("admin" in _split_roles(r["roles"]) for r in rows)

    def _keep_an_admin(self, tx: Tx) -> None:
        if not self._enabled_admin(tx):
            raise Conflict("This would leave no enabled admin.")

    def _audit(self, tx: Tx, actor_id: int | None, action: str, target: str,
               detail: dict[str, Any] | None = None) -> AuditEntry:
        row = tx.one("INSERT INTO audit (at, actor_id, action, target, detail)"
                     " VALUES (?, ?, ?, ?, ?) RETURNING *",
                     (self._db.time_param(_now()), actor_id, action, target,
                      self._db.json_param(detail or {})))
        return self._entry(_row(row))

    def _hash(self, password: str) -> str:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidValue(f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.")
        if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
            raise InvalidValue(f"Passwords are limited to {MAX_PASSWORD_BYTES} bytes.")
        return bcrypt.hashpw(password.encode("utf-8"),
                             bcrypt.gensalt(self._rounds)).decode("ascii")

    @staticmethod
    def _check(password: str, password_hash: str | bytes) -> bool:
        data = password.encode("utf-8")
        if len(data) > MAX_PASSWORD_BYTES:
            return False  # could never have been set
        stored = password_hash.encode("ascii") if isinstance(password_hash, str) else password_hash
        return bcrypt.checkpw(data, stored)

    def _dummy(self) -> bytes:
        if self._dummy_hash is None:
            self._dummy_hash = bcrypt.hashpw(b"no such user", bcrypt.gensalt(self._rounds))
        return self._dummy_hash

    def _time_or_none(self, value: datetime | None, name: str) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise InvalidValue(f"{name} must be a timezone-aware datetime.")
        return self._db.time_param(value)

    def _opt_time(self, value: Any) -> datetime | None:
        return None if value is None else self._db.time_value(value)

    def _user(self, r: Row) -> User:
        return User(id=int(r["id"]), username=r["username"], display_name=r["display_name"],
                    email=r["email"], password_hash=r["password_hash"],
                    roles=_split_roles(r["roles"]), created=self._db.time_value(r["created"]),
                    last_login=self._opt_time(r["last_login"]),
                    failed_attempts=int(r["failed_attempts"]), disabled=bool(r["disabled"]))

    def _workbook(self, r: Row) -> WorkbookRecord:
        return WorkbookRecord(id=int(r["id"]), owner_id=int(r["owner_id"]),
                              filename=r["filename"], content_hash=r["content_hash"],
                              size_bytes=int(r["size_bytes"]),
                              uploaded=self._db.time_value(r["uploaded"]),
                              stored_path=r["stored_path"],
                              retain_until=self._opt_time(r["retain_until"]))

    def _run(self, r: Row) -> RunRecord:
        summary = r["summary"]
        return RunRecord(id=int(r["id"]), owner_id=int(r["owner_id"]),
                         workbook_id=int(r["workbook_id"]), engine_version=r["engine_version"],
                         spec=self._db.json_value(r["spec"]), seed=int(r["seed"]),
                         iterations=int(r["iterations"]), sampling=r["sampling"],
                         device=r["device"], status=r["status"], progress=float(r["progress"]),
                         created=self._db.time_value(r["created"]),
                         started=self._opt_time(r["started"]),
                         finished=self._opt_time(r["finished"]), error=r["error"],
                         summary=None if summary is None else self._db.json_value(summary),
                         samples_path=r["samples_path"])

    def _entry(self, r: Row) -> AuditEntry:
        return AuditEntry(id=int(r["id"]), at=self._db.time_value(r["at"]),
                          actor_id=None if r["actor_id"] is None else int(r["actor_id"]),
                          action=r["action"], target=r["target"],
                          detail=self._db.json_value(r["detail"]))


def _row(row: Row | None, what: str = "row") -> Row:
    """The row an UPDATE/INSERT ... RETURNING gave back; None means the id does not exist."""
    if row is None:
        raise NotFound(f"There is no {what}.")
    return row


def _who(actor: Actor) -> int | None:
    """The audit trail's actor id: None for the system (it is no row of users)."""
    return None if actor == SYSTEM_ACTOR else actor.user_id


def _username(username: str) -> str:
    name = username.strip()
    if not name or len(name) > 150 or any(not c.isprintable() for c in name):
        raise InvalidValue("A username needs 1 to 150 printable characters.")
    return name


def _roles_text(roles: Iterable[str]) -> str:
    """Roles as stored: the known roles, in ROLES order, comma-separated."""
    chosen = set(roles) if not isinstance(roles, str) else {roles}
    unknown = chosen - set(ROLES)
    if unknown or not chosen:
        raise InvalidValue(f"Roles must be among {', '.join(ROLES)}, got {sorted(chosen)}.")
    return ",".join(r for r in ROLES if r in chosen)


def _split_roles(text: str) -> tuple[str, ...]:
    return tuple(r for r in text.split(",") if r)


def _progress(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 <= value <= 1:
        raise InvalidValue(f"Progress must be a number from 0 to 1, got {value!r}.")
    return float(value)
