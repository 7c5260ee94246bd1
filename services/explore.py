"""The Explore page's logic: which runs the SQL console sees, ready-made example queries for
them, running one query, and a quick chart of its answer (Streamlit-free, unit-tested).

The console (db.console.SqlConsole) is built from the acting user's OWN finished runs only, even
for an admin: an admin's store reads return everyone's runs, but a console that mixed other
people's samples into "my runs" would be a surprise and a leak in screenshots. A console is
opened for each query and closed at once: building its views takes milliseconds, and nothing
(no DuckDB connection, no temporary folder) is left behind by a session that goes away.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from db.console import ConsoleError as ConsoleError  # what a refused statement raises
from db.console import ConsoleResult, SqlConsole
from db.entities import Actor, RunRecord
from db.samples import read_schema, sample_files
from services import formatting as fmt
from services.context import AppContext

ROW_LIMIT = 10_000
TIMEOUT_S = 10.0
HISTOGRAM_BINS = 40
SCATTER_POINTS = 2_000
PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)
COMPARED_RUNS = 5


@dataclass(frozen=True)
class Example:
    label: str
    sql: str


def console_runs(ctx: AppContext, actor: Actor) -> list[RunRecord]:
    """The actor's own finished runs whose samples are on disk, newest first."""
    return [run for run in ctx.store.list_runs(actor)
            if run.owner_id == actor.user_id and run.status == "done" and run.samples_path
            and sample_files(run.samples_path)]


def run_query(runs: list[RunRecord], sql: str) -> ConsoleResult:
    """Run one statement over ``runs`` (views ``run_<id>`` and ``runs``); a refused or failed
    statement raises db.console.ConsoleError with one sentence for the user."""
    with SqlConsole({run.id: run.samples_path for run in runs}, row_limit=ROW_LIMIT,
                    timeout_s=TIMEOUT_S) as console:
        return console.execute(sql)


def quote(name: str) -> str:
    """A column name as a SQL identifier: the samples' columns are the models' own names
    ("Peak funding", "Capex ($m)"), which need quoting."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def columns_of(run: RunRecord) -> list[str]:
    """The run's sample columns as its view shows them, from the Parquet footers (the app's own
    files, read directly): the first part's columns, then error columns only later parts
    have."""
    return list(read_schema(run.samples_path).names)


def _names(run: RunRecord, kind: str, columns: list[str]) -> list[str]:
    """The run's input or output column names (from its summary), in the samples' order."""
    named = {str(entry.get("name")) for entry in ((run.summary or {}).get(kind) or {}).values()
             if isinstance(entry, dict)}
    return [c for c in columns if c in named]


def examples(run: RunRecord, others: Sequence[RunRecord] = ()) -> list[Example]:
    """Example queries over ``run``: its columns, statistics, an output's percentiles,
    histogram and probability of a loss, an input against that output, and (with ``others``
    that have the same output column) a comparison of runs."""
    view = f"run_{run.id}"
    columns = columns_of(run)
    found = [Example("My runs", "SELECT * FROM runs ORDER BY run_id DESC"),
             Example(f"Columns of run {run.id}", f"DESCRIBE {view}"),
             Example("Statistics of every column", f"SUMMARIZE {view}"),
             Example("First 100 iterations", f"SELECT * FROM {view} ORDER BY iteration LIMIT 100")]
    outputs = _names(run, "outputs", columns)
    inputs = _names(run, "inputs", columns)
    if not outputs:
        return found
    name = outputs[0]
    out = quote(name)
    points = ", ".join(str(p) for p in PERCENTILES)
    fractions = ", ".join(str(p / 100) for p in PERCENTILES)
    found += [
        Example(f"Percentiles of {name}",
                f"SELECT unnest([{points}]) AS percentile,\n"
                f"       unnest(quantile_cont({out}, [{fractions}])) AS value\n"
                f"FROM {view}"),
        Example(f"Histogram of {name}",
                f"WITH bounds AS (SELECT min({out}) AS lo, max({out}) AS hi FROM {view})\n"
                f"SELECT lo + (hi - lo) / {HISTOGRAM_BINS}\n"
                f"         * least(floor(({out} - lo) / (hi - lo) * {HISTOGRAM_BINS}),"
                f" {HISTOGRAM_BINS - 1}) AS bin_start,\n"
                f"       count(*) AS iterations\n"
                f"FROM {view}, bounds WHERE {out} IS NOT NULL\n"
                f"GROUP BY bin_start ORDER BY bin_start"),
        Example(f"Chance {name} is below zero",
                f"SELECT avg(CASE WHEN {out} < 0 THEN 1 ELSE 0 END) AS probability,\n"
                f"       count(*) AS iterations\nFROM {view} WHERE {out} IS NOT NULL"),
    ]
    if inputs:
        first = inputs[0]
        found += [
            Example(f"{first} against {name}",
                    f"SELECT {quote(first)}, {out} FROM {view}\n"
                    f"WHERE iteration <= {SCATTER_POINTS}"),
            Example(f"{name} by input quintile",
                    "\nUNION ALL\n".join(
                        f"SELECT {literal(i)} AS input, q AS quintile,"
                        f" avg(v) AS mean FROM (SELECT ntile(5) OVER (ORDER BY {quote(i)}) AS q,"
                        f" {out} AS v FROM {view}) GROUP BY q" for i in inputs)
                    + "\nORDER BY input, quintile"),
        ]
    same = [r for r in others if r.id != run.id and name in columns_of(r)][:COMPARED_RUNS - 1]
    if same:
        found.append(Example(
            f"Compare {name} across runs",
            "\nUNION ALL\n".join(
                f"SELECT {r.id} AS run_id, avg({out}) AS mean, stddev_samp({out}) AS sd,\n"
                f"       quantile_cont({out}, 0.05) AS p5, quantile_cont({out}, 0.95) AS p95\n"
                f"FROM run_{r.id}" for r in [run, *same]) + "\nORDER BY run_id"))
    return found


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def numeric_columns(result: ConsoleResult) -> list[int]:
    """Indices of the columns whose values are all numbers (or null), at least one not null."""
    found = []
    for j in range(len(result.columns)):
        values = [row[j] for row in result.rows if row[j] is not None]
        if values and all(_is_number(v) for v in values):
            found.append(j)
    return found


def table(result: ConsoleResult) -> dict[str, list[Any]]:
    """The answer as columns for a table; a repeated name (``SELECT 1, 1``) gets a suffix,
    since a table cannot show two columns of one name."""
    columns: dict[str, list[Any]] = {}
    for j, name in enumerate(result.columns):
        key, n = name, 1
        while key in columns:
            n += 1
            key = f"{name} ({n})"
        columns[key] = [row[j] for row in result.rows]
    return columns


def quick_chart(result: ConsoleResult) -> go.Figure | None:
    """The first numeric column against the second: a line when the first one ascends (bins,
    percentiles, quintiles), else a scatter. None when there are fewer than two numeric
    columns."""
    numeric = numeric_columns(result)
    if len(numeric) < 2:
        return None
    i, j = numeric[:2]
    pairs = [(row[i], row[j]) for row in result.rows
             if row[i] is not None and row[j] is not None
             and math.isfinite(row[i]) and math.isfinite(row[j])]
    xs = [p[0] for p in pairs]
    ys = [p[1] for p in pairs]
    ascending = all(a <= b for a, b in zip(xs, xs[1:]))
    figure = go.Figure(go.Scatter(x=xs, y=ys, mode="lines+markers" if ascending else "markers",
                                  marker={"size": 5 if ascending else 4}))
    figure.update_layout(xaxis_title=result.columns[i], yaxis_title=result.columns[j],
                         margin={"l": 10, "r": 10, "t": 30, "b": 10}, height=380)
    figure.update_xaxes(tickformat=fmt.AXIS_FORMAT)
    figure.update_yaxes(tickformat=fmt.AXIS_FORMAT)
    return figure


def summary_line(result: ConsoleResult) -> str:
    """``"1,234 rows in 0.05 s"``, saying when the row limit cut the answer short."""
    count = len(result.rows)
    rows = "row" if count == 1 else "rows"
    line = f"{fmt.integer(count)} {rows} in {fmt.duration(result.elapsed)}"
    if result.truncated:
        line += (f"; only the first {fmt.integer(ROW_LIMIT)} are shown: aggregate or add "
                 "a LIMIT")
    return line
