"""Results of a finished run: statistics and percentiles, histogram, S-curve with a target,
tornado, scatter against the top inputs, convergence, runs compared, and downloads.

A thin view over services.results and services.report: every chart is built there from the
run's summary or from DuckDB aggregates (bins and bounded samples) kept in the app's cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from services import formatting as fmt
from services import results
from services.report import report_bytes
from services.results import ResultsError
from services.runs import workbook_names
from ui.runs import pick_run
from ui.session import context, require_user

actor = require_user()
ctx = context()
st.title("Results")

finished = [r for r in ctx.store.list_runs(actor) if r.status == "done"]
if not finished:
    st.info("No finished runs yet: start one from the set-up page, or run the demo from Home.")
    st.stop()
names = workbook_names(ctx, actor)
run = pick_run(finished, names)
cache = ctx.cache


def chart(figure_source: Callable[..., go.Figure], *args: Any, **kwargs: Any) -> None:
    """Draw a figure from services.results, or the reason it cannot be drawn."""
    try:
        st.plotly_chart(figure_source(*args, **kwargs), width="stretch")
    except ResultsError as exc:
        st.error(str(exc))


try:
    outputs = results.outputs_of(run)
    inputs = results.inputs_of(run)
except ResultsError as exc:
    st.error(str(exc))
    st.stop()
if not outputs:
    st.warning(f"Run {run.id} has no outputs to show.")
    st.stop()
summary = run.summary or {}
for warning in summary.get("warnings") or []:
    st.warning(warning)
st.caption(f"{names.get(run.workbook_id, 'workbook')} · {fmt.integer(run.iterations)} "
           f"iterations · seed {run.seed} · {run.sampling.upper()} · ran on "
           f"{summary.get('device', run.device)} in {fmt.duration(summary.get('elapsed_seconds'))}")
output = st.selectbox("Output", outputs, format_func=lambda v: v.title, key="results_output")
stats = summary["outputs"][output.label]

summary_tab, dist_tab, sens_tab, conv_tab, compare_tab, download_tab = st.tabs(
    ["Statistics", "Distribution", "Sensitivity", "Convergence", "Compare runs", "Downloads"])

with summary_tab:
    left, right = st.columns(2)
    left.subheader("Statistics")
    left.dataframe(results.formatted(results.statistic_rows(run, outputs), outputs),
                   hide_index=True, width="stretch")
    right.subheader("Percentiles")
    right.dataframe(results.formatted(results.percentile_rows(run, outputs), outputs),
                    hide_index=True, width="stretch")

with dist_tab:
    available = sorted(stats.get("percentiles") or {}, key=float)
    marks = st.multiselect("Percentiles to mark", available,
                           default=[p for p in ("5", "95") if p in available],
                           format_func=fmt.percentile_label, key="results_marks")
    bins = st.slider("Bins", 10, 200, 50, step=10, key="results_bins")
    try:
        hist = results.aggregate(cache, run, "histogram", column=output.column, bins=bins)
        ecdf = results.aggregate(cache, run, "ecdf", column=output.column,
                                 points=results.ECDF_POINTS)
    except ResultsError as exc:
        st.error(str(exc))
    else:
        chart(results.histogram_figure, hist, stats, output, marks)
        if ecdf["x"]:
            low, high = float(ecdf["x"][0]), float(ecdf["x"][-1])
            start = stats.get("target")
            start = float(start) if start is not None and low <= start <= high \
                else float(stats.get("mean") or low)
            target = st.slider("Target", low, high, start, step=(high - low) / 200 or 1.0,
                               key=f"results_target_{run.id}_{output.label}",
                               help="The S-curve shows the probability that the output is at "
                                    "most this value.")
            chart(results.scurve_figure, ecdf, output, target)

with sens_tab:
    metric = st.radio("Measure", list(results.TORNADO_METRICS), horizontal=True,
                      format_func=results.TORNADO_METRICS.get, key="results_metric")
    chart(results.tornado_figure, run, output, metric)
    top = results.top_inputs(run, output, 3)
    if top:
        st.subheader("Output against the inputs that matter most")
        for column, x in zip(st.columns(len(top)), top):
            with column:
                try:
                    points = results.aggregate(cache, run, "scatter", x=x.column,
                                               y=output.column, limit=results.SCATTER_POINTS)
                except ResultsError as exc:
                    st.error(str(exc))
                else:
                    chart(results.scatter_figure, points, x, output)
    elif not inputs:
        st.info("This run has no uncertain inputs, so there is no sensitivity to show.")

with conv_tab:
    chart(results.convergence_figure, run, output)

with compare_tab:
    others = [r for r in finished if r.id != run.id
              and output.label in (r.summary or {}).get("outputs", {})]
    if not others:
        st.info("No other finished run has this output. Run the set-up again (another seed, "
                "more iterations, changed inputs) to compare runs here.")
    else:
        picked_ids = st.multiselect(
            "Compare with", [r.id for r in others], default=[others[0].id],
            format_func=lambda i: next(f"Run {r.id} · {fmt.integer(r.iterations)} iterations "
                                       f"· {names.get(r.workbook_id, '')}"
                                       for r in others if r.id == i),
            key="results_compare")
        compared = [run, *(r for r in others if r.id in picked_ids)]
        try:
            curves = [(f"Run {r.id}", results.aggregate(cache, r, "ecdf", column=output.column,
                                                        points=results.ECDF_POINTS))
                      for r in compared]
        except ResultsError as exc:
            st.error(str(exc))
        else:
            chart(results.overlay_figure, curves, output.title)
            st.dataframe(results.comparison_rows(compared, output), hide_index=True,
                         width="stretch")

with download_tab:
    stem = f"run-{run.id}"
    st.write("Every iteration's inputs and outputs, or a report of the results for Excel.")
    left, middle, right = st.columns(3)
    left.download_button("Samples (CSV)", lambda: results.samples_csv(run),
                         file_name=f"{stem}-samples.csv", mime="text/csv", on_click="ignore",
                         key="download_csv")
    middle.download_button("Samples (Parquet)", lambda: results.samples_parquet(run),
                           file_name=f"{stem}-samples.parquet",
                           mime="application/vnd.apache.parquet", on_click="ignore",
                           key="download_parquet")
    right.download_button(
        "Excel report", lambda: report_bytes(cache, run, names.get(run.workbook_id, stem)),
        file_name=f"{stem}-report.xlsx", on_click="ignore", key="download_report",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
