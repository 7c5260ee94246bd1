"""Streamlit entry point (``make run``).

Today it is one view over the formula engine: upload a workbook, see what the engine reads
(sheets, names, tables, functions, unsupported functions with their cells, cycles) and every
formula's computed value. Login, set-up, Monte Carlo runs and results come with the app issue.
"""

from __future__ import annotations

import streamlit as st

from engine.api import evaluate_workbook
from engine.cli import json_value
from engine.errors import WorkbookError
from engine.inspection import inspect_workbook
from engine.loader import load_workbook

st.set_page_config(page_title="xlsim: Excel models, computed", layout="wide")
st.title("Excel model check")
st.caption("Upload an .xlsx or .xlsm workbook: the engine reads its formulas (never its cached "
           "values) and computes every cell as Excel does. Macros are never run.")

upload = st.file_uploader("Workbook", type=["xlsx", "xlsm"])
if upload is None:
    st.stop()

try:
    workbook = load_workbook(upload.getvalue(), filename=upload.name)
except WorkbookError as exc:
    st.error(str(exc))
    st.stop()

report = inspect_workbook(workbook)
results, warnings = evaluate_workbook(workbook)

cols = st.columns(4)
cols[0].metric("Sheets", len(report.sheets))
cols[1].metric("Formulas", sum(s.formulas for s in report.sheets))
cols[2].metric("Functions used", len(report.functions))
cols[3].metric("Unsupported functions", len(report.unsupported))

for name, cells in report.unsupported.items():
    st.warning(f"{name} is not supported yet; these cells show #NAME?: {', '.join(cells[:20])}"
               + (" ..." if len(cells) > 20 else ""))
for cycle in report.cycles:
    st.warning("Circular reference: " + " -> ".join(cycle))
if report.external_references:
    st.info("References to other workbooks compute as #REF!: "
            + ", ".join(report.external_references[:20]))
if report.macros_ignored:
    st.info("This workbook contains macros; they were ignored and never run.")

st.subheader("Computed values")
st.dataframe(
    [{"cell": key, "value": str(json_value(value)), "formula": workbook.formulas[cell].text}
     for (key, value), cell in zip(results.items(), workbook.formulas, strict=True)],
    use_container_width=True, hide_index=True)
with st.expander("Engine warnings"):
    st.write(warnings or "none")
