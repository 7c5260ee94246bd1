"""The set-up page: add an input cell (value and label shown), pick a distribution with a live
preview, outputs, correlations, settings; save and reload a set-up; Run hands it to the runs
service."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from db.entities import Actor
from services import setups as su
from services.workbooks import save_upload
from tests.app.page_fixtures import open_page, page_ctx  # noqa: F401 (fixture)

CELLS = {"A1": "Price", "B1": 100, "A2": "Quantity", "B2": "=RiskPoisson(20)",
         "A3": "Revenue", "B3": "=B1*B2"}


@pytest.fixture
def record(page_ctx, make_xlsx):  # noqa: F811
    actor = Actor.for_user(page_ctx.store.get_user("ann"))
    return save_upload(page_ctx, actor, "model.xlsx", make_xlsx(CELLS).read_bytes())


def test_add_an_input_with_preview_and_run(page_ctx, record, monkeypatch):  # noqa: F811
    started = []

    def start_run(ctx, actor, workbook_id, setup):
        started.append((workbook_id, setup))
        return SimpleNamespace(id=41)

    monkeypatch.setattr("services.runs.start_run", start_run)
    switched = []  # a page run alone has no navigation to switch in
    monkeypatch.setattr("streamlit.switch_page", switched.append)
    at = open_page(page_ctx, "setup.py", workbook_id=record.id)
    assert not at.exception
    assert at.title[0].value == "Set up a simulation"
    assert "poisson(20)" in at.dataframe[0].value.to_string()  # declared input
    at.text_input(key=f"{record.id}:address").input("b1").run()
    assert any("Sheet1!B1" in m.value and "Price" in m.value and "100" in m.value
               for m in at.markdown)
    at.button[0].click().run()  # Add input
    assert not at.exception
    assert at.text_input(key=f"{record.id}:param:Sheet1!B1:normal:0").value == "100"
    assert at.text_input(key=f"{record.id}:param:Sheet1!B1:normal:1").value == "10"
    assert at.get("plotly_chart")
    assert any("P50" in t.value.to_string() for t in at.dataframe)
    # no outputs yet: the Run button is disabled and the page says why
    assert any("output" in e.value for e in at.error)
    at.text_input(key=f"{record.id}:outputs").input("Sheet1!B3").run()
    assert not at.error
    at.text_input(key=f"{record.id}:param:Sheet1!B1:normal:1").input("-1").run()
    assert any("Sheet1!B1" in e.value for e in at.error)  # impossible parameter, no traceback
    at.text_input(key=f"{record.id}:param:Sheet1!B1:normal:1").input("5").run()
    at.text_input(key=f"{record.id}:lo:Sheet1!B1").input("90").run()
    at.radio(key=f"{record.id}:sampling").set_value("lhs").run()
    run_button = next(b for b in at.button if b.label == "Run")
    assert not run_button.disabled
    run_button.click().run()
    assert not at.exception
    assert at.session_state["run_id"] == 41 and switched == ["pages/run.py"]
    ((wid, setup),) = started
    assert wid == record.id and setup.sampling == "lhs" and setup.outputs == ["Sheet1!B3"]
    assert setup.to_run_spec()["inputs"] == {"Sheet1!B1": "normal(100, 5, truncate=(90, None))"}


def test_save_and_reload_a_setup(page_ctx, record):  # noqa: F811
    su.save_setup(record, su.Setup(name="base", inputs={"Sheet1!B1": "pert(80, 100, 130)"},
                                   outputs=["Sheet1!B3"], iterations=5000, seed=7))
    at = open_page(page_ctx, "setup.py", workbook_id=record.id)
    next(b for b in at.button if b.label == "Load").click().run()
    assert not at.exception
    assert at.selectbox(key=f"{record.id}:family:Sheet1!B1").value == "pert"
    assert at.number_input(key=f"{record.id}:seed").value == 7
    assert at.text_input(key=f"{record.id}:outputs").value == "Sheet1!B3"
    at.text_input(key=f"{record.id}:name").input("copy").run()
    next(b for b in at.button if b.label == "Save set-up").click().run()
    assert set(su.saved_setups(record)) == {"base", "copy"}
    assert su.saved_setups(record)["copy"].inputs == {"Sheet1!B1": "pert(80, 100, 130)"}
