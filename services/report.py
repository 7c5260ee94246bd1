"""The Excel report of a finished run: statistics, percentiles, sensitivity and native Excel
charts (histogram, S-curve, tornado) built with openpyxl.

Native charts rather than images: they need no browser or image renderer on the server, stay
sharp at any zoom, and the reader can restyle them in Excel. Their data lives on a "Chart data"
sheet of the same workbook: bins and ECDF points from DuckDB, never the raw iterations.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference, ScatterChart, Series
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from db.cache import Cache
from db.entities import RunRecord
from services import formatting as fmt
from services import results

HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
HEADER_FONT = Font(bold=True, color="FFFFFF")
HISTOGRAM_BINS = 40
CHART_ROWS = 18  # rows of the Charts sheet each chart occupies


def report_bytes(cache: Cache | None, run: RunRecord, workbook_name: str) -> bytes:
    """The report of ``run``, its distributions aggregated through the cache."""
    outputs = results.outputs_of(run)
    hists = {v.label: results.aggregate(cache, run, "histogram", column=v.column,
                                        bins=HISTOGRAM_BINS) for v in outputs}
    ecdfs = {v.label: results.aggregate(cache, run, "ecdf", column=v.column,
                                        points=results.ECDF_POINTS) for v in outputs}
    return excel_report(run, workbook_name, hists, ecdfs)


def excel_report(run: RunRecord, workbook_name: str, hists: dict[str, dict[str, Any]],
                 ecdfs: dict[str, dict[str, Any]]) -> bytes:
    """The workbook as bytes; ``hists`` and ``ecdfs`` are db.queries aggregates by output."""
    outputs = results.outputs_of(run)
    book = Workbook()
    _summary_sheet(book.active, run, workbook_name)
    _table_sheet(book.create_sheet("Statistics"), "Statistic",
                 results.statistic_rows(run, outputs), outputs)
    _table_sheet(book.create_sheet("Percentiles"), "Percentile",
                 results.percentile_rows(run, outputs), outputs)
    sens = book.create_sheet("Sensitivity")
    charts = book.create_sheet("Charts")
    data = book.create_sheet("Chart data")
    row = 1
    for i, output in enumerate(outputs):
        row = _sensitivity_block(sens, row, run, output, charts, i)
        _distribution_charts(data, charts, i, output, hists[output.label], ecdfs[output.label])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _header(ws: Worksheet, row: int, titles: Sequence[str]) -> None:
    for col, title in enumerate(titles, start=1):
        cell = ws.cell(row, col, title)
        cell.fill, cell.font = HEADER_FILL, HEADER_FONT
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    for col in range(1, len(titles) + 1):
        letter = get_column_letter(col)
        ws.column_dimensions[letter].width = max(ws.column_dimensions[letter].width or 0,
                                                 40 if col == 1 else 22)


def _titles(chart: BarChart | ScatterChart, title: str, x_title: str, y_title: str) -> None:
    """Title, axis titles and visible axes (openpyxl 3.1 hides axes unless told otherwise);
    one series per chart, so no legend."""
    chart.title = title
    chart.x_axis.title, chart.y_axis.title = x_title, y_title
    chart.x_axis.delete = chart.y_axis.delete = False
    chart.legend = None


def _summary_sheet(ws: Worksheet, run: RunRecord, workbook_name: str) -> None:
    summary = results.summary_of(run)
    ws.title = "Summary"
    ws["A1"] = f"Monte Carlo results: {workbook_name}"
    ws["A1"].font = Font(bold=True, size=14)
    facts = [("Run", run.id), ("Workbook", workbook_name), ("Iterations", run.iterations),
             ("Seed", run.seed), ("Sampling", "Latin hypercube" if run.sampling == "lhs"
                                  else "Monte Carlo"),
             ("Device", summary.get("device", run.device)),
             ("Engine version", run.engine_version),
             ("Started", run.started.strftime("%Y-%m-%d %H:%M UTC") if run.started else ""),
             ("Run time (s)", summary.get("elapsed_seconds"))]
    for i, (name, value) in enumerate(facts, start=3):
        ws.cell(i, 1, name).font = Font(bold=True)
        cell = ws.cell(i, 2, value)
        if name == "Iterations":
            cell.number_format = "#,##0"
        elif isinstance(value, float):
            cell.number_format = fmt.EXCEL_FORMAT
    row = len(facts) + 4
    for warning in summary.get("warnings") or []:
        ws.cell(row, 1, f"Warning: {warning}")
        row += 1
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 40


def _table_sheet(ws: Worksheet, first: str, rows: list[dict[str, Any]],
                 outputs: Sequence[results.Variable]) -> None:
    _header(ws, 1, [first, *(v.title for v in outputs)])
    for r, row in enumerate(rows, start=2):
        name = next(iter(row.values()))
        ws.cell(r, 1, name)
        for c, output in enumerate(outputs, start=2):
            cell = ws.cell(r, c, row.get(output.label))
            cell.number_format = ("0.0%" if name.startswith("P(") else
                                  "#,##0" if name.endswith("iterations") else fmt.EXCEL_FORMAT)
    ws.freeze_panes = "B2"


def _sensitivity_block(ws: Worksheet, row: int, run: RunRecord, output: results.Variable,
                       charts: Worksheet, index: int) -> int:
    """The output's sensitivity table at ``row`` and its tornado chart (rank correlation) on
    the Charts sheet; returns the next free row."""
    ws.cell(row, 1, f"Sensitivity of {output.title}").font = Font(bold=True, size=12)
    _header(ws, row + 1, ["Input", "Rank correlation", "Regression coefficient",
                          "Contribution to variance (%)", "Output mean, input lowest 10%",
                          "Output mean, input highest 10%"])
    rows = results.sensitivity_rows(run, output)
    keys = ("input", "spearman", "src", "contribution", "low", "high")
    for r, values in enumerate(rows, start=row + 2):
        for c, key in enumerate(keys, start=1):
            cell = ws.cell(r, c, values[key])
            if c > 1:
                cell.number_format = "0.000" if c < 4 else fmt.EXCEL_FORMAT
    if rows:
        chart = BarChart()
        chart.type = "bar"  # horizontal: a tornado
        _titles(chart, f"What drives {output.title} (rank correlation)", "Input",
                "Rank correlation")
        shown = min(len(rows), results.TORNADO_BARS)
        chart.add_data(Reference(ws, min_col=2, min_row=row + 2, max_row=row + 1 + shown))
        chart.set_categories(Reference(ws, min_col=1, min_row=row + 2, max_row=row + 1 + shown))
        chart.x_axis.scaling.orientation = "maxMin"  # largest bar on top
        chart.width, chart.height = 18, 8
        charts.add_chart(chart, f"T{1 + index * CHART_ROWS}")
    return row + len(rows) + 4


def _distribution_charts(data: Worksheet, charts: Worksheet, index: int,
                         output: results.Variable, hist: dict[str, Any],
                         ecdf: dict[str, Any]) -> None:
    """Histogram and S-curve of one output: data in two column pairs of "Chart data", charts
    side by side on "Charts"."""
    col = 1 + index * 5
    data.cell(1, col, f"{output.title}: bin from")
    data.cell(1, col + 1, "Iterations")
    data.cell(1, col + 2, f"{output.title}: value")
    data.cell(1, col + 3, "Cumulative probability")
    edges, counts = hist["edges"], hist["counts"]
    for i, count in enumerate(counts, start=2):
        data.cell(i, col, edges[i - 2]).number_format = fmt.EXCEL_FORMAT
        data.cell(i, col + 1, count).number_format = "#,##0"
    for i, (x, p) in enumerate(zip(ecdf["x"], ecdf["p"]), start=2):
        data.cell(i, col + 2, x).number_format = fmt.EXCEL_FORMAT
        data.cell(i, col + 3, p).number_format = "0.0%"
    anchor_row = 1 + index * CHART_ROWS
    if counts:
        bars = BarChart()
        _titles(bars, f"Distribution of {output.title}", output.title, "Iterations")
        bars.gapWidth = 0
        bars.add_data(Reference(data, min_col=col + 1, min_row=1, max_row=len(counts) + 1),
                      titles_from_data=True)
        bars.set_categories(Reference(data, min_col=col, min_row=2, max_row=len(counts) + 1))
        bars.x_axis.number_format = "#,##0"
        bars.y_axis.number_format = "#,##0"
        bars.width, bars.height = 18, 8
        charts.add_chart(bars, f"A{anchor_row}")
    if ecdf["x"]:
        curve = ScatterChart()
        _titles(curve, f"Cumulative probability of {output.title}", output.title,
                "Probability of a value at most x")
        curve.x_axis.number_format = "#,##0"
        curve.y_axis.number_format = "0%"
        curve.y_axis.scaling.min, curve.y_axis.scaling.max = 0, 1
        last = len(ecdf["x"]) + 1
        series = Series(Reference(data, min_col=col + 3, min_row=2, max_row=last),
                        Reference(data, min_col=col + 2, min_row=2, max_row=last),
                        title=output.title)
        series.marker.symbol = "none"
        series.smooth = False
        curve.series.append(series)
        curve.width, curve.height = 18, 8
        charts.add_chart(curve, f"K{anchor_row}")
