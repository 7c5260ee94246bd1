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
state_key = f"setup:{record.id}"


def key(*parts: object) -> str:
    """Widget keys are per workbook, so two workbooks with the same cell never share a widget."""
    return ":".join(map(str, (record.id, *parts)))


def load_picker(cell: str, text: str) -> None:
    """Put a distribution's text into the picker's widgets (before they are drawn)."""
    family, params, (lo, hi), shift = su.picker_state(text)
    st.session_state[key("family", cell)] = family
    for i, value in enumerate(params):
        st.session_state[key("param", cell, family, i)] = value
    st.session_state[key("lo", cell)], st.session_state[key("hi", cell)] = lo, hi
    st.session_state[key("shift", cell)] = shift


def picker_loaded(cell: str) -> bool:
    """Whether the picker's widgets still hold their values: Streamlit drops a widget's state
    after a run that did not draw it (a rerun from "Add input" leaves before the pickers), and
    the set-up's text is then the source to reload from."""
    family = st.session_state.get(key("family", cell))
    if family is None:
        return False
    count = len(su.families()[family].params)
    return all(key("param", cell, family, i) in st.session_state for i in range(count))


def load_setup(loaded: su.Setup) -> None:
    """Make ``loaded`` the set-up being edited and show it in every widget (widgets take their
    values from the session state only, so a loaded set-up replaces what they held)."""
    st.session_state[state_key] = loaded
    for cell, text in loaded.inputs.items():
        load_picker(cell, text)
    st.session_state[key("outputs")] = ", ".join(loaded.outputs)
    st.session_state[key("iterations")] = loaded.iterations
    st.session_state[key("seed")] = loaded.seed
    st.session_state[key("sampling")] = loaded.sampling
    st.session_state[key("device")] = loaded.device
    st.session_state[key("name")] = loaded.name
    st.session_state[key("version")] = st.session_state.get(key("version"), 0) + 1


if state_key not in st.session_state:
    load_setup(su.Setup(outputs=list(declared.outputs)))
setup: su.Setup = st.session_state[state_key]

# ---------------------------------------------------------------- saved set-ups
saved = su.saved_setups(record)
if saved:
    cols = st.columns([3, 1, 1])
    name = cols[0].selectbox("Saved set-ups", list(saved))
    if cols[1].button("Load"):
        load_setup(saved[name])
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
                  for d in declared.inputs], hide_index=True, use_container_width=True)

address = st.text_input("Cell to make uncertain", key=key("address"),
                        placeholder=f"{analysis.sheets[0]}!B2")
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
            setup.inputs[info.key] = f"normal({value}, {spread:g})"
            load_picker(info.key, setup.inputs[info.key])
            st.rerun()

families = su.families()
for cell in list(setup.inputs):
    info = analysis.cell(cell)
    with st.expander(f"{cell}" + (f" — {info.label}" if info.label else ""), expanded=True):
        if not picker_loaded(cell):
            load_picker(cell, setup.inputs[cell])
        family = st.selectbox("Distribution", list(families), key=key("family", cell),
                              format_func=lambda f: families[f].signature)
        st.caption(families[family].convention)
        params = families[family].params
        cols = st.columns(len(params))
        typed = [col.text_input(p, key=key("param", cell, family, i))
                 for i, (col, p) in enumerate(zip(cols, params, strict=True))]
        lo_col, hi_col, shift_col, remove_col = st.columns(4)
        lo = lo_col.text_input("Truncate below", key=key("lo", cell))
        hi = hi_col.text_input("Truncate above", key=key("hi", cell))
        shift = shift_col.text_input("Shift", key=key("shift", cell))
        if remove_col.button("Remove", key=key("remove", cell)):
            del setup.inputs[cell]
            st.rerun()
        text = su.distribution_text(family, typed, (lo, hi), shift)
        setup.inputs[cell] = text
        try:
            shown = su.preview(text, cell)
        except ValueError as exc:
            st.error(str(exc))
            continue
        chart, table = st.columns([3, 1])
        chart.plotly_chart(su.preview_figure(shown, text), use_container_width=True,
                           key=key("chart", cell))
        table.dataframe(su.percentile_rows(shown), hide_index=True, use_container_width=True)

# ---------------------------------------------------------------- outputs
st.header("Outputs")
typed_outputs = st.text_input("Output cells, separated by commas", key=key("outputs"),
                              help="Cells marked RiskOutput() in the workbook are used when "
                                   "this is empty.")
setup.outputs = []
for typed_cell in filter(None, (t.strip() for t in typed_outputs.split(","))):
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
    version = st.session_state[key("version")]
    edited = st.data_editor(matrix, key=key("correlations", version, *labels))
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
                                            key=key("iterations")))
setup.seed = int(cols[1].number_input("Seed", 0, 2 ** 53 - 1, key=key("seed")))  # browser ints
setup.sampling = cols[2].radio("Sampling", list(su.SAMPLINGS), key=key("sampling"),
                               format_func=su.SAMPLINGS.get)
devices = su.device_choices(ctx.settings.device)
if st.session_state[key("device")] not in devices:  # a set-up saved where a GPU was usable
    st.session_state[key("device")] = "cpu"
setup.device = cols[3].radio("Device", devices, key=key("device"))

problems: list[str] = []
try:
    su.validate(setup, labels, bool(declared.outputs))
except su.SetupError as exc:
    problems = exc.problems
for problem in problems:
    st.error(problem)

cols = st.columns([3, 1, 1])
setup.name = cols[0].text_input("Set-up name", key=key("name"))
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
