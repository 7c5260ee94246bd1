"""The embedded backend: one SQLite file under the data directory, so ``make run`` needs no server.

One connection guarded by a lock serves every thread of the process (metadata traffic is small;
the heavy data lives in Parquet). WAL mode lets other processes (the worker process of the crash
test, an admin's sqlite3 shell) read while we write; ``BEGIN IMMEDIATE`` takes the write lock at
the start of each transaction, so two processes never deadlock upgrading a read to a write.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from db.backend import Params, Row, json_text

BUSY_TIMEOUT_S = 30  # how long a write waits for another process's transaction


class SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def one(self, sql: str, params: Params = ()) -> Row | None:
        return self._conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        return self._conn.execute(sql, params).fetchall()

    def run(self, sql: str, params: Params = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    def script(self, sql: str) -> None:
        # executescript() would commit our transaction first: run the statements one by one.
        statement = ""
        for line in sql.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                self._conn.execute(statement)
                statement = ""
        if statement.strip():
            raise sqlite3.OperationalError(f"incomplete statement at the end: {statement.strip()}")


class SqliteDatabase:
    dialect = "sqlite"
    error = sqlite3.Error
    integrity_error = sqlite3.IntegrityError

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                     check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._wal()
        self._conn.execute("PRAGMA foreign_keys=ON")

    def _wal(self) -> None:
        """Switch to write-ahead logging. Processes opening a new file together can find it
        locked here, where SQLite's busy timeout does not apply: retry until the timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @contextmanager
    def transaction(self) -> Iterator[SqliteTx]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteTx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def lock_migrations(self, tx: SqliteTx) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already holds the database's only write lock."""

    def time_param(self, value: datetime) -> str:
        # Fixed width (always microseconds, always +00:00): text order is time order.
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def time_value(self, value: Any) -> datetime:
        return datetime.fromisoformat(value).astimezone(UTC)

    def json_param(self, value: Any) -> str:
        return json_text(value)

    def json_value(self, value: Any) -> Any:
        return json.loads(value)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
