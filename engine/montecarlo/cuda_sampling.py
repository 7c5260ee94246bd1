"""Input samples drawn on the GPU: the CPU's counter-based streams and inverse CDFs, per thread.

Every sample is a pure function of (seed, input, iteration), so a GPU thread computes exactly what
``simulate._sample_chunk`` computes on the CPU: the Philox uniform (``rng.uniform_at``) or the
Latin hypercube uniform (the same Feistel permutation, round keys computed once on the host),
then the family's inverse CDF from the same formulas (``distributions``). Each distribution is
encoded on the host as a family code, eight numbers and, for tabulated and discrete families, a
slice of one uploaded table.

What stays on the host, and why:
- the extreme tails of beta, PERT, gamma and t (outside the table's interior knots, about 3e-4
  of samples): their exact quantiles come from SciPy. The device writes NaN there and
  `fix_tails` recomputes those few samples on the host from the same uniforms;
- rank correlation (Iman-Conover): it sorts whole chunks (a global operation, as on the CPU).

The kernel walks its range with a grid-stride loop, so the launch geometry never changes a
result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import cuda, njit

from engine.montecarlo import distributions as dist
from engine.montecarlo import lhs, rng
from engine.montecarlo.device import device_function
from engine.montecarlo.lhs import lhs_uniform, permute_index

# Family codes of the device inverse CDF.
F_POINT, F_NORMAL, F_LOGNORMAL, F_UNIFORM, F_TRIANGULAR, F_TABLE = 0, 1, 2, 3, 4, 5
F_WEIBULL, F_EXPONENTIAL, F_LOGISTIC, F_DISCRETE, F_INTUNIFORM, F_PIECEWISE = 6, 7, 8, 9, 10, 11

# Columns of the per-input parameter matrix: four family parameters, then the common ones.
P_ULO, P_UHI, P_CLIP_LO, P_CLIP_HI, P_SHIFT = 4, 5, 6, 7, 8
N_PARAMS = 9
# Columns of the per-input integer matrix.
M_FAMILY, M_TRUNCATED, M_OFFSET, M_LENGTH = 0, 1, 2, 3

_poly8 = device_function(dist._poly8)
ndtri = device_function(dist.ndtri, _poly8=_poly8)
_table_quantile = device_function(dist._table_quantile)
_permute_index = device_function(lhs.permute_index, _feistel=device_function(lhs._feistel))
_lhs_uniform = device_function(lhs.lhs_uniform)


@dataclass
class EncodedInputs:
    """The distributions of a model's inputs as flat arrays (host copies)."""

    meta: np.ndarray        # (inputs, 4) int64: family, truncated, table offset, table length
    params: np.ndarray      # (inputs, N_PARAMS) float64
    knots_y: np.ndarray     # quantile tables of tabulated families, concatenated
    knots_m: np.ndarray     # their slopes
    table_x: np.ndarray     # values of discrete families / knots of piecewise-linear CDFs
    table_p: np.ndarray     # their cumulative probabilities
    tabulated: np.ndarray   # bool per input: may leave NaN tails for `fix_tails`


def _family(d: dist.Distribution) -> tuple[int, tuple[float, ...]]:
    """Family code and parameters, in the order the device formulas read them."""
    if d.point is not None:
        return F_POINT, (d.point,)
    if isinstance(d, dist.Normal):
        return F_NORMAL, (d.mu, d.sd)
    if isinstance(d, dist._LogNormalBase):
        return F_LOGNORMAL, (d.mu, d.sigma)
    if isinstance(d, dist.Uniform):
        return F_UNIFORM, (d.lo, d.hi)
    if isinstance(d, dist.Triangular):
        return F_TRIANGULAR, (d.lo, d.mode, d.hi, d._f_mode)
    if isinstance(d, dist._StandardizedTable):
        return F_TABLE, (d.loc, d.scale)
    if isinstance(d, dist.Weibull):
        return F_WEIBULL, (d.k, d.lam)
    if isinstance(d, dist.Exponential):
        return F_EXPONENTIAL, (d.beta,)
    if isinstance(d, dist.Logistic):
        return F_LOGISTIC, (d.mu, d.s)
    if isinstance(d, dist._Table):
        return F_DISCRETE, ()
    if isinstance(d, dist.IntUniform):
        return F_INTUNIFORM, (d.lo, d.count)
    if isinstance(d, dist._PiecewiseLinearCdf):
        return F_PIECEWISE, ()
    raise ValueError(f"{d.label}: the {d.name} distribution has no GPU sampler")


def encode(distributions: list[dist.Distribution]) -> EncodedInputs:
    """Flatten distributions for the device; tables shared by equal parameter sets are not
    deduplicated (a few tens of kilobytes each)."""
    k = len(distributions)
    meta = np.zeros((max(k, 1), 4), dtype=np.int64)
    params = np.zeros((max(k, 1), N_PARAMS))
    ys, ms, xs, ps = [np.zeros(1)], [np.zeros(1)], [np.zeros(1)], [np.zeros(1)]
    n_knots, n_table = 1, 1
    tabulated = np.zeros(k, dtype=bool)
    for j, d in enumerate(distributions):
        family, values = _family(d)
        meta[j, M_FAMILY] = family
        params[j, :len(values)] = values
        if family == F_TABLE:
            y, m = dist._quantile_table(d.kind, d.shape)
            meta[j, M_OFFSET], meta[j, M_LENGTH] = n_knots, y.size
            ys.append(y)
            ms.append(m)
            n_knots += y.size
            tabulated[j] = True
        elif family in (F_DISCRETE, F_PIECEWISE):
            x, p = (d.values, d.cum) if family == F_DISCRETE else (d.knots, d.cum)
            meta[j, M_OFFSET], meta[j, M_LENGTH] = n_table, x.size
            xs.append(np.asarray(x, dtype=np.float64))
            ps.append(np.asarray(p, dtype=np.float64))
            n_table += x.size
        lo, hi = d.truncate if d.truncate is not None and d.point is None else (None, None)
        meta[j, M_TRUNCATED] = 0 if d.truncate is None or d.point is not None else 1
        params[j, P_ULO], params[j, P_UHI] = d._u_lo, d._u_hi
        params[j, P_CLIP_LO] = -math.inf if lo is None else lo
        params[j, P_CLIP_HI] = math.inf if hi is None else hi
        params[j, P_SHIFT] = d.shift
    return EncodedInputs(meta, params, np.concatenate(ys), np.concatenate(ms),
                         np.concatenate(xs), np.concatenate(ps), tabulated)


@cuda.jit(device=True)
def _lower_bound(x, off, length, u):
    """numpy.searchsorted(x[off:off+length], u, side='left')."""
    lo = 0
    hi = length
    while lo < hi:
        mid = (lo + hi) // 2
        if x[off + mid] < u:
            lo = mid + 1
        else:
            hi = mid
    return lo


@cuda.jit(device=True)
def _interp(u, xp, fp, off, length):
    """numpy.interp(u, xp, fp) for u inside [xp[0], xp[-1]], step for step as NumPy's C code
    (the last j with xp[j] <= u, equal knots answered by fp[j], NaN retried from the right)."""
    lo = 0
    hi = length
    while lo < hi:  # first index with xp > u
        mid = (lo + hi) // 2
        if xp[off + mid] <= u:
            lo = mid + 1
        else:
            hi = mid
    j = lo - 1
    if j < 0:
        return fp[off]
    if j >= length - 1 or xp[off + j] == u:
        return fp[off + j]
    a = off + j
    slope = (fp[a + 1] - fp[a]) / (xp[a + 1] - xp[a])
    r = slope * (u - xp[a]) + fp[a]
    if math.isnan(r):
        r = slope * (u - xp[a + 1]) + fp[a + 1]
        if math.isnan(r) and fp[a] == fp[a + 1]:
            r = fp[a]
    return r


@cuda.jit(device=True)
def _quantile(family, prm, j, u, meta, knots_y, knots_m, table_x, table_p):
    """The untruncated, unshifted inverse CDF of input ``j`` at ``u`` (NaN: an exact tail)."""
    if family == F_NORMAL:
        return prm[j, 0] + prm[j, 1] * ndtri(u)
    if family == F_LOGNORMAL:
        return math.exp(prm[j, 0] + prm[j, 1] * ndtri(u))
    if family == F_UNIFORM:
        return prm[j, 0] + u * (prm[j, 1] - prm[j, 0])
    if family == F_TRIANGULAR:
        a = prm[j, 0]
        c = prm[j, 1]
        b = prm[j, 2]
        if u < prm[j, 3]:
            return a + math.sqrt(u * (b - a) * (c - a))
        return b - math.sqrt((1 - u) * (b - a) * (b - c))
    if family == F_TABLE:
        off = meta[j, M_OFFSET]
        end = off + meta[j, M_LENGTH]
        q = _table_quantile(u, knots_y[off:end], knots_m[off:end])
        return prm[j, 0] + prm[j, 1] * q
    if family == F_WEIBULL:
        return prm[j, 1] * (-math.log1p(-u)) ** (1 / prm[j, 0])
    if family == F_EXPONENTIAL:
        return -prm[j, 0] * math.log1p(-u)
    if family == F_LOGISTIC:
        return prm[j, 0] + prm[j, 1] * (math.log(u) - math.log1p(-u))
    if family == F_DISCRETE:
        off = meta[j, M_OFFSET]
        length = meta[j, M_LENGTH]
        k = _lower_bound(table_p, off, length, u)
        return table_x[off + (k if k < length - 1 else length - 1)]
    if family == F_INTUNIFORM:
        k = float(math.floor(u * prm[j, 1]))
        return prm[j, 0] + (k if k < prm[j, 1] - 1 else prm[j, 1] - 1)
    # F_PIECEWISE
    return _interp(u, table_p, table_x, meta[j, M_OFFSET], meta[j, M_LENGTH])


@cuda.jit(device=True)
def sample_value(j, u, meta, prm, knots_y, knots_m, table_x, table_p):
    """``Distribution.sample`` of input ``j`` for one uniform: truncation squeezes u, the
    result is clipped to the bounds, the shift is added last."""
    family = meta[j, M_FAMILY]
    if family == F_POINT:
        return prm[j, 0] + prm[j, P_SHIFT]
    if meta[j, M_TRUNCATED] == 1:
        u = prm[j, P_ULO] + u * (prm[j, P_UHI] - prm[j, P_ULO])
    x = _quantile(family, prm, j, u, meta, knots_y, knots_m, table_x, table_p)
    if math.isnan(x):
        return x
    if meta[j, M_TRUNCATED] == 1:
        if x < prm[j, P_CLIP_LO]:  # numpy.clip; builtin min/max do not type on the device
            x = prm[j, P_CLIP_LO]
        if x > prm[j, P_CLIP_HI]:
            x = prm[j, P_CLIP_HI]
    return x + prm[j, P_SHIFT]


@njit(inline="always", cache=True)
def _uniform(seed, input_id, use_lhs, n_run, left_bits, right_bits, keys, it):
    """The uniform behind an input's sample at iteration ``it``, by either sampling method: one
    definition for the kernel and for the host's exact tails."""
    if use_lhs:
        jitter = rng.uniform_at(seed, input_id, it, rng.LHS_JITTER_STREAM)
        return lhs_uniform(permute_index(it, n_run, keys, left_bits, right_bits), jitter, n_run)
    return rng.uniform_at(seed, input_id, it, rng.MAIN_STREAM)


_device_uniform = device_function(_uniform, permute_index=_permute_index,
                                  lhs_uniform=_lhs_uniform)


@njit(cache=True)
def _uniforms_at(seed, input_id, use_lhs, n_run, left_bits, right_bits, keys, iterations):
    out = np.empty(iterations.shape[0])
    for k in range(iterations.shape[0]):
        out[k] = _uniform(seed, input_id, use_lhs, n_run, left_bits, right_bits, keys,
                          iterations[k])
    return out


@cuda.jit
def _sample_kernel(seed, streams, use_lhs, n_run, left_bits, right_bits, lhs_keys, start,
                   meta, prm, knots_y, knots_m, table_x, table_p, out):
    """out[j, i] = the sample of input j at iteration start + i, for every (j, i)."""
    count = out.shape[1]
    total = out.shape[0] * count
    for flat in range(cuda.grid(1), total, cuda.gridsize(1)):
        j = flat // count
        i = flat - j * count
        u = _device_uniform(seed, streams[j], use_lhs, n_run, left_bits, right_bits,
                            lhs_keys[j], start + np.uint64(i))
        out[j, i] = sample_value(j, u, meta, prm, knots_y, knots_m, table_x, table_p)


class DeviceSampler:
    """A model's input sampling on the device: tables uploaded once, one launch per batch."""

    def __init__(self, distributions: list[dist.Distribution], streams: list[int], seed: int,
                 sampling: str, n_run: int):
        self.distributions = distributions
        self.streams = np.asarray(streams, dtype=np.uint64)
        self.seed = np.uint64(seed)
        self.use_lhs = sampling == "lhs"
        self.n_run = np.uint64(n_run)
        self.bits = lhs._domain_bits(int(n_run))
        keys = np.zeros((max(len(streams), 1), lhs.ROUNDS), dtype=np.uint64)
        if self.use_lhs:
            for j, s in enumerate(streams):
                keys[j] = lhs._round_keys(self.seed, np.uint64(s), np.uint64(rng.LHS_KEY_STREAM))
        self._keys = keys
        self.enc = encode(distributions)
        e = self.enc
        self._dev = [cuda.to_device(a) for a in (
            np.resize(self.streams, max(len(streams), 1)), keys, e.meta, e.params, e.knots_y,
            e.knots_m, e.table_x, e.table_p)]

    def sample(self, start: int, out: cuda.devicearray.DeviceNDArray, grid: tuple[int, int],
               stream: Any = 0) -> None:
        """Fill ``out`` (inputs x count, on the device) with iterations start.. of every input,
        queued on ``stream``."""
        streams, keys, meta, prm, ky, km, tx, tp = self._dev
        _sample_kernel[grid[0], grid[1], stream](
            self.seed, streams, self.use_lhs, self.n_run, self.bits[0], self.bits[1], keys,
            np.uint64(start), meta, prm, ky, km, tx, tp, out)

    def fix_tails(self, start: int, samples: np.ndarray) -> np.ndarray:
        """Exact tail quantiles (host, SciPy) where the device left NaN; the positions (within
        the chunk) of the iterations it changed."""
        fixed = []
        for j in np.flatnonzero(self.enc.tabulated):
            where = np.flatnonzero(np.isnan(samples[j]))
            if where.size == 0:
                continue
            its = np.uint64(start) + where.astype(np.uint64)
            u = _uniforms_at(self.seed, self.streams[j], self.use_lhs, self.n_run, self.bits[0],
                             self.bits[1], self._keys[j], its)
            samples[j, where] = self.distributions[j].sample(u)
            fixed.append(where)
        return np.unique(np.concatenate(fixed)) if fixed else np.empty(0, dtype=np.int64)
