"""Summary statistics of one simulation output, on its non-error iterations.

Definitions follow Excel so that a user who pastes the samples into a sheet gets the same
numbers: STDEV.S, SKEW, KURT and PERCENTILE.INC. A run's statistics come from its chunks'
partials (engine.montecarlo.partials) merged in chunk order, so the same definitions serve one
array here (``summarize``: one partial) and a run spread over many processes (``summary_from``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.montecarlo.partials import (
    OutputPartial,
    Window,
    merged_moments,
    sorted_partial,
    windows_for,
)

if TYPE_CHECKING:  # numpy.typing costs 60 ms to import; annotations only need the name
    from numpy.typing import ArrayLike

DEFAULT_PERCENTILES: tuple[float, ...] = (1, 5, 10, 25, 50, 75, 90, 95, 99)

def as_values(values: ArrayLike, label: str) -> np.ndarray:
    """The output's iteration values as a 1-D float64 array (no copy when already one)."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"{label}: values must be a 1-D array of iterations, got shape {v.shape}")
    return v


def error_mask(values: np.ndarray, errors: ArrayLike | None, label: str) -> np.ndarray:
    """True for each iteration that ended in an Excel error.

    ``errors`` is a boolean array or a uint8 array of error codes (0 = no error). A value that
    is not finite also counts as an error: Excel has no NaN or infinity (an overflow is
    ``#NUM!``), so such a value can only be an error iteration that the caller did not flag.
    """
    bad = np.isfinite(values)
    np.logical_not(bad, out=bad)
    if errors is not None:
        e = np.asarray(errors)
        if e.shape != values.shape:
            raise ValueError(
                f"{label}: errors has shape {e.shape} but values has shape {values.shape}"
            )
        if e.dtype == np.bool_:
            bad |= e
        elif np.issubdtype(e.dtype, np.integer):
            bad |= e != 0
        else:
            raise ValueError(
                f"{label}: errors must be booleans or integer error codes, got {e.dtype}"
            )
    return bad


def check_percentiles(percentiles: Iterable[float], label: str) -> tuple[float, ...]:
    """Percentiles (in percent, 0 to 100) validated, in the caller's order, duplicates removed."""
    ps = tuple(dict.fromkeys(float(p) for p in percentiles))
    for p in ps:
        if not 0.0 <= p <= 100.0:
            raise ValueError(f"{label}: percentile {p:g} is outside 0 to 100")
    return ps


def percentile_key(p: float) -> str:
    """The JSON key of a percentile: ``5`` for 5.0, ``2.5`` for 2.5."""
    return f"{p:g}"


def _position(n: int, fraction: float) -> tuple[int, float]:
    """PERCENTILE.INC's h = (n - 1) p split into floor and weight.

    An h within rounding of an integer is snapped to it: 1 - 0.8 is 0.19999999999999996, and
    without the snap the 20th percentile of (1, 2, 2, 3, 4, 5) would come out a hair below 2,
    which then drops the tied 2s from a CVaR tail.
    """
    h = (n - 1) * fraction
    r = round(h)
    if abs(h - r) <= 64 * math.ulp(max(h, 1.0)):
        return r, 0.0
    j = math.floor(h)
    return j, h - j


def percentile_indices(n: int, fractions: Iterable[float]) -> list[int]:
    """Order-statistic positions (0-based) that PERCENTILE.INC reads for these fractions."""
    idx = set()
    for f in fractions:
        j, _ = _position(n, f)
        idx.add(j)
        idx.add(min(j + 1, n - 1))
    return sorted(idx)


def percentile_inc(x: np.ndarray, fraction: float) -> float:
    """Excel's PERCENTILE.INC of ``x`` at ``fraction`` (0 to 1).

    ``x`` only has to be partitioned (``np.partition``) at ``percentile_indices`` of this
    fraction, not sorted: h = (n - 1) p (see ``_position``), then linear interpolation between
    the order statistics at floor(h) and floor(h) + 1, as Excel and NumPy's ``linear`` do.
    """
    j, w = _position(x.size, fraction)
    lo = float(x[j])
    return lo if w == 0.0 else lo + w * (float(x[j + 1]) - lo)


def _shape(n: int, sd: float, s3: float, s4: float) -> tuple[float | None, float | None]:
    """Excel's SKEW and KURT (sample skewness, sample excess kurtosis); None where Excel
    gives #DIV/0! (SKEW needs n >= 3, KURT n >= 4, both a non-zero standard deviation).

    SKEW = n / ((n-1)(n-2)) * sum(((x - mean) / s)^3)
    KURT = n(n+1) / ((n-1)(n-2)(n-3)) * sum(((x - mean) / s)^4) - 3 (n-1)^2 / ((n-2)(n-3))
    with s the sample standard deviation (STDEV.S). These are SciPy's ``skew(bias=False)``
    and ``kurtosis(bias=False)``.
    """
    if not sd > 0.0:
        return None, None
    skew = n / ((n - 1) * (n - 2)) * s3 / sd**3 if n >= 3 else None
    kurt = (
        n * (n + 1) / ((n - 1) * (n - 2) * (n - 3)) * s4 / sd**4
        - 3.0 * (n - 1) ** 2 / ((n - 2) * (n - 3))
        if n >= 4
        else None
    )
    return skew, kurt


def summarize(
    values: ArrayLike,
    errors: ArrayLike | None = None,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
    target: float | None = None,
    var_level: float = 0.95,
    tail: str = "lower",
    label: str = "output",
) -> dict[str, Any]:
    """Statistics of one output over its non-error iterations, as a JSON-ready dict.

    Keys: ``n`` (non-error iterations used), ``errors`` (iterations that ended in an error,
    see ``error_mask``), ``mean``, ``std`` (STDEV.S, ddof=1), ``min``, ``max``, ``skewness``
    (SKEW), ``kurtosis`` (KURT, excess), ``sem`` (std / sqrt(n)), ``percentiles`` (key
    ``percentile_key(p)`` -> PERCENTILE.INC at p/100), ``target`` and ``p_target``
    (fraction of non-error iterations with value <= target, only when a target is given),
    ``var_level``, ``tail``, ``var``, ``cvar``. A statistic that is undefined (std with
    n < 2, anything with n = 0) is None.

    Value at risk at level L (e.g. 0.95):
      tail="lower" (higher is better, losses are low outcomes):
        VaR = PERCENTILE.INC(x, 1 - L), the 5th percentile at L = 0.95;
        CVaR = mean of the outcomes x <= VaR.
      tail="upper" (lower is better, e.g. a cost):
        VaR = PERCENTILE.INC(x, L); CVaR = mean of the outcomes x >= VaR.
    Both are outcomes on the output's own scale (not losses relative to the mean).
    """
    v = as_values(values, label)
    check_summary_settings(var_level, tail, target, label)
    ps = check_percentiles(percentiles, label)
    bad = error_mask(v, errors, label)
    x = np.sort(v[~bad])
    part = sorted_partial(x, {0: int(np.count_nonzero(bad))}, target)  # 0: any error
    windows = windows_for([part], summary_ranks(part.n, ps, var_level, tail))
    for window in set(windows.values()):
        window.add(x)
    return summary_from([part], windows, ps, target, var_level, tail)


def check_summary_settings(var_level: float, tail: str, target: float | None,
                           label: str) -> None:
    if not 0.0 < var_level < 1.0:
        raise ValueError(f"{label}: var_level must lie strictly between 0 and 1, got {var_level}")
    if tail not in ("lower", "upper"):
        raise ValueError(f"{label}: tail must be 'lower' or 'upper', got {tail!r}")
    if target is not None and not math.isfinite(target):
        raise ValueError(f"{label}: target must be a finite number, got {target}")


def _var_fraction(var_level: float, tail: str) -> float:
    return 1.0 - var_level if tail == "lower" else var_level


def summary_ranks(n: int, ps: Sequence[float], var_level: float, tail: str) -> list[int]:
    """The order statistics (0-based) that the percentiles and the VaR read."""
    if n == 0:
        return []
    return percentile_indices(n, [p / 100.0 for p in ps] + [_var_fraction(var_level, tail)])


def percentile_of(kth: Callable[[int], float], n: int, fraction: float) -> float:
    """PERCENTILE.INC from the order statistics that ``kth(rank)`` gives."""
    j, w = _position(n, fraction)
    lo = kth(j)
    return lo if w == 0.0 else lo + w * (kth(j + 1) - lo)


def summary_from(parts: Sequence[OutputPartial], windows: Mapping[int, Window],
                 ps: Sequence[float], target: float | None, var_level: float,
                 tail: str) -> dict[str, Any]:
    """``summarize``'s dict from chunk partials (in chunk order) and the windows of
    ``summary_ranks``, each filled by one pass over every chunk's sorted values."""
    moments = merged_moments(parts)
    n = moments.n
    result: dict[str, Any] = {
        "n": n, "errors": sum(sum(p.errors.values()) for p in parts), "mean": None,
        "std": None, "min": None, "max": None, "skewness": None, "kurtosis": None,
        "sem": None, "percentiles": {percentile_key(p): None for p in ps},
        "var_level": var_level, "tail": tail, "var": None, "cvar": None,
    }
    if target is not None:
        result["target"] = float(target)
        result["p_target"] = None
    if n == 0:
        return result
    result["mean"] = moments.mean
    if n >= 2:
        sd = math.sqrt(moments.m2 / (n - 1))
        result["std"] = sd
        result["sem"] = sd / math.sqrt(n)
        result["skewness"], result["kurtosis"] = _shape(n, sd, moments.m3, moments.m4)
    used = [p for p in parts if p.n]
    result["min"] = min(p.minimum for p in used)
    result["max"] = max(p.maximum for p in used)

    def kth(k: int) -> float:
        return windows[k].kth(k)

    result["percentiles"] = {percentile_key(p): percentile_of(kth, n, p / 100.0) for p in ps}
    fraction = _var_fraction(var_level, tail)
    var = percentile_of(kth, n, fraction)
    j, w = _position(n, fraction)
    # Between two neighbouring order statistics there is no other value, so the tail beyond
    # the VaR is the tail beyond whichever of them the VaR reaches.
    if tail == "lower":
        r = j + 1 if w and var >= kth(j + 1) else j
        count, total = windows[r].at_or_below(kth(r))
    else:
        r = j if not w or var <= kth(j) else j + 1
        count, total = windows[r].at_or_above(kth(r))
    result["var"] = var
    result["cvar"] = total / count
    if target is not None:
        result["p_target"] = sum(p.at_or_below_target for p in parts) / n
    return result
