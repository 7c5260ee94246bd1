"""The administration services: sizes, user changes applied one by one, memory figures."""

from __future__ import annotations

import pytest

from db.config import Settings
from db.entities import Actor
from db.errors import PermissionDenied
from db.store import open_store
from services import admin


class _Ctx:
    """Just the store: what the user functions of services.admin touch."""

    def __init__(self, store):
        self.store = store


@pytest.fixture
def ctx(tmp_path):
    store = open_store(Settings(data_dir=tmp_path), bcrypt_rounds=4)
    yield _Ctx(store)
    store.close()


def test_sizes_read_in_binary_units_with_separators():
    assert admin.size(0) == "0 bytes"
    assert admin.size(1023) == "1,023 bytes"
    assert admin.size(1536) == "1.50 KB"
    assert admin.size(5 * 1024**4 * 2000) == "10,000.00 TB"
    assert admin.size(None) == "–"


def test_update_user_applies_only_what_changed(ctx):
    root = Actor.for_user(ctx.store.create_user("root", "a long password", roles=("admin",)))
    ann = ctx.store.create_user("ann", "a long password")
    assert admin.update_user(ctx, root, ann, ["analyst"], False) == []
    assert admin.update_user(ctx, root, ann, ["admin", "analyst"], True) == [
        "roles set to admin, analyst", "disabled"]
    assert ctx.store.get_user("ann").disabled and ctx.store.get_user("ann").is_admin
    bob = ctx.store.create_user("bob", "a long password")
    with pytest.raises(PermissionDenied):
        admin.update_user(ctx, Actor(bob.id), bob, ["admin"], False)


def test_reset_password_returns_a_random_one_when_none_is_typed(ctx):
    root = Actor.for_user(ctx.store.create_user("root", "a long password", roles=("admin",)))
    ann = ctx.store.create_user("ann", "a long password")
    chosen = admin.reset_password(ctx, root, ann.id)
    assert len(chosen) >= 12 and ctx.store.verify_password("ann", chosen)
    assert admin.reset_password(ctx, root, ann.id, "typed password") == "typed password"


def test_process_memory_is_measured():
    memory = admin.process_memory()
    assert memory["peak"] > 10 * 1024**2
    assert memory["current"] is None or 0 < memory["current"] <= memory["peak"] * 2
