"""Home: the one-click demo, the user's recent runs with their status, and their workbooks.

A thin view: the demo is services.demo, the tables' rows are services.home."""

from __future__ import annotations

import streamlit as st

from services.demo import DEMO_ITERATIONS, start_demo
from services.home import RECENT_RUNS, own_runs, own_workbooks, run_rows, workbook_rows
from services.runs import RunError, run_label
from services.workbooks import UploadError
from ui.session import context, require_user

actor = require_user()
ctx = context()
st.title("Home")

with st.container(border=True):
    st.subheader("Try the demo")
    st.write(
        "A 10-year project cash-flow model (capex, price growth, peak volume, opex ratio and "
        "discount spread uncertain, declared with @RISK functions; NPV and peak funding marked "
        f"with RiskOutput), simulated for {DEMO_ITERATIONS:,} iterations. The workbook is saved "
        "to your workbooks once, so you can set up your own runs of it afterwards.")
    if st.button("Run the demo", type="primary", key="run_demo"):
        try:
            run = start_demo(ctx, actor)
        except (UploadError, RunError) as exc:
            st.error(f"The demo could not start: {exc}")
        else:
            st.session_state["workbook_id"] = run.workbook_id
            st.session_state["run_id"] = run.id
            st.switch_page("pages/run.py", query_params={"run": str(run.id)})

runs = own_runs(ctx, actor)
workbooks = own_workbooks(ctx, actor)
names = {w.id: w.filename for w in ctx.store.list_workbooks(actor)}

st.subheader("Recent runs")
if not runs:
    st.info("No runs yet: run the demo above, or upload a workbook and set up a simulation.")
else:
    recent = runs[:RECENT_RUNS]
    st.dataframe(run_rows(recent, names), hide_index=True, column_config={
        "Run": st.column_config.NumberColumn(format="%d"),
        "Progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0,
                                                    format="percent")})
    chosen = st.selectbox("Run", recent, key="home_run",
                          format_func=lambda r: run_label(r, names.get(r.workbook_id)))
    if st.button("Open results" if chosen.status == "done" else "Open progress", key="open_run"):
        st.session_state["run_id"] = chosen.id
        st.session_state["workbook_id"] = chosen.workbook_id
        target = "pages/results.py" if chosen.status == "done" else "pages/run.py"
        st.switch_page(target, query_params={"run": str(chosen.id)})

st.subheader("Your workbooks")
if not workbooks:
    st.info("No workbooks yet: upload one, or run the demo to get the project model.")
else:
    st.dataframe(workbook_rows(workbooks, runs), hide_index=True)
    picked = st.selectbox("Workbook", workbooks, format_func=lambda w: f"{w.filename} (#{w.id})",
                          key="home_workbook")
    if st.button("Set up a simulation", key="setup_workbook"):
        st.session_state["workbook_id"] = picked.id
        st.switch_page("pages/setup.py", query_params={"workbook": str(picked.id)})
