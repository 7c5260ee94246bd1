"""Probability distributions as inverse CDFs: each maps uniforms u in (0, 1) to samples.

Every sample is a pure, monotone function of its uniform. Latin hypercube sampling and rank
correlation (Iman-Conover) rearrange uniforms and rely on that order surviving the transform, and
counter-based randomness relies on the sample depending on nothing but its uniform. Truncation
therefore works in u-space (u is squeezed into [F(lo), F(hi)] before the inverse CDF) and @RISK's
shift is added last, so a truncation applies to the unshifted distribution as in @RISK.

Where the inverse CDF has no cheap closed form (beta, PERT, gamma, Student's t) it is tabulated
once per parameter set; discrete distributions use their exact cumulative table.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from numba import njit

from engine.lazy import LazyModule

integrate = LazyModule("scipy.integrate")
optimize = LazyModule("scipy.optimize")
special = LazyModule("scipy.special")
stats = LazyModule("scipy.stats")

Param = float | tuple[float, ...]
Bounds = tuple[float | None, float | None]

# --------------------------------------------------------------------------------------------
# Numba kernels: plain scalar arithmetic so that they also compile as CUDA device functions.

_A = (3.3871328727963666080e0, 1.3314166789178437745e2, 1.9715909503065514427e3,
      1.3731693765509461125e4, 4.5921953931549871457e4, 6.7265770927008700853e4,
      3.3430575583588128105e4, 2.5090809287301226727e3)
_B = (1.0, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3,
      2.1213794301586595867e4, 3.9307895800092710610e4, 2.8729085735721942674e4,
      5.2264952788528545610e3)
_C = (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
      3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
      2.27238449892691845833e-2, 7.74545014278341407640e-4)
_D = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
      1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
      1.05075007164441684324e-9)
_E = (6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
      2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
      2.71155556874348757815e-5, 2.01033439929228813265e-7)
_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
      7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
      2.04426310338993978564e-15)


@njit(cache=True, nogil=True)
def _poly8(c, x: float) -> float:
    return ((((((c[7] * x + c[6]) * x + c[5]) * x + c[4]) * x + c[3]) * x + c[2]) * x
            + c[1]) * x + c[0]


@njit(cache=True, nogil=True)
def ndtri(p: float) -> float:
    """Standard normal quantile by Wichura's AS241 (PPND16): about 1e-16 relative accuracy
    with no iteration, so a normal sample stays a pure function of its uniform."""
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        return q * _poly8(_A, r) / _poly8(_B, r)
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    r = math.sqrt(-math.log(p if q < 0.0 else 1.0 - p))
    if r <= 5.0:
        r -= 1.6
        z = _poly8(_C, r) / _poly8(_D, r)
    else:
        r -= 5.0
        z = _poly8(_E, r) / _poly8(_F, r)
    return -z if q < 0.0 else z


@njit(cache=True, nogil=True)
def _ndtri_into(u, out):
    for i in range(u.size):
        out[i] = ndtri(u[i])


_KNOTS = 4096  # intervals of the inverse-CDF tables (4,097 knots)
# Intervals at each end left to the exact quantile: there quantiles of unbounded or steep tails
# (t, gamma, beta with a shape below 1) curve too fast for a cubic. They hold
# sin^2(pi 32 / 8192) = 1.5e-4 of the probability at each end, so the exact path stays rare.
_EXACT_END = 32


@njit(cache=True, nogil=True)
def _table_quantile(u: float, y, m) -> float:
    """Cubic Hermite interpolation of a quantile table on the cosine grid p_i = sin^2(pi i/2N).

    The grid index is computed directly (no search), which keeps this a constant-time scalar
    function. Outside the interior knots it answers NaN: the caller evaluates those tails
    exactly, since quantiles there may be infinite or change too fast for any table.
    """
    n = y.size - 1
    scale = 2.0 * n / math.pi
    # Near u = 1 the complement 1 - u is exact while sqrt(u) would lose the tail.
    t = scale * math.asin(math.sqrt(u)) if u <= 0.5 else n - scale * math.asin(math.sqrt(1 - u))
    if not (t >= _EXACT_END and t < n - _EXACT_END):
        return math.nan
    i = int(t)
    s = t - i
    s2 = s * s
    s3 = s2 * s
    return ((2.0 * s3 - 3.0 * s2 + 1.0) * y[i] + (s3 - 2.0 * s2 + s) * m[i]
            + (3.0 * s2 - 2.0 * s3) * y[i + 1] + (s3 - s2) * m[i + 1])


@njit(cache=True, nogil=True)
def _table_into(u, y, m, out):
    for i in range(u.size):
        out[i] = _table_quantile(u[i], y, m)


def normal_quantile(u: np.ndarray) -> np.ndarray:
    """Standard normal quantiles of an array of probabilities (AS241, compiled)."""
    flat = np.ascontiguousarray(u, dtype=np.float64).ravel()
    out = np.empty_like(flat)
    _ndtri_into(flat, out)
    return out.reshape(np.shape(u))


def _ppf_pdf(kind: str, shape: tuple[float, ...]):
    """Quantile and density of a standard 'beta', 'gamma' or 't' from scipy.special, which
    scipy.stats itself calls, without importing scipy.stats (half a second per run)."""
    if kind == "beta":
        a, b = shape
        log_norm = special.betaln(a, b)
        return (lambda p: special.betaincinv(a, b, p),
                lambda x: np.exp((a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - log_norm))
    if kind == "gamma":
        (a,) = shape
        log_norm = special.gammaln(a)
        return (lambda p: special.gammaincinv(a, p),
                lambda x: np.exp((a - 1) * np.log(x) - x - log_norm))
    (nu,) = shape
    log_norm = special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
    return (lambda p: special.stdtrit(nu, p),
            lambda x: np.exp(log_norm - (nu + 1) / 2 * np.log1p(x * x / nu)))


def _standard_moments(kind: str, shape: tuple[float, ...]) -> tuple[float, float]:
    """Mean and variance of a standard beta, gamma or t, in closed form (a static value is
    shown for every @RISK cell; importing scipy.stats for it would cost half a second)."""
    if kind == "beta":
        a, b = shape
        return a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))
    if kind == "gamma":
        (a,) = shape
        return a, a
    (nu,) = shape
    mean = 0.0 if nu > 1 else math.nan
    var = nu / (nu - 2) if nu > 2 else (math.inf if nu > 1 else math.nan)
    return mean, var


@functools.lru_cache(maxsize=256)
def _quantile_table(kind: str, shape: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Knot values and slopes (per grid step) of a standardized distribution's quantile.

    Slopes are exact (dQ/dp = 1/pdf) and then limited by Fritsch and Carlson's rule, so the
    interpolant is monotone (rank order survives) and fourth-order accurate where smooth.
    Cached per parameter set: identical inputs share one table.
    """
    ppf, pdf = _ppf_pdf(kind, shape)
    i = np.arange(_KNOTS + 1)
    p = np.sin(np.pi * i / (2 * _KNOTS)) ** 2
    y = np.full(_KNOTS + 1, np.nan)
    m = np.zeros(_KNOTS + 1)
    inner = slice(1, _KNOTS)
    y[inner] = ppf(p[inner])
    with np.errstate(divide="ignore", invalid="ignore"):
        dp = np.pi / (2 * _KNOTS) * np.sin(np.pi * i[inner] / _KNOTS)
        m[inner] = np.nan_to_num(dp / pdf(y[inner]), nan=0.0, posinf=0.0)
    secant = np.diff(y[inner])  # interval j (knots j, j+1) at index j - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = m[1:_KNOTS - 1] / secant, m[2:_KNOTS] / secant
        tau = np.where(secant > 0, np.minimum(1.0, 3.0 / np.sqrt(a * a + b * b)), 0.0)
    # A knot shared by two intervals keeps the smaller of the limits they ask for.
    limit = np.ones(_KNOTS + 1)
    limit[1:_KNOTS - 1] = tau
    limit[2:_KNOTS] = np.minimum(limit[2:_KNOTS], tau)
    m *= limit
    return y, m


def tabulated_quantile(kind: str, shape: tuple[float, ...], u: np.ndarray) -> np.ndarray:
    """Quantiles of a standardized scipy distribution ('beta', 'gamma', 't') from its table,
    with the extreme tails computed exactly."""
    y, m = _quantile_table(kind, shape)
    flat = np.ascontiguousarray(u, dtype=np.float64).ravel()
    out = np.empty_like(flat)
    _table_into(flat, y, m, out)
    tails = np.isnan(out)
    if tails.any():
        out[tails] = _ppf_pdf(kind, shape)[0](flat[tails])
    return out.reshape(np.shape(u))


# --------------------------------------------------------------------------------------------
# The distribution classes.


class Distribution:
    """A distribution with its parameters, optional truncation and shift.

    Subclasses declare ``name``, ``params`` (their order on the command line and in @RISK),
    ``list_params`` (those that take lists) and ``convention`` (the help text), validate in
    ``_setup`` and provide ``_ppf``/``_cdf``/``_moments`` of the untruncated, unshifted
    distribution. A subclass whose parameters collapse it to one value sets ``point``.
    """

    name: ClassVar[str]
    params: ClassVar[tuple[str, ...]]
    list_params: ClassVar[frozenset[str]] = frozenset()
    convention: ClassVar[str]
    discrete: ClassVar[bool] = False

    def __init__(self, *args: float | Sequence[float], label: str = "input",
                 truncate: Bounds | None = None, shift: float = 0.0):
        self.label = label
        if len(args) != len(self.params):
            self._fail(f"takes {len(self.params)} parameters, got {len(args)}")
        self.args: tuple[Param, ...] = tuple(
            self._list(p, a) if p in self.list_params else self._number(p, a)
            for p, a in zip(self.params, args))
        self.point: float | None = None
        self._setup(*self.args)
        self.shift = self._number("shift", shift)
        self.truncate = self._bounds(truncate)
        self._u_lo, self._u_hi = self._u_range()

    # -- validation helpers ---------------------------------------------------------------

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(self.params)})"

    def _fail(self, message: str) -> None:
        raise ValueError(f"{self.label}: {self.signature}: {message}")

    def _number(self, param: str, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            self._fail(f"{param} must be a number, got {value!r}")
        x = float(value)
        if not math.isfinite(x):
            self._fail(f"{param} must be finite, got {x}")
        return x

    def _list(self, param: str, value: object) -> tuple[float, ...]:
        if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
            self._fail(f"{param} must be a list such as {{1,2,3}}, got {value!r}")
        items = tuple(self._number(param, v) for v in value)
        if not items:
            self._fail(f"{param} must not be empty")
        return items

    def _require(self, ok: bool, message: str) -> None:
        if not ok:
            self._fail(message)

    def _probabilities(self, param: str, probs: tuple[float, ...]) -> np.ndarray:
        p = np.array(probs)
        self._require(bool((p >= 0).all()), f"{param} must not be negative, got {list(probs)}")
        self._require(abs(p.sum() - 1.0) <= 1e-9, f"{param} must sum to 1, got {p.sum()!r}")
        return p

    def _bounds(self, truncate: Bounds | None) -> Bounds | None:
        if truncate is None:
            return None
        if len(truncate) != 2:
            self._fail(f"truncate must be (lo, hi), got {truncate!r}")
        lo, hi = (None if b is None else self._number("truncate", b) for b in truncate)
        if lo is None and hi is None:
            return None
        if lo is not None and hi is not None and lo > hi:
            self._fail(f"truncate lower bound {lo} is above upper bound {hi}")
        return lo, hi

    def _u_range(self) -> tuple[float, float]:
        if self.truncate is None:
            return 0.0, 1.0
        lo, hi = self.truncate
        if self.point is not None:
            inside = (lo is None or lo <= self.point) and (hi is None or self.point <= hi)
            self._require(inside, f"truncate={self.truncate} excludes its only value "
                                  f"{self.point}")
            return 0.0, 1.0
        u_lo = 0.0 if lo is None else float(self._cdf_below(np.array(lo)))
        u_hi = 1.0 if hi is None else float(self._cdf(np.array(hi)))
        self._require(u_hi > u_lo, f"truncate={self.truncate} leaves no probability")
        return u_lo, u_hi

    # -- what subclasses provide -----------------------------------------------------------

    def _setup(self, *args: Param) -> None:
        raise NotImplementedError

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _cdf_below(self, x: np.ndarray) -> np.ndarray:
        """P(X < x): equals the CDF for continuous distributions."""
        return self._cdf(x)

    def _moments(self) -> tuple[float, float]:
        raise NotImplementedError

    def support(self) -> tuple[np.ndarray, np.ndarray]:
        """Values and probabilities of a discrete distribution (not of the truncation)."""
        raise NotImplementedError

    # -- public interface ------------------------------------------------------------------

    def sample(self, u: np.ndarray) -> np.ndarray:
        """Samples for uniforms in (0, 1), element by element and in the same shape."""
        u = np.asarray(u, dtype=np.float64)
        if self.point is not None:
            return np.full(u.shape, self.point + self.shift)
        if self.truncate is not None:
            x = self._ppf(self._u_lo + u * (self._u_hi - self._u_lo))
            lo, hi = self.truncate
            x = np.clip(x, -np.inf if lo is None else lo, np.inf if hi is None else hi)
        else:
            x = self._ppf(u)
        return x + self.shift if self.shift else x

    def cdf(self, x: np.ndarray | float) -> np.ndarray:
        """P(X <= x) of the truncated, shifted distribution (the UI's S-curve preview)."""
        y = np.asarray(x, dtype=np.float64) - self.shift
        if self.point is not None:
            return (y >= self.point).astype(np.float64)
        f = (self._cdf(y) - self._u_lo) / (self._u_hi - self._u_lo)
        return np.clip(f, 0.0, 1.0)

    @property
    def mean(self) -> float:
        return self._stats[0] + self.shift

    @property
    def variance(self) -> float:
        return self._stats[1]

    @functools.cached_property
    def _stats(self) -> tuple[float, float]:
        if self.point is not None:
            return self.point, 0.0
        if self.truncate is None:
            return self._moments()
        if self.discrete:
            x, p = self.support()
            lo, hi = self.truncate
            keep = (x >= (-np.inf if lo is None else lo)) & (x <= (np.inf if hi is None else hi))
            x, p = x[keep], p[keep] / p[keep].sum()
            mean = float(x @ p)
            return mean, float((x - mean) ** 2 @ p)
        return self._truncated_moments()

    def _truncated_moments(self) -> tuple[float, float]:
        """Moments of a truncated continuous distribution: integrals of its quantile over the
        kept probability range, which needs no density."""
        a, b = self._u_lo, self._u_hi

        def quantile(p: float) -> float:
            return float(self._ppf(np.array([p]))[0])

        def integral(f) -> float:
            return integrate.quad(f, a, b, limit=200)[0] / (b - a)

        mean = integral(quantile)
        return mean, integral(lambda p: (quantile(p) - mean) ** 2)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}: {self.name}{self.args}>"


class Normal(Distribution):
    name = "normal"
    params = ("mean", "sd")
    convention = "mean and standard deviation"

    def _setup(self, mean: float, sd: float) -> None:
        self._require(sd >= 0, f"sd must be >= 0, got {sd}")
        self.mu, self.sd = mean, sd
        if sd == 0:
            self.point = mean

    def _ppf(self, u):
        return self.mu + self.sd * normal_quantile(u)

    def _cdf(self, x):
        return special.ndtr((x - self.mu) / self.sd)

    def _moments(self):
        return self.mu, self.sd ** 2


class _LogNormalBase(Distribution):
    """exp of a normal with log-mean ``mu`` and log-sd ``sigma`` (set by ``_setup``)."""

    mu: float
    sigma: float

    def _ppf(self, u):
        return np.exp(self.mu + self.sigma * normal_quantile(u))

    def _cdf(self, x):
        with np.errstate(divide="ignore"):
            return np.where(x > 0, special.ndtr((np.log(np.maximum(x, 1e-300)) - self.mu)
                                                / self.sigma), 0.0)

    def _moments(self):
        s2 = self.sigma ** 2
        return math.exp(self.mu + s2 / 2), math.expm1(s2) * math.exp(2 * self.mu + s2)


class LogNormal(_LogNormalBase):
    name = "lognormal"
    params = ("mean", "sd")
    convention = "mean and standard deviation of the variable itself (not of its log)"

    def _setup(self, mean: float, sd: float) -> None:
        self._require(mean > 0, f"mean must be > 0, got {mean}")
        self._require(sd >= 0, f"sd must be >= 0, got {sd}")
        self.sigma = math.sqrt(math.log1p((sd / mean) ** 2))
        self.mu = math.log(mean) - self.sigma ** 2 / 2
        if sd == 0:
            self.point = mean


class LogNormal2(_LogNormalBase):
    name = "lognormal2"
    params = ("mu", "sigma")
    convention = "mean and standard deviation of the variable's natural log"

    def _setup(self, mu: float, sigma: float) -> None:
        self._require(sigma >= 0, f"sigma must be >= 0, got {sigma}")
        self.mu, self.sigma = mu, sigma
        if sigma == 0:
            self.point = math.exp(mu)


class Uniform(Distribution):
    name = "uniform"
    params = ("min", "max")
    convention = "every value between min and max equally likely"

    def _setup(self, lo: float, hi: float) -> None:
        self._require(lo <= hi, f"min {lo} is above max {hi}")
        self.lo, self.hi = lo, hi
        if lo == hi:
            self.point = lo

    def _ppf(self, u):
        return self.lo + u * (self.hi - self.lo)

    def _cdf(self, x):
        return np.clip((x - self.lo) / (self.hi - self.lo), 0.0, 1.0)

    def _moments(self):
        return (self.lo + self.hi) / 2, (self.hi - self.lo) ** 2 / 12


class Triangular(Distribution):
    name = "triangular"
    params = ("min", "mode", "max")
    convention = "minimum, most likely and maximum value"

    def _setup(self, lo: float, mode: float, hi: float) -> None:
        self._require(lo <= hi, f"min {lo} is above max {hi}")
        self._require(lo <= mode <= hi, f"mode {mode} is outside [min, max] = [{lo}, {hi}]")
        self._triangle(lo, mode, hi)

    def _triangle(self, lo: float, mode: float, hi: float) -> None:
        self.lo, self.mode, self.hi = lo, mode, hi
        if lo == hi:
            self.point = lo
        else:
            self._f_mode = (mode - lo) / (hi - lo)

    def _ppf(self, u):
        a, c, b = self.lo, self.mode, self.hi
        left = a + np.sqrt(u * (b - a) * (c - a))
        right = b - np.sqrt((1 - u) * (b - a) * (b - c))
        return np.where(u < self._f_mode, left, right)

    def _cdf(self, x):
        a, c, b = self.lo, self.mode, self.hi
        with np.errstate(divide="ignore", invalid="ignore"):
            left = (x - a) ** 2 / ((b - a) * (c - a))
            right = 1 - (b - x) ** 2 / ((b - a) * (b - c))
        return np.where(x <= a, 0.0, np.where(x >= b, 1.0, np.where(x < c, left, right)))

    def _moments(self):
        a, c, b = self.lo, self.mode, self.hi
        return (a + b + c) / 3, (a * a + b * b + c * c - a * b - a * c - b * c) / 18


class Trigen(Triangular):
    name = "trigen"
    params = ("bottom", "mode", "top", "bottom_pct", "top_pct")
    convention = ("triangular whose bottom and top values sit at the bottom_pct and top_pct "
                  "percentiles (in percent, e.g. 10 and 90), as @RISK's RiskTrigen")

    def _setup(self, bottom: float, mode: float, top: float, bp: float, tp: float) -> None:
        self._require(bottom <= mode <= top,
                      f"needs bottom <= mode <= top, got {bottom}, {mode}, {top}")
        self._require(0 <= bp < tp <= 100,
                      f"needs 0 <= bottom_pct < top_pct <= 100, got {bp} and {tp}")
        left, right = mode - bottom, top - mode
        if left + right == 0:
            self._triangle(mode, mode, mode)
            return
        q_lo, q_hi = bp / 100, 1 - tp / 100

        def arm(d: float, q: float, width: float) -> float:
            # The distance from mode to the end whose tail beyond the given point holds q.
            s = 2 * d + q * width
            return (s + math.sqrt(max(s * s - 4 * d * d, 0.0))) / 2

        def gap(width: float) -> float:
            return arm(left, q_lo, width) + arm(right, q_hi, width) - width

        hi_width = 2 * (left + right)
        while gap(hi_width) > 0:
            hi_width *= 2
        width = optimize.brentq(gap, left + right, hi_width, xtol=1e-15 * hi_width, rtol=1e-15)
        self._triangle(mode - arm(left, q_lo, width), mode, mode + arm(right, q_hi, width))


class _StandardizedTable(Distribution):
    """``loc + scale * Y`` where Y is a scipy distribution tabulated by `_quantile_table`.

    Subclasses set ``kind``/``shape`` (the standard distribution) and ``loc``/``scale``.
    """

    kind: str
    shape: tuple[float, ...]
    loc: float = 0.0
    scale: float = 1.0

    def _ppf(self, u):
        return self.loc + self.scale * tabulated_quantile(self.kind, self.shape, u)

    def _cdf(self, x):
        return getattr(stats, self.kind).cdf((x - self.loc) / self.scale, *self.shape)

    def _moments(self):
        mean, var = _standard_moments(self.kind, self.shape)
        return self.loc + self.scale * mean, self.scale ** 2 * var


class _BetaOnRange(_StandardizedTable):
    """A beta on [lo, hi]; subclasses pass their shape parameters to `_beta`."""

    kind = "beta"

    def _beta(self, alpha: float, beta: float, lo: float, hi: float) -> None:
        self._require(alpha > 0, f"alpha must be > 0, got {alpha}")
        self._require(beta > 0, f"beta must be > 0, got {beta}")
        self._require(lo <= hi, f"min {lo} is above max {hi}")
        self.shape, self.loc, self.scale = (alpha, beta), lo, hi - lo
        if lo == hi:
            self.point = lo


class Beta(_BetaOnRange):
    name = "beta"
    params = ("alpha", "beta")
    convention = "shape parameters alpha and beta, on [0, 1]"

    def _setup(self, alpha: float, beta: float) -> None:
        self._beta(alpha, beta, 0.0, 1.0)


class BetaGeneral(_BetaOnRange):
    name = "beta_general"
    params = ("alpha", "beta", "min", "max")
    convention = "beta with shape parameters alpha and beta, stretched to [min, max]"

    def _setup(self, alpha: float, beta: float, lo: float, hi: float) -> None:
        self._beta(alpha, beta, lo, hi)


class Pert(_BetaOnRange):
    name = "pert"
    params = ("min", "mode", "max")
    convention = ("minimum, most likely and maximum value; a beta with alpha = 1 + 4(mode-min)"
                  "/(max-min), beta = 1 + 4(max-mode)/(max-min) as @RISK's RiskPert")

    def _setup(self, lo: float, mode: float, hi: float) -> None:
        self._require(lo <= hi, f"min {lo} is above max {hi}")
        self._require(lo <= mode <= hi, f"mode {mode} is outside [min, max] = [{lo}, {hi}]")
        width = (hi - lo) or 1.0
        self._beta(1 + 4 * (mode - lo) / width, 1 + 4 * (hi - mode) / width, lo, hi)


class Gamma(_StandardizedTable):
    name = "gamma"
    params = ("shape", "scale")
    convention = "shape and scale (mean = shape * scale)"
    kind = "gamma"

    def _setup(self, shape: float, scale: float) -> None:
        self._require(shape > 0, f"shape must be > 0, got {shape}")
        self._require(scale > 0, f"scale must be > 0, got {scale}")
        self.shape, self.scale = (shape,), scale


class StudentT(_StandardizedTable):
    name = "student_t"
    params = ("nu",)
    convention = "Student's t with nu degrees of freedom, centred on 0"
    kind = "t"

    def _setup(self, nu: float) -> None:
        self._require(nu > 0, f"nu must be > 0, got {nu}")
        self.shape = (nu,)

    def _moments(self):
        """scipy reports an infinite mean for nu <= 1; it is undefined there."""
        nu = self.shape[0]
        return (0.0 if nu > 1 else math.nan), (nu / (nu - 2) if nu > 2 else math.inf)


class Weibull(Distribution):
    name = "weibull"
    params = ("shape", "scale")
    convention = "shape and scale: P(X > x) = exp(-(x/scale)^shape)"

    def _setup(self, shape: float, scale: float) -> None:
        self._require(shape > 0, f"shape must be > 0, got {shape}")
        self._require(scale > 0, f"scale must be > 0, got {scale}")
        self.k, self.lam = shape, scale

    def _ppf(self, u):
        return self.lam * (-np.log1p(-u)) ** (1 / self.k)

    def _cdf(self, x):
        return -np.expm1(-(np.maximum(x, 0.0) / self.lam) ** self.k)

    def _moments(self):
        g1, g2 = math.gamma(1 + 1 / self.k), math.gamma(1 + 2 / self.k)
        return self.lam * g1, self.lam ** 2 * (g2 - g1 * g1)


class Exponential(Distribution):
    name = "exponential"
    params = ("mean",)
    convention = "mean (the reciprocal of the rate)"

    def _setup(self, mean: float) -> None:
        self._require(mean > 0, f"mean must be > 0, got {mean}")
        self.beta = mean

    def _ppf(self, u):
        return -self.beta * np.log1p(-u)

    def _cdf(self, x):
        return -np.expm1(-np.maximum(x, 0.0) / self.beta)

    def _moments(self):
        return self.beta, self.beta ** 2


class Logistic(Distribution):
    name = "logistic"
    params = ("mu", "s")
    convention = "location mu (the mean) and scale s (sd = s * pi / sqrt(3))"

    def _setup(self, mu: float, s: float) -> None:
        self._require(s > 0, f"s must be > 0, got {s}")
        self.mu, self.s = mu, s

    def _ppf(self, u):
        return self.mu + self.s * (np.log(u) - np.log1p(-u))

    def _cdf(self, x):
        return special.expit((x - self.mu) / self.s)

    def _moments(self):
        return self.mu, (self.s * math.pi) ** 2 / 3


class _Table(Distribution):
    """A discrete distribution given by its sorted values and the CDF at each value; the
    inverse CDF is a binary search, exact whatever the number of values."""

    discrete = True
    values: np.ndarray
    cum: np.ndarray

    def _table(self, values: np.ndarray, probs: np.ndarray) -> None:
        order = np.argsort(values, kind="stable")
        self.values = np.asarray(values, dtype=np.float64)[order]
        cum = np.cumsum(np.asarray(probs, dtype=np.float64)[order])
        self._set_cum(cum / cum[-1])

    def _set_cum(self, cum: np.ndarray) -> None:
        cum[-1] = 1.0
        self.cum = cum

    def _ppf(self, u):
        index = np.minimum(np.searchsorted(self.cum, u, side="left"), self.values.size - 1)
        return self.values[index]

    def _cdf(self, x):
        i = np.searchsorted(self.values, x, side="right")
        return np.where(i > 0, self.cum[np.maximum(i - 1, 0)], 0.0)

    def _cdf_below(self, x):
        i = np.searchsorted(self.values, x, side="left")
        return np.where(i > 0, self.cum[np.maximum(i - 1, 0)], 0.0)

    def support(self):
        return self.values, np.diff(self.cum, prepend=0.0)

    def _moments(self):
        x, p = self.support()
        mean = float(x @ p)
        return mean, float((x - mean) ** 2 @ p)


# Discrete tables of unbounded distributions stop where the remaining tail is below the
# resolution of a double-precision uniform (2^-53): no uniform can reach beyond it.
_TAIL = 2.0 ** -60


class _ScipyTable(_Table):
    """Table of a scipy discrete distribution with its CDF taken directly from scipy."""

    def _from_scipy(self, dist) -> None:
        mean, var = (float(v) for v in dist.stats(moments="mv"))
        self._mv = mean, var
        # scipy's isf gives NaN this deep in a Poisson tail: go far enough, then cut back to
        # the first value whose upper tail no uniform can reach.
        k = np.arange(dist.ppf(_TAIL), math.ceil(mean + 15 * math.sqrt(var) + 50) + 1)
        k = k[:np.argmax(dist.sf(k) < _TAIL) + 1]
        self.values = k.astype(np.float64)
        self._set_cum(dist.cdf(k))

    def _moments(self):
        return self._mv


class Poisson(_ScipyTable):
    name = "poisson"
    params = ("lambda",)
    convention = "mean number of events lambda"

    def _setup(self, lam: float) -> None:
        self._require(lam >= 0, f"lambda must be >= 0, got {lam}")
        self._from_scipy(stats.poisson(lam))


class Binomial(_ScipyTable):
    name = "binomial"
    params = ("n", "p")
    convention = "number of trials n and success probability p"

    def _setup(self, n: float, p: float) -> None:
        self._require(n >= 0 and n == int(n), f"n must be a whole number >= 0, got {n}")
        self._require(0 <= p <= 1, f"p must be in [0, 1], got {p}")
        self._from_scipy(stats.binom(int(n), p))


class Bernoulli(_Table):
    name = "bernoulli"
    params = ("p",)
    convention = "1 with probability p, else 0"

    def _setup(self, p: float) -> None:
        self._require(0 <= p <= 1, f"p must be in [0, 1], got {p}")
        self._table(np.array([0.0, 1.0]), np.array([1 - p, p]))


class Discrete(_Table):
    name = "discrete"
    params = ("values", "probabilities")
    list_params = frozenset(params)
    convention = "listed values with their probabilities (summing to 1)"

    def _setup(self, values: tuple[float, ...], probs: tuple[float, ...]) -> None:
        self._require(len(values) == len(probs),
                      f"values has {len(values)} items but probabilities has {len(probs)}")
        self._table(np.array(values), self._probabilities("probabilities", probs))


class DUniform(_Table):
    name = "duniform"
    params = ("values",)
    list_params = frozenset(params)
    convention = "one of the listed values, each equally likely"

    def _setup(self, values: tuple[float, ...]) -> None:
        self._table(np.array(values), np.ones(len(values)))


class IntUniform(Distribution):
    name = "intuniform"
    params = ("min", "max")
    convention = "every integer from min to max equally likely"
    discrete = True

    def _setup(self, lo: float, hi: float) -> None:
        self._require(lo == int(lo) and hi == int(hi),
                      f"min and max must be whole numbers, got {lo} and {hi}")
        self._require(lo <= hi, f"min {lo} is above max {hi}")
        self.lo, self.count = lo, hi - lo + 1

    def _ppf(self, u):
        return self.lo + np.minimum(np.floor(u * self.count), self.count - 1)

    def _cdf(self, x):
        return np.clip(np.floor(x) - self.lo + 1, 0, self.count) / self.count

    def _cdf_below(self, x):
        return np.clip(np.ceil(x) - self.lo, 0, self.count) / self.count

    def support(self):
        return self.lo + np.arange(self.count), np.full(int(self.count), 1 / self.count)

    def _moments(self):
        return self.lo + (self.count - 1) / 2, (self.count ** 2 - 1) / 12


class _PiecewiseLinearCdf(Distribution):
    """A CDF that is linear between knots: uniform mass within each segment."""

    knots: np.ndarray
    cum: np.ndarray

    def _ppf(self, u):
        return np.interp(u, self.cum, self.knots)

    def _cdf(self, x):
        return np.interp(x, self.knots, self.cum)

    def _moments(self):
        w = np.diff(self.cum)
        a, b = self.knots[:-1], self.knots[1:]
        mean = float(w @ (a + b) / 2)
        return mean, float(w @ ((a * a + a * b + b * b) / 3)) - mean * mean


class Cumul(_PiecewiseLinearCdf):
    name = "cumul"
    params = ("min", "max", "xs", "cumulative_ps")
    list_params = frozenset({"xs", "cumulative_ps"})
    convention = ("cumulative curve from min to max through the points xs with cumulative "
                  "probabilities cumulative_ps, linear in between")

    def _setup(self, lo: float, hi: float, xs: tuple[float, ...],
               ps: tuple[float, ...]) -> None:
        self._require(len(xs) == len(ps),
                      f"xs has {len(xs)} items but cumulative_ps has {len(ps)}")
        self._require(lo < hi, f"min {lo} must be below max {hi}")
        x, p = np.array(xs), np.array(ps)
        self._require(bool((np.diff(x) > 0).all()), f"xs must be increasing, got {list(xs)}")
        self._require(lo <= x[0] and x[-1] <= hi, f"xs must lie within [min, max] = [{lo}, {hi}]")
        self._require(bool(((p >= 0) & (p <= 1)).all()),
                      f"cumulative_ps must be in [0, 1], got {list(ps)}")
        self._require(bool((np.diff(p) >= 0).all()),
                      f"cumulative_ps must not decrease, got {list(ps)}")
        self.knots, self.cum = np.r_[lo, x, hi], np.r_[0.0, p, 1.0]


class Histogram(_PiecewiseLinearCdf):
    name = "histogram"
    params = ("min", "max", "probabilities")
    list_params = frozenset({"probabilities"})
    convention = "min to max cut into equal classes with the given probabilities (summing to 1)"

    def _setup(self, lo: float, hi: float, probs: tuple[float, ...]) -> None:
        self._require(lo <= hi, f"min {lo} is above max {hi}")
        p = self._probabilities("probabilities", probs)
        self.knots = np.linspace(lo, hi, p.size + 1)
        self.cum = np.r_[0.0, np.cumsum(p)]
        self.cum[-1] = 1.0
        if lo == hi:
            self.point = lo


FAMILIES: tuple[type[Distribution], ...] = (
    Normal, LogNormal, LogNormal2, Uniform, Triangular, Pert, Beta, BetaGeneral, Gamma, Weibull,
    Exponential, Logistic, StudentT, Poisson, Binomial, Bernoulli, Discrete, DUniform,
    IntUniform, Cumul, Histogram, Trigen)
