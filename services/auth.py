"""Who may log in, without Streamlit: the credentials handed to streamlit-authenticator, the
password check, and the re-check of a session's user on every page view.

Passwords are checked by ``Store.verify_password`` rather than by the authenticator: the store
counts every attempt in the database (so the lock-out after MAX_FAILED_ATTEMPTS holds across
server processes and restarts, which the authenticator's in-memory counter does not), refuses
disabled and locked accounts, writes the audit trail, and compares the password exactly as it
was set (the authenticator strips spaces from typed passwords).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from db.entities import MAX_FAILED_ATTEMPTS, SYSTEM_ACTOR, Actor, User
from db.store import Store


def can_log_in(user: User | None) -> bool:
    """Whether this account may start or keep a session: it exists, is enabled, not locked."""
    return user is not None and not user.disabled and not user.locked


def authenticator_credentials(store: Store) -> dict[str, Any]:
    """The ``credentials`` mapping streamlit-authenticator expects, from the store: every user who
    may log in, keyed by lower-case username (the authenticator lower-cases what it looks up),
    with the bcrypt hash. The authenticator uses it to accept a signed cookie only for a user
    who is still allowed in."""
    return {"usernames": {
        user.username.lower(): {"name": user.display_name or user.username,
                                "email": user.email, "password": user.password_hash,
                                "roles": list(user.roles)}
        for user in store.list_users(SYSTEM_ACTOR) if can_log_in(user)}}


@dataclass(frozen=True)
class LoginResult:
    """A successful login carries the user; a refused one the sentence to show."""

    user: User | None
    message: str = ""


def log_in(store: Store, username: str, password: str) -> LoginResult:
    """Checks typed credentials through the store, which counts the failure or resets the count.
    The message names a lock-out only for an account that is locked, so a typo is not mistaken
    for it; otherwise it does not say whether the username exists."""
    if not username.strip() or not password:
        return LoginResult(None, "Enter your username and password.")
    user = store.verify_password(username, password)
    if user is not None:
        return LoginResult(user)
    known = store.get_user(username)
    if known is not None and known.locked and not known.disabled:
        return LoginResult(None, f"This account is locked after {MAX_FAILED_ATTEMPTS} failed "
                                 "logins. An administrator can unlock it.")
    return LoginResult(None, "Wrong username or password.")


def current_user(store: Store, actor: Actor) -> User | None:
    """The session's user as the store sees it now, or None when the account was deleted or
    disabled since the session began (the session then ends)."""
    user = store.get_user_by_id(actor.user_id)
    return user if user is not None and not user.disabled else None
