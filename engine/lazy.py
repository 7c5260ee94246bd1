"""Modules imported on first use.

scipy.stats alone costs about 50 MB and half a second to import, and most workbooks and most
runs never reach a distribution that needs it; every ``python -m engine`` call would pay.
"""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    """Stands for a module and imports it at the first attribute access."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)
