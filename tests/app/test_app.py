"""The Streamlit frame starts cleanly and waits for an upload."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_app_starts_and_asks_for_a_workbook():
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "Excel model check"
    assert "Macros are never run" in at.caption[0].value
