"""Persistence (PostgreSQL metadata, Parquet samples, DuckDB queries, Redis cache).

Empty until the persistence issue: nothing in the engine depends on it.
"""
