"""The run picker shared by the Runs and Results pages (Streamlit glue, no logic of its own).

The chosen run travels between pages in ``st.session_state["run_id"]`` and in ``?run=``, so a
page opened from a link, or reopened after leaving, starts on the same run."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from db.entities import RunRecord
from services.runs import run_label


def carried_run_id() -> int | None:
    """The run another page (or the URL) asked for."""
    value = str(st.session_state.get("run_id") or st.query_params.get("run") or "")
    return int(value) if value.isdigit() else None


def pick_run(runs: Sequence[RunRecord], names: dict[int, str], label: str = "Run",
             key: str = "run_picker") -> RunRecord:
    """A select box over ``runs`` (not empty) starting on the carried run, which it carries
    on. The run's workbook becomes the carried workbook only when a run was really chosen (in
    this picker, or by another page or the URL): opening Results on its default run must not
    move a set-up in progress to another workbook."""
    by_id = {r.id: r for r in runs}  # ids as options: a record changes as its run progresses
    ids = list(by_id)
    carried = carried_run_id()
    index = ids.index(carried) if carried in ids else 0
    chosen = st.selectbox(label, ids, index=index, key=key, format_func=lambda i: run_label(
        by_id[i], names.get(by_id[i].workbook_id), with_status=False))
    run = by_id[chosen]
    if carried is not None or chosen != ids[0]:
        st.session_state["workbook_id"] = run.workbook_id
    st.session_state["run_id"] = run.id
    st.query_params["run"] = str(run.id)
    return run
