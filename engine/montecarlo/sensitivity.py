"""What drives an output: rank correlation, standardized regression, contribution to variance
and tornado data, per input.

Every input is argsorted once per run (``sort_inputs``) and that order is reused for every
output: ranks on the iterations an output keeps (its non-error ones) follow from the order in
linear time, so an output with error iterations costs no extra sort of the inputs. Ties get
average ranks, so discrete inputs (Bernoulli, Poisson, discrete tables) are ranked correctly.

Definitions (all on the output's non-error iterations):
- ``spearman``: Pearson correlation of the average ranks of input and output.
- ``src``: standardized regression coefficient, the least-squares coefficient of the input
  when the output is regressed on all inputs, every variable scaled to mean 0 and sd 1 (so
  for independent inputs, src ~ Pearson correlation); ``r_squared`` is that fit's R^2.
- ``contribution``: contribution to variance in percent, squared Spearman correlations
  normalised to 100% and signed as the correlation (Crystal Ball's definition; @RISK's
  regression-based variant needs a stepwise fit and depends on input order). Absolute values
  sum to 100.
- tornado ``low``/``high``: the output's mean over the iterations whose input value is among
  the bottom / top ``tail_fraction`` (default the decile): ``low`` uses the iterations with
  value <= the k-th smallest value, ``high`` those with value >= the k-th largest, with
  k = ceil(tail_fraction * n). Tied values on the boundary all join the group, so a Bernoulli
  input compares its zeros with its ones instead of splitting a tie arbitrarily. Bars are
  ordered by swing |high - low|, largest first.
An input or output that is constant has no correlation: its spearman, src and contribution
are None, and it is left out of the regression.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # numpy.typing costs 60 ms to import; annotations only need the name
    from numpy.typing import ArrayLike

from engine.montecarlo.sorting import argsort
from engine.montecarlo.summary import as_values, error_mask

# Iterations per chunk when accumulating the regression's correlation matrix.
_CHUNK = 1 << 16


@dataclass(frozen=True)
class SortedInputs:
    """Input samples with their ascending sort orders, built once and shared by all outputs."""

    names: tuple[str, ...]
    samples: tuple[np.ndarray, ...]
    orders: tuple[np.ndarray, ...]
    # Unit-scaled ranks over all iterations, per input, shared by the outputs without errors.
    _full_ranks: dict[int, tuple[np.ndarray | None, np.ndarray]] = field(
        default_factory=dict, compare=False, repr=False)

    def unit_ranks(self, i: int, keep: np.ndarray | None) -> tuple[np.ndarray | None,
                                                                   np.ndarray]:
        """Input i's ranks on the kept iterations, centred and scaled, and its sorted values."""
        if keep is not None:
            rx, xs = _ranks(self.samples[i], self.orders[i], keep)
            return _unit(rx), xs
        found = self._full_ranks.get(i)
        if found is None:
            rx, xs = _ranks(self.samples[i], self.orders[i], None)
            found = self._full_ranks[i] = (_unit(rx), xs)
        return found

    @property
    def n(self) -> int:
        return int(self.samples[0].size)


def sort_inputs(inputs: Mapping[str, ArrayLike]) -> SortedInputs:
    """Validate the inputs' samples and argsort each one once.

    Orders are kept as int32 when the iteration count allows: half the memory of int64,
    which matters at 10^7 iterations x many inputs.
    """
    if not inputs:
        raise ValueError("sensitivity needs at least one input")
    names, samples, orders = [], [], []
    n = None
    index_type = np.int32
    for name, raw in inputs.items():
        x = as_values(raw, name)
        if n is None:
            n = x.size
            index_type = np.int32 if n < 2**31 else np.int64
        elif x.size != n:
            raise ValueError(f"{name}: has {x.size} samples but {names[0]} has {n}")
        if not np.isfinite(x).all():
            raise ValueError(f"{name}: input samples must be finite numbers")
        names.append(name)
        samples.append(x)
        orders.append(argsort(x).astype(index_type, copy=False))
    return SortedInputs(tuple(names), tuple(samples), tuple(orders))


def _ranks(
    x: np.ndarray, order: np.ndarray, keep: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Average ranks (1-based) of ``x`` restricted to ``keep``, and those kept values sorted.

    ``order`` is the argsort of the full ``x``; dropping the rows that ``keep`` excludes from
    it leaves the order of the kept rows, so no new sort is needed.
    """
    if keep is None:
        kept_order = order
        slot = order
    else:
        kept_order = order[keep[order]]
        slot = (np.cumsum(keep) - 1)[kept_order]
    xs = x[kept_order]
    m = xs.size
    starts_group = np.empty(m, dtype=np.bool_)
    starts_group[:1] = True
    np.not_equal(xs[1:], xs[:-1], out=starts_group[1:])
    starts = np.flatnonzero(starts_group)
    if starts.size == m:
        sorted_ranks = np.arange(1.0, m + 1.0)
    else:
        sizes = np.diff(np.append(starts, m))
        sorted_ranks = np.repeat(starts + (sizes + 1) / 2.0, sizes)
    ranks = np.empty(m)
    ranks[slot] = sorted_ranks
    return ranks, xs


def _centre_scale(x: np.ndarray) -> tuple[float, float]:
    """Mean of ``x`` and the Euclidean norm of its deviations (0 for a constant)."""
    mean = float(x.mean())
    d = x - mean
    return mean, math.sqrt(float((d * d).sum()))


def _unit(v: np.ndarray) -> np.ndarray | None:
    """``v`` centred and scaled to unit Euclidean norm in place; None when it is constant.

    With unit-norm vectors a dot product is a Pearson correlation.
    """
    mean, norm = _centre_scale(v)
    if not norm > 0.0:
        return None
    v -= mean
    v /= norm
    return v


def _regression(
    columns: list[np.ndarray],
    centre: np.ndarray,
    scale: np.ndarray,
    keep: np.ndarray | None,
    y: np.ndarray,
    y_centre: float,
    y_scale: float,
) -> tuple[np.ndarray, float]:
    """Standardized regression coefficients of ``y`` (kept rows) on ``columns`` (full length,
    kept rows selected by ``keep``) and the fit's R^2.

    The correlation matrix and the correlations with the output are accumulated over chunks
    of iterations, so memory stays k x chunk rather than a k x n standardized copy (800 MB
    for 10 inputs at 10^7). Solved by least squares, so perfectly collinear inputs get the
    minimum-norm split instead of an exception.
    """
    gram = np.zeros((len(columns), len(columns)))
    cross = np.zeros(len(columns))
    done = 0
    for start in range(0, columns[0].size, _CHUNK):
        rows = slice(start, start + _CHUNK)
        block = np.stack([c[rows] if keep is None else c[rows][keep[rows]] for c in columns])
        block -= centre[:, None]
        block /= scale[:, None]
        yb = (y[done:done + block.shape[1]] - y_centre) / y_scale
        done += block.shape[1]
        gram += block @ block.T
        cross += block @ yb
    coef = np.linalg.lstsq(gram, cross, rcond=None)[0]
    return coef, float(np.dot(cross, coef))


def _plain(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


def sensitivity(
    output: ArrayLike,
    inputs: SortedInputs | Mapping[str, ArrayLike],
    errors: ArrayLike | None = None,
    tail_fraction: float = 0.1,
    label: str = "output",
) -> dict[str, Any]:
    """Sensitivity of one output to every input, as a JSON-ready dict (see the module doc).

    Returns ``{"n", "errors", "r_squared", "inputs": {name: {"spearman", "src",
    "contribution"}}, "tornado": {"mean", "bars": [{"input", "low", "high"}, ...]}}``.
    Pass a ``SortedInputs`` to share the input sorts among outputs.
    """
    ins = inputs if isinstance(inputs, SortedInputs) else sort_inputs(inputs)
    y_all = as_values(output, label)
    if y_all.size != ins.n:
        raise ValueError(f"{label}: has {y_all.size} iterations but the inputs have {ins.n}")
    if not 0.0 < tail_fraction <= 0.5:
        raise ValueError(f"{label}: tail_fraction must lie in (0, 0.5], got {tail_fraction}")
    bad = error_mask(y_all, errors, label)
    n_err = int(np.count_nonzero(bad))
    keep = ~bad if n_err else None
    y = y_all[keep] if n_err else y_all
    m = int(y.size)
    k = len(ins.names)
    result: dict[str, Any] = {
        "n": m, "errors": n_err, "r_squared": None,
        "inputs": {name: {"spearman": None, "src": None, "contribution": None}
                   for name in ins.names},
        "tornado": {"mean": None, "bars": []},
    }
    if m < 2:
        return result

    ry, _ = _ranks(y, argsort(np.ascontiguousarray(y)), None)
    ry = _unit(ry)
    y_centre, y_scale = _centre_scale(y)
    rho = np.full(k, np.nan)
    usable, centre, scale = [], [], []
    bars = []
    cut = math.ceil(tail_fraction * m)
    for i, (name, x_all) in enumerate(zip(ins.names, ins.samples, strict=True)):
        x = x_all[keep] if n_err else x_all
        rx, xs = ins.unit_ranks(i, keep)
        if rx is not None and ry is not None:
            rho[i] = (rx * ry).sum()
        x_centre, x_scale = _centre_scale(x)
        if x_scale > 0.0:
            usable.append(i)
            centre.append(x_centre)
            scale.append(x_scale)
        low = float(y[x <= xs[cut - 1]].mean())
        high = float(y[x >= xs[m - cut]].mean())
        bars.append({"input": name, "low": low, "high": high})
    beta = np.full(k, np.nan)
    if usable and y_scale > 0.0:
        beta[usable], result["r_squared"] = _regression(
            [ins.samples[i] for i in usable], np.array(centre), np.array(scale), keep,
            y, y_centre, y_scale,
        )
    total = float(np.nansum(rho * rho))
    share = np.sign(rho) * rho * rho / total * 100.0 if total > 0.0 else np.full(k, np.nan)
    for i, name in enumerate(ins.names):
        result["inputs"][name] = {
            "spearman": _plain(rho[i]), "src": _plain(beta[i]), "contribution": _plain(share[i]),
        }
    bars.sort(key=lambda b: -abs(b["high"] - b["low"]))
    result["tornado"] = {"mean": y_centre, "bars": bars}
    return result
