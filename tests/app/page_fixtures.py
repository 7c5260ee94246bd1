"""Shared set-up of page tests: a data directory of their own, a logged-in analyst, and the
context the pages use (ui.session.context(), the same object the AppTest script gets)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from db.entities import Actor

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def page_ctx(tmp_path, monkeypatch):
    """The pages' AppContext over a fresh data directory, with an analyst ``ann``."""
    from ui.session import context

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ADMIN_USERNAME", "root")
    monkeypatch.setenv("ADMIN_PASSWORD", "correct horse battery")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    ctx = context()
    ctx.store.create_user("ann", "a long password", roles=("analyst",))
    return ctx


def open_page(ctx, page: str, username: str = "ann", **state) -> AppTest:
    """The page file run once as ``username``, with extra session state."""
    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=60)
    at.session_state["actor"] = Actor.for_user(ctx.store.get_user(username))
    for name, value in state.items():
        at.session_state[name] = value
    return at.run()
