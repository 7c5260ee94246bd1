"""Streamlit glue shared by app.py and the pages: the session gate and the app context."""
