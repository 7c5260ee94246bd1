"""Upload a workbook: the engine validates and reads it, the page shows what it found (sheets,
functions, unsupported functions, cycles, declared @RISK inputs and outputs, every computed
value), and the file is kept for set-ups and runs."""

from __future__ import annotations

import streamlit as st

from services.formatting import integer
from services.workbooks import Analysis, UploadError, analyse, save_upload
from ui.pickers import pick_workbook
from ui.session import context, require_user

actor = require_user()
ctx = context()

st.title("Upload a workbook")
st.caption("Upload an .xlsx or .xlsm workbook: the engine reads its formulas (never its cached "
           "values) and computes every cell as Excel does. Macros are never run.")


def show_analysis(analysis: Analysis) -> None:
    """The inspect report, declared inputs and outputs, and the computed values."""
    report = analysis.report
    cols = st.columns(4)
    cols[0].metric("Sheets", integer(len(report.sheets)))
    cols[1].metric("Formulas", integer(sum(s.formulas for s in report.sheets)))
    cols[2].metric("Functions used", integer(len(report.functions)))
    cols[3].metric("Unsupported functions", integer(len(report.unsupported)))
    for name, cells in report.unsupported.items():
        st.warning(f"{name} is not supported yet; these cells show #NAME?: "
                   f"{', '.join(cells[:20])}" + (" ..." if len(cells) > 20 else ""))
    for cycle in report.cycles:
        st.warning("Circular reference: " + " -> ".join(cycle))
    if report.external_references:
        st.info("References to other workbooks compute as #REF!: "
                + ", ".join(report.external_references[:20]))
    if report.macros_ignored:
        st.info("This workbook contains macros; they were ignored and never run.")
    declared = analysis.declared
    st.subheader("Declared inputs and outputs")
    if declared.inputs:
        st.dataframe([{"input": d.label, "name": d.name, "distribution": d.distribution}
                      for d in declared.inputs], hide_index=True, use_container_width=True)
    if declared.outputs:
        st.write("Outputs marked with RiskOutput(): "
                 + ", ".join(f"{cell} ({name})" if name != cell else cell
                             for cell, name in declared.outputs.items()))
    if declared.problem:
        st.info(f"On its own the workbook cannot be simulated yet ({declared.problem}); choose "
                "inputs and outputs on the set-up page.")
    st.subheader("Computed values")
    st.dataframe(analysis.value_rows(), use_container_width=True, hide_index=True)
    with st.expander("Engine warnings"):
        st.write(analysis.warnings or "none")


upload = st.file_uploader("Workbook", type=["xlsx", "xlsm"])
if upload is not None and st.session_state.get("uploaded_file_id") != upload.file_id:
    try:
        saved = save_upload(ctx, actor, upload.name, upload.getvalue())
    except UploadError as exc:
        st.error(str(exc))
        st.stop()
    st.session_state["uploaded_file_id"] = upload.file_id
    st.session_state["workbook_id"] = saved.id
    st.success(f"{saved.filename} is saved: set up a simulation on it below.")

record = pick_workbook(ctx, actor, "Your workbooks")
if record is None:
    st.stop()
if st.button("Set up a simulation", type="primary"):
    st.switch_page("pages/setup.py")
try:
    show_analysis(analyse(record))
except UploadError as exc:
    st.error(str(exc))
