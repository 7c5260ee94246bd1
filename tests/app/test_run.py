"""The Runs page: progress of the carried run with iterations done, speed and time left, cancel,
and a results button once done; the page never runs a simulation itself."""

from __future__ import annotations

import pytest

from db.entities import Actor
from services.runs import start_run
from tests.app.conftest import app_test, login
from tests.db.runs import queue_run, upload
from tests.services.run_fixtures import CELLS, wait_until_final


def _analyst(ctx, make_user):
    user = make_user("ann")
    return user, Actor.for_user(user)


def test_no_runs_yet_says_what_to_do(ctx, make_user):
    user, _ = _analyst(ctx, make_user)
    at = login(app_test("pages/run.py"), user).run()
    assert not at.exception
    assert at.title[0].value == "Runs"
    assert "No runs yet" in at.info[0].value


@pytest.mark.no_worker
def test_a_running_run_shows_progress_and_can_be_cancelled(ctx, make_user):
    user, actor = _analyst(ctx, make_user)
    workbook = upload(ctx.store, actor, ctx.settings.data_dir, cells=CELLS)
    run = ctx.store.create_run(actor, workbook.id, {}, 1, 100_000, "mc", "cpu", "0",
                               chunk_size=10_000)
    assert ctx.store.claim_run("a-worker").id == run.id  # a worker half-way through
    for idx in range(5):
        ctx.store.start_chunk(run.id, idx, "a-worker")
        ctx.store.finish_chunk(run.id, idx, "a-worker")
    at = login(app_test("pages/run.py"), user)
    at.query_params["run"] = str(run.id)
    at.run()
    assert not at.exception
    (bar,) = at.get("progress")
    assert bar.value == 45
    assert bar.proto.text.startswith("50,000 of 100,000 iterations · ")
    assert "iterations/s" in bar.proto.text and "left" in bar.proto.text
    at.button(key=f"cancel_{run.id}").click().run()
    # The ledger carries the request to the worker holding the run, which stops it.
    assert at.session_state["run_id"] == run.id
    assert ctx.store.heartbeat("a-worker", [run.id]) == {run.id: True}
    ctx.store.finish_run(run.id, "a-worker", "cancelled", error="Cancelled by the user.")
    queued = queue_run(ctx.store, actor, workbook)
    at.run()  # the picker now offers the new run
    at.selectbox(key="run_picker").set_value(queued.id).run()
    at.button(key=f"cancel_{queued.id}").click().run()
    assert ctx.store.get_run(actor, queued.id).status == "cancelled"
    assert any("was cancelled" in w.value for w in at.warning)


def test_a_finished_run_offers_its_results(ctx, make_user):
    user, actor = _analyst(ctx, make_user)
    workbook = upload(ctx.store, actor, ctx.settings.data_dir, cells=CELLS)
    setup = {"iterations": 2_000, "seed": 3, "sampling": "mc", "device": "cpu"}
    run = wait_until_final(ctx, actor, start_run(ctx, actor, workbook.id, setup).id)
    at = login(app_test("app.py"), user)  # the frame: switching pages needs its navigation
    at.session_state["run_id"] = run.id
    at.run()
    at.switch_page("pages/run.py").run()
    assert not at.exception
    assert at.title[0].value == "Runs"
    assert at.success[0].value.startswith(f"Run {run.id} finished: 2,000 iterations in ")
    assert at.get("progress")[0].value == 100
    at.button(key="open_results").click().run()
    assert not at.exception
    assert at.title[0].value == "Results"
    assert at.session_state["run_id"] == run.id


def test_a_failed_run_shows_its_message_and_others_runs_stay_hidden(ctx, make_user):
    user, actor = _analyst(ctx, make_user)
    workbook = upload(ctx.store, actor, ctx.settings.data_dir, cells=CELLS)
    run = queue_run(ctx.store, actor, workbook)
    ctx.store.set_run_status(run.id, "failed", error="the workbook file is missing")
    at = login(app_test("pages/run.py"), user).run()
    assert at.error[0].value == f"Run {run.id} failed: the workbook file is missing"
    bob = make_user("bob")
    other = login(app_test("pages/run.py"), bob)
    other.query_params["run"] = str(run.id)
    other.run()
    assert not other.exception
    assert "No runs yet" in other.info[0].value
