"""The bundled demo: the workbook is written once per data directory and declares its own
uncertainty, and one call saves it for the user (once) and starts a run that finishes with
both outputs well inside the minute a first-time user will wait."""

from __future__ import annotations

import time

import pytest

from engine.loader import load_workbook
from services.demo import DEMO_FILENAME, DEMO_ITERATIONS, demo_file, start_demo
from services.workbooks import declared_of
from tests.services.demo_fixtures import app_context, make_actor
from tests.services.run_fixtures import wait_until_final


def test_demo_file_is_written_once_and_declares_risk_inputs_and_outputs(tmp_path):
    path = demo_file(tmp_path)
    data, written = path.read_bytes(), path.stat().st_mtime_ns
    assert demo_file(tmp_path) == path
    assert path.read_bytes() == data and path.stat().st_mtime_ns == written  # not rewritten
    declared = declared_of(load_workbook(path))
    assert declared.problem is None
    assert sorted(i.name for i in declared.inputs) == [
        "Capex", "Discount spread", "Opex ratio", "Peak volume", "Price growth"]
    assert declared.outputs == {"Summary!B2": "NPV", "Summary!B3": "Peak funding"}
    assert not list(tmp_path.joinpath("demo").glob("*.tmp"))


def test_one_click_saves_the_workbook_once_and_finishes_a_run_in_seconds(tmp_path):
    with app_context(tmp_path) as ctx:
        alice = make_actor(ctx, "alice")
        started = time.monotonic()
        first = start_demo(ctx, alice)
        done = wait_until_final(ctx, alice, first.id, timeout=60)
        elapsed = time.monotonic() - started
        assert done.status == "done", done.error
        assert elapsed < 30  # the brief: results within a minute of a fresh start
        assert done.iterations == DEMO_ITERATIONS == 100_000
        assert done.spec["inputs"] == {} and done.spec["outputs"] == []  # the workbook's own
        outputs = {o["name"]: o for o in done.summary["outputs"].values()}
        assert set(outputs) == {"NPV", "Peak funding"}
        assert outputs["NPV"]["n"] == 100_000 and outputs["NPV"]["errors"] == 0
        assert outputs["NPV"]["mean"] == pytest.approx(49.5, abs=2)  # the model's known mean
        assert len(done.summary["inputs"]) == 5

        second = start_demo(ctx, alice)
        assert second.id != first.id and second.workbook_id == first.workbook_id
        workbooks = ctx.store.list_workbooks(alice)
        assert [w.filename for w in workbooks] == [DEMO_FILENAME]
        wait_until_final(ctx, alice, second.id)


def test_each_user_gets_their_own_copy(tmp_path):
    with app_context(tmp_path) as ctx:
        alice, bob = make_actor(ctx, "alice"), make_actor(ctx, "bob")
        a = start_demo(ctx, alice)
        b = start_demo(ctx, bob)
        assert a.workbook_id != b.workbook_id
        assert [w.owner_id for w in ctx.store.list_workbooks(bob)] == [bob.user_id]
        for actor, run in ((alice, a), (bob, b)):
            assert wait_until_final(ctx, actor, run.id).status == "done"
