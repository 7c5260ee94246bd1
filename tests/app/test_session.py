"""The session gate (ui/session.py): login through the store, lock-out, disabled accounts,
logout, the admin gate, and the test login other page tests rely on."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from db.entities import MAX_FAILED_ATTEMPTS, Actor
from tests.app.conftest import ADMIN, PASSWORD, login


def _page() -> None:
    import streamlit as st

    from ui.session import logout_button, mark_frame, require_user

    mark_frame()  # as app.py does
    actor = require_user()
    st.title(f"Inside as {actor.user_id}")
    logout_button()


def _page_without_frame() -> None:
    """A page file a fresh server routed to directly, without app.py."""
    import streamlit as st

    from ui.session import require_user

    actor = require_user()
    st.title(f"Inside as {actor.user_id}")


def _admin_page() -> None:
    import streamlit as st

    from ui.session import require_admin

    require_admin()
    st.title("Admin only")


def _page_test() -> AppTest:
    return AppTest.from_function(_page, default_timeout=60)


def _submit(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    return at.button[0].click().run()


def _login_form_only(at: AppTest) -> bool:
    return (not at.exception and not at.title and not at.sidebar.children
            and [t.label for t in at.text_input] == ["Username", "Password"]
            and [b.label for b in at.button] == ["Log in"])


def test_a_visitor_sees_only_the_login_form(ctx):
    at = _page_test().run()
    assert _login_form_only(at)
    assert "actor" not in at.session_state


def test_login_with_the_right_password_opens_the_page_and_resets_the_count(ctx, make_user):
    user = make_user("ann")
    at = _submit(_page_test().run(), "ann", "wrong password")
    assert [e.value for e in at.error] == ["Wrong username or password."]
    assert ctx.store.get_user("ann").failed_attempts == 1
    at = _submit(at, "ANN", PASSWORD)
    assert not at.exception and not at.error
    assert at.title[0].value == f"Inside as {user.id}"
    assert at.session_state["actor"] == Actor(user.id, is_admin=False)
    assert not at.text_input  # the form is gone once logged in
    assert "Signed in as **Ann**" in [m.value for m in at.sidebar.markdown]
    assert ctx.store.get_user("ann").failed_attempts == 0
    assert ctx.store.get_user("ann").last_login is not None


def test_repeated_failures_lock_the_account_in_the_store(ctx, make_user):
    make_user("ann")
    at = _page_test().run()
    for _ in range(MAX_FAILED_ATTEMPTS):
        at = _submit(at, "ann", "wrong password")
    at = _submit(at, "ann", PASSWORD)  # the right password no longer opens it
    assert "locked" in at.error[0].value
    assert "actor" not in at.session_state and not at.title
    assert ctx.store.get_user("ann").locked


def test_a_disabled_account_cannot_log_in_and_its_session_ends(ctx, make_user, admin):
    user = make_user("ann")
    at = login(_page_test(), user).run()
    assert at.title[0].value == f"Inside as {user.id}"
    ctx.store.set_disabled(Actor.for_user(admin), user.id, True)
    at.run()
    assert not at.title and "disabled" in at.warning[0].value
    assert "actor" not in at.session_state
    at = _submit(at, "ann", PASSWORD)
    assert [e.value for e in at.error] == ["Wrong username or password."]


def test_logout_returns_to_the_login_form_and_is_audited(ctx, admin):
    at = _submit(_page_test().run(), ADMIN, PASSWORD)
    assert at.title[0].value == f"Inside as {admin.id}"
    at.sidebar.button[0].click().run()
    assert _login_form_only(at)
    assert "actor" not in at.session_state
    actions = [e.action for e in ctx.store.list_audit(Actor.for_user(admin), limit=5)]
    assert actions[0] == "logout" and "login" in actions


def test_the_admin_gate_refuses_analysts_and_admits_admins(ctx, make_user, admin):
    at = login(AppTest.from_function(_admin_page), make_user("ann")).run()
    assert not at.title and at.error[0].value == "This page is for administrators."
    at = login(AppTest.from_function(_admin_page), admin).run()
    assert at.title[0].value == "Admin only"


def test_a_demoted_admin_loses_admin_rights_at_the_next_run(ctx, make_user, admin):
    second = make_user("root", roles=("admin",))
    at = login(AppTest.from_function(_admin_page), second).run()
    assert at.title[0].value == "Admin only"
    ctx.store.set_roles(Actor.for_user(admin), second.id, ["analyst"])
    at.run()
    assert not at.title and at.session_state["actor"] == Actor(second.id, is_admin=False)


def test_logging_in_on_a_page_opened_without_the_frame_leads_to_the_frame(ctx, make_user):
    make_user("ann")
    at = AppTest.from_function(_page_without_frame, default_timeout=60).run()
    at = _submit(at, "ann", PASSWORD)
    assert not at.exception and not at.title  # the page itself does not show
    assert at.success[0].value == "Signed in as Ann."
    assert "actor" in at.session_state

