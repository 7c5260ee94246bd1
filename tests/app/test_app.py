"""The frame (app.py): the gate first, then the pages this user may open, the user's name and
logout in the sidebar; the admin page is registered for admins only."""

from __future__ import annotations

import pytest

from tests.app.conftest import app_test, login


def test_a_logged_in_analyst_lands_on_home_without_the_admin_page(ctx, make_user):
    at = login(app_test("app.py"), make_user("ann")).run()
    assert not at.exception
    assert at.title[0].value == "Home"
    assert "Signed in as **Ann**" in [m.value for m in at.sidebar.markdown]
    assert [b.label for b in at.sidebar.button] == ["Log out"]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/admin.py")
    at.switch_page("pages/results.py").run()
    assert at.title[0].value == "Results"


def test_an_admin_can_open_the_admin_page(ctx, admin):
    at = login(app_test("app.py"), admin).run()
    at.switch_page("pages/admin.py").run()
    assert not at.exception
    assert at.title[0].value == "Administration"


def test_logging_out_from_the_frame_shows_the_login_form(ctx, admin):
    at = login(app_test("app.py"), admin).run()
    at.sidebar.button[0].click().run()
    assert not at.exception and not at.title
    assert [t.label for t in at.text_input] == ["Username", "Password"]
