"""Uploads: validation before anything is stored, one file per content, and what the pages show
about a workbook (cells with their labels, sheet preview, declared @RISK inputs and outputs)."""

from __future__ import annotations

import pytest

from db.entities import Actor
from services.context import open_context
from services.workbooks import UploadError, analyse, analyse_upload, save_upload


@pytest.fixture
def ctx(tmp_path):
    context = open_context({"DATA_DIR": str(tmp_path), "ADMIN_USERNAME": "root",
                            "ADMIN_PASSWORD": "correct horse battery"})
    yield context
    context.close()


@pytest.fixture
def actor(ctx):
    user = ctx.store.create_user("ann", "a long password", roles=("analyst",))
    return Actor.for_user(user)


CELLS = {"A1": "Price", "B1": "=RiskNormal(100, 10, RiskName(\"price\"))", "A2": "Quantity",
         "B2": 5, "A3": "Revenue", "B3": "=RiskOutput(\"revenue\")+B1*B2", "C3": "=RAND()"}


def test_upload_is_validated_stored_by_hash_and_recorded_once(ctx, actor, make_xlsx):
    data = make_xlsx(CELLS).read_bytes()
    record = save_upload(ctx, actor, "model.xlsx", data)
    assert record.filename == "model.xlsx" and record.size_bytes == len(data)
    path = ctx.uploads_dir / str(actor.user_id) / f"{record.content_hash}.xlsx"
    assert record.stored_path == str(path) and path.read_bytes() == data
    assert save_upload(ctx, actor, "again.xlsx", data).id == record.id
    assert len(ctx.store.list_workbooks(actor)) == 1


def test_upload_limit_comes_from_max_upload_mb(tmp_path, make_xlsx):
    ctx = open_context({"DATA_DIR": str(tmp_path), "MAX_UPLOAD_MB": "1"})
    try:
        user = Actor.for_user(ctx.store.create_user("bo", "a long password"))
        with pytest.raises(UploadError, match=r"over the 1(\.0)? MB limit"):
            save_upload(ctx, user, "big.xlsx", b"PK\x03\x04" + bytes(1024**2))
        assert ctx.store.list_workbooks(user) == []
        data = make_xlsx({"A1": 1}).read_bytes()
        assert save_upload(ctx, user, "small.xlsx", data).size_bytes == len(data)
    finally:
        ctx.close()


def test_refused_upload_stores_nothing(ctx, actor):
    with pytest.raises(UploadError, match="not an Excel workbook"):
        save_upload(ctx, actor, "data.csv", b"a,b\n1,2\n")
    with pytest.raises(UploadError):
        save_upload(ctx, actor, "fake.xlsx", b"a,b\n1,2\n")
    assert ctx.store.list_workbooks(actor) == []
    folder = ctx.uploads_dir / str(actor.user_id)
    assert not folder.exists() or not any(folder.iterdir())


def test_analysis_finds_declared_inputs_outputs_and_cell_labels(ctx, actor, make_xlsx):
    record = save_upload(ctx, actor, "model.xlsx", make_xlsx(CELLS).read_bytes())
    analysis = analyse(record)
    declared = analysis.declared
    assert [(d.label, d.name, d.distribution) for d in declared.inputs] == [
        ("Sheet1!B1", "price", "normal(100, 10)"), ("Sheet1!C3", "Sheet1!C3", "uniform(0, 1)")]
    assert declared.outputs == {"Sheet1!B3": "revenue"} and declared.problem is None
    cell = analysis.cell("$B$2")
    assert (cell.key, cell.value, cell.label, cell.formula) == ("Sheet1!B2", 5, "Quantity", None)
    assert analysis.cell("Sheet1!B3").formula.startswith("=RiskOutput")
    with pytest.raises(ValueError, match="no sheet 'Nope'"):
        analysis.cell("Nope!A1")
    with pytest.raises(ValueError, match="not a cell address"):
        analysis.cell("hello world")
    assert analysis.preview("Sheet1")["A"] == ["Price", "Quantity", "Revenue"]


def test_declared_inputs_are_listed_even_without_outputs(make_xlsx):
    data = make_xlsx({"A1": "Cost", "B1": "=RiskTriang(1, 2, 4)", "B2": "=B1*2"}).read_bytes()
    declared = analyse_upload("model.xlsx", data).declared
    assert [d.distribution for d in declared.inputs] == ["triangular(1, 2, 4)"]
    assert declared.outputs == {} and declared.problem.startswith("no outputs")


def test_impossible_declared_distribution_is_a_message(make_xlsx):
    data = make_xlsx({"B1": "=RiskNormal(100, -1)", "B2": "=RiskOutput()+B1"}).read_bytes()
    declared = analyse_upload("model.xlsx", data).declared
    assert declared.inputs == [] and "sd" in declared.problem
