"""Streamlit entry point (``make run``): the frame around the pages.

It checks the session before anything else (the login form and nothing more for a visitor),
then hands over to ``st.navigation`` with the pages this user may open. Every page file checks
the session again itself, because a freshly started server can route a URL straight to a file in
``pages/`` without running this script first.
"""

from __future__ import annotations

import streamlit as st

from ui.session import logout_button, mark_frame, require_user

st.set_page_config(page_title="xlsim: Monte Carlo for Excel models", page_icon=":material/casino:",
                   layout="wide")
mark_frame()
actor = require_user()

workflow = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/upload.py", title="Upload", icon=":material/upload_file:"),
    st.Page("pages/setup.py", title="Set-up", icon=":material/tune:"),
    st.Page("pages/run.py", title="Runs", icon=":material/play_circle:"),
    st.Page("pages/results.py", title="Results", icon=":material/monitoring:"),
    st.Page("pages/explore.py", title="Explore", icon=":material/database:"),
]
sections = {"Simulation": workflow}
if actor.is_admin:
    sections["Administration"] = [
        st.Page("pages/admin.py", title="Admin", icon=":material/admin_panel_settings:")]

logout_button()
st.navigation(sections).run()
