"""Starting runs from a set-up and reading their progress: the run and its chunks go to the
ledger, the worker service runs them (never the caller), and progress gives iterations done,
speed and time left."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from db.entities import Actor, RunRecord
from services.runs import RunError, RunRequest, progress_of, run_label, start_run
from tests.db.runs import queue_run, upload
from tests.services.run_fixtures import (  # noqa: F401 - fixtures
    actor,
    ctx,
    finished_run,
    wait_until_final,
)


def test_a_set_up_becomes_a_run_in_the_ledger_and_ends_done(ctx, actor):  # noqa: F811
    record = finished_run(ctx, actor, iterations=5_000, seed=11)
    assert [(c.start, c.count, c.state) for c in ctx.store.list_chunks(record.id)] == \
        [(0, 5_000, "done")]
    assert (record.iterations, record.seed, record.sampling, record.device) == \
        (5_000, 11, "lhs", "cpu")
    assert record.spec["settings"] == {"target": 200.0}
    assert record.summary["outputs"]["Sheet1!A2"]["name"] == "Profit"
    assert 195 < record.summary["outputs"]["Sheet1!A2"]["mean"] < 210
    assert ctx.samples.exists(record.id) and len(ctx.samples.parts(record.id)) == 1
    assert record.iterations_done == 5_000 and record.worker is None
    assert [a.action for a in ctx.store.list_audit(Actor(1, True))][0] == "run.create"


def test_spec_inputs_and_outputs_are_passed_to_the_engine(ctx, actor):  # noqa: F811
    workbook = upload(ctx.store, actor, ctx.settings.data_dir,
                      cells={"A1": 5, "A2": "=A1*3"})
    setup = {"inputs": {"Sheet1!A1": "uniform(0, 1)"}, "outputs": ["Sheet1!A2"],
             "iterations": 1_000, "seed": 1, "sampling": "mc", "device": "cpu"}
    record = start_run(ctx, actor, workbook.id, setup)
    assert record.spec["inputs"] == {"Sheet1!A1": "uniform(0, 1)"}
    done = wait_until_final(ctx, actor, record.id)
    assert done.status == "done", done.error
    assert 1.3 < done.summary["outputs"]["Sheet1!A2"]["mean"] < 1.7


@pytest.mark.parametrize(("change", "message"), [
    ({"iterations": 0}, "Iterations"), ({"iterations": "many"}, "Iterations"),
    ({"seed": -1}, "seed"), ({"sampling": "sobol"}, "Sampling"), ({"device": "tpu"}, "device"),
])
def test_invalid_set_ups_are_refused_with_a_sentence(change, message):
    setup = {"inputs": {}, "outputs": [], "iterations": 100, "seed": 1, "sampling": "mc",
             "device": "cpu", **change}
    with pytest.raises(RunError, match=message):
        RunRequest.from_setup(setup)


def test_another_users_workbook_cannot_be_run(ctx, actor):  # noqa: F811
    bob = Actor.for_user(ctx.store.create_user("bob", "correct horse", roles=("analyst",)))
    workbook = upload(ctx.store, actor, ctx.settings.data_dir)
    with pytest.raises(RunError):
        start_run(ctx, bob, workbook.id, {"iterations": 100})
    assert ctx.store.list_runs(bob) == []


def test_the_per_user_limit_is_a_message_not_a_crash(ctx, actor, monkeypatch):  # noqa: F811
    workbook = upload(ctx.store, actor, ctx.settings.data_dir)
    monkeypatch.setattr(ctx, "settings",
                        dataclasses.replace(ctx.settings, max_concurrent_runs_per_user=1))
    busy = queue_run(ctx.store, actor, workbook)
    ctx.store.set_run_status(busy.id, "running")  # as if another process were running it
    with pytest.raises(RunError, match="limit"):
        start_run(ctx, actor, workbook.id, {"iterations": 100})
    assert [r.id for r in ctx.store.list_runs(actor)] == [busy.id]  # nothing was written


def _record(**changes) -> RunRecord:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    base = RunRecord(id=7, owner_id=1, workbook_id=1, engine_version="0", spec={}, seed=1,
                     iterations=100_000, sampling="mc", device="cpu", status="running",
                     progress=0.45, created=now, started=now, finished=None, error=None,
                     summary=None, samples_path=None)
    return dataclasses.replace(base, **changes)


def test_progress_gives_iterations_done_speed_and_time_left():
    record = _record(iterations_done=50_000)
    p = progress_of(record, now=record.started + timedelta(seconds=2))
    assert p.done == 50_000  # the finished chunks' iterations
    assert p.speed == pytest.approx(25_000)
    assert p.remaining_s == pytest.approx(2.0)
    assert p.active
    assert p.text() == "50,000 of 100,000 iterations · 25,000 iterations/s · 2.0 s left"


def test_progress_of_queued_and_finished_runs():
    queued = progress_of(_record(status="queued", progress=0.0, started=None))
    assert queued.text() == "0 of 100,000 iterations · waiting for a worker"
    assert queued.speed is None and queued.remaining_s is None
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    done = progress_of(_record(status="done", progress=1.0,
                               finished=start + timedelta(seconds=75)))
    assert done.done == 100_000 and not done.active
    assert done.text() == "100,000 of 100,000 iterations · done after 1 min 15 s"
    merging = progress_of(_record(progress=0.9, iterations_done=100_000),
                          now=start + timedelta(seconds=1))
    assert merging.text().endswith("merging the results")


def test_run_label():
    assert run_label(_record(status="done"), "model.xlsx") == \
        "Run 7 · model.xlsx · 100,000 iterations · done"
