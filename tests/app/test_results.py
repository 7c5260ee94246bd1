"""The Results page: statistics, histogram, S-curve with the target, tornado, scatter,
convergence, comparison and downloads of a finished run, all built from bins and bounded
samples; a run that cannot be shown is a message, never a traceback."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from db.entities import Actor
from services.runs import start_run
from tests.app.conftest import app_test, login
from tests.db.runs import queue_run, upload
from tests.services.run_fixtures import CELLS, wait_until_final


def _run(ctx, actor, iterations=20_000, seed=7):
    workbook = upload(ctx.store, actor, ctx.settings.data_dir, cells=CELLS)
    setup = {"settings": {"target": 200.0}, "iterations": iterations, "seed": seed,
             "sampling": "lhs", "device": "cpu"}
    run = wait_until_final(ctx, actor, start_run(ctx, actor, workbook.id, setup).id)
    assert run.status == "done", run.error
    return run


@pytest.fixture
def ann(make_user):
    return make_user("ann")


def _values(data):
    """A trace's array: plotly sends numpy arrays as base64 ("bdata") rather than lists."""
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)


def _figures(at):
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_every_chart_of_a_finished_run(ctx, ann):
    run = _run(ctx, Actor.for_user(ann))
    at = login(app_test("pages/results.py"), ann)
    at.query_params["run"] = str(run.id)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Results"
    titles = [f["layout"]["title"]["text"] for f in _figures(at)]
    assert titles[0] == "Distribution of Profit (Sheet1!A2) (20,000 iterations)"
    assert titles[1].startswith("Cumulative probability of Profit (Sheet1!A2): P(≤ 200.00) = ")
    assert titles[2] == "What drives Profit (Sheet1!A2): rank correlation"
    assert titles[3].startswith("Profit against Price<br><sup>2,000 of 20,000 iterations")
    assert "Convergence of Profit (Sheet1!A2)" in titles
    histogram = _figures(at)[0]["data"][0]
    assert len(_values(histogram["x"])) == 50  # bins, never 20,000 points
    assert sum(_values(histogram["y"])) == 20_000
    stats = at.dataframe[0].value
    assert stats.iloc[0].tolist() == ["Valid iterations", "20,000"]
    assert "Mean" in stats["Statistic"].tolist()
    assert at.dataframe[1].value["Percentile"].tolist()[:2] == ["P1", "P5"]


def test_target_slider_and_tornado_measure_change_the_charts(ctx, ann):
    run = _run(ctx, Actor.for_user(ann))
    at = login(app_test("pages/results.py"), ann)
    at.session_state["run_id"] = run.id
    at.run()
    at.slider(key=f"results_target_{run.id}_Sheet1!A2").set_value(run.summary["outputs"][
        "Sheet1!A2"]["max"]).run()
    titles = [f["layout"]["title"]["text"] for f in _figures(at)]
    assert titles[1].endswith("= 100.0%")
    at.radio(key="results_metric").set_value("contribution").run()
    tornado = _figures(at)[2]
    assert tornado["layout"]["title"]["text"].endswith("contribution to variance (%)")
    assert _values(tornado["data"][0]["x"])[-1] > 90  # A1 carries almost all the variance
    at.multiselect(key="results_marks").set_value(["50"]).run()
    shapes = _figures(at)[0]["layout"]["shapes"]
    assert len(shapes) == 2  # the mean and P50


def test_runs_compared(ctx, ann):
    actor = Actor.for_user(ann)
    first = _run(ctx, actor, 5_000, seed=1)
    second = _run(ctx, actor, 5_000, seed=2)
    at = login(app_test("pages/results.py"), ann)
    at.session_state["run_id"] = second.id
    at.run()
    assert not at.exception
    overlay = next(f for f in _figures(at)
                   if f["layout"]["title"]["text"].endswith("runs compared"))
    assert [t["name"] for t in overlay["data"]] == [f"Run {second.id}", f"Run {first.id}"]
    table = next(d.value for d in at.dataframe if "Run" in d.value.columns)
    assert table["Run"].tolist() == [f"Run {second.id}", f"Run {first.id}"]


def test_downloads_are_offered(ctx, ann):
    run = _run(ctx, Actor.for_user(ann), 2_000)
    at = login(app_test("pages/results.py"), ann)
    at.session_state["run_id"] = run.id
    at.run()
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Samples (CSV)", "Samples (Parquet)", "Excel report"]


def test_no_finished_run_and_lost_samples_are_messages(ctx, ann):
    actor = Actor.for_user(ann)
    at = login(app_test("pages/results.py"), ann).run()
    assert "No finished runs yet" in at.info[0].value
    run = _run(ctx, actor, 2_000)
    ctx.samples.delete(run.id)
    at.run()
    assert not at.exception
    assert any("no longer on the server" in e.value for e in at.error)
    queue_run(ctx.store, actor, upload(ctx.store, actor, ctx.settings.data_dir))
    at.run()  # a queued run is not offered
    assert not at.exception
