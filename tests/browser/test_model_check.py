"""What a person does on today's page: upload a workbook, read the engine's report and values."""

from __future__ import annotations

import openpyxl


def test_upload_shows_the_computed_values_and_the_unsupported_function(app_url, browser,
                                                                        tmp_path):
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Model"
    ws["A1"], ws["A2"] = 1200, 0.25
    ws["B1"] = "=ROUND(A1*(1+A2),0)"
    ws["B2"] = "=NOSUCHFUNCTION(A1)"
    path = tmp_path / "model.xlsx"
    book.save(path)

    page = browser.new_page()
    page.goto(app_url)
    page.get_by_text("Excel model check").wait_for(timeout=30_000)
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_text("Computed values").wait_for(timeout=30_000)
    page.get_by_text("NOSUCHFUNCTION is not supported").wait_for(timeout=10_000)
    grid = page.locator("[data-testid='stDataFrame']")
    grid.wait_for(timeout=10_000)
    page.screenshot(path=str(tmp_path / "model-check.png"), full_page=True)
    assert page.locator("[data-testid='stMetricValue']").first.inner_text() == "1"  # sheets
    page.close()


def test_a_renamed_csv_gets_one_clear_sentence(app_url, browser, tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_text("a,b\n1,2\n")
    page = browser.new_page()
    page.goto(app_url)
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_text("not an Excel workbook").wait_for(timeout=30_000)
    assert page.locator("text=Traceback").count() == 0
    page.close()
