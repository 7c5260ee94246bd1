"""The session gate every page calls first, the login form, logout, and the process's context.

How login works, and why:
- Typed credentials are checked by ``Store.verify_password`` (see ``services.auth``), never by
  streamlit-authenticator's own check: the store counts failures in the database, locks the
  account after MAX_FAILED_ATTEMPTS, refuses disabled accounts and writes the audit trail.
- streamlit-authenticator 0.4.2 signs and reads the "remember me" cookie (a JWT signed with
  ``ctx.cookie_key``) and accepts it only for a user in its credentials, which come from the
  store (enabled, unlocked users only). It reads the cookie from ``st.context.cookies``, the
  headers of the browser's connection, so a fresh tab is logged in on its first run; a cookie set
  during a session is only seen by the next connection, which is why the session itself is
  carried by ``st.session_state["actor"]`` and never by the cookie.
- The authenticator renders a cookie component with a fixed key when it is built, so building it
  twice in one script run fails. It is built only on the logged-out path, which ends the run
  (``st.stop()``) or logs in; a page calling ``require_user()`` after app.py did in the same run
  takes the logged-in path and never builds it.
- After a login the run goes on (no ``st.rerun()``), so the component that writes the cookie
  reaches the browser instead of being discarded by an immediate rerun.
- Logout happens in the button's callback (before the run) and the cookie is expired in that
  run's logged-out path, where the authenticator is built anyway (see ``_delete_cookie``).
"""

from __future__ import annotations

import os
from datetime import datetime

import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities import LoginError

from db.entities import Actor, User
from services.auth import authenticator_credentials, can_log_in, current_user, log_in
from services.context import AppContext, open_context

COOKIE_NAME = "xlsim_login"
COOKIE_EXPIRY_DAYS = 7.0
ACTOR_KEY = "actor"
_LOGOUT_PENDING = "_xlsim_logout_pending"
_NOTICE = "_xlsim_login_notice"
# What streamlit-authenticator keeps in the session; cleared together with the actor.
_AUTH_KEYS = ("name", "username", "authentication_status", "email", "roles")
_EPOCH = datetime(1970, 1, 2)


def _release(ctx: AppContext) -> None:
    ctx.close()


@st.cache_resource(show_spinner=False, on_release=_release)
def _open(data_dir: str, database_url: str) -> AppContext:
    """One context per data directory and database, for the life of the process. The key is
    what the context is opened from, so tests pointing DATA_DIR elsewhere get their own."""
    return open_context()


def context() -> AppContext:
    """The process's AppContext (store, run service, cleanup, cookie key)."""
    return _open(os.environ.get("DATA_DIR", ""), os.environ.get("DATABASE_URL", ""))


def require_user() -> Actor:
    """The logged-in user, re-checked against the store on every run (a disabled or deleted
    account ends the session; a changed role takes effect at once). Anyone else sees only the
    login form, and the script stops there."""
    ctx = context()
    actor = st.session_state.get(ACTOR_KEY)
    if isinstance(actor, Actor):
        user = current_user(ctx.store, actor)
        if user is not None:
            return _start_session(user)
        _end_session()
        st.session_state[_NOTICE] = "Your session has ended: the account is disabled."
    user = _login(ctx)
    if user is None:
        st.stop()
    actor = _start_session(user)
    if not st.session_state.get(FRAME_KEY):
        # A freshly started server can route a page URL to its file without app.py: no
        # navigation, no logout. Having logged in, continue in the frame.
        st.success(f"Signed in as {user.display_name or user.username}.")
        st.link_button("Open xlsim", "/", type="primary")
        st.stop()
    return actor


def mark_frame() -> None:
    """Called by app.py before anything else: this session runs inside the frame."""
    st.session_state[FRAME_KEY] = True


FRAME_KEY = "_frame"


def require_admin() -> Actor:
    """As ``require_user``, and stops with a message for a user who is not an admin."""
    actor = require_user()
    if not actor.is_admin:
        st.error("This page is for administrators.")
        st.stop()
    return actor


def logout_button() -> None:
    """The signed-in user's name and a logout button, in the sidebar."""
    actor = st.session_state.get(ACTOR_KEY)
    user = current_user(context().store, actor) if isinstance(actor, Actor) else None
    if user is None:
        return
    st.sidebar.markdown(f"Signed in as **{user.display_name or user.username}**")
    st.sidebar.button("Log out", key="xlsim_logout", on_click=_logout, args=(user,),
                      width="stretch")


def _start_session(user: User) -> Actor:
    actor = Actor.for_user(user)
    st.session_state[ACTOR_KEY] = actor
    return actor


def _end_session() -> None:
    """Forgets the user in this session; ``logout`` True also stops the authenticator from
    logging the session back in from the cookie the browser sent when it connected."""
    st.session_state.pop(ACTOR_KEY, None)
    for key in _AUTH_KEYS:
        st.session_state[key] = None
    st.session_state["logout"] = True


def _logout(user: User) -> None:
    context().store.audit(user.id, "logout", user.username)
    _end_session()
    st.session_state[_LOGOUT_PENDING] = True


def _authenticator(ctx: AppContext) -> stauth.Authenticate:
    """Built once per run at most (see the module docstring). No pause before reading the
    cookie: 0.4.2 reads it from the connection's headers, so waiting gains nothing."""
    return stauth.Authenticate(authenticator_credentials(ctx.store), COOKIE_NAME,
                               ctx.cookie_key, COOKIE_EXPIRY_DAYS, auto_hash=False,
                               login_sleep_time=0)


def _login(ctx: AppContext) -> User | None:
    """The logged-out path: delete the cookie after a logout, else try the cookie, else show
    the form. Returns the user once logged in, None while the form waits."""
    auth = _authenticator(ctx)
    if st.session_state.pop(_LOGOUT_PENDING, False):
        _delete_cookie(auth)
    user = _user_from_cookie(ctx, auth)
    if user is not None:
        ctx.store.audit(user.id, "login.cookie", user.username)
        return user
    slot = st.empty()
    with slot.container():
        user = _login_form(ctx)
    if user is None:
        return None
    slot.empty()
    _mark_logged_in(user)
    auth.cookie_controller.set_cookie()
    return user


def _delete_cookie(auth: stauth.Authenticate) -> None:
    """Expires the cookie at path ``/``. The authenticator's own delete removes it without a
    path from inside the component's iframe (served under /component/...), which leaves the
    cookie set at ``/`` in place: the next tab would be logged straight back in."""
    auth.cookie_controller.cookie_model.cookie_manager.set(
        COOKIE_NAME, "", key="xlsim_cookie_expire", path="/", expires_at=_EPOCH)


def _user_from_cookie(ctx: AppContext, auth: stauth.Authenticate) -> User | None:
    try:
        auth.login(location="unrendered")
    except LoginError:  # a validly signed cookie for a user no longer allowed in
        return None
    username = st.session_state.get("username")
    if not st.session_state.get("authentication_status") or not username:
        return None
    user = ctx.store.get_user(username)
    return user if can_log_in(user) else None


def _login_form(ctx: AppContext) -> User | None:
    notice = st.session_state.pop(_NOTICE, None)
    if notice:
        st.warning(notice)
    with st.form("login"):
        st.subheader("Log in to xlsim")
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Log in", type="primary")
    if not submitted:
        return None
    result = log_in(ctx.store, username, password)
    if result.user is None:
        st.error(result.message)
    return result.user


def _mark_logged_in(user: User) -> None:
    """What the authenticator expects after its own login: the cookie it writes names
    ``username``, and ``logout`` must be cleared for the cookie to count again."""
    st.session_state.update({
        "name": user.display_name or user.username, "username": user.username.lower(),
        "authentication_status": True, "email": user.email, "roles": list(user.roles),
        "logout": None})
