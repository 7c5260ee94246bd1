"""Fixtures for the persistence tests: a fresh metadata store on both backends, and users.

For use in any test under tests/db/:

- ``store``: a migrated, empty ``db.store.Store``, parametrized over ``"sqlite"`` and
  ``"postgres"`` (test ids ``[sqlite]`` / ``[postgres]``); closed after the test.
- ``store_settings``: the ``db.config.Settings`` that ``store`` was opened with (same backend
  parameter). ``data_dir`` is ``tmp_path / "data"``; ``database_url`` is None (SQLite, file
  ``data_dir/metadata.sqlite3``) or a postgresql:// URL whose ``options`` put the connection in the
  test's own schema. To reach the same store from a subprocess (``python -m db.worker``), pass
  ``DATABASE_URL=settings.database_url`` (omit it for SQLite) and ``DATA_DIR=settings.data_dir``.
  Use ``dataclasses.replace(store_settings, workers=...)`` for other limits.
- ``make_actor(username, *, admin=False, password=PASSWORD) -> Actor``: creates a user in
  ``store`` (roles ``("admin",)`` or ``("analyst",)``) and returns its ``Actor``; look the
  ``User`` up with ``store.get_user(username)``.
- ``actor`` (analyst "alice"), ``other_actor`` (analyst "bob"), ``admin_actor`` (admin "root").
- ``PASSWORD``: the password of the users above (the store requires at least 8 characters).

PostgreSQL: DATABASE_URL, or postgresql://postgres@127.0.0.1:5432/test. Each test gets a schema
``t_<random>`` that is dropped afterwards. When the server does not answer, the postgres variant
is skipped, except with CI=true, where it fails. Hashes use 4 bcrypt rounds to keep tests fast.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from db.config import Settings
from db.entities import Actor
from db.store import Store, open_store

PASSWORD = "correct horse"
POSTGRES_URL = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
TEST_BCRYPT_ROUNDS = 4

MakeActor = Callable[..., Actor]


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


@pytest.fixture(params=["sqlite", "postgres"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = request.getfixturevalue("postgres_schema") if request.param == "postgres" else None
    return Settings(database_url=url, data_dir=tmp_path / "data")


@pytest.fixture
def store(store_settings: Settings) -> Iterator[Store]:
    with open_store(store_settings, bcrypt_rounds=TEST_BCRYPT_ROUNDS) as opened:
        yield opened


@pytest.fixture
def make_actor(store: Store) -> MakeActor:
    def make(username: str, *, admin: bool = False, password: str = PASSWORD) -> Actor:
        user = store.create_user(username, password, display_name=username.title(),
                                 email=f"{username}@example.com",
                                 roles=("admin",) if admin else ("analyst",))
        return Actor.for_user(user)
    return make


@pytest.fixture
def actor(make_actor: MakeActor) -> Actor:
    return make_actor("alice")


@pytest.fixture
def other_actor(make_actor: MakeActor) -> Actor:
    return make_actor("bob")


@pytest.fixture
def admin_actor(make_actor: MakeActor) -> Actor:
    return make_actor("root", admin=True)
