"""Fixtures for the persistence tests: a fresh metadata store on both backends, and users.

For use in any test under tests/db/:

- ``store``: a migrated, empty ``db.store.Store``, parametrized over ``"sqlite"`` and
  ``"postgres"`` (test ids ``[sqlite]`` / ``[postgres]``); closed after the test.
- ``store_settings``: the ``db.config.Settings`` that ``store`` was opened with (same backend
  parameter). ``data_dir`` is ``tmp_path / "data"``; ``database_url`` is None (SQLite, file
  ``data_dir/metadata.sqlite3``) or a postgresql:// URL whose ``options`` put the connection in the
  test's own schema. To reach the same store from a subprocess (``python -m db.worker``), pass
  ``DATABASE_URL=settings.database_url`` (omit it for SQLite) and ``DATA_DIR=settings.data_dir``.
  Use ``dataclasses.replace(store_settings, ...)`` for other limits.
- ``make_actor(username, *, admin=False, password=PASSWORD) -> Actor``: creates a user in
  ``store`` (roles ``("admin",)`` or ``("analyst",)``) and returns its ``Actor``; look the
  ``User`` up with ``store.get_user(username)``.
- ``actor`` (analyst "alice"), ``other_actor`` (analyst "bob"), ``admin_actor`` (admin "root").
- ``PASSWORD``: the password of the users above (the store requires at least 8 characters).

PostgreSQL: ``postgres_url`` and ``postgres_schema`` from tests/conftest.py (each test gets a
schema ``t_<random>`` that is dropped afterwards; skipped without a server, except with CI=true,
where it fails). Hashes use 4 bcrypt rounds to keep tests fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from db.config import Settings
from db.entities import Actor
from db.store import Store, open_store

PASSWORD = "correct horse"
TEST_BCRYPT_ROUNDS = 4

MakeActor = Callable[..., Actor]


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
