"""Orchestration between the UI and the engine/db layers: Streamlit-free and tested on its own."""
