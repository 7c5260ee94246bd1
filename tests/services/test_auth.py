"""Login through the store: credentials for the authenticator, failures counted, lock-out."""

from __future__ import annotations

import pytest

from db.config import Settings
from db.entities import MAX_FAILED_ATTEMPTS, SYSTEM_ACTOR, Actor
from db.store import open_store
from services.auth import authenticator_credentials, current_user, log_in

PASSWORD = "a long password"


@pytest.fixture
def store(tmp_path):
    s = open_store(Settings(data_dir=tmp_path), bcrypt_rounds=4)
    yield s
    s.close()


def test_credentials_hold_only_users_who_may_log_in(store):
    ann = store.create_user("Ann", PASSWORD, display_name="Ann A.")
    gone = store.create_user("gone", PASSWORD)
    store.create_user("locked", PASSWORD)
    store.create_user("root", PASSWORD, roles=("admin",))
    store.set_disabled(SYSTEM_ACTOR, gone.id, True)
    for _ in range(MAX_FAILED_ATTEMPTS):
        store.verify_password("locked", "wrong password")
    users = authenticator_credentials(store)["usernames"]
    assert sorted(users) == ["ann", "root"]
    assert users["ann"] == {"name": "Ann A.", "email": "", "password": ann.password_hash,
                            "roles": ["analyst"]}


def test_log_in_counts_failures_and_names_a_lock_out(store):
    store.create_user("ann", PASSWORD)
    assert log_in(store, "ann", "wrong password").message == "Wrong username or password."
    assert log_in(store, "nobody", PASSWORD).message == "Wrong username or password."
    assert log_in(store, " ", "").message == "Enter your username and password."
    assert store.get_user("ann").failed_attempts == 1
    assert log_in(store, "ANN", PASSWORD).user.username == "ann"
    assert store.get_user("ann").failed_attempts == 0
    for _ in range(MAX_FAILED_ATTEMPTS):
        log_in(store, "ann", "wrong password")
    refused = log_in(store, "ann", PASSWORD)
    assert refused.user is None and "locked" in refused.message


def test_current_user_ends_with_the_account(store):
    store.create_user("root", PASSWORD, roles=("admin",))
    ann = store.create_user("ann", PASSWORD)
    assert current_user(store, Actor.for_user(ann)) == ann
    store.set_disabled(SYSTEM_ACTOR, ann.id, True)
    assert current_user(store, Actor.for_user(ann)) is None
    assert current_user(store, Actor(ann.id + 99)) is None
