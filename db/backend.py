"""What the shared store code needs from a database: the seam between SQLite and PostgreSQL.

The store's SQL is written once, with ``?`` placeholders, in the subset both dialects agree on
(``RETURNING``, ``lower()``, ``COALESCE``); a backend only supplies transactions and the
conversion of the few types they store differently (times, JSON, booleans).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

Row = Mapping[str, Any]
Params = Sequence[Any]


class Tx(Protocol):
    """One transaction's statements; rows are read by column name."""

    def one(self, sql: str, params: Params = ()) -> Row | None: ...

    def all(self, sql: str, params: Params = ()) -> list[Row]: ...

    def run(self, sql: str, params: Params = ()) -> int:
        """Executes a statement without result rows; returns the number of rows changed."""
        ...

    def script(self, sql: str) -> None:
        """Executes several statements without parameters (a migration file)."""
        ...


class Database(Protocol):
    dialect: str  # "sqlite" or "postgres": names the migrations folder
    error: type[Exception]  # the driver's base exception class
    integrity_error: type[Exception]  # raised on a unique or foreign-key violation

    def transaction(self) -> AbstractContextManager[Tx]:
        """Commits when the block ends normally, rolls back on any exception."""
        ...

    def lock_migrations(self, tx: Tx) -> None:
        """Keeps a second process from migrating at the same time (until the transaction ends)."""
        ...

    def time_param(self, value: datetime) -> Any: ...

    def time_value(self, value: Any) -> datetime: ...

    def json_param(self, value: Any) -> Any: ...

    def json_value(self, value: Any) -> Any: ...

    def close(self) -> None: ...


def json_text(value: Any) -> str:
    """Strict JSON for both backends, so a value reads back the same from either.

    PostgreSQL's json type refuses NaN and infinities; the engine already writes None for undefined
    statistics, so any remaining non-finite float becomes null too. NumPy scalars and arrays
    (the engine's results hold them) become plain numbers and lists.
    """
    return json.dumps(_finite(value), default=_plain, allow_nan=False, separators=(",", ":"))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays, without importing numpy
    if tolist is None:
        raise TypeError(f"{type(value).__name__} cannot be stored as JSON")
    return _finite(tolist())

