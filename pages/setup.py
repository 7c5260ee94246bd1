"""Set up a simulation: input cells with distributions (live preview), outputs, correlations,
iterations, seed, sampling and device; save the set-up with the workbook, or run it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from services import setups as su
from services.runs import RunError, start_run
from services.workbooks import UploadError, analyse
from ui.pickers import pick_workbook
from ui.session import context, require_user
from ui.state import bound, forget, forget_prefixed, model

actor = require_user()
ctx = context()

st.title("Set up a simulation")
record = pick_workbook(ctx, actor)
if record is None:
    st.info("Upload a workbook first.")
    if st.button("Upload a workbook"):
        st.switch_page("pages/upload.py")
    st.stop()
try:
    with st.spinner("Reading the workbook..."):
        analysis = analyse(record)
except UploadError as exc:
    st.error(str(exc))
    st.stop()

declared = analysis.declared


def key(*parts: object) -> str:
    """Widget keys are per workbook, so two workbooks with the same cell never share a widget."""
    return ":".join(map(str, (record.id, *parts)))


def param_keys(cell: str, picker: su.Picker) -> list[str]:
    return [key("param", cell, picker.family, i) for i in range(len(picker.params))]


def picker_keys(cell: str, picker: su.Picker) -> list[str]:
    return [key("family", cell), key("lo", cell), key("hi", cell), key("shift", cell),
            *param_keys(cell, picker)]


# Every widget below is drawn from the draft and writes back into it (ui.state): Streamlit
# drops the state of widgets a run does not draw, so widget keys are never read.
draft_key = f"setup:{record.id}"
draft: su.Draft = model(draft_key, lambda: su.Draft.of(su.Setup(outputs=list(declared.outputs))))
setup = draft.setup

# ---------------------------------------------------------------- saved set-ups
saved = su.saved_setups(record)
if saved:
    cols = st.columns([3, 1, 1])
    name = cols[0].selectbox("Saved set-ups", list(saved))
    if cols[1].button("Load"):
        st.session_state[draft_key] = su.Draft.of(saved[name], draft.generation + 1)
        forget_prefixed(f"{record.id}:")  # every widget of the set-up shows the loaded one
        st.rerun()
    if cols[2].button("Delete"):
        su.delete_setup(record, name)
        st.rerun()

# ---------------------------------------------------------------- inputs
st.header("Inputs")
if declared.inputs:
    st.caption("Declared in the workbook (@RISK functions, RAND): simulated as written unless "
               "you give the cell a distribution below.")
    st.dataframe([{"input": d.label, "name": d.name, "distribution": d.distribution}
                  for d in declared.inputs], hide_index=True, width="stretch")

draft.address = st.text_input("Cell to make uncertain", key=bound(key("address"), draft.address),
                              placeholder=f"{analysis.sheets[0]}!B2")
address = draft.address
if address.strip():
    try:
        info = analysis.cell(address)
    except ValueError as exc:
        st.error(str(exc))
    else:
        st.write(f"**{info.key}**" + (f" — {info.label}" if info.label else "")
                 + f": current value {info.value!r}"
                 + (f" (formula {info.formula})" if info.formula else ""))
        if st.button("Add input", disabled=info.key in setup.inputs):
            value = info.value if isinstance(info.value, int | float) else 0
            spread = abs(value) * 0.1 or 1
            picker = su.Picker.from_text(f"normal({value}, {spread:g})")
            draft.set_picker(info.key, picker)
            forget(picker_keys(info.key, picker))
            st.rerun()

families = su.families()
for cell in list(draft.pickers):
    info = analysis.cell(cell)
    picker = draft.pickers[cell]
    with st.expander(f"{cell}" + (f" — {info.label}" if info.label else ""), expanded=True):
        family = st.selectbox("Distribution", list(families),
                              key=bound(key("family", cell), picker.family),
                              format_func=lambda f: families[f].signature)
        if family != picker.family:  # carry the parameters over (su.carry_params)
            picker = picker.with_family(family)
            forget(param_keys(cell, picker))
        st.caption(families[family].convention)
        params = families[family].params
        cols = st.columns(len(params))
        picker.params = [
            col.text_input(p, key=bound(key("param", cell, family, i), picker.params[i]))
            for i, (col, p) in enumerate(zip(cols, params, strict=True))]
        lo_col, hi_col, shift_col, remove_col = st.columns(4)
        picker.lo = lo_col.text_input("Truncate below", key=bound(key("lo", cell), picker.lo))
        picker.hi = hi_col.text_input("Truncate above", key=bound(key("hi", cell), picker.hi))
        picker.shift = shift_col.text_input("Shift", key=bound(key("shift", cell), picker.shift))
        draft.set_picker(cell, picker)
        if remove_col.button("Remove", key=key("remove", cell)):
            draft.remove_input(cell)
            st.rerun()
        text = setup.inputs[cell]
        try:
            shown = su.preview(text, cell)
        except ValueError as exc:
            st.error(str(exc))
            continue
        chart, table = st.columns([3, 1])
        chart.plotly_chart(su.preview_figure(shown, text), width="stretch",
                           key=key("chart", cell))
        table.dataframe(su.percentile_rows(shown), hide_index=True, width="stretch")

# ---------------------------------------------------------------- outputs
st.header("Outputs")
draft.outputs = st.text_input("Output cells, separated by commas",
                              key=bound(key("outputs"), draft.outputs),
                              help="Cells marked RiskOutput() in the workbook are used when "
                                   "this is empty.")
setup.outputs = []
for typed_cell in filter(None, (t.strip() for t in draft.outputs.split(","))):
    try:
        info = analysis.cell(typed_cell)
    except ValueError as exc:
        st.error(str(exc))
        continue
    setup.outputs.append(info.key)
    st.write(f"**{info.key}**" + (f" — {info.label}" if info.label else "")
             + f": current value {info.value!r}")

# ---------------------------------------------------------------- correlations
labels = list(setup.inputs) + [d.label for d in declared.inputs if d.label not in setup.inputs]
if len(labels) >= 2:
    st.header("Correlations")
    st.caption("Rank correlations between inputs (upper triangle counts); 0 = independent.")
    matrix = pd.DataFrame(su.correlation_matrix(labels, setup.correlations), index=labels,
                          columns=labels)
    # the editor's own state is its edits to ``matrix``, which is drawn from the set-up
    edited = st.data_editor(matrix, key=key("correlations", draft.generation, *labels))
    try:
        setup.correlations, repair = su.correlation_pairs(labels, edited.to_numpy().tolist())
    except ValueError as exc:
        st.error(str(exc))
    else:
        if repair:
            st.warning(repair)

# ---------------------------------------------------------------- settings
st.header("Settings")
cols = st.columns(4)
setup.iterations = int(cols[0].number_input("Iterations", 1, 100_000_000, step=1_000,
                                            key=bound(key("iterations"), setup.iterations)))
setup.seed = int(cols[1].number_input("Seed", 0, 2 ** 53 - 1,  # browser ints
                                      key=bound(key("seed"), setup.seed)))
if setup.sampling not in su.SAMPLINGS:
    setup.sampling = "mc"
    forget([key("sampling")])
setup.sampling = cols[2].radio("Sampling", list(su.SAMPLINGS),
                               key=bound(key("sampling"), setup.sampling),
                               format_func=su.SAMPLINGS.get)
devices = su.device_choices(ctx.settings.device)
if setup.device not in devices:  # a set-up saved where a GPU was usable
    setup.device = "cpu"
    forget([key("device")])
setup.device = cols[3].radio("Device", devices, key=bound(key("device"), setup.device))

problems: list[str] = []
try:
    su.validate(setup, labels, bool(declared.outputs))
except su.SetupError as exc:
    problems = exc.problems
for problem in problems:
    st.error(problem)

cols = st.columns([3, 1, 1])
setup.name = cols[0].text_input("Set-up name", key=bound(key("name"), setup.name))
if cols[1].button("Save set-up"):
    try:
        su.save_setup(record, setup)
    except su.SetupError as exc:
        st.error(str(exc))
    else:
        st.success(f"Saved the set-up {setup.name!r} with {record.filename}.")
if cols[2].button("Run", type="primary", disabled=bool(problems)):
    try:
        run = start_run(ctx, actor, record.id, setup)
    except RunError as exc:
        st.error(str(exc))
    else:
        st.session_state["run_id"] = run.id
        st.query_params["run"] = str(run.id)
        st.switch_page("pages/run.py")
