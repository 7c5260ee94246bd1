"""Persistence: metadata store (PostgreSQL or embedded SQLite), Parquet samples, DuckDB queries,
Redis or in-process cache, the job runner and cleanup. No Streamlit imports anywhere in here.

Import what you need from its module (``db.config.Settings``, ``db.store.open_store``,
``db.errors``...): this package imports nothing itself, so ``import db`` pulls in no driver.
"""
