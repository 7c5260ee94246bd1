"""Cash-flow solvers compiled by Numba, shared by the scalar IRR/NPV/PMT functions and the Monte
Carlo virtual machine, so that a simulated IRR is Excel's IRR, iteration by iteration.

Results are NaN where Excel answers #NUM!.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Where Newton's method fails, IRR looks for a sign change of the NPV on this grid of rates and
# bisects the bracket nearest the guess.
_GRID = np.array([-0.99, -0.9, -0.75, -0.5, -0.25, -0.1, 0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75,
                  1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1e3, 1e4, 1e6])


@njit(cache=True, nogil=True)
def npv(rate: float, values: np.ndarray) -> float:
    """NPV: the first value is discounted one full period."""
    total = 0.0
    factor = 1.0
    base = 1.0 + rate
    for v in values:
        factor *= base
        total += v / factor
    return total


@njit(cache=True, nogil=True)
def _irr_equation(values: np.ndarray, rate: float) -> tuple[float, float]:
    """NPV at ``rate`` with the first flow undiscounted, and its derivative."""
    base = 1.0 + rate
    value = 0.0
    deriv = 0.0
    power = 1.0
    for i in range(values.shape[0]):
        value += values[i] / power
        deriv -= i * values[i] / (power * base)
        power *= base
    return value, deriv


@njit(cache=True, nogil=True)
def _newton(values: np.ndarray, guess: float, max_iter: int, tol: float) -> float:
    """Newton's method as Excel runs it: stop when a step is below ``tol``; NaN when it leaves
    the domain (rate <= -1) or does not settle."""
    x = guess
    for _ in range(max_iter):
        value, deriv = _irr_equation(values, x)
        if value == 0.0:
            return x
        if deriv == 0.0 or not math.isfinite(value) or not math.isfinite(deriv):
            return math.nan
        step = value / deriv
        x -= step
        if not math.isfinite(x) or x <= -1.0:
            return math.nan
        if abs(step) < tol:
            return x
    return math.nan


@njit(cache=True, nogil=True)
def _bracketed(values: np.ndarray, near: float) -> float:
    best_lo = math.nan
    best_hi = math.nan
    best_dist = math.inf
    prev = _irr_equation(values, _GRID[0])[0]
    for k in range(1, _GRID.shape[0]):
        cur = _irr_equation(values, _GRID[k])[0]
        if math.isfinite(prev) and math.isfinite(cur) and prev * cur <= 0.0:
            dist = min(abs(_GRID[k - 1] - near), abs(_GRID[k] - near))
            if dist < best_dist:
                best_dist, best_lo, best_hi = dist, _GRID[k - 1], _GRID[k]
        prev = cur
    if not math.isfinite(best_lo):
        return math.nan
    lo, hi = best_lo, best_hi
    f_lo = _irr_equation(values, lo)[0]
    mid = (lo + hi) / 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        f_mid = _irr_equation(values, mid)[0]
        if f_mid == 0.0:
            return mid
        if (f_mid > 0.0) == (f_lo > 0.0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
        if abs(hi - lo) < 1e-15:
            return mid
    return mid


@njit(cache=True, nogil=True)
def irr(values: np.ndarray, guess: float = 0.1) -> float:
    """IRR: Newton's method from ``guess`` (Excel: 20 tries, 0.00001 percent); when that fails,
    a longer Newton run, then a bracketing search, so that a rate Excel finds from a poor guess
    is still found. NaN when the flows do not change sign or no rate is found (#NUM!)."""
    positive = False
    negative = False
    for v in values:
        if v > 0.0:
            positive = True
        elif v < 0.0:
            negative = True
    if not (positive and negative):
        return math.nan
    root = _newton(values, guess, 20, 1e-7 * max(1.0, abs(guess)))
    if math.isfinite(root):
        return root
    root = _newton(values, guess, 100, 1e-10)
    if math.isfinite(root):
        return root
    return _bracketed(values, guess)


@njit(cache=True, nogil=True)
def pmt(rate: float, nper: float, pv: float, fv: float, type_: float) -> float:
    """PMT: the payment that takes ``pv`` to ``fv`` in ``nper`` periods; type 1 pays in advance."""
    if nper == 0.0:
        return math.nan
    if rate == 0.0:
        return -(pv + fv) / nper
    growth = (1.0 + rate) ** nper
    due = 1.0 if type_ != 0.0 else 0.0
    return -(fv + pv * growth) * rate / ((1.0 + rate * due) * (growth - 1.0))
