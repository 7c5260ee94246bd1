"""The upload page: a workbook is saved and inspected; a refused file is one clear error."""

from __future__ import annotations

from db.entities import Actor
from services.workbooks import save_upload
from tests.app.page_fixtures import open_page, page_ctx  # noqa: F401 (fixture)


def test_upload_page_lists_and_inspects_the_users_workbook(page_ctx, make_xlsx):  # noqa: F811
    actor = Actor.for_user(page_ctx.store.get_user("ann"))
    data = make_xlsx({"A1": "Cost", "B1": "=RiskTriang(1, 2, 4)", "B2": "=B1*2"}).read_bytes()
    record = save_upload(page_ctx, actor, "model.xlsx", data)
    at = open_page(page_ctx, "upload.py")
    assert not at.exception
    assert at.title[0].value == "Upload a workbook"
    assert at.selectbox[0].value.id == record.id
    assert at.metric[0].value == "1"  # one sheet
    tables = [t.value for t in at.dataframe]
    assert any("triangular(1, 2, 4)" in t.to_string() for t in tables)
    assert any("no outputs" in i.value for i in at.info)


def test_upload_page_without_workbooks_shows_only_the_uploader(page_ctx):  # noqa: F811
    at = open_page(page_ctx, "upload.py")
    assert not at.exception and not at.error
    assert at.title[0].value == "Upload a workbook" and not at.selectbox
