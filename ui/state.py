"""Widgets drawn from a model the page keeps in the session, never from their own state.

Streamlit keeps a widget's value under its key only while the widget is drawn: after a run that
does not draw it (another page, a rerun that leaves before it) the key is gone from
``st.session_state``, and a widget whose value is also passed as ``value=``/``index=`` is reset
to that default. A page whose entries must survive keeps them in a plain session entry, the
model (``model``), and for every widget:

- draws it with ``key=bound(its_key, the_model's_value)``, never with ``value=``/``index=``:
  the key gets the model's value whenever Streamlit has dropped it;
- writes what the widget returns back into the model, and never reads a widget's key;
- when the model changes other than through the widget (a loaded set-up, a converted
  parameter), ``forget``s the widget's key before the widget is drawn, so it shows the model
  again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import streamlit as st

T = TypeVar("T")


def model(key: str, make: Callable[[], T]) -> T:
    """The page's model under ``key`` (a key no widget uses), made by ``make`` the first time."""
    if key not in st.session_state:
        st.session_state[key] = make()
    return st.session_state[key]


def bound(key: str, value: Any) -> str:
    """``key`` for a widget showing ``value`` from the model: the value is put under the key
    when Streamlit holds none (first drawing, or dropped after a run that did not draw it);
    otherwise the widget keeps what the user entered, which the page wrote into the model."""
    if key not in st.session_state:
        st.session_state[key] = value
    return key


def forget(keys: Iterable[str]) -> None:
    """Drop the widgets' values under ``keys`` (before they are drawn in this run): they show
    the model's values again."""
    for key in list(keys):
        st.session_state.pop(key, None)


def forget_prefixed(prefix: str) -> None:
    """``forget`` every key starting with ``prefix`` (all the widgets of one model)."""
    forget(k for k in list(st.session_state) if isinstance(k, str) and k.startswith(prefix))
