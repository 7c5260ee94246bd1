"""The Results page's figures, tables and downloads, from a real finished run whose samples are
stored as chunk parts: aggregates come from DuckDB in bins (never the raw iterations) and through
the cache; downloads are one file of every iteration in order, whatever the layout."""

from __future__ import annotations

import dataclasses
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from db.cache import MemoryCache
from services import results
from services.results import ResultsError, Variable
from tests.services.run_fixtures import actor, as_parts, ctx, finished_run  # noqa: F401

ITERATIONS = 20_000
PROFIT = Variable("Sheet1!A2", "Profit")


@pytest.fixture
def run(ctx, actor):  # noqa: F811
    return as_parts(ctx, finished_run(ctx, actor, ITERATIONS))  # 3 parts of up to 8,192


def test_outputs_and_inputs_carry_their_columns_and_titles(run):
    assert results.outputs_of(run) == [PROFIT]
    assert PROFIT.title == "Profit (Sheet1!A2)"
    assert [v.column for v in results.inputs_of(run)] == ["Price", "Sheet1!A3"]
    assert Variable("Sheet1!A1", "Sheet1!A1").title == "Sheet1!A1"


def test_aggregates_are_cached_under_the_run(run, monkeypatch):
    cache = MemoryCache()
    first = results.aggregate(cache, run, "histogram", column="Profit", bins=30)
    assert sum(first["counts"]) == ITERATIONS and len(first["counts"]) == 30
    monkeypatch.setitem(results._AGGREGATES, "histogram",
                        lambda *a, **k: pytest.fail("the cache was not used"))
    assert results.aggregate(cache, run, "histogram", column="Profit", bins=30) == first
    assert len(cache) == 1


def test_an_unfinished_run_or_missing_samples_is_a_message(run, ctx, actor):  # noqa: F811
    with pytest.raises(ResultsError, match="is running"):
        results.outputs_of(dataclasses.replace(run, status="running"))
    ctx.samples.delete(run.id)
    with pytest.raises(ResultsError, match="no longer on the server"):
        results.aggregate(None, run, "ecdf", column="Profit")
    with pytest.raises(ResultsError, match="no column"):
        results.aggregate(None, finished_run(ctx, actor, 100), "ecdf", column="Nope")


def test_histogram_marks_mean_and_percentiles_and_sends_bins(run):
    hist = results.aggregate(None, run, "histogram", column="Profit", bins=40)
    stats = run.summary["outputs"]["Sheet1!A2"]
    fig = results.histogram_figure(hist, stats, PROFIT, marks=("5", "50", "95"))
    (bars,) = fig.data
    assert len(bars.x) == 40 and sum(bars.y) == ITERATIONS  # bins, not 20,000 points
    lines = [s.x0 for s in fig.layout.shapes]
    assert lines == pytest.approx([stats["mean"], *(stats["percentiles"][k]
                                                    for k in ("5", "50", "95"))])
    texts = [a.text for a in fig.layout.annotations]
    assert texts[0].startswith("Mean 20") and texts[1].startswith("P5 ")
    assert fig.layout.title.text == "Distribution of Profit (Sheet1!A2) (20,000 iterations)"
    assert fig.layout.xaxis.title.text == "Profit (Sheet1!A2)"
    assert fig.layout.yaxis.title.text == "Iterations"
    assert "," in fig.layout.xaxis.tickformat


def test_s_curve_shows_the_probability_below_the_target(run):
    ecdf = results.aggregate(None, run, "ecdf", column="Profit", points=results.ECDF_POINTS)
    fig = results.scurve_figure(ecdf, PROFIT, target=200.0)
    p = results.probability_below(ecdf, 200.0)
    exact = run.summary["outputs"]["Sheet1!A2"]["p_target"]
    assert p == pytest.approx(exact, abs=0.005)
    assert fig.layout.title.text.endswith(f"P(≤ 200.00) = {p * 100:.1f}%")
    assert len(fig.data[0].x) <= results.ECDF_POINTS
    assert results.probability_below(ecdf, -1e9) == 0.0
    assert results.probability_below(ecdf, 1e9) == 1.0


@pytest.mark.parametrize("metric", list(results.TORNADO_METRICS))
def test_tornado_puts_the_strongest_input_on_top(run, metric):
    fig = results.tornado_figure(run, PROFIT, metric)
    assert fig.data[0].y[-1] == "Price (Sheet1!A1)"  # plotly draws the last bar at the top
    assert fig.data[0].orientation == "h"
    assert fig.layout.title.text.startswith("What drives Profit")
    if metric == "range":
        mean = run.summary["outputs"]["Sheet1!A2"]["mean"]
        low, high = fig.data[0].x[-1] + mean, fig.data[1].x[-1] + mean
        assert low < mean < high and high - low > 60  # A1's deciles move the output by ~70


def test_sensitivity_rows_and_top_inputs(run):
    rows = results.sensitivity_rows(run, PROFIT)
    # the engine keys sensitivity by the input's name: found by it, titled with both
    assert [r["input"] for r in rows] == ["Price (Sheet1!A1)", "Sheet1!A3"]
    assert rows[0]["spearman"] > 0.95 and rows[0]["contribution"] > 90
    assert results.top_inputs(run, PROFIT, 1) == [Variable("Sheet1!A1", "Price")]


def test_scatter_is_a_bounded_sample(run):
    (x,) = results.top_inputs(run, PROFIT, 1)
    points = results.aggregate(None, run, "scatter", x=x.column, y="Profit",
                               limit=results.SCATTER_POINTS)
    fig = results.scatter_figure(points, x, PROFIT)
    assert len(fig.data[0].x) == results.SCATTER_POINTS
    assert fig.layout.title.text.startswith("Profit against Price<br>")
    assert "2,000 of 20,000 iterations shown" in fig.layout.title.text


def test_convergence_from_the_summary(run):
    fig = results.convergence_figure(run, PROFIT)
    names = [t.name for t in fig.data]
    assert "Mean" in names and "95% confidence band" in names and "P50" in names
    mean = fig.data[names.index("Mean")]
    assert mean.x[-1] == ITERATIONS
    assert mean.y[-1] == pytest.approx(run.summary["outputs"]["Sheet1!A2"]["mean"])


def test_tables_are_numbers_with_thousands_separators(run):
    rows = results.statistic_rows(run, [PROFIT])
    by_name = {r["statistic"]: r["Sheet1!A2"] for r in rows}
    assert by_name["Valid iterations"] == ITERATIONS
    assert by_name["Mean"] == run.summary["outputs"]["Sheet1!A2"]["mean"]
    assert "P(output ≤ target)" in by_name
    shown = results.formatted(rows, [PROFIT])
    assert shown[0] == {"Statistic": "Valid iterations", "Profit (Sheet1!A2)": "20,000"}
    assert shown[-1]["Profit (Sheet1!A2)"].endswith("%")
    percentiles = results.percentile_rows(run, [PROFIT])
    assert [r["percentile"] for r in percentiles][:3] == ["P1", "P5", "P10"]


def test_overlay_compares_runs_of_the_same_output(run, ctx, actor):  # noqa: F811
    other = finished_run(ctx, actor, 5_000, seed=99)
    assert results.common_outputs([run, other]) == [PROFIT]
    curves = [(f"Run {r.id}", results.aggregate(None, r, "ecdf", column="Profit"))
              for r in (run, other)]
    fig = results.overlay_figure(curves, PROFIT.title)
    assert [t.name for t in fig.data] == [f"Run {run.id}", f"Run {other.id}"]
    assert fig.layout.title.text == "Profit (Sheet1!A2): runs compared"


def test_downloads_hold_every_iteration(run):
    parquet = pq.ParquetFile(io.BytesIO(results.samples_parquet(run)))
    table = parquet.read()
    assert table.num_rows == ITERATIONS
    assert table["iteration"].to_pylist() == list(range(1, ITERATIONS + 1))
    assert table.column_names == ["iteration", "Price", "Sheet1!A3", "Profit"]
    csv = results.samples_csv(run).decode().splitlines()
    assert csv[0] == '"iteration","Price","Sheet1!A3","Profit"'
    assert len(csv) == ITERATIONS + 1
    assert [int(line.split(",")[0]) for line in csv[1:]] == list(range(1, ITERATIONS + 1))


def chunk(start: int, count: int, errors: bool) -> pa.Table:
    """A chunk's samples; with ``errors``, its first iteration's Profit is #DIV/0!."""
    columns = {"iteration": pa.array(range(start + 1, start + count + 1), pa.int64()),
               "Price": pa.array([100.0 + i for i in range(count)]),
               "Sheet1!A3": pa.array([1.0] * count),
               "Profit": pa.array([None if errors and i == 0 else 200.0 + i
                                   for i in range(count)], pa.float64())}
    if errors:
        columns["Profit error"] = pa.array(["#DIV/0!"] + [None] * (count - 1), pa.string())
    return pa.table(columns)


@pytest.fixture
def parts_run(run, ctx):  # noqa: F811
    """The run with made-up samples: three parts written out of order, only the middle one with
    the error column; each part's footer holds its chunk's summary."""
    ctx.samples.delete(run.id)
    for start, errors in ((200, False), (0, False), (100, True)):
        ctx.samples.write_part(run.id, start, chunk(start, 100, errors), {"summary": "{}"})
    return dataclasses.replace(run, samples_path=str(ctx.samples.run_dir(run.id)))


def test_the_parquet_download_is_one_file_of_the_parts_in_order(parts_run):
    parquet = pq.ParquetFile(io.BytesIO(results.samples_parquet(parts_run)))
    assert b"summary" not in (parquet.metadata.metadata or {})  # the chunks' summaries stay
    table = parquet.read()
    assert table.column_names == ["iteration", "Price", "Sheet1!A3", "Profit", "Profit error"]
    assert table["iteration"].to_pylist() == list(range(1, 301))
    errors = table["Profit error"].to_pylist()
    assert errors[100] == "#DIV/0!" and errors.count(None) == 299
    assert table["Profit"][100].as_py() is None and table["Profit"][0].as_py() == 200.0
    histogram = results.aggregate(None, parts_run, "histogram", column="Profit", bins=3)
    assert (histogram["n"], histogram["excluded"]) == (299, 1)


def test_the_csv_download_is_the_parts_in_order(parts_run):
    lines = results.samples_csv(parts_run).decode().splitlines()
    assert lines[0] == '"iteration","Price","Sheet1!A3","Profit","Profit error"'
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(1, 301))
    assert lines[1] == "1,100,1,200,"  # no error: an empty error field
    assert lines[101] == '101,100,1,,"#DIV/0!"'


def test_a_single_file_run_downloads_the_same(parts_run, ctx):  # noqa: F811
    """A run from before chunking: one file, read as it is."""
    whole = pq.read_table(io.BytesIO(results.samples_parquet(parts_run)))
    csv = results.samples_csv(parts_run)
    ctx.samples.delete(parts_run.id)
    path = ctx.samples.write(parts_run.id, whole)
    single = dataclasses.replace(parts_run, samples_path=str(path))
    assert pq.read_table(io.BytesIO(results.samples_parquet(single))).equals(whole)
    assert results.samples_csv(single) == csv
    assert results.aggregate(None, single, "histogram", column="Profit", bins=3)["n"] == 299
