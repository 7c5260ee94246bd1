"""The Explore page: example buttons fill the editor, a query answers with a table, a line of
rows and time, and a quick chart; a refused statement shows its sentence as an error; the page
lists only the user's own runs and says what to do when there are none."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.services.demo_fixtures import admin_actor, app_context, finished_demo_run, make_actor

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "explore.py")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """alice with a finished demo run, bob with another; the data left on disk for the page."""
    data_dir = tmp_path_factory.mktemp("data")
    with app_context(data_dir) as ctx:
        alice, bob = make_actor(ctx, "alice"), make_actor(ctx, "bob")
        alices = finished_demo_run(ctx, alice)
        bobs = finished_demo_run(ctx, bob)
        admin = admin_actor(ctx)
    return data_dir, alice, bob, admin, alices, bobs


def open_page(monkeypatch, data_dir, actor) -> AppTest:
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["actor"] = actor
    return at.run()


def test_an_example_fills_the_editor_and_runs_into_table_and_chart(monkeypatch, world):
    data_dir, alice, _, _, alices, bobs = world
    at = open_page(monkeypatch, data_dir, alice)
    assert not at.exception
    assert at.title[0].value == "Explore with SQL"
    assert f"run_{alices.id}" in at.expander[0].markdown[0].value
    assert f"run_{bobs.id}" not in at.expander[0].markdown[0].value
    at.button(key="example_Histogram of NPV").click().run()
    sql = at.text_area(key="explore_sql").value
    assert sql.startswith("WITH bounds") and f"FROM run_{alices.id}" in sql
    at.button(key="run_query").click().run()
    assert not at.exception and not at.error
    assert any(c.value.endswith(" s") and "rows in" in c.value for c in at.caption)
    frame = at.dataframe[0].value
    assert list(frame.columns) == ["bin_start", "iterations"]
    assert frame["iterations"].sum() == 2_000
    assert len(at.get("plotly_chart")) == 1


def test_a_refused_statement_shows_why_and_no_table(monkeypatch, world):
    data_dir, alice, _, _, _, bobs = world
    at = open_page(monkeypatch, data_dir, alice)
    at.text_area(key="explore_sql").input("DROP VIEW runs").run()
    at.button(key="run_query").click().run()
    assert not at.exception
    assert at.error[0].value.startswith("DROP is not allowed")
    assert not at.dataframe
    at.text_area(key="explore_sql").input(f"SELECT count(*) FROM run_{bobs.id}").run()
    at.button(key="run_query").click().run()
    assert f"There is no table run_{bobs.id}" in at.error[0].value  # someone else's run


def test_a_user_without_finished_runs_is_told_what_to_do(monkeypatch, world):
    data_dir, _, _, admin, _, _ = world
    at = open_page(monkeypatch, data_dir, admin)  # the admin has no runs of their own
    assert not at.exception
    assert "Run the demo from Home" in at.info[0].value
    assert not at.text_area
