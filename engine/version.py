"""The engine's version: it keys cached models and is stored with every run."""

from __future__ import annotations

import functools
import tomllib
from importlib import metadata
from pathlib import Path


@functools.cache
def engine_version() -> str:
    """The installed package's version, or the one in pyproject.toml when running from a
    checkout that was never installed."""
    try:
        return metadata.version("xlsim")
    except metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        with pyproject.open("rb") as f:
            return str(tomllib.load(f)["project"]["version"])
