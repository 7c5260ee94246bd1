"""Excel's function library; importing this package registers every function."""

from engine.functions import (  # noqa: F401  (imported for their registrations)
    dates,
    distributions,
    engineering,
    financial,
    grouping,
    info,
    logic,
    lookup,
    math,
    risk,
    stats,
    text,
)
from engine.functions.registry import FUNCTIONS
from engine.functions.registry import lookup as find_function

__all__ = ["FUNCTIONS", "find_function"]
