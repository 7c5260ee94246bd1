"""Home: the user's own recent runs (with status) and workbooks, and the one-click demo that
saves the demo workbook once, starts a run and opens the Runs page on it."""

from __future__ import annotations

from db.entities import Actor
from services.demo import DEMO_FILENAME, DEMO_ITERATIONS
from tests.app.conftest import app_test, login
from tests.services.demo_fixtures import finished_demo_run
from tests.services.run_fixtures import wait_until_final


def test_home_lists_only_the_users_own_runs_and_workbooks(ctx, make_user, admin):
    alice, bob = make_user("alice"), make_user("bob")
    mine = finished_demo_run(ctx, Actor.for_user(alice))
    theirs = finished_demo_run(ctx, Actor.for_user(bob))
    at = login(app_test("pages/home.py"), alice).run()
    assert not at.exception
    assert at.title[0].value == "Home"
    runs, workbooks = (d.value for d in at.dataframe)
    assert list(runs["Run"]) == [mine.id] and theirs.id not in list(runs["Run"])
    assert list(runs["Status"]) == ["done"] and list(runs["Iterations"]) == ["2,000"]
    assert list(workbooks["Workbook"]) == [DEMO_FILENAME]
    assert list(workbooks["Runs"]) == ["1"]
    assert at.button(key="open_run").label == "Open results"

    at = login(app_test("pages/home.py"), admin).run()  # an admin's home is their own work
    assert not at.dataframe
    assert "No runs yet" in at.info[0].value


def test_the_demo_button_saves_the_workbook_once_and_opens_its_run(ctx, make_user):
    alice = make_user("alice")
    actor = Actor.for_user(alice)
    at = login(app_test("app.py"), alice).run()
    assert at.title[0].value == "Home"
    at.button(key="run_demo").click().run()
    assert not at.exception
    first = at.session_state["run_id"]
    assert at.title[0].value == "Runs"  # switched to the run's progress
    run = wait_until_final(ctx, actor, first, timeout=60)
    assert run.status == "done" and run.iterations == DEMO_ITERATIONS
    assert {o["name"] for o in run.summary["outputs"].values()} == {"NPV", "Peak funding"}

    at.switch_page("pages/home.py").run()
    at.button(key="run_demo").click().run()
    second = at.session_state["run_id"]
    assert second != first
    assert [w.filename for w in ctx.store.list_workbooks(actor)] == [DEMO_FILENAME]  # once
    wait_until_final(ctx, actor, second, timeout=60)
