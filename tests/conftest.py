"""Shared fixtures: real .xlsx files built with openpyxl, optionally patched at the XML level."""

from __future__ import annotations

import io
import logging
import os
import sys
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest


def split_cell_key(key: str) -> tuple[str, str]:
    """``"Sheet2!B3"`` -> ("Sheet2", "B3"); a bare address is on Sheet1."""
    sheet, _, addr = key.rpartition("!")
    return sheet or "Sheet1", addr


def rezip(data: bytes, changes: dict[str, Callable[[bytes], bytes] | bytes]) -> bytes:
    """The package with parts rewritten (a function of the old bytes), replaced or added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            change = changes.get(name)
            old = src.read(name)
            dst.writestr(name, change(old) if callable(change) else (change or old))
        for name, change in changes.items():
            if name not in src.namelist():
                dst.writestr(name, change)
    return out.getvalue()


MakeXlsx = Callable[..., Path]


@pytest.fixture
def make_xlsx(tmp_path: Path) -> MakeXlsx:
    """Factory: ``make_xlsx({"A1": 1, "Data!B2": "=A1"}, setup=fn, patch={part: fn}, name=...)``.

    ``setup(workbook)`` runs before saving (tables, names, array formulas); ``patch`` rewrites
    parts of the saved package (shared formulas, macros) the way Excel would have written them.
    Sheets are created in the order their cells first appear, after Sheet1.
    """

    def make(cells: dict[str, Any] | None = None, *, name: str = "book.xlsx",
             setup: Callable[[openpyxl.Workbook], None] | None = None,
             patch: dict[str, Callable[[bytes], bytes] | bytes] | None = None) -> Path:
        wb = openpyxl.Workbook()
        wb.active.title = "Sheet1"
        for key, value in (cells or {}).items():
            sheet, addr = split_cell_key(key)
            if sheet not in wb.sheetnames:
                wb.create_sheet(sheet)
            wb[sheet][addr] = value
        if setup is not None:
            setup(wb)
        buf = io.BytesIO()
        wb.save(buf)
        data = buf.getvalue()
        if patch:
            data = rezip(data, patch)
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return make


# ------------------------------------------------------------------ PostgreSQL and Redis

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


POSTGRES_URL = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


def schema_url(base: str, schema: str) -> str:
    """``base`` with libpq ``options`` that make ``schema`` the connection's search path."""
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-c search_path={schema}')}"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The server's URL once it has answered; skips (fails in CI) when it does not."""
    import psycopg

    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        message = f"PostgreSQL at {POSTGRES_URL.split('@')[-1]} does not answer: {exc}"
        if in_ci():
            pytest.fail(f"{message} (CI=true requires it)")
        pytest.skip(message)
    return POSTGRES_URL


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A URL that works inside a new, empty schema, dropped (with everything in it) afterwards."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema_url(postgres_url, schema)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server's URL once it has answered; skips (fails in CI) when it does not."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if in_ci():
            pytest.fail(f"Redis at {REDIS_URL} is required in CI: {exc}")
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL


_LOGGING = (list(logging.getLogger().handlers), logging.getLogger().level)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Every test starts and ends with the session's original root logging: a JSON handler on
    stdout that ``services.logs.configure_logging`` installed (in a test or a module-scoped
    fixture) never writes into another test's captured output."""
    root = logging.getLogger()
    root.handlers[:] = list(_LOGGING[0])
    root.setLevel(_LOGGING[1])
    yield
    root.handlers[:] = list(_LOGGING[0])
    root.setLevel(_LOGGING[1])


_MAIN = sys.modules["__main__"]


@pytest.fixture(autouse=True)
def main_module_is_pytest() -> Iterator[None]:
    """AppTest runs page scripts as ``__main__`` and leaves one there; a Dask worker process
    started afterwards (spawned: it re-imports ``__main__``) would then run a Streamlit page and
    die. Every test starts, and ends, with pytest as ``__main__``."""
    sys.modules["__main__"] = _MAIN
    yield
    sys.modules["__main__"] = _MAIN


# ------------------------------------------------------------------ the run cluster

_cluster: list[Any] = []  # (client, cluster) of the session, started on first use


def shared_client() -> Any:
    """The session's real two-process Dask LocalCluster (processes start once), for fixtures
    of any scope; closed at the end of the session by ``dask_cluster``."""
    if not _cluster:
        from db.config import Settings
        from services.worker import start_cluster

        _cluster.extend(start_cluster(Settings(dask_workers=2)))
    return _cluster[0]


@pytest.fixture(scope="session", autouse=True)
def dask_cluster() -> Iterator[None]:
    yield
    if _cluster:
        client, cluster = _cluster
        client.close()
        cluster.close()


class WorkerThread:
    """A worker service (services.worker.WorkerService) serving a store in a thread."""

    def __init__(self, settings: Any, client: Any) -> None:
        import threading

        from db.store import open_store
        from services.worker import WorkerService

        self.store = open_store(settings)
        self.service = WorkerService(settings, self.store, client)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.service.serve, args=(self._stop,),
                                        daemon=True, name="xlsim-test-worker")
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.store.close()


@pytest.fixture
def start_worker() -> Iterator[Callable[[Any], WorkerThread]]:
    """``start_worker(settings)``: a worker service on the session's cluster, stopped after the
    test. Settings name the store (DATABASE_URL/DATA_DIR) the service takes runs from."""
    started: list[WorkerThread] = []

    def start(settings: Any) -> WorkerThread:
        worker = WorkerThread(settings, shared_client())
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.close()
