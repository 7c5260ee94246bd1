"""Explore with SQL: the sandboxed DuckDB console over the user's own finished runs, example
queries that fill the editor, the answer as a table and a quick chart.

A thin view: which runs, the examples, running a query and the chart are services.explore; the
sandbox and the statement filter are db.console."""

from __future__ import annotations

import streamlit as st

from services.explore import (
    ConsoleError,
    console_runs,
    examples,
    numeric_columns,
    quick_chart,
    run_query,
    summary_line,
    table,
)
from services.runs import run_label, workbook_names
from ui.session import context, require_user

EDITOR = "explore_sql"
ANSWER = "explore_answer"

actor = require_user()
ctx = context()
st.title("Explore with SQL")

runs = console_runs(ctx, actor)
if not runs:
    st.info("There is nothing to query yet: the console reads the samples of your finished "
            "runs. Run the demo from Home, or set up and run a simulation of your own.")
    st.stop()

names = workbook_names(ctx, actor)
st.caption("Each of your finished runs is a view, `run_<id>`, with one row per iteration: the "
           "`iteration` number, every input and every output (names in double quotes, as in "
           '`"Peak funding"`); `runs` lists them. The console is read-only: one SELECT, WITH, '
           "DESCRIBE, SHOW or SUMMARIZE statement at a time, at most 10 seconds and 10,000 rows.")
with st.expander(f"Your runs ({len(runs):,})"):
    st.markdown("\n".join(f"- `run_{r.id}`: {run_label(r, names.get(r.workbook_id))}"
                          for r in runs))

ids = [r.id for r in runs]
carried = st.session_state.get("run_id") or st.query_params.get("run")
start = ids.index(int(carried)) if str(carried).isdigit() and int(carried) in ids else 0
run = st.selectbox("Examples for", runs, index=start, key="explore_run",
                   format_func=lambda r: run_label(r, names.get(r.workbook_id)))


def _fill(sql: str) -> None:
    """Example buttons put their query in the editor (a callback runs before the editor is
    drawn, so the new text shows at once) and clear the previous answer."""
    st.session_state[EDITOR] = sql
    st.session_state.pop(ANSWER, None)


st.write("Example queries")
found = examples(run, runs)
for column, example in zip(st.columns(4) * (len(found) // 4 + 1), found):
    column.button(example.label, key=f"example_{example.label}", on_click=_fill,
                  args=(example.sql,), width="stretch")

st.session_state.setdefault(EDITOR, found[0].sql)
sql = st.text_area("SQL", key=EDITOR, height=180)
if st.button("Run query", type="primary", key="run_query"):
    try:
        st.session_state[ANSWER] = run_query(runs, sql)
    except ConsoleError as exc:
        st.session_state[ANSWER] = str(exc)

answer = st.session_state.get(ANSWER)
if isinstance(answer, str):
    st.error(answer)
elif answer is not None:
    st.caption(summary_line(answer))
    shown = table(answer)
    numeric = [list(shown)[j] for j in numeric_columns(answer)]
    st.dataframe(shown, hide_index=True, column_config={
        name: st.column_config.NumberColumn(format="localized") for name in numeric})
    figure = quick_chart(answer)
    if figure is None:
        st.caption("The quick chart needs two numeric columns: it plots the first against the "
                   "second.")
    else:
        st.plotly_chart(figure, width="stretch")
