"""Widgets shared by several pages (Streamlit glue, no logic of their own)."""

from __future__ import annotations

import streamlit as st

from db.entities import Actor, WorkbookRecord
from services.context import AppContext


def pick_workbook(ctx: AppContext, actor: Actor, label: str = "Workbook") -> WorkbookRecord | None:
    """A select box over the user's workbooks that starts on the one carried between pages
    (``st.session_state["workbook_id"]``, else ``?workbook=``) and carries the choice on; None
    when the user has none."""
    workbooks = ctx.store.list_workbooks(actor)
    if not workbooks:
        return None
    ids = [w.id for w in workbooks]
    chosen = str(st.session_state.get("workbook_id") or st.query_params.get("workbook") or "")
    index = ids.index(int(chosen)) if chosen.isdigit() and int(chosen) in ids else 0
    record = st.selectbox(label, workbooks, index=index,
                          format_func=lambda w: f"{w.filename} (#{w.id}, "
                                                f"{w.uploaded:%Y-%m-%d %H:%M})")
    st.session_state["workbook_id"] = record.id
    st.query_params["workbook"] = str(record.id)
    return record
