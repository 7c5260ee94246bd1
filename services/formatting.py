"""Number formats shared by every page, chart and report, so the same figure reads the same
everywhere: thousands separators, a sensible number of decimals, and a dash for what is missing.

Streamlit-free, so the Excel report and the tests use exactly what the pages show.
"""

from __future__ import annotations

import math

MISSING = "–"
"""Shown for a value that does not exist (no valid iteration, an error, not measured yet)."""


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def number(value: float | None, decimals: int | None = None) -> str:
    """``1234567.891`` -> ``"1,234,567.89"``. Without ``decimals``, large values drop their
    fraction and small ones keep enough digits to be read (0.000123 is not ``"0.00"``)."""
    if _missing(value):
        return MISSING
    if decimals is None:
        size = abs(value)
        decimals = 0 if size >= 10_000 else 2 if size >= 1 or size == 0 else 4
        if 0 < size < 0.0001:
            return f"{value:.3g}"
    return f"{value:,.{decimals}f}"


def integer(value: float | None) -> str:
    """A count with thousands separators: ``1000000`` -> ``"1,000,000"``."""
    return MISSING if _missing(value) else f"{round(value):,d}"


def percent(fraction: float | None, decimals: int = 1) -> str:
    """A probability or share as a percentage: ``0.4494`` -> ``"44.9%"``."""
    return MISSING if _missing(fraction) else f"{fraction * 100:,.{decimals}f}%"


def percentile_label(p: float | str) -> str:
    """The engine keys percentiles by percent (``"5"``): shown as ``"P5"``."""
    value = float(p)
    return f"P{value:g}"


def duration(seconds: float | None) -> str:
    """``75`` -> ``"1 min 15 s"``, ``3.2`` -> ``"3.2 s"``: time left and elapsed times."""
    if _missing(seconds):
        return MISSING
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def rate(per_second: float | None, unit: str = "iterations") -> str:
    """``123456.7`` -> ``"123,457 iterations/s"``."""
    return MISSING if _missing(per_second) else f"{per_second:,.0f} {unit}/s"


AXIS_FORMAT = ",.6~r"
"""Plotly tick format: thousands separators, at most 6 significant digits, no trailing zeros."""

EXCEL_FORMAT = "#,##0.00"
"""The report's number format for statistics (thousands separators, two decimals)."""
