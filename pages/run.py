"""Runs: the user's runs, and the chosen one's progress (iterations done, speed, time left),
polled from the store while it is queued or running, with cancel. The run itself executes in
the worker pool, so the page may be left and reopened at any time."""

from __future__ import annotations

import streamlit as st

from services import formatting as fmt
from services.runs import Actor, cancel_run, progress_of, workbook_names
from ui.runs import pick_run
from ui.session import context, require_user

POLL_S = 1.0

actor = require_user()
ctx = context()
st.title("Runs")


def _cancel(run_id: int, who: Actor) -> None:
    if not cancel_run(context(), who, run_id):
        st.session_state["run_notice"] = "The run had already ended."


def show_progress(run_id: int, was_active: bool) -> None:
    """The run's status, re-read from the store on every poll; when the run ends, the whole
    page reruns once so polling stops and the results button appears."""
    record = context().store.get_run(actor, run_id)
    progress = progress_of(record)
    if was_active and not progress.active:
        st.rerun(scope="app")
    st.progress(progress.fraction, text=progress.text())
    if progress.active:
        st.button("Cancel run", key=f"cancel_{run_id}", on_click=_cancel, args=(run_id, actor))
    elif record.status == "done":
        st.success(f"Run {run_id} finished: {fmt.integer(record.iterations)} iterations in "
                   f"{fmt.duration(progress.elapsed_s)}.")
        if st.button("Open the results", type="primary", key="open_results"):
            st.switch_page("pages/results.py", query_params={"run": str(run_id)})
    elif record.status == "failed":
        st.error(f"Run {run_id} failed: {record.error}")
    else:
        st.warning(f"Run {run_id} was {record.status}"
                   + (f": {record.error}." if record.error else "."))


runs = ctx.store.list_runs(actor)
if not runs:
    st.info("No runs yet: set up a simulation of a workbook, or run the demo from Home.")
    st.stop()
names = workbook_names(ctx, actor)
run = pick_run(runs, names)
notice = st.session_state.pop("run_notice", None)
if notice:
    st.info(notice)

st.caption(f"{names.get(run.workbook_id, 'workbook')} · {fmt.integer(run.iterations)} "
           f"iterations · seed {run.seed} · "
           f"{'Latin hypercube' if run.sampling == 'lhs' else 'Monte Carlo'} · "
           f"device {run.device} · created {run.created:%Y-%m-%d %H:%M} UTC")
active = run.active
st.fragment(show_progress, run_every=POLL_S if active else None)(run.id, active)

st.subheader("All your runs")
st.dataframe(
    [{"Run": r.id, "Workbook": names.get(r.workbook_id, ""), "Status": r.status,
      "Progress": r.progress, "Iterations": fmt.integer(r.iterations),
      "Created": f"{r.created:%Y-%m-%d %H:%M}"} for r in runs],
    hide_index=True, column_config={
        "Run": st.column_config.NumberColumn(format="%d"),
        "Progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0,
                                                    format="percent")})
