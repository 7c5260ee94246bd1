"""The Explore page's logic: the console sees only the acting user's own finished runs (their
samples stored as chunk parts), the example queries all run and answer what their labels say,
refusals come back as sentences, and the quick chart plots the first two numeric columns."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pytest

from db.console import ConsoleError, ConsoleResult
from db.samples import SampleFiles
from services.explore import (
    ROW_LIMIT,
    columns_of,
    console_runs,
    examples,
    quick_chart,
    run_query,
    summary_line,
)
from tests.services.demo_fixtures import (
    admin_actor,
    app_context,
    finished_demo_run,
    make_actor,
)
from tests.services.run_fixtures import as_parts


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """alice with two finished demo runs, bob with one, the admin with none."""
    with app_context(tmp_path_factory.mktemp("data")) as ctx:
        alice, bob = make_actor(ctx, "alice"), make_actor(ctx, "bob")
        older = as_parts(ctx, finished_demo_run(ctx, alice, seed=1), chunk=750)
        newer = as_parts(ctx, finished_demo_run(ctx, alice, seed=2), chunk=750)
        bobs = as_parts(ctx, finished_demo_run(ctx, bob), chunk=750)
        yield ctx, alice, bob, older, newer, bobs


def test_console_sees_only_the_actors_own_finished_runs(world):
    ctx, alice, bob, older, newer, bobs = world
    assert [r.id for r in console_runs(ctx, alice)] == [newer.id, older.id]
    assert [r.id for r in console_runs(ctx, bob)] == [bobs.id]
    assert console_runs(ctx, admin_actor(ctx)) == []  # an admin's console is not everyone's
    with pytest.raises(ConsoleError, match="no table run_"):
        run_query(console_runs(ctx, bob), f"SELECT count(*) FROM run_{newer.id}")


def test_every_example_runs_and_answers_its_question(world):
    ctx, alice, *_ = world
    runs = console_runs(ctx, alice)
    found = {e.label: e.sql for e in examples(runs[0], runs)}
    assert {"My runs", "Percentiles of NPV", "Histogram of NPV", "Chance NPV is below zero",
            "Capex against NPV", "Compare NPV across runs"} <= set(found)
    answers = {label: run_query(runs, sql) for label, sql in found.items()}
    assert sorted(r[0] for r in answers["My runs"].rows) == sorted(r.id for r in runs)
    percentiles = answers["Percentiles of NPV"].rows
    assert [p for p, _ in percentiles] == [1, 5, 10, 25, 50, 75, 90, 95, 99]
    assert all(a[1] < b[1] for a, b in zip(percentiles, percentiles[1:]))
    histogram = answers["Histogram of NPV"]
    assert sum(n for _, n in histogram.rows) == 2_000
    probability, n = answers["Chance NPV is below zero"].rows[0]
    assert 0.05 < probability < 0.3 and n == 2_000  # the model loses money now and then
    assert len(answers["Capex against NPV"].rows) == 2_000
    assert [r[0] for r in answers["Compare NPV across runs"].rows] == sorted(r.id for r in runs)
    quintiles = answers["NPV by input quintile"].rows
    capex = [mean for name, _, mean in quintiles if name == "Capex"]
    assert capex == sorted(capex, reverse=True)  # dearer projects are worth less


def test_columns_are_the_parts_columns_then_later_error_columns(world, tmp_path):
    """Only the second chunk had an error: its error column comes after the first part's
    columns, and the examples run over the parts as one table."""
    ctx, alice, bob, older, newer, bobs = world
    files = SampleFiles(tmp_path / "data")
    files.write_part(newer.id, 0, pa.table({"iteration": [1, 2], "Capex": [1.0, 2.0],
                                            "NPV": [5.0, -1.0]}))
    files.write_part(newer.id, 2, pa.table({
        "iteration": [3, 4], "Capex": [3.0, 4.0], "NPV": pa.array([None, 2.0], pa.float64()),
        "NPV error": pa.array(["#NUM!", None], pa.string())}))
    run = dataclasses.replace(newer, samples_path=str(files.run_dir(newer.id)))
    assert columns_of(run) == ["iteration", "Capex", "NPV", "NPV error"]
    found = {e.label: e.sql for e in examples(run)}
    first = run_query([run], found["First 100 iterations"])
    assert first.columns == columns_of(run) and [r[0] for r in first.rows] == [1, 2, 3, 4]
    assert [r[3] for r in first.rows] == [None, None, "#NUM!", None]
    assert run_query([run], found["Chance NPV is below zero"]).rows == [(1 / 3, 3)]


@pytest.mark.parametrize(("sql", "message"), [
    ("DROP VIEW runs", "DROP is not allowed"),
    ("COPY (SELECT 1) TO '/tmp/x.csv'", "COPY is not allowed"),
    ("SELECT * FROM read_csv('/etc/passwd')", "Reading files is not allowed"),
    ("SELECT 1; SELECT 2", "Only one statement"),
    ("SELEC 1", "not valid SQL"),
])
def test_refused_statements_say_why(world, sql, message):
    ctx, alice, *_ = world
    with pytest.raises(ConsoleError, match=message):
        run_query(console_runs(ctx, alice), sql)


def test_quick_chart_plots_the_first_two_numeric_columns():
    binned = ConsoleResult(["label", "bin", "count", "other"],
                           [("a", 1.0, 3, 9), ("b", 2.0, 5, 9), ("c", 3.0, None, 9)], False, 0.01)
    figure = quick_chart(binned)
    trace = figure.data[0]
    assert list(trace.x) == [1.0, 2.0] and list(trace.y) == [3, 5]  # the null row left out
    assert trace.mode == "lines+markers"  # an ascending first column reads as a line
    assert figure.layout.xaxis.title.text == "bin" and figure.layout.yaxis.title.text == "count"
    cloud = ConsoleResult(["x", "y"], [(3.0, 1.0), (1.0, 2.0)], False, 0.01)
    assert quick_chart(cloud).data[0].mode == "markers"
    assert quick_chart(ConsoleResult(["name", "n"], [("a", 1)], False, 0.0)) is None
    assert quick_chart(ConsoleResult(["flag", "n"], [(True, 1)], False, 0.0)) is None


def test_summary_line_has_thousands_separators_and_says_when_cut_short():
    rows = [(i,) for i in range(1234)]
    assert summary_line(ConsoleResult(["i"], rows, False, 0.5)) == "1,234 rows in 0.5 s"
    cut = summary_line(ConsoleResult(["i"], rows, True, 0.5))
    assert f"only the first {ROW_LIMIT:,}" in cut
