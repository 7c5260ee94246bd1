"""The app's process-wide context: first admin, cookie key, everything opened together."""

from __future__ import annotations

import logging

import pytest

from db.config import Settings
from db.store import open_store
from services.context import bootstrap_admin, cookie_key, open_context


@pytest.fixture
def store(tmp_path):
    s = open_store(Settings(data_dir=tmp_path), bcrypt_rounds=4)
    yield s
    s.close()


def test_first_start_creates_an_admin_with_a_random_password_logged_once(store, caplog):
    with caplog.at_level(logging.WARNING, logger="xlsim.app"):
        assert bootstrap_admin(store, {}) == "admin"
    password = caplog.records[-1].args[0]
    assert len(password) >= 12
    assert store.verify_password("admin", password) is not None
    assert "admin" in store.get_user("admin").roles
    caplog.clear()
    assert bootstrap_admin(store, {}) is None  # second start: nothing new, nothing logged
    assert not caplog.records


def test_admin_from_the_environment(store):
    env = {"ADMIN_USERNAME": "root", "ADMIN_PASSWORD": "correct horse battery"}
    assert bootstrap_admin(store, env) == "root"
    assert store.verify_password("root", "correct horse battery") is not None
    assert store.get_user("admin") is None
    with pytest.raises(ValueError, match="ADMIN_PASSWORD"):
        bootstrap_admin(store, {"ADMIN_USERNAME": "other"})


def test_cookie_key_comes_from_the_environment_or_is_generated_once(tmp_path):
    settings = Settings(data_dir=tmp_path)
    generated = cookie_key(settings, {})
    assert len(bytes.fromhex(generated)) >= 32
    assert cookie_key(settings, {}) == generated  # kept across restarts
    assert cookie_key(settings, {"COOKIE_KEY": "k" * 40}) == "k" * 40
    with pytest.raises(ValueError, match="at least 32 bytes"):
        cookie_key(settings, {"COOKIE_KEY": "short"})


def test_open_context_opens_everything_on_the_embedded_store(tmp_path):
    ctx = open_context({"DATA_DIR": str(tmp_path)})
    try:
        assert ctx.store.has_admin()
        assert ctx.uploads_dir.is_dir()
        assert (tmp_path / "metadata.sqlite3").exists()
    finally:
        ctx.close()
