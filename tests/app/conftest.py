"""Fixtures for AppTest: an app context on a fresh data directory, users, and logging in.

Log a test in with ``login(at, user)`` (or ``at.session_state["actor"] = Actor.for_user(user)``)
before ``at.run()``; ``ui.session.require_user`` accepts that session as a logged-in one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from db.entities import Actor, User
from services.context import AppContext
from ui.session import context

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "boss"
PASSWORD = "correct horse battery"

MakeUser = Callable[..., User]


@pytest.fixture
def ctx(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, start_worker,
        request: pytest.FixtureRequest) -> Iterator[AppContext]:
    """The context the app scripts get (``ui.session.context()``), on an embedded store in a
    fresh data directory, with the first admin ``boss`` / PASSWORD, and a worker service
    executing its runs (not for tests marked ``no_worker``, which play the worker themselves).
    Closed afterwards."""
    for name in ("DATABASE_URL", "REDIS_URL", "COOKIE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ADMIN_USERNAME", ADMIN)
    monkeypatch.setenv("ADMIN_PASSWORD", PASSWORD)
    opened = context()
    if request.node.get_closest_marker("no_worker") is None:
        start_worker(opened.settings)
    yield opened
    st.cache_resource.clear()  # closes the context (its cleanup thread)


@pytest.fixture
def make_user(ctx: AppContext) -> MakeUser:
    """Factory: ``make_user("ann", roles=("analyst",))``, password PASSWORD."""

    def make(username: str, roles: tuple[str, ...] = ("analyst",)) -> User:
        return ctx.store.create_user(username, PASSWORD, display_name=username.title(),
                                     roles=roles)

    return make


@pytest.fixture
def admin(ctx: AppContext) -> User:
    user = ctx.store.get_user(ADMIN)
    assert user is not None
    return user


def login(at: AppTest, user: User) -> AppTest:
    """Marks the AppTest session as logged in as ``user`` (before ``at.run()``)."""
    at.session_state["actor"] = Actor.for_user(user)
    return at


def app_test(relative_path: str) -> AppTest:
    """AppTest for a script of the repository (``"app.py"``, ``"pages/home.py"``)."""
    return AppTest.from_file(str(ROOT / relative_path), default_timeout=60)
