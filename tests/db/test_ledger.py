"""The run ledger on both backends: runs written with their chunks, the per-user limit, claims by
several worker replicas (fair, never the same run twice), heartbeats, takeover of a dead holder's
runs, chunk progress, cancellation, the holder's final write and the reconciler."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from db.config import Settings
from db.entities import Actor, RunRecord, WorkbookRecord
from db.errors import Conflict, InvalidValue, LimitReached, NotFound, PermissionDenied
from db.schema import migrate
from db.store import CANCELLED_BY_USER, Store, open_database, open_store
from tests.db.conftest import PASSWORD, TEST_BCRYPT_ROUNDS

STALE_S = 0.2  # the tests' heartbeat timeout: a holder silent longer than this is dead
FRESH_S = 3600.0  # a timeout no test waits for: every holder counts as alive


def add_workbook(store: Store, actor: Actor) -> WorkbookRecord:
    return store.add_workbook(actor, "model.xlsx", "ab" * 32, 1234, "/data/uploads/model.xlsx")


def submit(store: Store, actor: Actor, workbook: WorkbookRecord, iterations: int = 1000,
           **kwargs: Any) -> RunRecord:
    return store.create_run(actor, workbook.id, {"outputs": ["Sheet1!A2"]}, 7, iterations,
                            "mc", "cpu", "0.1.0", **kwargs)


def states(store: Store, run_id: int) -> list[str]:
    return [c.state for c in store.list_chunks(run_id)]


def go_stale() -> None:
    time.sleep(STALE_S * 1.5)


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(i)`` in ``count`` threads started together; their results (or exceptions)."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def one(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as exc:  # collected: a thread's exception would be lost
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# ------------------------------------------------------------------------------ submitting


def test_a_run_is_written_with_its_chunks(store: Store, actor: Actor) -> None:
    wb = add_workbook(store, actor)
    run = submit(store, actor, wb, 1000, chunk_size=300, name="  Base case ")
    assert (run.chunk_size, run.name, run.iterations_done) == (300, "Base case", 0)
    assert (run.worker, run.heartbeat, run.cancel_requested) == (None, None, False)
    chunks = store.list_chunks(run.id)
    assert [(c.idx, c.start, c.count) for c in chunks] == [
        (0, 0, 300), (1, 300, 300), (2, 600, 300), (3, 900, 100)]
    assert {(c.state, c.attempts, c.worker, c.started) for c in chunks} == {
        ("queued", 0, None, None)}
    plain = submit(store, actor, wb)
    assert plain.chunk_size is None and plain.name is None and store.list_chunks(plain.id) == []
    assert store.get_run(actor, run.id) == run


@pytest.mark.parametrize(("iterations", "chunk_size"), [(10**8, 2**18), (10**8, 10_000)])
def test_many_chunks_are_written_quickly(store: Store, actor: Actor, iterations: int,
                                         chunk_size: int) -> None:
    began = time.monotonic()
    run = submit(store, actor, add_workbook(store, actor), iterations, chunk_size=chunk_size)
    elapsed = time.monotonic() - began
    chunks = store.list_chunks(run.id)
    assert len(chunks) == -(-iterations // chunk_size)  # 382 and 10,000
    assert [c.start for c in chunks] == list(range(0, iterations, chunk_size))
    assert sum(c.count for c in chunks) == iterations and chunks[-1].start + chunks[-1].count \
        == iterations
    assert elapsed < 5, f"{len(chunks)} chunks took {elapsed:.1f} s"


def test_bad_chunk_sizes_write_nothing(store: Store, actor: Actor) -> None:
    wb = add_workbook(store, actor)
    for bad in (0, -5, 2.5, True):
        with pytest.raises(InvalidValue, match="chunk_size"):
            submit(store, actor, wb, chunk_size=bad)
    with pytest.raises(InvalidValue, match="more than"):
        submit(store, actor, wb, 10**9, chunk_size=1)
    with pytest.raises(InvalidValue, match="name"):
        submit(store, actor, wb, name="x" * 201)
    assert store.list_runs(actor) == []


def test_deleting_a_run_deletes_its_chunks(store: Store, actor: Actor) -> None:
    run = submit(store, actor, add_workbook(store, actor), chunk_size=100)
    store.set_run_status(run.id, "failed")
    store.delete_run(actor, run.id)
    assert store.list_chunks(run.id) == []


def test_the_limit_refuses_one_more_and_writes_nothing(store: Store, actor: Actor,
                                                       other_actor: Actor,
                                                       admin_actor: Actor) -> None:
    wb = add_workbook(store, actor)
    first = submit(store, actor, wb, max_active=2, chunk_size=100)
    store.set_run_status(first.id, "running")
    submit(store, actor, wb, max_active=2)
    before = (store.list_runs(actor), store.list_audit(admin_actor))
    with pytest.raises(LimitReached, match="You already have 2 runs queued or running; "
                                           "the limit is 2 at a time.") as refused:
        submit(store, actor, wb, max_active=2, chunk_size=100)
    assert (refused.value.active, refused.value.limit) == (2, 2)
    assert (store.list_runs(actor), store.list_audit(admin_actor)) == before
    submit(store, other_actor, add_workbook(store, other_actor), max_active=2)  # per user
    submit(store, actor, wb)  # without max_active there is no limit
    store.set_run_status(first.id, "done")
    store.set_run_status(store.list_runs(actor)[0].id, "cancelled")
    assert submit(store, actor, wb, max_active=2).status == "queued"  # room again
    with pytest.raises(InvalidValue, match="max_active"):
        submit(store, actor, wb, max_active=0)


def test_concurrent_submits_cannot_both_pass_the_limit(store: Store, store_settings: Settings,
                                                       actor: Actor) -> None:
    wb = add_workbook(store, actor)
    stores = [open_store(store_settings, bcrypt_rounds=TEST_BCRYPT_ROUNDS) for _ in range(2)]
    try:
        for _ in range(8):  # each round: two "web processes" submit for the same user at once
            results = in_threads(2, lambda i: submit(stores[i], actor, wb, max_active=1,
                                                     chunk_size=100))
            won = [r for r in results if isinstance(r, RunRecord)]
            assert len(won) == 1 and sum(isinstance(r, LimitReached) for r in results) == 1, \
                results
            assert store.count_active_runs(actor.user_id) == 1
            store.set_run_status(won[0].id, "cancelled")
    finally:
        for s in stores:
            s.close()
    assert len(store.list_runs(actor)) == 8


# ------------------------------------------------------------------------------ claiming


def test_claim_takes_the_oldest_queued_run(store: Store, actor: Actor) -> None:
    wb = add_workbook(store, actor)
    assert store.claim_run("w1") is None
    first, second = submit(store, actor, wb), submit(store, actor, wb)
    claimed = store.claim_run("w1")
    assert claimed is not None and claimed.id == first.id
    assert (claimed.status, claimed.worker) == ("running", "w1")
    assert claimed.heartbeat is not None and claimed.started == claimed.heartbeat
    assert store.get_run(actor, first.id) == claimed
    assert store.claim_run("w2").id == second.id
    assert store.claim_run("w3") is None  # both are held by live workers
    with pytest.raises(InvalidValue, match="worker"):
        store.claim_run("")


def test_replicas_claiming_at_once_get_different_runs(store: Store, store_settings: Settings,
                                                      actor: Actor) -> None:
    wb = add_workbook(store, actor)
    queued = {submit(store, actor, wb).id for _ in range(24)}
    replicas = [open_store(store_settings, bcrypt_rounds=TEST_BCRYPT_ROUNDS) for _ in range(3)]

    def claim_all(i: int) -> list[int]:
        got = []
        while (run := replicas[i].claim_run(f"w{i}", stale_after_s=FRESH_S)) is not None:
            got.append(run.id)
        return got

    try:
        results = in_threads(3, claim_all)
    finally:
        for s in replicas:
            s.close()
    claimed = [run_id for got in results for run_id in got]
    assert sorted(claimed) == sorted(queued)  # each run exactly once
    for i, got in enumerate(results):
        assert {store.get_run(actor, run_id).worker for run_id in got} <= {f"w{i}"}


def test_a_run_being_claimed_elsewhere_is_skipped_not_waited_for(store: Store,
                                                                 store_settings: Settings,
                                                                 actor: Actor) -> None:
    if store.dialect != "postgres":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises every write transaction")
    import psycopg

    wb = add_workbook(store, actor)
    first, second = submit(store, actor, wb), submit(store, actor, wb)
    claimed: list[RunRecord | None] = []
    claim = threading.Thread(target=lambda: claimed.append(store.claim_run("w2")))
    with psycopg.connect(store_settings.database_url) as other:  # a replica in mid-claim
        other.execute("SELECT id FROM runs WHERE id = %s FOR UPDATE", (first.id,))
        claim.start()
        claim.join(5)
        waited = claim.is_alive()
        other.rollback()
    claim.join()
    assert not waited, "the claim waited for another replica's lock"
    assert claimed[0] is not None and claimed[0].id == second.id


def test_claims_are_fair_between_users(store: Store, actor: Actor, other_actor: Actor) -> None:
    wb_a, wb_b = add_workbook(store, actor), add_workbook(store, other_actor)
    a1, a2, a3 = (submit(store, actor, wb_a) for _ in range(3))
    b1 = submit(store, other_actor, wb_b)
    order = [store.claim_run("w", stale_after_s=FRESH_S).id for _ in range(4)]
    # A's first run is oldest; then A holds one and B none, so B's run goes before A's others.
    assert order == [a1.id, b1.id, a2.id, a3.id]


def test_a_dead_holders_run_is_taken_over(store: Store, actor: Actor) -> None:
    run = submit(store, actor, add_workbook(store, actor), 1000, chunk_size=250)
    first = store.claim_run("w1")
    store.start_chunk(run.id, 0, "w1")
    store.finish_chunk(run.id, 0, "w1")
    store.start_chunk(run.id, 1, "w1")
    store.start_chunk(run.id, 2, "w1")
    assert store.claim_run("w2", stale_after_s=STALE_S) is None  # w1 is alive
    go_stale()
    taken = store.claim_run("w2", stale_after_s=STALE_S)
    assert taken is not None and taken.id == run.id and taken.worker == "w2"
    assert taken.started == first.started and taken.heartbeat > first.heartbeat
    assert taken.iterations_done == 250  # the done chunk is kept, not redone
    assert states(store, run.id) == ["done", "queued", "queued", "queued"]
    assert [c.worker for c in store.list_chunks(run.id)] == ["w1", None, None, None]
    # The old holder comes back: it no longer holds the run and can change nothing.
    assert store.heartbeat("w1", [run.id]) == {}
    with pytest.raises(Conflict, match="no longer held"):
        store.start_chunk(run.id, 1, "w1")
    with pytest.raises(Conflict, match="no longer held"):
        store.finish_chunk(run.id, 1, "w1")
    assert store.finish_run(run.id, "w1", "done") is None
    assert store.start_chunk(run.id, 1, "w2") == 2  # its second attempt
    assert store.get_run(actor, run.id).worker == "w2"


# ------------------------------------------------------------------------------ holding


def test_heartbeat_reports_cancel_requests_and_drops_lost_runs(store: Store,
                                                               actor: Actor) -> None:
    wb = add_workbook(store, actor)
    r1, r2, r3 = (submit(store, actor, wb, chunk_size=500) for _ in range(3))
    for _ in range(2):
        store.claim_run("w1")
    store.claim_run("w2")
    store.start_chunk(r1.id, 0, "w1")
    chunk_before = store.list_chunks(r1.id)[0].heartbeat
    run_before = store.get_run(actor, r1.id).heartbeat
    assert store.request_cancel(actor, r2.id)
    time.sleep(0.01)
    beat = store.heartbeat("w1", [r1.id, r2.id, r3.id, 99999])
    assert beat == {r1.id: False, r2.id: True}  # r3 is w2's, 99999 does not exist
    assert store.get_run(actor, r1.id).heartbeat > run_before
    assert store.list_chunks(r1.id)[0].heartbeat > chunk_before
    assert store.get_run(actor, r3.id).heartbeat < store.get_run(actor, r1.id).heartbeat
    assert store.heartbeat("w1", []) == {}
    store.finish_run(r1.id, "w1", "done")
    assert store.heartbeat("w1", [r1.id, r2.id]) == {r2.id: True}  # r1 has ended


def test_chunk_progress_counts_each_chunk_once(store: Store, actor: Actor) -> None:
    run = submit(store, actor, add_workbook(store, actor), 1000, chunk_size=400)
    store.claim_run("w1")
    assert store.start_chunk(run.id, 0, "w1") == 1
    after = store.finish_chunk(run.id, 0, "w1")
    assert (after.iterations_done, after.progress) == (400, pytest.approx(0.36))
    assert store.finish_chunk(run.id, 0, "w1") == after  # a duplicate changes nothing
    assert store.start_chunk(run.id, 2, "w1") == 1
    assert store.fail_chunk(run.id, 2, "worker lost", worker="w1")
    failed = store.list_chunks(run.id)[2]
    assert (failed.state, failed.error, failed.attempts) == ("failed", "worker lost", 1)
    assert store.start_chunk(run.id, 2, "w1") == 2  # retried
    assert store.list_chunks(run.id)[2].error is None
    assert not store.requeue_chunk(run.id, 2, worker="w9")  # not w9's chunk
    assert store.requeue_chunk(run.id, 2, worker="w1")
    assert store.list_chunks(run.id)[2].worker is None
    assert store.start_chunk(run.id, 2, "w1") == 3
    assert store.finish_chunk(run.id, 2, "w1").iterations_done == 600
    assert not store.fail_chunk(run.id, 2, "late failure")  # a done chunk stays done
    assert not store.requeue_chunk(run.id, 2)
    with pytest.raises(Conflict, match="already done"):
        store.start_chunk(run.id, 0, "w1")
    with pytest.raises(NotFound):
        store.start_chunk(run.id, 7, "w1")
    with pytest.raises(NotFound):
        store.finish_chunk(run.id, 7, "w1")
    store.start_chunk(run.id, 1, "w1")
    full = store.finish_chunk(run.id, 1, "w1")
    assert (full.iterations_done, full.progress, full.status) == (1000, pytest.approx(0.9),
                                                                  "running")
    assert states(store, run.id) == ["done"] * 3


def test_request_cancel(store: Store, actor: Actor, other_actor: Actor,
                        admin_actor: Actor) -> None:
    wb = add_workbook(store, actor)
    held = submit(store, actor, wb)
    assert store.claim_run("w1").id == held.id
    waiting = submit(store, actor, wb)
    with pytest.raises(PermissionDenied):
        store.request_cancel(other_actor, waiting.id)
    assert store.request_cancel(actor, waiting.id)  # nobody holds it: cancelled at once
    cancelled = store.get_run(actor, waiting.id)
    assert (cancelled.status, cancelled.error) == ("cancelled", CANCELLED_BY_USER)
    assert cancelled.finished is not None and not cancelled.active
    assert store.claim_run("w2") is None  # a cancelled run is never claimed
    assert store.request_cancel(admin_actor, held.id)  # running: its holder is asked to stop
    flagged = store.get_run(actor, held.id)
    assert (flagged.status, flagged.cancel_requested, flagged.finished) == ("running", True, None)
    assert store.heartbeat("w1", [held.id]) == {held.id: True}
    stopped = store.finish_run(held.id, "w1", "cancelled", error=CANCELLED_BY_USER)
    assert stopped.status == "cancelled" and stopped.worker is None
    assert not store.request_cancel(actor, held.id)  # already ended: nothing changes
    assert not store.request_cancel(actor, waiting.id)
    assert store.get_run(actor, held.id) == stopped
    entries = [e for e in store.list_audit(admin_actor) if e.action == "run.cancel"]
    assert [(e.detail["run_id"], e.detail["at_once"], e.actor_id) for e in reversed(entries)] \
        == [(waiting.id, True, actor.user_id), (held.id, False, admin_actor.user_id)]


def test_finish_run_is_the_holders_write(store: Store, actor: Actor) -> None:
    run = submit(store, actor, add_workbook(store, actor), 1000, chunk_size=500)
    store.claim_run("w1")
    assert store.finish_run(run.id, "w2", "done") is None  # not w2's run
    assert store.get_run(actor, run.id).status == "running"
    with pytest.raises(InvalidValue, match="claim_run"):
        store.finish_run(run.id, "w1", "running")
    for idx in (0, 1):
        store.start_chunk(run.id, idx, "w1")
        store.finish_chunk(run.id, idx, "w1")
    done = store.finish_run(run.id, "w1", "done", summary={"mean": 2.0},
                            samples_path="/r/1.parquet")
    assert (done.status, done.progress, done.iterations_done, done.worker) == (
        "done", 1.0, 1000, None)
    assert done.summary == {"mean": 2.0} and done.samples_path == "/r/1.parquet"
    assert done.finished is not None
    assert store.finish_run(run.id, "w1", "failed") is None  # ended: nobody holds it
    assert store.get_run(actor, run.id) == done
    with pytest.raises(NotFound):
        store.finish_run(99999, None, "failed")


def test_a_stopping_worker_gives_its_run_back(store: Store, actor: Actor) -> None:
    run = submit(store, actor, add_workbook(store, actor), 1000, chunk_size=500)
    store.claim_run("w1")
    store.start_chunk(run.id, 0, "w1")
    store.finish_chunk(run.id, 0, "w1")
    store.start_chunk(run.id, 1, "w1")
    back = store.finish_run(run.id, "w1", "queued")
    assert (back.status, back.worker, back.finished, back.iterations_done) == (
        "queued", None, None, 500)
    assert states(store, run.id) == ["done", "queued"]
    assert store.claim_run("w2", stale_after_s=FRESH_S).id == run.id


def test_reconcile_requeues_the_runs_of_dead_holders(store: Store, actor: Actor) -> None:
    wb = add_workbook(store, actor)
    dead, alive, abandoned = (submit(store, actor, wb, 1000, chunk_size=500) for _ in range(3))
    legacy = submit(store, actor, wb)
    for worker in ("w1", "w2", "w3"):
        store.claim_run(worker)
    store.set_run_status(legacy.id, "running")  # an old in-process run: no holder, no heartbeat
    store.start_chunk(dead.id, 0, "w1")
    store.finish_chunk(dead.id, 0, "w1")
    store.start_chunk(dead.id, 1, "w1")
    before = store.get_run(actor, dead.id)
    store.request_cancel(actor, abandoned.id)
    assert store.reconcile(stale_after_s=FRESH_S) == [legacy.id]
    go_stale()
    assert store.heartbeat("w2", [alive.id]) == {alive.id: False}
    assert store.reconcile(stale_after_s=STALE_S) == [dead.id, abandoned.id]
    requeued = store.get_run(actor, dead.id)
    assert (requeued.status, requeued.worker, requeued.finished) == ("queued", None, None)
    assert requeued.started == before.started and requeued.progress == before.progress
    assert requeued.iterations_done == 500
    assert states(store, dead.id) == ["done", "queued"]
    assert store.get_run(actor, alive.id).worker == "w2"
    gone = store.get_run(actor, abandoned.id)
    assert (gone.status, gone.error, gone.worker) == ("cancelled", CANCELLED_BY_USER, None)
    assert store.reconcile(stale_after_s=STALE_S) == []
    assert [store.claim_run("w4", stale_after_s=FRESH_S).id for _ in range(2)] == [
        dead.id, legacy.id]  # both wait for a worker again


# ------------------------------------------------------------------------------ upgrading


def test_runs_of_version_1_read_as_runs_without_chunks(store_settings: Settings) -> None:
    db = open_database(store_settings)
    try:
        migrate(db, target=1)
        old = Store(db, bcrypt_rounds=TEST_BCRYPT_ROUNDS)
        alice = Actor.for_user(old.create_user("alice", PASSWORD))
        wb = add_workbook(old, alice)
        with db.transaction() as tx:  # this program's create_run needs version 2
            tx.run("INSERT INTO runs (owner_id, workbook_id, engine_version, spec, seed,"
                   " iterations, sampling, device, status, progress, created) VALUES"
                   " (?, ?, '0.1', ?, 1, 100, 'mc', 'cpu', 'done', 1, ?)",
                   (alice.user_id, wb.id, db.json_param({"outputs": []}),
                    db.time_param(wb.uploaded)))
        assert migrate(db) == [2]
        [run] = old.list_runs(alice)
        assert (run.status, run.name, run.cancel_requested, run.worker, run.heartbeat,
                run.chunk_size, run.iterations_done) == ("done", None, False, None, None, None, 0)
        assert old.list_chunks(run.id) == []
        assert old.delete_run(alice, run.id).id == run.id
    finally:
        db.close()
