"""What the Results page shows, built from a finished run (Streamlit-free).

Two sources, chosen by cost: the run's stored summary (statistics, percentiles, sensitivity,
tornado and convergence, computed by the engine when the run ended) costs nothing to read; the
shapes of distributions (histogram, S-curve, scatter) are aggregated by DuckDB over the samples
(``db.queries``: the run's chunk parts read as one table), which returns bins and at most a few
thousand points however many iterations ran, and each aggregate is kept in the app's cache under
the run's id, so a rerun of the page (every widget change) does not scan the samples again.
Samples of a run never change once it is done, so cached aggregates never go stale.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from db import queries, samples
from db.cache import Cache, aggregate_key
from db.entities import RunRecord
from services import formatting as fmt

SCATTER_POINTS = 2_000
ECDF_POINTS = 400
TORNADO_BARS = 10
MEAN_COLOUR = "#d62728"
MARK_COLOUR = "#555555"

_AGGREGATES: dict[str, Callable[..., dict[str, Any]]] = {
    "histogram": queries.histogram, "ecdf": queries.ecdf, "quantiles": queries.quantiles,
    "tornado": queries.tornado, "scatter": queries.scatter,
}

TORNADO_METRICS = {
    "spearman": "Rank correlation",
    "src": "Regression coefficient (standardised)",
    "contribution": "Contribution to variance (%)",
    "range": "Output mean over the input's lowest and highest 10%",
}

STATISTICS = (
    ("Mean", "mean"), ("Standard deviation", "std"), ("Minimum", "min"), ("Maximum", "max"),
    ("Skewness", "skewness"), ("Kurtosis (excess)", "kurtosis"),
    ("Standard error of the mean", "sem"), ("Value at risk", "var"),
    ("Conditional value at risk", "cvar"),
)


class ResultsError(ValueError):
    """A run whose results cannot be shown (not finished, samples gone); one sentence."""


@dataclass(frozen=True)
class Variable:
    """An input or output of a run: its cell label, its column in the samples (a RiskName
    when given) and the title charts use."""

    label: str
    column: str

    @property
    def title(self) -> str:
        return self.column if self.column == self.label else f"{self.column} ({self.label})"


def summary_of(run: RunRecord) -> dict[str, Any]:
    """The run's stored results; a run that did not finish has none to show."""
    if run.status != "done" or not run.summary:
        raise ResultsError(f"Run {run.id} is {run.status}: results exist only for a finished "
                           "run.")
    return run.summary


def outputs_of(run: RunRecord) -> list[Variable]:
    outputs = summary_of(run).get("outputs") or {}
    return [Variable(label, str(stats.get("name") or label)) for label, stats in outputs.items()]


def inputs_of(run: RunRecord) -> list[Variable]:
    inputs = summary_of(run).get("inputs") or {}
    return [Variable(label, str(stats.get("name") or label)) for label, stats in inputs.items()]


def samples_path(run: RunRecord) -> str:
    """The run's ``samples_path`` (its folder of parts, or an older run's single file), once
    its samples are known to be on disk."""
    summary_of(run)
    if not run.samples_path or not samples.sample_files(run.samples_path):
        raise ResultsError(f"The samples of run {run.id} are no longer on the server.")
    return run.samples_path


def aggregate(cache: Cache | None, run: RunRecord, name: str, **kwargs: Any) -> dict[str, Any]:
    """``db.queries.<name>(samples, **kwargs)`` through the aggregate cache.

    Raises ResultsError with the query's own sentence when the samples cannot answer."""
    compute = _AGGREGATES[name]
    key = aggregate_key(run.id, {"fn": name, **kwargs})
    if cache is not None:
        hit = cache.get_json(key)
        if hit is not None:
            return hit
    try:
        value = compute(samples_path(run), **kwargs)
    except queries.QueryError as exc:
        raise ResultsError(str(exc)) from exc
    if cache is not None:
        cache.set_json(key, value)
    return value


# ------------------------------------------------------------------------------------ tables


def statistic_rows(run: RunRecord, outputs: Sequence[Variable]) -> list[dict[str, Any]]:
    """Raw values: ``[{"statistic": "Mean", <output label>: value, ...}, ...]``, for the page
    (formatted by :func:`formatted`) and the Excel report (kept as numbers)."""
    stats = summary_of(run)["outputs"]
    first = stats[outputs[0].label] if outputs else {}
    level = first.get("var_level", 0.95)
    rows = [{"statistic": "Valid iterations", **{v.label: stats[v.label].get("n")
                                                  for v in outputs}},
            {"statistic": "Error iterations", **{v.label: stats[v.label].get("errors")
                                                  for v in outputs}}]
    for title, key in STATISTICS:
        if key in ("var", "cvar"):
            title = f"{title} ({fmt.percent(level, 0)}, {first.get('tail', 'lower')} tail)"
        rows.append({"statistic": title, **{v.label: stats[v.label].get(key) for v in outputs}})
    targets = {v.label: stats[v.label].get("target") for v in outputs}
    if any(t is not None for t in targets.values()):
        rows.append({"statistic": "Target", **targets})
        rows.append({"statistic": "P(output ≤ target)",
                     **{v.label: stats[v.label].get("p_target") for v in outputs}})
    return rows


def percentile_rows(run: RunRecord, outputs: Sequence[Variable]) -> list[dict[str, Any]]:
    """``[{"percentile": "P5", <output label>: value, ...}, ...]`` in increasing order."""
    stats = summary_of(run)["outputs"]
    keys = sorted({k for v in outputs for k in stats[v.label].get("percentiles", {})},
                  key=float)
    return [{"percentile": fmt.percentile_label(k),
             **{v.label: stats[v.label]["percentiles"].get(k) for v in outputs}} for k in keys]


def formatted(rows: list[dict[str, Any]], outputs: Sequence[Variable]) -> list[dict[str, str]]:
    """Rows for display: first column as is, numbers with thousands separators, columns named
    by the outputs' titles; probabilities as percentages."""
    shown = []
    for row in rows:
        first_key = next(iter(row))
        is_share = row[first_key].startswith("P(")
        counts = row[first_key].endswith("iterations")
        line = {first_key.capitalize(): row[first_key]}
        for v in outputs:
            value = row.get(v.label)
            line[v.title] = (fmt.percent(value) if is_share else fmt.integer(value) if counts
                             else fmt.number(value))
        shown.append(line)
    return shown


def sensitivity_rows(run: RunRecord, output: Variable) -> list[dict[str, Any]]:
    """Per input, largest rank correlation first: ``{"variable", "input" (its title),
    "spearman", "src", "contribution", "low", "high"}`` (low/high: output mean over the input's
    extreme 10%). The engine keys sensitivity by the input's name (its samples column)."""
    summary = summary_of(run)
    sens = (summary.get("sensitivity") or {}).get(output.label) or {}
    known = {key: v for v in inputs_of(run) for key in (v.column, v.label)}
    tornado = {bar["input"]: bar for bar in (sens.get("tornado") or {}).get("bars", [])}
    rows = []
    for key, values in (sens.get("inputs") or {}).items():
        variable = known.get(key, Variable(key, key))
        bar = tornado.get(key, {})
        rows.append({"variable": variable, "input": variable.title,
                     "spearman": values.get("spearman"), "src": values.get("src"),
                     "contribution": values.get("contribution"), "low": bar.get("low"),
                     "high": bar.get("high")})
    rows.sort(key=lambda r: -abs(r["spearman"] or 0.0))
    return rows


def top_inputs(run: RunRecord, output: Variable, count: int = 3) -> list[Variable]:
    """The inputs with the strongest rank correlation with ``output``."""
    return [r["variable"] for r in sensitivity_rows(run, output)[:count]]


# ------------------------------------------------------------------------------------ charts


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0}, xaxis_title=x_title, yaxis_title=y_title,
                      separators=".,", margin={"t": 60, "l": 10, "r": 10, "b": 10},
                      legend={"orientation": "h", "y": -0.2})
    fig.update_xaxes(tickformat=fmt.AXIS_FORMAT)
    return fig


def histogram_figure(hist: dict[str, Any], stats: dict[str, Any], output: Variable,
                     marks: Sequence[str] = ("5", "95")) -> go.Figure:
    """Bars from the binned counts, the mean and the chosen percentiles (exact, from the
    summary) drawn as vertical lines."""
    edges = np.asarray(hist["edges"], dtype=float)
    fig = go.Figure()
    if len(edges) > 1:
        centres = (edges[:-1] + edges[1:]) / 2
        fig.add_bar(x=centres, y=hist["counts"], width=np.diff(edges), name="Iterations",
                    marker_color="#1f77b4", showlegend=False,
                    customdata=np.column_stack([edges[:-1], edges[1:]]),
                    hovertemplate="%{customdata[0]:,.4~r} to %{customdata[1]:,.4~r}: "
                                  "%{y:,} iterations<extra></extra>")
    if stats.get("mean") is not None:
        fig.add_vline(x=stats["mean"], line_color=MEAN_COLOUR, line_dash="dash",
                      annotation_text=f"Mean {fmt.number(stats['mean'])}")
    for key in marks:
        value = (stats.get("percentiles") or {}).get(key)
        if value is not None:
            fig.add_vline(x=value, line_color=MARK_COLOUR, line_dash="dot",
                          annotation_text=f"{fmt.percentile_label(key)} {fmt.number(value)}",
                          annotation_position="bottom right")
    fig.update_yaxes(tickformat=",d")
    title = f"Distribution of {output.title} ({fmt.integer(hist['n'])} iterations)"
    return _layout(fig, title, output.title, "Iterations")


def probability_below(ecdf: dict[str, Any], target: float) -> float | None:
    """P(output <= target), interpolated between the ECDF's exact points (at most one
    step of 1 / (points - 1) away from the exact share)."""
    if not ecdf["x"]:
        return None
    return float(np.interp(target, ecdf["x"], ecdf["p"], left=0.0, right=1.0))


def scurve_figure(ecdf: dict[str, Any], output: Variable,
                  target: float | None = None) -> go.Figure:
    """The cumulative distribution, with the target marked and P(output <= target) in the
    title."""
    fig = go.Figure()
    fig.add_scatter(x=ecdf["x"], y=ecdf["p"], mode="lines", name=output.title,
                    hovertemplate="P(≤ %{x:,.4~r}) = %{y:.1%}<extra></extra>")
    title = f"Cumulative probability of {output.title}"
    if target is not None:
        p = probability_below(ecdf, target)
        fig.add_vline(x=target, line_color=MEAN_COLOUR, line_dash="dash")
        if p is not None:
            fig.add_hline(y=p, line_color=MEAN_COLOUR, line_dash="dot")
            title += f": P(≤ {fmt.number(target)}) = {fmt.percent(p)}"
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return _layout(fig, title, output.title, "Probability of a value at most x")


def tornado_figure(run: RunRecord, output: Variable, metric: str = "spearman") -> go.Figure:
    """Horizontal bars for the inputs that matter most, largest at the top, from the summary's
    sensitivity (rank correlation, regression, contribution) or its decile tornado."""
    if metric not in TORNADO_METRICS:
        raise ResultsError(f"Unknown tornado measure {metric!r}.")
    rows = sensitivity_rows(run, output)
    key = "spearman" if metric == "range" else metric
    rows = sorted(rows, key=lambda r: -abs(r[key] or 0.0))[:TORNADO_BARS][::-1]
    names = [r["input"] for r in rows]
    fig = go.Figure()
    if metric == "range":
        mean = summary_of(run)["outputs"][output.label]["mean"]
        for side, label, colour in (("low", "Input in its lowest 10%", "#1f77b4"),
                                    ("high", "Input in its highest 10%", "#ff7f0e")):
            fig.add_bar(y=names, x=[(r[side] or mean) - mean for r in rows], base=mean,
                        orientation="h", name=label, marker_color=colour,
                        hovertemplate="%{y}: %{x:,.4~r}<extra>" + label + "</extra>")
        fig.update_layout(barmode="overlay")
        fig.add_vline(x=mean, line_color=MARK_COLOUR,
                      annotation_text=f"Mean {fmt.number(mean)}")
        x_title = f"Mean of {output.title}"
    else:
        values = [r[metric] or 0.0 for r in rows]
        fig.add_bar(y=names, x=values, orientation="h", showlegend=False,
                    marker_color=["#1f77b4" if v >= 0 else "#d62728" for v in values],
                    text=[f"{v:,.2f}" for v in values], textposition="auto",
                    hovertemplate="%{y}: %{x:,.3f}<extra></extra>")
        x_title = TORNADO_METRICS[metric]
    title = f"What drives {output.title}: {TORNADO_METRICS[metric].lower()}"
    fig = _layout(fig, title, x_title, "")
    fig.update_yaxes(automargin=True)
    return fig


def scatter_figure(points: dict[str, Any], x: Variable, y: Variable) -> go.Figure:
    """A deterministic sample of (input, output) pairs, never the whole run."""
    fig = go.Figure()
    fig.add_scattergl(x=points["x"], y=points["y"], mode="markers", showlegend=False,
                      marker={"size": 4, "opacity": 0.5},
                      hovertemplate="%{x:,.4~r} → %{y:,.4~r}<extra></extra>")
    shown = len(points["x"])
    title = f"{y.column} against {x.column}"  # short: charts sit three to a row
    if points.get("sampled"):
        title += (f"<br><sup>{fmt.integer(shown)} of {fmt.integer(points['n'])} iterations "
                  "shown</sup>")
    fig.update_yaxes(tickformat=fmt.AXIS_FORMAT)
    return _layout(fig, title, x.title, y.title)


def convergence_figure(run: RunRecord, output: Variable) -> go.Figure:
    """The running mean with its confidence band and the running percentiles, by iteration."""
    trace = (summary_of(run).get("convergence") or {}).get(output.label)
    if not trace:
        raise ResultsError(f"Run {run.id} recorded no convergence trace for {output.title}.")
    its = trace["iterations"]
    fig = go.Figure()
    fig.add_scatter(x=its, y=trace["upper"], mode="lines", line={"width": 0},
                    showlegend=False, hoverinfo="skip")
    confidence = fmt.percent(trace.get("confidence", 0.95), 0)
    fig.add_scatter(x=its, y=trace["lower"], mode="lines", line={"width": 0}, fill="tonexty",
                    fillcolor="rgba(31,119,180,0.2)", name=f"{confidence} confidence band",
                    hoverinfo="skip")
    fig.add_scatter(x=its, y=trace["mean"], mode="lines", name="Mean",
                    line={"color": "#1f77b4"})
    for key, values in (trace.get("percentiles") or {}).items():
        fig.add_scatter(x=its, y=values, mode="lines", line={"dash": "dot"},
                        name=fmt.percentile_label(key))
    fig.update_xaxes(type="log")
    fig.update_yaxes(tickformat=fmt.AXIS_FORMAT)
    return _layout(fig, f"Convergence of {output.title}", "Iterations (log scale)",
                   output.title)


def overlay_figure(curves: Sequence[tuple[str, dict[str, Any]]], title: str) -> go.Figure:
    """S-curves of one output from several runs on one chart: ``(run name, ecdf)`` pairs."""
    fig = go.Figure()
    for name, ecdf in curves:
        fig.add_scatter(x=ecdf["x"], y=ecdf["p"], mode="lines", name=name,
                        hovertemplate="P(≤ %{x:,.4~r}) = %{y:.1%}<extra>" + name + "</extra>")
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return _layout(fig, f"{title}: runs compared", title, "Probability of a value at most x")


def common_outputs(runs: Sequence[RunRecord]) -> list[Variable]:
    """Outputs every one of ``runs`` has, in the first run's order: what can be overlaid."""
    if not runs:
        return []
    shared = set.intersection(*({v.label for v in outputs_of(r)} for r in runs))
    return [v for v in outputs_of(runs[0]) if v.label in shared]


# ---------------------------------------------------------------------------------- downloads


def samples_parquet(run: RunRecord) -> bytes:
    """Every iteration as ONE Parquet file, in iteration order, whatever the run's layout: the
    parts are streamed batch by batch into one writer with their columns unified (an error
    column a part lacks is null there); the chunks' summaries in the parts' footers stay
    behind. A run from before chunking already is one such file, sent as it is."""
    path = Path(samples_path(run))
    if path.is_file():
        return path.read_bytes()
    return _download(run, lambda out, schema: pq.ParquetWriter(out, schema, compression="zstd"))


def samples_csv(run: RunRecord) -> bytes:
    """Every iteration's inputs and outputs as CSV in iteration order, written batch by batch
    (an error iteration's output is empty, its error text in the error column)."""
    return _download(run, pacsv.CSVWriter)


def _download(run: RunRecord, writer_for: Callable[[io.BytesIO, pa.Schema], Any]) -> bytes:
    path = samples_path(run)
    out = io.BytesIO()
    try:
        schema = samples.read_schema(path)
        with writer_for(out, schema) as writer:
            for batch in samples.iter_batches(path):
                writer.write_batch(batch)
    except FileNotFoundError as exc:  # deleted since we looked
        raise ResultsError(f"The samples of run {run.id} are no longer on the server.") from exc
    return out.getvalue()


def comparison_rows(runs: Sequence[RunRecord], output: Variable) -> list[dict[str, str]]:
    """One formatted line per run for the comparison table: iterations, mean, spread and the
    usual percentiles of ``output``."""
    rows = []
    for run in runs:
        stats = summary_of(run)["outputs"][output.label]
        pct = stats.get("percentiles") or {}
        rows.append({"Run": f"Run {run.id}", "Iterations": fmt.integer(run.iterations),
                     "Sampling": run.sampling.upper(), "Mean": fmt.number(stats.get("mean")),
                     "Standard deviation": fmt.number(stats.get("std")),
                     **{fmt.percentile_label(k): fmt.number(pct.get(k))
                        for k in ("5", "50", "95")}})
    return rows
