"""The set-up page: add an input cell (value and label shown), pick a distribution with a live
preview, outputs, correlations, settings; save and reload a set-up; Run hands it to the runs
service."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from db.entities import Actor
from services import setups as su
from services.workbooks import save_upload
from tests.app.conftest import app_test, login
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


def _add_price_input(at, record):
    """Adds Sheet1!B1 (value 100): the picker starts on normal(100, 10)."""
    at.text_input(key=f"{record.id}:address").input("b1").run()
    next(b for b in at.button if b.label == "Add input").click().run()
    assert not at.exception
    return at


CARRIED = {  # normal(100, 10) switched to each family (su.carry_params)
    "triangular": ["75.5051", "100", "124.495"],  # 100 -/+ 10*sqrt(6), mode at the mean
    "uniform": ["82.6795", "117.321"],  # 100 -/+ 10*sqrt(3)
    "pert": ["73.5425", "100", "126.458"],  # 100 -/+ 10*sqrt(7), mode at the mean
    "lognormal": ["100", "10"],  # the same mean and sd
}


@pytest.mark.parametrize("family", list(CARRIED))
def test_every_family_can_be_chosen_and_is_kept(page_ctx, record, family):  # noqa: F811
    at = _add_price_input(open_page(page_ctx, "setup.py", workbook_id=record.id), record)
    family_box = f"{record.id}:family:Sheet1!B1"
    at.selectbox(key=family_box).set_value(family).run()
    at.text_input(key=f"{record.id}:outputs").input("Sheet1!B3").run()  # further reruns
    at.run()
    assert not at.exception and not at.error
    assert at.selectbox(key=family_box).value == family
    shown = [at.text_input(key=f"{record.id}:param:Sheet1!B1:{family}:{i}").value
             for i in range(len(CARRIED[family]))]
    assert shown == CARRIED[family]
    draft = at.session_state[f"setup:{record.id}"]
    assert draft.setup.inputs == {"Sheet1!B1": f"{family}({', '.join(CARRIED[family])})"}
    assert at.get("plotly_chart")  # the live preview of the new family
    stats = next(t.value for t in at.dataframe if "P50" in t.value.to_string())
    assert list(stats["statistic"][:2]) == ["mean", "sd"]  # both kept
    assert [float(v) for v in stats["value"][:2]] == [pytest.approx(100, abs=0.01),
                                                     pytest.approx(10, abs=0.01)]


def test_switching_between_range_families_keeps_the_range(page_ctx, record):  # noqa: F811
    at = _add_price_input(open_page(page_ctx, "setup.py", workbook_id=record.id), record)
    family_box = f"{record.id}:family:Sheet1!B1"
    at.selectbox(key=family_box).set_value("triangular").run()
    at.text_input(key=f"{record.id}:param:Sheet1!B1:triangular:1").input("90").run()
    inputs = at.session_state[f"setup:{record.id}"].setup.inputs
    steps = [("pert", "pert(75.5051, 90, 124.495)"),  # min, mode and max as they were
             ("uniform", "uniform(75.5051, 124.495)"),  # min and max
             ("triangular", "triangular(75.5051, 100, 124.495)"),  # the mode at the midpoint
             ("normal", "normal(100, 10)")]  # back to the same mean and sd
    for family, text in steps:
        at.selectbox(key=family_box).set_value(family).run()
        assert not at.exception
        assert inputs["Sheet1!B1"] == text
    # truncation and shift stay as typed; unreadable parameters keep those of the same name
    assert su.carry_params("normal", ["abc", "10"], "lognormal") == ["abc", "10"]
    assert su.carry_params("normal", ["abc", "10"], "uniform") == ["", ""]
    picker = su.Picker("normal", ["100", "10"], lo="90", shift="5").with_family("uniform")
    assert picker.text() == "uniform(82.6795, 117.321, truncate=(90, None), shift=5)"


@pytest.mark.no_worker
def test_returning_to_set_up_from_every_page_keeps_it(ctx, make_user, make_xlsx):
    user = make_user("ann")
    record = save_upload(ctx, Actor.for_user(user), "model.xlsx", make_xlsx(CELLS).read_bytes())
    at = login(app_test("app.py"), user).run()
    at.switch_page("pages/setup.py").run()
    assert not at.exception and at.title[0].value == "Set up a simulation"
    _add_price_input(at, record)
    def k(name: str) -> str:
        return f"{record.id}:{name}"

    at.selectbox(key=k("family:Sheet1!B1")).set_value("triangular").run()
    at.text_input(key=k("param:Sheet1!B1:triangular:2")).input("140").run()
    at.text_input(key=k("outputs")).input("Sheet1!B3").run()
    at.number_input(key=k("iterations")).set_value(5000).run()
    at.number_input(key=k("seed")).set_value(7).run()
    at.radio(key=k("sampling")).set_value("lhs").run()
    at.text_input(key=k("name")).input("mine").run()
    device = at.radio(key=k("device")).value
    assert not at.exception and not at.error
    for page in ("results", "explore", "run", "home", "upload", "results"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, page
        at.switch_page("pages/setup.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert at.title[0].value == "Set up a simulation"
        assert at.selectbox(key=k("family:Sheet1!B1")).value == "triangular", page
        assert [at.text_input(key=k(f"param:Sheet1!B1:triangular:{i}")).value
                for i in range(3)] == ["75.5051", "100", "140"], page
        assert at.text_input(key=k("outputs")).value == "Sheet1!B3", page
        assert at.number_input(key=k("iterations")).value == 5000, page
        assert at.number_input(key=k("seed")).value == 7, page
        assert at.radio(key=k("sampling")).value == "lhs", page
        assert at.radio(key=k("device")).value == device, page
        assert at.text_input(key=k("name")).value == "mine", page
        assert at.get("plotly_chart"), page
        setup = at.session_state[f"setup:{record.id}"].setup
        assert setup.inputs == {"Sheet1!B1": "triangular(75.5051, 100, 140)"}
        assert (setup.outputs, setup.iterations, setup.seed, setup.sampling, setup.device) == (
            ["Sheet1!B3"], 5000, 7, "lhs", device)
    run_button = next(b for b in at.button if b.label == "Run")
    assert not run_button.disabled
