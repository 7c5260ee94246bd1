"""The PostgreSQL backend: psycopg 3 with a connection pool, selected by DATABASE_URL.

Only this module imports psycopg, so the embedded store (and ``import db``) works without it.
The store's SQL uses ``?`` placeholders; they become psycopg's ``%s`` here.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.json import Json
from psycopg_pool import ConnectionPool

from db.backend import Params, Row, json_text
from db.errors import StoreError

CONNECT_TIMEOUT_S = 10


@functools.lru_cache(maxsize=256)
def _placeholders(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresTx:
    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cur = cursor

    def one(self, sql: str, params: Params = ()) -> Row | None:
        return self._cur.execute(_placeholders(sql), params).fetchone()

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        return self._cur.execute(_placeholders(sql), params).fetchall()

    def run(self, sql: str, params: Params = ()) -> int:
        return self._cur.execute(_placeholders(sql), params).rowcount

    def script(self, sql: str) -> None:
        self._cur.execute(sql)  # no parameters: sent as one simple query, statements and all


def describe(url: str) -> str:
    """Where the database is, for messages: host, port and name, never the password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the configured server"
    host = parts.get("host") or "localhost"
    return f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"


def connection_problem(url: str) -> str | None:
    """Why a query cannot reach the server at ``url`` (one sentence, no password), or None."""
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"Cannot connect to PostgreSQL at {describe(url)}: {reason}"
    return None


class PostgresDatabase:
    dialect = "postgres"
    error = psycopg.Error
    integrity_error = psycopg.errors.IntegrityError

    def __init__(self, url: str, *, max_connections: int = 8) -> None:
        # One plain connection first: when the server is unreachable the pool would only time
        # out, while this reports why (refused, unknown host, authentication failed).
        problem = connection_problem(url)
        if problem:
            raise StoreError(problem)
        self._pool = ConnectionPool(
            url, min_size=1, max_size=max_connections, open=False, name="xlsim-metadata",
            kwargs={"row_factory": dict_row, "connect_timeout": CONNECT_TIMEOUT_S},
            check=ConnectionPool.check_connection,  # a restarted server costs one retry, no error
        )
        self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)

    @contextmanager
    def transaction(self) -> Iterator[PostgresTx]:
        # The pool's context commits on a normal exit and rolls back on an exception.
        with self._pool.connection() as conn, conn.cursor() as cur:
            yield PostgresTx(cur)

    def lock_migrations(self, tx: PostgresTx) -> None:
        """A transaction-scoped advisory lock per schema: app and workers starting together
        migrate once, the others wait and then find nothing left to do."""
        tx.one("SELECT pg_advisory_xact_lock(hashtext('xlsim.migrate.' || current_schema()))")

    def time_param(self, value: datetime) -> datetime:
        return value

    def time_value(self, value: Any) -> datetime:
        return value.astimezone(UTC)

    def json_param(self, value: Any) -> Json:
        return Json(value, dumps=json_text)

    def json_value(self, value: Any) -> Any:
        return value  # psycopg has already parsed the json column

    def close(self) -> None:
        self._pool.close()
