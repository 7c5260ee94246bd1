"""The metadata store on both backends: users and logins, workbooks, runs, ownership, audit.

Every test runs on SQLite and on PostgreSQL (fixtures in conftest.py); the ownership tests prove
that user A cannot read, list, query or delete user B's workbooks or runs, and that admins can.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from db.config import Settings
from db.entities import MAX_FAILED_ATTEMPTS, SYSTEM_ACTOR, Actor, RunRecord, WorkbookRecord
from db.errors import Conflict, InvalidValue, NotFound, PermissionDenied, StoreError
from db.store import Store, open_store
from tests.db.conftest import PASSWORD, TEST_BCRYPT_ROUNDS, MakeActor

SPEC = {"inputs": {"Sheet1!B2": "normal(100,10)", "Sheet1!B3": "uniform(0,1)"},
        "outputs": ["Sheet1!B9", "Sheet1!A9"],
        "settings": {"iterations": 1000, "seed": 7, "sampling": "lhs",
                     "correlations": [["Sheet1!B2", "Sheet1!B3", 0.8]]}}


def add_workbook(store: Store, actor: Actor, name: str = "model.xlsx") -> WorkbookRecord:
    return store.add_workbook(actor, name, "ab" * 32, 1234, f"/data/uploads/{name}")


def add_run(store: Store, actor: Actor, workbook_id: int) -> RunRecord:
    return store.create_run(actor, workbook_id, SPEC, seed=7, iterations=1000, sampling="lhs",
                            device="cpu", engine_version="0.1.0")


def is_utc(value: datetime | None) -> bool:
    return value is not None and value.utcoffset() == timedelta(0)


# ------------------------------------------------------------------------------------ users


def test_create_and_get_user(store: Store) -> None:
    user = store.create_user("Alice", PASSWORD, display_name="Alice A.", email="a@example.com")
    assert user.id > 0 and user.username == "Alice" and user.roles == ("analyst",)
    assert user.display_name == "Alice A." and user.email == "a@example.com"
    assert user.password_hash.startswith("$2") and PASSWORD not in user.password_hash
    assert is_utc(user.created) and user.last_login is None
    assert user.failed_attempts == 0 and not user.disabled and not user.is_admin
    assert store.get_user("alice") == user == store.get_user(" ALICE ")
    assert store.get_user("nobody") is None
    assert store.get_user_by_id(user.id) == user
    assert store.get_user_by_id(user.id + 1000) is None


def test_usernames_are_unique_ignoring_case(store: Store) -> None:
    store.create_user("alice", PASSWORD)
    with pytest.raises(Conflict, match="taken"):
        store.create_user("ALICE", PASSWORD)


@pytest.mark.parametrize(("username", "password", "roles", "match"), [
    ("   ", PASSWORD, ("analyst",), "username"),
    ("x" * 151, PASSWORD, ("analyst",), "username"),
    ("alice", "short", ("analyst",), "at least 8"),
    ("alice", "é" * 37, ("analyst",), "72 bytes"),
    ("alice", PASSWORD, ("superuser",), "Roles"),
    ("alice", PASSWORD, (), "Roles"),
])
def test_invalid_users_are_refused(store: Store, username: str, password: str,
                                   roles: tuple[str, ...], match: str) -> None:
    with pytest.raises(InvalidValue, match=match):
        store.create_user(username, password, roles=roles)
    assert store.get_user("alice") is None


def test_roles_are_stored_in_canonical_order(store: Store) -> None:
    user = store.create_user("both", PASSWORD, roles=["analyst", "admin", "admin"])
    assert user.roles == ("admin", "analyst") and user.is_admin


def test_verify_password_success_sets_last_login_and_resets_failures(store: Store) -> None:
    store.create_user("alice", PASSWORD)
    assert store.verify_password("alice", "wrong password") is None
    assert store.get_user("alice").failed_attempts == 1
    user = store.verify_password("ALICE", PASSWORD)
    assert user is not None and user.username == "alice"
    assert user.failed_attempts == 0 and is_utc(user.last_login)
    assert store.get_user("alice") == user


def test_five_failures_lock_the_account_until_an_admin_acts(store: Store,
                                                            admin_actor: Actor) -> None:
    alice = store.create_user("alice", PASSWORD)
    for _ in range(MAX_FAILED_ATTEMPTS):
        assert store.verify_password("alice", "wrong password") is None
    assert store.get_user("alice").locked
    assert store.verify_password("alice", PASSWORD) is None  # right password, still refused
    assert store.get_user("alice").failed_attempts == MAX_FAILED_ATTEMPTS  # not counted further
    store.set_password(admin_actor, alice.id, "a new password")
    assert store.verify_password("alice", "a new password") is not None
    for _ in range(MAX_FAILED_ATTEMPTS):
        store.verify_password("alice", "wrong password")
    store.set_disabled(admin_actor, alice.id, False)  # re-enabling also unlocks
    assert store.verify_password("alice", "a new password") is not None


def test_parallel_guesses_cannot_exceed_the_limit(store: Store) -> None:
    store.create_user("alice", PASSWORD)
    threads = [threading.Thread(target=store.verify_password, args=("alice", f"guess {i}"))
               for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get_user("alice").failed_attempts == MAX_FAILED_ATTEMPTS


def test_disabled_and_unknown_users_cannot_log_in(store: Store, admin_actor: Actor) -> None:
    alice = store.create_user("alice", PASSWORD)
    store.set_disabled(admin_actor, alice.id, True)
    assert store.verify_password("alice", PASSWORD) is None
    assert store.verify_password("nobody", PASSWORD) is None
    assert store.verify_password("alice", "x" * 100) is None  # over bcrypt's limit: just wrong
    reasons = [e.detail.get("reason") for e in store.list_audit(admin_actor)
               if e.action == "login.refused"]
    assert reasons == ["disabled", "unknown user", "disabled"]  # newest first


def test_set_password_self_or_admin_only(store: Store, actor: Actor, other_actor: Actor,
                                         admin_actor: Actor) -> None:
    store.set_password(actor, actor.user_id, "alice's new one")
    assert store.verify_password("alice", "alice's new one") is not None
    with pytest.raises(PermissionDenied):
        store.set_password(other_actor, actor.user_id, "bob was here")
    store.set_password(admin_actor, actor.user_id, "admin reset it")
    assert store.verify_password("alice", "admin reset it") is not None
    with pytest.raises(NotFound):
        store.set_password(admin_actor, 99999, "whatever it is")


def test_admin_only_user_management(store: Store, actor: Actor, other_actor: Actor,
                                    admin_actor: Actor) -> None:
    for call in (lambda: store.list_users(actor),
                 lambda: store.set_roles(actor, actor.user_id, ["admin"]),
                 lambda: store.set_disabled(actor, other_actor.user_id, True),
                 lambda: store.list_audit(actor),
                 lambda: store.create_user("eve", PASSWORD, actor=actor)):
        with pytest.raises(PermissionDenied, match="Only an admin"):
            call()
    assert [u.username for u in store.list_users(admin_actor)] == ["alice", "bob", "root"]
    bob = store.set_roles(admin_actor, other_actor.user_id, ["admin", "analyst"])
    assert bob.roles == ("admin", "analyst")
    eve = store.create_user("eve", PASSWORD, actor=admin_actor)
    assert store.list_audit(admin_actor, limit=1)[0].detail["user_id"] == eve.id


def test_the_last_enabled_admin_cannot_be_removed(store: Store, admin_actor: Actor,
                                                  make_actor: MakeActor) -> None:
    with pytest.raises(Conflict, match="no enabled admin"):
        store.set_roles(admin_actor, admin_actor.user_id, ["analyst"])
    with pytest.raises(Conflict, match="no enabled admin"):
        store.set_disabled(admin_actor, admin_actor.user_id, True)
    assert store.get_user("root").is_admin and not store.get_user("root").disabled
    second = make_actor("second", admin=True)
    store.set_roles(admin_actor, admin_actor.user_id, ["analyst"])
    assert not store.get_user("root").is_admin
    with pytest.raises(PermissionDenied):  # the demoted admin's old session has no rights
        store.list_users(admin_actor)
    assert store.list_users(second)


def test_actor_is_checked_against_the_users_table(store: Store, actor: Actor,
                                                  admin_actor: Actor) -> None:
    wb = add_workbook(store, actor)
    with pytest.raises(PermissionDenied):  # claiming admin without the role gives nothing
        store.list_users(Actor(actor.user_id, is_admin=True))
    assert store.list_workbooks(Actor(actor.user_id, is_admin=True)) == [wb]
    with pytest.raises(PermissionDenied, match="does not exist"):
        store.list_workbooks(Actor(424242))
    store.set_disabled(admin_actor, actor.user_id, True)
    with pytest.raises(PermissionDenied, match="disabled"):
        store.get_workbook(actor, wb.id)
    # An admin acting with is_admin=False is an analyst.
    assert store.list_workbooks(Actor(admin_actor.user_id, is_admin=False)) == []


# ------------------------------------------------------------------------------------ workbooks


def test_workbook_round_trip(store: Store, actor: Actor) -> None:
    keep = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    wb = store.add_workbook(actor, "Model 1.xlsx", "f" * 64, 2048, "/data/u/1.xlsx",
                            retain_until=keep)
    assert wb.owner_id == actor.user_id and wb.filename == "Model 1.xlsx"
    assert wb.size_bytes == 2048 and wb.stored_path == "/data/u/1.xlsx"
    assert wb.retain_until == keep and is_utc(wb.retain_until) and is_utc(wb.uploaded)
    assert store.get_workbook(actor, wb.id) == wb
    local = datetime(2030, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    other = store.add_workbook(actor, "b.xlsx", "e" * 64, 1, "/b", retain_until=local)
    assert other.retain_until == local and is_utc(other.retain_until)
    assert store.list_workbooks(actor) == [other, wb]  # newest first


def test_workbook_values_are_validated(store: Store, actor: Actor) -> None:
    with pytest.raises(InvalidValue, match="timezone-aware"):
        store.add_workbook(actor, "a.xlsx", "h", 1, "/a", retain_until=datetime(2030, 1, 1))
    with pytest.raises(InvalidValue, match="size_bytes"):
        store.add_workbook(actor, "a.xlsx", "h", -1, "/a")
    with pytest.raises(NotFound):
        store.get_workbook(actor, 99999)
    assert store.list_workbooks(actor) == []


def test_deleting_a_workbook_needs_its_runs_gone_first(store: Store, actor: Actor) -> None:
    wb = add_workbook(store, actor)
    run = add_run(store, actor, wb.id)
    assert store.runs_needing_workbook(wb.id) == [run.id]
    with pytest.raises(Conflict, match="used by 1 run"):
        store.delete_workbook(actor, wb.id)
    store.set_run_status(run.id, "failed", error="boom")
    assert store.delete_run(actor, run.id).id == run.id
    assert store.runs_needing_workbook(wb.id) == []
    assert store.delete_workbook(actor, wb.id) == wb
    with pytest.raises(NotFound):
        store.get_workbook(actor, wb.id)


# ------------------------------------------------------------------------------------ ownership


def test_analyst_cannot_touch_another_analysts_workbooks(store: Store, actor: Actor,
                                                         other_actor: Actor) -> None:
    mine = add_workbook(store, actor, "alice.xlsx")
    theirs = add_workbook(store, other_actor, "bob.xlsx")
    assert store.list_workbooks(actor) == [mine]
    assert store.list_workbooks(other_actor) == [theirs]
    with pytest.raises(PermissionDenied, match="another user"):
        store.get_workbook(actor, theirs.id)
    with pytest.raises(PermissionDenied):
        store.delete_workbook(actor, theirs.id)
    with pytest.raises(PermissionDenied):
        store.create_run(actor, theirs.id, SPEC, 1, 100, "mc", "cpu", "0.1.0")
    with pytest.raises(PermissionDenied):
        store.list_runs(actor, workbook_id=theirs.id)
    assert store.get_workbook(other_actor, theirs.id) == theirs  # still there, untouched


def test_analyst_cannot_touch_another_analysts_runs(store: Store, actor: Actor,
                                                    other_actor: Actor) -> None:
    mine = add_run(store, actor, add_workbook(store, actor).id)
    wb_b = add_workbook(store, other_actor)
    theirs = add_run(store, other_actor, wb_b.id)
    store.set_run_status(theirs.id, "done", summary={"mean": 1.0}, samples_path="/r/2.parquet")
    assert [r.id for r in store.list_runs(actor)] == [mine.id]
    assert [r.id for r in store.list_runs(other_actor)] == [theirs.id]
    with pytest.raises(PermissionDenied, match="another user"):
        store.get_run(actor, theirs.id)
    with pytest.raises(PermissionDenied):
        store.delete_run(actor, theirs.id)
    with pytest.raises(PermissionDenied):  # "query": listing by the other user's workbook
        store.list_runs(actor, workbook_id=wb_b.id)
    assert store.get_run(other_actor, theirs.id).status == "done"


def test_admin_sees_and_deletes_everything(store: Store, actor: Actor, other_actor: Actor,
                                           admin_actor: Actor) -> None:
    wb_a, wb_b = add_workbook(store, actor), add_workbook(store, other_actor)
    run_a, run_b = add_run(store, actor, wb_a.id), add_run(store, other_actor, wb_b.id)
    assert {w.id for w in store.list_workbooks(admin_actor)} == {wb_a.id, wb_b.id}
    assert [r.id for r in store.list_runs(admin_actor)] == [run_b.id, run_a.id]
    assert [r.id for r in store.list_runs(admin_actor, workbook_id=wb_b.id)] == [run_b.id]
    assert store.get_workbook(admin_actor, wb_a.id) == wb_a
    assert store.get_run(admin_actor, run_b.id).owner_id == other_actor.user_id
    store.set_run_status(run_b.id, "cancelled")
    assert store.delete_run(admin_actor, run_b.id).id == run_b.id
    assert store.delete_workbook(admin_actor, wb_b.id) == wb_b
    deletions = [(e.action, e.actor_id) for e in store.list_audit(admin_actor, limit=2)]
    assert deletions == [("workbook.delete", admin_actor.user_id),
                         ("run.delete", admin_actor.user_id)]


def test_the_system_actor_sees_all_and_owns_nothing(store: Store, actor: Actor,
                                                    other_actor: Actor,
                                                    admin_actor: Actor) -> None:
    wb_a, wb_b = add_workbook(store, actor), add_workbook(store, other_actor)
    run = add_run(store, other_actor, wb_b.id)
    assert {w.id for w in store.list_workbooks(SYSTEM_ACTOR)} == {wb_a.id, wb_b.id}
    assert store.get_run(SYSTEM_ACTOR, run.id).id == run.id
    assert len(store.list_users(SYSTEM_ACTOR)) == 3
    with pytest.raises(PermissionDenied, match="cannot own"):
        store.add_workbook(SYSTEM_ACTOR, "x.xlsx", "h", 1, "/x")
    with pytest.raises(PermissionDenied, match="cannot own"):
        add_run(store, SYSTEM_ACTOR, wb_a.id)
    assert store.delete_workbook(SYSTEM_ACTOR, wb_a.id) == wb_a
    last = store.list_audit(admin_actor, limit=1)[0]
    assert (last.action, last.actor_id) == ("workbook.delete", None)


# ------------------------------------------------------------------------------------ runs


def test_run_lifecycle(store: Store, actor: Actor) -> None:
    wb = add_workbook(store, actor)
    run = add_run(store, actor, wb.id)
    assert (run.status, run.progress, run.started, run.finished) == ("queued", 0.0, None, None)
    assert run.spec == SPEC and list(run.spec["outputs"]) == SPEC["outputs"]
    assert (run.owner_id, run.workbook_id, run.seed, run.iterations, run.sampling, run.device,
            run.engine_version) == (actor.user_id, wb.id, 7, 1000, "lhs", "cpu", "0.1.0")
    assert is_utc(run.created) and run.active
    running = store.set_run_status(run.id, "running")
    assert running.status == "running" and is_utc(running.started) and running.finished is None
    store.update_progress(run.id, 0.25)
    assert store.get_run(actor, run.id).progress == 0.25
    again = store.set_run_status(run.id, "running", progress=0.5)
    assert again.started == running.started and again.progress == 0.5
    summary = {"outputs": {"Sheet1!B9": {"mean": 1.5, "skewness": None}, "Sheet1!A9": {}},
               "elapsed_seconds": 0.25}
    done = store.set_run_status(run.id, "done", summary=summary, samples_path="/r/1.parquet")
    assert done.status == "done" and done.progress == 1.0 and not done.active
    assert done.summary == summary and list(done.summary["outputs"]) == ["Sheet1!B9", "Sheet1!A9"]
    assert done.samples_path == "/r/1.parquet" and done.finished >= done.started
    assert store.get_run(actor, run.id) == done


def test_json_is_stored_the_same_way_on_both_backends(store: Store, actor: Actor) -> None:
    run = add_run(store, actor, add_workbook(store, actor).id)
    summary = {"z": np.float64(2.5), "a": np.int64(3), "nan": float("nan"),
               "inf": [float("inf"), np.float64("-inf")], "array": np.array([1.0, 2.0]),
               "nested": {"tuple": (1, "x")}, "text": "Ünïcode ✓"}
    stored = store.set_run_status(run.id, "done", summary=summary).summary
    assert stored == {"z": 2.5, "a": 3, "nan": None, "inf": [None, None], "array": [1.0, 2.0],
                      "nested": {"tuple": [1, "x"]}, "text": "Ünïcode ✓"}
    assert list(stored) == list(summary)
    with pytest.raises(TypeError, match="cannot be stored as JSON"):
        store.set_run_status(run.id, "done", summary={"bad": object()})


def test_failure_and_error_message(store: Store, actor: Actor) -> None:
    run = add_run(store, actor, add_workbook(store, actor).id)
    failed = store.set_run_status(run.id, "failed", error="Sheet1!B2: sd must be positive")
    assert failed.error == "Sheet1!B2: sd must be positive" and failed.progress == 0.0
    assert is_utc(failed.finished)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), True, "0.5"])
def test_progress_is_validated(store: Store, actor: Actor, bad: object) -> None:
    run = add_run(store, actor, add_workbook(store, actor).id)
    with pytest.raises(InvalidValue, match="Progress"):
        store.update_progress(run.id, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="Progress"):
        store.set_run_status(run.id, "running", progress=bad)  # type: ignore[arg-type]


def test_run_values_are_validated(store: Store, actor: Actor) -> None:
    wb = add_workbook(store, actor)
    for kwargs, match in (({"seed": -1}, "seed"), ({"seed": 2**63}, "seed"),
                          ({"iterations": 0}, "Iterations"), ({"spec": ["x"]}, "spec")):
        args = {"spec": SPEC, "seed": 1, "iterations": 10, **kwargs}
        with pytest.raises(InvalidValue, match=match):
            store.create_run(actor, wb.id, args["spec"], args["seed"], args["iterations"],
                             "mc", "cpu", "0.1.0")
    run = store.create_run(actor, wb.id, SPEC, 2**63 - 1, 10, "mc", "cpu", "0.1.0")
    assert run.seed == 2**63 - 1
    with pytest.raises(InvalidValue, match="Unknown run status"):
        store.set_run_status(run.id, "finished")
    with pytest.raises(NotFound):
        store.set_run_status(99999, "running")
    with pytest.raises(NotFound):
        store.update_progress(99999, 0.5)
    with pytest.raises(NotFound):
        store.create_run(actor, 99999, SPEC, 1, 10, "mc", "cpu", "0.1.0")


def test_count_active_runs(store: Store, actor: Actor, other_actor: Actor) -> None:
    wb = add_workbook(store, actor)
    queued, running, done = (add_run(store, actor, wb.id) for _ in range(3))
    store.set_run_status(running.id, "running", progress=0.4)
    store.set_run_status(done.id, "done")
    add_run(store, other_actor, add_workbook(store, other_actor).id)
    assert store.count_active_runs(actor.user_id) == 2
    assert store.count_active_runs(other_actor.user_id) == 1
    store.set_run_status(queued.id, "cancelled")
    store.set_run_status(running.id, "interrupted")  # still a valid status for old rows
    assert store.count_active_runs(actor.user_id) == 0
    assert not hasattr(store, "mark_interrupted")  # replicas must never end each other's runs


def test_active_runs_cannot_be_deleted_and_ids_are_never_reused(store: Store,
                                                                actor: Actor) -> None:
    wb = add_workbook(store, actor)
    run = add_run(store, actor, wb.id)
    with pytest.raises(Conflict, match="cancel it"):
        store.delete_run(actor, run.id)
    store.set_run_status(run.id, "running")
    with pytest.raises(Conflict):
        store.delete_run(actor, run.id)
    store.set_run_status(run.id, "cancelled")
    deleted = store.delete_run(actor, run.id)
    assert deleted.id == run.id and deleted.status == "cancelled"
    with pytest.raises(NotFound):
        store.get_run(actor, run.id)
    with pytest.raises(NotFound):
        store.delete_run(actor, run.id)
    assert add_run(store, actor, wb.id).id > run.id  # samples files and cache keys stay unique


# ------------------------------------------------------------------------------------ audit


def test_audit_trail(store: Store, actor: Actor, admin_actor: Actor) -> None:
    wb = add_workbook(store, actor)
    run = add_run(store, actor, wb.id)
    assert store.verify_password("alice", PASSWORD) is not None
    entry = store.audit(None, "cleanup", "uploads", {"removed": 2, "bytes": 10})
    assert entry.actor_id is None and entry.detail == {"removed": 2, "bytes": 10}
    assert is_utc(entry.at)
    store.audit(actor.user_id, "run.cancel", f"run {run.id}")
    entries = store.list_audit(admin_actor)
    assert [e.action for e in entries] == ["run.cancel", "cleanup", "login", "run.create",
                                          "workbook.upload", "user.create", "user.create"]
    assert entries[3].detail["run_id"] == run.id and entries[4].detail["workbook_id"] == wb.id
    assert entries[0].detail == {} and entries[2].target == "alice"
    assert [e.id for e in store.list_audit(admin_actor, limit=2)] == [e.id for e in entries[:2]]
    with pytest.raises(InvalidValue):
        store.list_audit(admin_actor, limit=0)


# ------------------------------------------------------------------------------------ lifetime


def test_data_survives_reopening(store_settings: Settings, store: Store, actor: Actor) -> None:
    wb = add_workbook(store, actor)
    run = store.set_run_status(add_run(store, actor, wb.id).id, "done", summary={"m": 1})
    store.close()
    with open_store(store_settings, bcrypt_rounds=TEST_BCRYPT_ROUNDS) as again:
        assert again.get_run(actor, run.id) == run
        assert again.get_workbook(actor, wb.id) == wb
        assert again.verify_password("alice", PASSWORD) is not None


def test_two_stores_and_many_threads_share_one_database(store_settings: Settings, store: Store,
                                                        actor: Actor) -> None:
    """The app and a worker process each hold a store; the worker pool writes from threads."""
    wb = add_workbook(store, actor)
    runs = [add_run(store, actor, wb.id) for _ in range(8)]
    second = open_store(store_settings, bcrypt_rounds=TEST_BCRYPT_ROUNDS)
    errors: list[BaseException] = []

    def work(i: int, run: RunRecord) -> None:
        try:
            target = store if i % 2 else second
            target.set_run_status(run.id, "running")
            for step in range(1, 11):
                target.update_progress(run.id, step / 10)
                store.list_runs(actor)
            target.set_run_status(run.id, "done", summary={"i": i})
        except BaseException as exc:  # collected: a thread's exception would be lost
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, r)) for i, r in enumerate(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    second.close()
    assert errors == []
    assert {(r.status, r.progress) for r in store.list_runs(actor)} == {("done", 1.0)}
    assert store.count_active_runs(actor.user_id) == 0


# ------------------------------------------------------------------------------------ server


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_one_clear_error(tmp_path: Path) -> None:
    url = f"postgresql://app:s3cret@127.0.0.1:{closed_port()}/xlsim"
    with pytest.raises(StoreError, match=r"Cannot connect to PostgreSQL at 127\.0\.0\.1:\d+/xlsim")\
            as caught:
        open_store(Settings(database_url=url, data_dir=tmp_path))
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(("ci", "outcome"), [("true", "CI=true requires it"),
                                             ("", "1 skipped")])
def test_missing_server_skips_except_in_ci(ci: str, outcome: str) -> None:
    env = {**os.environ, "CI": ci,
           "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed_port()}/test"}
    test = "tests/db/test_store.py::test_create_and_get_user[postgres]"
    done = subprocess.run([sys.executable, "-m", "pytest", "-o", "addopts=", "-q",
                           "-p", "no:cacheprovider", test],
                          cwd=Path(__file__).parents[2], env=env, capture_output=True,
                          text=True, timeout=120)
    assert outcome in done.stdout, done.stdout + done.stderr


def test_has_admin_tells_whether_an_enabled_admin_exists(store: Store) -> None:
    assert not store.has_admin()
    store.create_user("someone", PASSWORD)
    assert not store.has_admin()
    store.create_user("boss", PASSWORD, roles=("admin",))
    assert store.has_admin()
