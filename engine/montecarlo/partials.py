"""Mergeable summaries of one chunk of a run, so that no process needs a whole run in memory.

A run is cut into fixed chunks (``RunSettings.step()`` iterations, decided by the run's
definition alone). Each chunk, wherever it runs, reduces every output to an ``OutputPartial``:
counts, error counts by code, min and max, the count at or below the target, central moments
up to the fourth, and a *grid* of GRID + 1 order statistics of the chunk. Partials merge in
chunk order (never completion order), so the floating-point sums are the same for 1, 2 or 64
workers and for the in-process CLI.

The grid is what makes percentiles exact without holding a run: from the grids of all chunks,
``bracket`` finds two values L <= U that certainly enclose the k-th smallest value of the whole
run (about 2 n / GRID ranks apart); one more pass over the chunks then counts what lies below
L and keeps only the values between L and U (``order_statistics``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.montecarlo.opcodes import E_NUM

GRID = 1024
# Elements per step when accumulating central moments: big enough to amortise NumPy's call
# overhead, small enough that the temporaries stay in cache.
_STEP = 1 << 16


def _central_sums(x: np.ndarray, mean: float) -> tuple[float, float, float]:
    """Sums of the 2nd, 3rd and 4th powers of deviations from ``mean``, step by step.
    NumPy's pairwise sums, not BLAS dot products: BLAS splits a dot product over however many
    threads it has (Dask's workers give it one), which would change the last bits."""
    s2 = s3 = s4 = 0.0
    for start in range(0, x.size, _STEP):
        d = x[start:start + _STEP] - mean
        d2 = d * d
        s2 += float(d2.sum())
        s3 += float((d2 * d).sum())
        s4 += float((d2 * d2).sum())
    return s2, s3, s4


@dataclass(frozen=True)
class Moments:
    """Count, mean and the sums of the 2nd, 3rd and 4th powers of deviations from the mean."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    m3: float = 0.0
    m4: float = 0.0

    @classmethod
    def of(cls, x: np.ndarray) -> Moments:
        if x.size == 0:
            return cls()
        mean = float(x.sum()) / x.size
        return cls(int(x.size), mean, *_central_sums(x, mean))

    def merge(self, other: Moments) -> Moments:
        """Pébay's pairwise update: exact algebra, stable where raw power sums cancel."""
        a, b = self, other
        if b.n == 0:
            return a
        if a.n == 0:
            return b
        n = a.n + b.n
        d = b.mean - a.mean
        dn = d / n
        ab = a.n * b.n
        m2 = a.m2 + b.m2 + d * dn * ab
        m3 = (a.m3 + b.m3 + d * dn * dn * ab * (a.n - b.n)
              + 3.0 * dn * (a.n * b.m2 - b.n * a.m2))
        m4 = (a.m4 + b.m4 + d * dn * dn * dn * ab * (a.n * a.n - ab + b.n * b.n)
              + 6.0 * dn * dn * (a.n * a.n * b.m2 + b.n * b.n * a.m2)
              + 4.0 * dn * (a.n * b.m3 - b.n * a.m3))
        return Moments(n, a.mean + d * b.n / n, m2, m3, m4)


def grid_ranks(n: int) -> np.ndarray:
    """0-based ranks of the grid's order statistics in a chunk of n values."""
    return (np.arange(GRID + 1, dtype=np.int64) * (n - 1)) // GRID


@dataclass(frozen=True)
class OutputPartial:
    """One output over one chunk (non-error iterations unless said otherwise)."""

    moments: Moments
    errors: dict[int, int]  # Excel error code -> iterations
    minimum: float | None
    maximum: float | None
    at_or_below_target: int
    grid: np.ndarray = field(repr=False)  # GRID + 1 order statistics; empty when n == 0

    @property
    def n(self) -> int:
        return self.moments.n

    def to_json(self) -> dict[str, Any]:
        m = self.moments
        return {"moments": [m.n, m.mean, m.m2, m.m3, m.m4],
                "errors": {str(k): v for k, v in self.errors.items()},
                "min": self.minimum, "max": self.maximum, "target": self.at_or_below_target,
                "grid": self.grid.tolist()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutputPartial:
        n, *rest = data["moments"]
        return cls(Moments(int(n), *map(float, rest)),
                   {int(k): int(v) for k, v in data["errors"].items()}, data["min"],
                   data["max"], int(data["target"]), np.asarray(data["grid"], dtype=np.float64))


def split_errors(values: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """The sorted non-error values and the error iterations by code (``codes`` uint8, 0 =
    none); a non-finite value the machine did not flag counts as #NUM!."""
    bad = (codes != 0) | ~np.isfinite(values)
    found, counts = np.unique(codes[codes != 0], return_counts=True)
    by_code = {int(c): int(k) for c, k in zip(found, counts, strict=True)}
    unflagged = int(np.count_nonzero(bad)) - int(counts.sum())
    if unflagged:
        by_code[E_NUM] = by_code.get(E_NUM, 0) + unflagged
    return np.sort(values[~bad]), by_code


def sorted_partial(x: np.ndarray, errors: dict[int, int], target: float | None
                   ) -> OutputPartial:
    """The summary of sorted non-error values ``x`` and the chunk's error counts."""
    if x.size == 0:
        return OutputPartial(Moments(), errors, None, None, 0, np.empty(0))
    below = 0 if target is None else int(np.searchsorted(x, target, side="right"))
    return OutputPartial(Moments.of(x), errors, float(x[0]), float(x[-1]), below,
                         x[grid_ranks(x.size)])


@dataclass(frozen=True)
class ChunkPartial:
    """Every output of one chunk, in the model's output order."""

    index: int
    start: int
    count: int
    outputs: tuple[OutputPartial, ...]

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "start": self.start, "count": self.count,
                "outputs": [o.to_json() for o in self.outputs]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChunkPartial:
        return cls(int(data["index"]), int(data["start"]), int(data["count"]),
                   tuple(OutputPartial.from_json(o) for o in data["outputs"]))


def chunk_partial(index: int, start: int, values: np.ndarray, errors: np.ndarray,
                  target: float | None) -> ChunkPartial:
    """Summaries of a chunk's outputs: ``values``/``errors`` are (outputs, count)."""
    return ChunkPartial(index, start, values.shape[1],
                        tuple(sorted_partial(*split_errors(values[k], errors[k]), target)
                              for k in range(values.shape[0])))


def merged_moments(parts: Iterable[OutputPartial]) -> Moments:
    """Moments of the union, merged left to right (chunk order keeps the sums reproducible)."""
    total = Moments()
    for p in parts:
        total = total.merge(p.moments)
    return total


def bracket(parts: Sequence[OutputPartial], k: int) -> tuple[float, float]:
    """Values L <= U with count(x < L) <= k < count(x <= U) over the union of the chunks, so
    the union's k-th smallest value (0-based) lies in [L, U].

    A chunk's grid bounds how many of its values lie below a threshold t: at most the rank of
    the first grid value >= t, and at least one more than the rank of the last grid value <= t.
    L is the largest grid value whose upper bound still leaves room for rank k, U the smallest
    whose lower bound already covers it; both are found by bisection over all grid values.
    """
    used = [p for p in parts if p.n]
    grids = np.stack([p.grid for p in used])
    ranks = np.stack([grid_ranks(p.n) for p in used])
    sizes = np.array([p.n for p in used], dtype=np.int64)
    rows = np.arange(len(used))
    candidates = np.unique(grids)

    def most_below(t: float) -> int:
        g = np.count_nonzero(grids < t, axis=1)
        return int(np.where(g > GRID, sizes, ranks[rows, np.minimum(g, GRID)]).sum())

    def least_at_or_below(t: float) -> int:
        g = np.count_nonzero(grids <= t, axis=1) - 1
        return int(np.where(g < 0, 0, ranks[rows, np.maximum(g, 0)] + 1).sum())

    lo = _bisect(len(candidates), lambda i: most_below(candidates[i]) <= k, last=True)
    hi = _bisect(len(candidates), lambda i: least_at_or_below(candidates[i]) >= k + 1,
                 last=False)
    return (-math.inf if lo < 0 else float(candidates[lo])), float(candidates[hi])


def _bisect(size: int, holds: Callable[[int], bool], *, last: bool) -> int:
    """For a predicate monotone over 0..size-1: with ``last``, the last index where it holds
    (true, then false; -1 if none); otherwise the first (false, then true; it holds at the
    end)."""
    lo, hi = -1, size if last else size - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if holds(mid) == last:
            lo = mid
        else:
            hi = mid
    return lo if last else hi


@dataclass(eq=False)
class Window:
    """What one pass over the chunks keeps for the interval [low, high]: how many values (and
    their sum) lie below and above it, and the values inside it."""

    low: float
    high: float
    below: int = 0
    below_sum: float = 0.0
    above: int = 0
    above_sum: float = 0.0
    inside: list[np.ndarray] = field(default_factory=list)
    _sorted: np.ndarray | None = None

    def add(self, x_sorted: np.ndarray) -> None:
        i = int(np.searchsorted(x_sorted, self.low, side="left"))
        j = int(np.searchsorted(x_sorted, self.high, side="right"))
        self.below += i
        self.below_sum += float(x_sorted[:i].sum())
        self.above += x_sorted.size - j
        self.above_sum += float(x_sorted[j:].sum())
        self.inside.append(x_sorted[i:j].copy())  # a view would keep the whole chunk alive

    def values(self) -> np.ndarray:
        if self._sorted is None:
            self._sorted = np.sort(np.concatenate(self.inside)) if self.inside else np.empty(0)
        return self._sorted

    def kth(self, k: int) -> float:
        """The k-th smallest value of the union (k must lie in this window's bracket)."""
        return float(self.values()[k - self.below])

    def at_or_below(self, t: float) -> tuple[int, float]:
        """Count and sum of the union's values <= t, for t inside [low, high]."""
        x = self.values()
        i = int(np.searchsorted(x, t, side="right"))
        return self.below + i, self.below_sum + float(x[:i].sum())

    def at_or_above(self, t: float) -> tuple[int, float]:
        """Count and sum of the union's values >= t, for t inside [low, high]."""
        x = self.values()
        i = int(np.searchsorted(x, t, side="left"))
        return self.above + x.size - i, self.above_sum + float(x[i:].sum())


def windows_for(parts: Sequence[OutputPartial], ranks: Iterable[int]) -> dict[int, Window]:
    """One Window per distinct bracket of the requested ranks (ranks sharing a bracket share
    the Window)."""
    out: dict[int, Window] = {}
    by_bounds: dict[tuple[float, float], Window] = {}
    for k in ranks:
        bounds = bracket(parts, k)
        out[k] = by_bounds.setdefault(bounds, Window(*bounds))
    return out
