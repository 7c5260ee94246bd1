"""The Excel report opens with openpyxl and holds the run's statistics, percentiles,
sensitivity and native charts."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

from db.cache import MemoryCache
from services.report import HISTOGRAM_BINS, report_bytes
from tests.services.run_fixtures import actor, ctx, finished_run  # noqa: F401 - fixtures


@pytest.fixture
def report(ctx, actor):  # noqa: F811
    run = finished_run(ctx, actor, 10_000)
    return run, report_bytes(MemoryCache(), run, "model.xlsx")


def test_the_report_opens_and_holds_the_statistics(report):
    run, data = report
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Summary", "Statistics", "Percentiles", "Sensitivity", "Charts",
                               "Chart data"]
    summary = book["Summary"]
    assert summary["A1"].value == "Monte Carlo results: model.xlsx"
    facts = {summary.cell(r, 1).value: summary.cell(r, 2) for r in range(3, 12)}
    assert facts["Iterations"].value == 10_000 and facts["Iterations"].number_format == "#,##0"
    assert facts["Sampling"].value == "Latin hypercube"

    stats = book["Statistics"]
    assert stats["B1"].value == "Profit (Sheet1!A2)"
    by_name = {stats.cell(r, 1).value: stats.cell(r, 2) for r in range(2, stats.max_row + 1)}
    expected = run.summary["outputs"]["Sheet1!A2"]
    assert by_name["Mean"].value == pytest.approx(expected["mean"])
    assert by_name["Standard deviation"].value == pytest.approx(expected["std"])
    assert by_name["Mean"].number_format == "#,##0.00"
    assert by_name["P(output ≤ target)"].value == pytest.approx(expected["p_target"])

    pct = book["Percentiles"]
    rows = {pct.cell(r, 1).value: pct.cell(r, 2).value for r in range(2, pct.max_row + 1)}
    assert rows["P95"] == pytest.approx(expected["percentiles"]["95"])

    sens = book["Sensitivity"]
    assert sens["A1"].value == "Sensitivity of Profit (Sheet1!A2)"
    assert sens["A3"].value == "Price (Sheet1!A1)" and sens["B3"].value > 0.95

    data_sheet = book["Chart data"]
    counts = [data_sheet.cell(r, 2).value for r in range(2, HISTOGRAM_BINS + 2)]
    assert sum(counts) == 10_000


def test_the_report_has_native_charts(report):
    _, data = report
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        charts = sorted(n for n in z.namelist() if n.startswith("xl/charts/chart"))
        xml = "".join(z.read(n).decode() for n in charts)
    assert len(charts) == 3  # tornado, histogram, S-curve
    assert "<barChart>" in xml and "<scatterChart>" in xml
    assert '<barDir val="bar"' in xml  # the tornado is horizontal
    assert "Distribution of Profit" in xml and "What drives Profit" in xml
    assert "Cumulative probability of Profit" in xml
