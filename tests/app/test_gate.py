"""Every page file, opened directly without logging in, shows the login form and nothing else.

A freshly started server can route a URL straight to a file in ``pages/`` without running
app.py, so each page must call the gate itself; this test runs every ``pages/*.py`` that exists
(and app.py) on its own, as such a request would.
"""

from __future__ import annotations

import pytest

from tests.app.conftest import ROOT, app_test

SCRIPTS = ["app.py", *sorted(f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py"))]
# The login form's elements, and the invisible component through which the cookie is read.
LOGIN_ELEMENTS = {"text_input", "button", "subheader", "component_instance"}


@pytest.mark.parametrize("script", SCRIPTS)
def test_opening_a_page_logged_out_shows_only_the_login_form(ctx, script):
    at = app_test(script).run()
    assert not at.exception, at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert [b.label for b in at.button] == ["Log in"]
    assert [s.value for s in at.subheader] == ["Log in to xlsim"]
    assert not at.sidebar.children
    shown = {node.type for node in _leaves(at.main)}
    assert shown <= LOGIN_ELEMENTS, shown
    assert "actor" not in at.session_state


def _leaves(block):
    """Every element under a block (forms and containers opened)."""
    for child in block.children.values():
        if getattr(child, "children", None):
            yield from _leaves(child)
        elif not hasattr(child, "children"):
            yield child
