"""Probability distributions and statistical tests (NORM.DIST ... Z.TEST), on scipy.

Each function validates its parameters the way Excel does before touching scipy: Excel answers
#NUM! for a non-positive standard deviation or a probability outside its range, and truncates
integer parameters (degrees of freedom, trials, sample sizes) toward zero. Legacy names (NORMDIST,
CHIDIST, ...) are registered next to the modern ones when Excel computes the same thing.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from engine.errors import DIV0, NA, NULL, NUM, XLError
from engine.functions.registry import Arr, Bool, Num, excel_function
from engine.functions.stats import numbers_of, stdev
from engine.lazy import LazyModule
from engine.values import MISSING, Array

stats = LazyModule("scipy.stats")
special = LazyModule("scipy.special")

_trunc = math.trunc


def _distribution(*names: str) -> Callable[[Callable], Callable]:
    """Register like ``excel_function``, turning scipy's numpy scalars into plain floats."""

    def register(impl: Callable) -> Callable:
        @functools.wraps(impl)
        def wrapper(*args: Any) -> Any:
            result = impl(*args)
            return result if type(result) is XLError else float(result)

        excel_function(*names)(wrapper)
        return impl

    return register


def _is_prob(p: float) -> bool:
    """Strictly inside (0, 1): what inverse functions accept."""
    return 0 < p < 1


# --- normal family ------------------------------------------------------------------------------

@_distribution("NORM.DIST", "NORMDIST")
def norm_dist(x: Num, mean: Num, standard_dev: Num, cumulative: Bool) -> Any:
    if standard_dev <= 0:
        return NUM
    if cumulative:
        return stats.norm.cdf(x, mean, standard_dev)
    return stats.norm.pdf(x, mean, standard_dev)


@_distribution("NORM.INV", "NORMINV")
def norm_inv(probability: Num, mean: Num, standard_dev: Num) -> Any:
    if not _is_prob(probability) or standard_dev <= 0:
        return NUM
    return stats.norm.ppf(probability, mean, standard_dev)


@_distribution("NORM.S.DIST")
def norm_s_dist(z: Num, cumulative: Bool) -> Any:
    return special.ndtr(z) if cumulative else stats.norm.pdf(z)


@_distribution("NORMSDIST")
def normsdist(z: Num) -> Any:
    return special.ndtr(z)


@_distribution("NORM.S.INV", "NORMSINV")
def norm_s_inv(probability: Num) -> Any:
    return special.ndtri(probability) if _is_prob(probability) else NUM


@_distribution("PHI")
def phi(x: Num) -> Any:
    return stats.norm.pdf(x)


@_distribution("GAUSS")
def gauss(z: Num) -> Any:
    return special.ndtr(z) - 0.5


@_distribution("LOGNORM.DIST")
def lognorm_dist(x: Num, mean: Num, standard_dev: Num, cumulative: Bool) -> Any:
    if x <= 0 or standard_dev <= 0:
        return NUM
    if cumulative:
        return special.ndtr((math.log(x) - mean) / standard_dev)
    return stats.norm.pdf(math.log(x), mean, standard_dev) / x


@_distribution("LOGNORMDIST")
def lognormdist(x: Num, mean: Num, standard_dev: Num) -> Any:
    return lognorm_dist(x, mean, standard_dev, True)


@_distribution("LOGNORM.INV", "LOGINV")
def lognorm_inv(probability: Num, mean: Num, standard_dev: Num) -> Any:
    if not _is_prob(probability) or standard_dev <= 0:
        return NUM
    return math.exp(stats.norm.ppf(probability, mean, standard_dev))


# --- beta, gamma --------------------------------------------------------------------------------

def _beta_params_ok(alpha: float, beta: float, lo: float, hi: float) -> bool:
    return alpha > 0 and beta > 0 and lo < hi


@_distribution("BETA.DIST")
def beta_dist(x: Num, alpha: Num, beta: Num, cumulative: Bool, a: Num = 0.0,
              b: Num = 1.0) -> Any:
    if not _beta_params_ok(alpha, beta, a, b) or x < a or x > b:
        return NUM
    scaled = (x - a) / (b - a)
    if cumulative:
        return special.betainc(alpha, beta, scaled)
    return stats.beta.pdf(scaled, alpha, beta) / (b - a)


@_distribution("BETADIST")
def betadist(x: Num, alpha: Num, beta: Num, a: Num = 0.0, b: Num = 1.0) -> Any:
    return beta_dist(x, alpha, beta, True, a, b)


@_distribution("BETA.INV", "BETAINV")
def beta_inv(probability: Num, alpha: Num, beta: Num, a: Num = 0.0, b: Num = 1.0) -> Any:
    if not _beta_params_ok(alpha, beta, a, b) or not _is_prob(probability):
        return NUM
    return a + (b - a) * special.betaincinv(alpha, beta, probability)


@_distribution("GAMMA.DIST", "GAMMADIST")
def gamma_dist(x: Num, alpha: Num, beta: Num, cumulative: Bool) -> Any:
    if x < 0 or alpha <= 0 or beta <= 0:
        return NUM
    if cumulative:
        return special.gammainc(alpha, x / beta)
    return stats.gamma.pdf(x, alpha, scale=beta)


@_distribution("GAMMA.INV", "GAMMAINV")
def gamma_inv(probability: Num, alpha: Num, beta: Num) -> Any:
    if probability < 0 or probability >= 1 or alpha <= 0 or beta <= 0:
        return NUM
    return special.gammaincinv(alpha, probability) * beta


@_distribution("GAMMA")
def gamma(x: Num) -> Any:
    if x <= 0 and x == math.floor(x):
        return NUM
    return special.gamma(x)


@_distribution("GAMMALN", "GAMMALN.PRECISE")
def gammaln(x: Num) -> Any:
    return NUM if x <= 0 else special.gammaln(x)


# --- t, chi-squared, F ---------------------------------------------------------------------------

@_distribution("T.DIST")
def t_dist(x: Num, deg_freedom: Num, cumulative: Bool) -> Any:
    df = _trunc(deg_freedom)
    if df < 1:
        return DIV0 if df == 0 and not cumulative else NUM  # as Excel: T.DIST(0,0,FALSE)
    return stats.t.cdf(x, df) if cumulative else stats.t.pdf(x, df)


@_distribution("T.DIST.2T")
def t_dist_2t(x: Num, deg_freedom: Num) -> Any:
    df = _trunc(deg_freedom)
    if x < 0 or df < 1:
        return NUM
    return 2 * stats.t.sf(x, df)


@_distribution("T.DIST.RT")
def t_dist_rt(x: Num, deg_freedom: Num) -> Any:
    df = _trunc(deg_freedom)
    return NUM if df < 1 else stats.t.sf(x, df)


@_distribution("TDIST")
def tdist(x: Num, deg_freedom: Num, tails: Num) -> Any:
    df, t = _trunc(deg_freedom), _trunc(tails)
    if x < 0 or df < 1 or t not in (1, 2):
        return NUM
    return t * stats.t.sf(x, df)


@_distribution("T.INV")
def t_inv(probability: Num, deg_freedom: Num) -> Any:
    df = _trunc(deg_freedom)
    if not _is_prob(probability) or df < 1:
        return NUM
    return stats.t.ppf(probability, df)


@_distribution("T.INV.2T", "TINV")
def t_inv_2t(probability: Num, deg_freedom: Num) -> Any:
    df = _trunc(deg_freedom)
    if probability <= 0 or probability > 1 or df < 1:
        return NUM
    return stats.t.isf(probability / 2, df)


@_distribution("CHISQ.DIST")
def chisq_dist(x: Num, deg_freedom: Num, cumulative: Bool) -> Any:
    df = _trunc(deg_freedom)
    if x < 0 or df < 1 or df > 1e10:
        return NUM
    return stats.chi2.cdf(x, df) if cumulative else stats.chi2.pdf(x, df)


@_distribution("CHISQ.DIST.RT", "CHIDIST")
def chisq_dist_rt(x: Num, deg_freedom: Num) -> Any:
    df = _trunc(deg_freedom)
    if x < 0 or df < 1 or df > 1e10:
        return NUM
    return stats.chi2.sf(x, df)


@_distribution("CHISQ.INV")
def chisq_inv(probability: Num, deg_freedom: Num) -> Any:
    df = _trunc(deg_freedom)
    if probability < 0 or probability >= 1 or df < 1 or df > 1e10:
        return NUM
    return stats.chi2.ppf(probability, df)


@_distribution("CHISQ.INV.RT", "CHIINV")
def chisq_inv_rt(probability: Num, deg_freedom: Num) -> Any:
    df = _trunc(deg_freedom)
    if probability <= 0 or probability > 1 or df < 1 or df > 1e10:
        return NUM
    return stats.chi2.isf(probability, df)


def _f_dfs(df1: float, df2: float) -> tuple[int, int] | None:
    d1, d2 = _trunc(df1), _trunc(df2)
    return (d1, d2) if 1 <= d1 < 1e10 and 1 <= d2 < 1e10 else None


@_distribution("F.DIST")
def f_dist(x: Num, deg_freedom1: Num, deg_freedom2: Num, cumulative: Bool) -> Any:
    dfs = _f_dfs(deg_freedom1, deg_freedom2)
    if x < 0 or dfs is None:
        return NUM
    return stats.f.cdf(x, *dfs) if cumulative else stats.f.pdf(x, *dfs)


@_distribution("F.DIST.RT", "FDIST")
def f_dist_rt(x: Num, deg_freedom1: Num, deg_freedom2: Num) -> Any:
    dfs = _f_dfs(deg_freedom1, deg_freedom2)
    if x < 0 or dfs is None:
        return NUM
    return stats.f.sf(x, *dfs)


@_distribution("F.INV")
def f_inv(probability: Num, deg_freedom1: Num, deg_freedom2: Num) -> Any:
    dfs = _f_dfs(deg_freedom1, deg_freedom2)
    if probability < 0 or probability >= 1 or dfs is None:
        return NUM
    return stats.f.ppf(probability, *dfs)


@_distribution("F.INV.RT", "FINV")
def f_inv_rt(probability: Num, deg_freedom1: Num, deg_freedom2: Num) -> Any:
    dfs = _f_dfs(deg_freedom1, deg_freedom2)
    if probability <= 0 or probability > 1 or dfs is None:
        return NUM
    return stats.f.isf(probability, *dfs)


# --- discrete distributions ---------------------------------------------------------------------

@_distribution("BINOM.DIST", "BINOMDIST")
def binom_dist(number_s: Num, trials: Num, probability_s: Num, cumulative: Bool) -> Any:
    k, n = _trunc(number_s), _trunc(trials)
    if k < 0 or k > n or probability_s < 0 or probability_s > 1:
        return NUM
    if cumulative:
        return stats.binom.cdf(k, n, probability_s)
    return stats.binom.pmf(k, n, probability_s)


@_distribution("BINOM.DIST.RANGE")
def binom_dist_range(trials: Num, probability_s: Num, number_s: Num,
                     number_s2: Num = MISSING) -> Any:
    n, lo = _trunc(trials), _trunc(number_s)
    hi = lo if number_s2 is MISSING else _trunc(number_s2)
    if n < 0 or probability_s < 0 or probability_s > 1 or lo < 0 or lo > n or hi < lo or hi > n:
        return NUM
    return float(sum(stats.binom.pmf(k, n, probability_s) for k in range(lo, hi + 1)))


@_distribution("BINOM.INV", "CRITBINOM")
def binom_inv(trials: Num, probability_s: Num, alpha: Num) -> Any:
    n = _trunc(trials)
    if n < 0 or probability_s < 0 or probability_s > 1 or alpha < 0 or alpha > 1:
        return NUM
    total = 0.0
    for k in range(n + 1):
        total += stats.binom.pmf(k, n, probability_s)
        if total >= alpha * (1 - 1e-15):
            return float(k)
    return float(n)


@_distribution("NEGBINOM.DIST")
def negbinom_dist(number_f: Num, number_s: Num, probability_s: Num, cumulative: Bool) -> Any:
    f, s = _trunc(number_f), _trunc(number_s)
    if f < 0 or s < 1 or probability_s <= 0 or probability_s > 1:
        return NUM
    if cumulative:
        return stats.nbinom.cdf(f, s, probability_s)
    return stats.nbinom.pmf(f, s, probability_s)


@_distribution("NEGBINOMDIST")
def negbinomdist(number_f: Num, number_s: Num, probability_s: Num) -> Any:
    return negbinom_dist(number_f, number_s, probability_s, False)


@_distribution("HYPGEOM.DIST")
def hypgeom_dist(sample_s: Num, number_sample: Num, population_s: Num, number_pop: Num,
                 cumulative: Bool) -> Any:
    k, n, m, big_n = (_trunc(v) for v in (sample_s, number_sample, population_s, number_pop))
    if k < 0 or n < 0 or m < 0 or n > big_n or m > big_n:
        return NUM
    low, high = max(0, n - big_n + m), min(n, m)
    if cumulative:  # outside the support the cumulative form is 0 or 1, not #NUM!
        return 0.0 if k < low else 1.0 if k >= high else stats.hypergeom.cdf(k, big_n, m, n)
    if k < low or k > high:
        return NUM
    return 1.0 if big_n == 0 else stats.hypergeom.pmf(k, big_n, m, n)


@_distribution("HYPGEOMDIST")
def hypgeomdist(sample_s: Num, number_sample: Num, population_s: Num, number_pop: Num) -> Any:
    return hypgeom_dist(sample_s, number_sample, population_s, number_pop, False)


@_distribution("POISSON.DIST", "POISSON")
def poisson_dist(x: Num, mean: Num, cumulative: Bool) -> Any:
    k = _trunc(x)
    if k < 0 or mean < 0:
        return NUM
    return stats.poisson.cdf(k, mean) if cumulative else stats.poisson.pmf(k, mean)


@_distribution("EXPON.DIST", "EXPONDIST")
def expon_dist(x: Num, lambda_: Num, cumulative: Bool) -> Any:
    if x < 0 or lambda_ <= 0:
        return NUM
    return -math.expm1(-lambda_ * x) if cumulative else lambda_ * math.exp(-lambda_ * x)


@_distribution("WEIBULL.DIST", "WEIBULL")
def weibull_dist(x: Num, alpha: Num, beta: Num, cumulative: Bool) -> Any:
    if x < 0 or alpha <= 0 or beta <= 0:
        return NUM
    z = (x / beta) ** alpha
    if cumulative:
        return -math.expm1(-z)
    return alpha / beta ** alpha * x ** (alpha - 1) * math.exp(-z)


# --- confidence intervals and tests --------------------------------------------------------------

@_distribution("CONFIDENCE.NORM", "CONFIDENCE")
def confidence_norm(alpha: Num, standard_dev: Num, size: Num) -> Any:
    n = _trunc(size)
    if not _is_prob(alpha) or standard_dev <= 0 or n < 1:
        return NUM
    return special.ndtri(1 - alpha / 2) * standard_dev / math.sqrt(n)


@_distribution("CONFIDENCE.T")
def confidence_t(alpha: Num, standard_dev: Num, size: Num) -> Any:
    n = _trunc(size)
    if not _is_prob(alpha) or standard_dev <= 0 or n < 1:
        return NUM
    if n == 1:
        return DIV0
    return stats.t.isf(alpha / 2, n - 1) * standard_dev / math.sqrt(n)


def _sample(array: Any) -> list[float] | XLError:
    """The numbers of one data argument (a typed scalar counts as one value). The tests skip
    #NULL! in their data where other errors propagate, as Excel does."""
    if type(array) is Array:
        array = Array([[v for v in array.flat() if v is not NULL]])
    return numbers_of([array])


@_distribution("Z.TEST", "ZTEST")
def z_test(array: Arr, x: Num, sigma: Num = MISSING) -> Any:
    nums = _sample(array)
    if type(nums) is XLError:
        return nums
    if sigma is not MISSING and sigma <= 0:
        return NUM
    if len(nums) < 2:
        return NA if not nums else DIV0
    s = stdev(nums, True) if sigma is MISSING else sigma
    if s == 0:
        return DIV0
    m = sum(nums) / len(nums)
    return special.ndtr(-(m - x) / (s / math.sqrt(len(nums))))


def _two_samples(array1: Any, array2: Any) -> tuple[list[float], list[float]] | XLError:
    a = _sample(array1)
    if type(a) is XLError:
        return a
    b = _sample(array2)
    if type(b) is XLError:
        return b
    return a, b


def _flat(v: Any) -> list[Any]:
    return list(v.flat()) if type(v) is Array else [v]


def _paired_diffs(array1: Any, array2: Any) -> list[float] | XLError:
    """Differences of the pairs where both are numbers; errors met pair by pair."""
    a, b = _flat(array1), _flat(array2)
    if len(a) != len(b):
        return NA
    out = []
    for u, v in zip(a, b, strict=True):
        if u is NULL:
            continue
        for w in (u, v):
            if type(w) is XLError:
                return w
        if type(u) is float and type(v) is float:
            out.append(u - v)
    return out


def _t_statistic(array1: Any, array2: Any, kind: int) -> tuple[float, float] | XLError:
    """(t, degrees of freedom) of T.TEST's paired (1), pooled (2) or Welch (3) test."""
    if kind == 1:
        d = _paired_diffs(array1, array2)
        if type(d) is XLError:
            return d
        s = stdev(d, True) if len(d) >= 2 else DIV0
        if type(s) is XLError or s == 0:
            return DIV0
        return abs(sum(d) / len(d)) / (s / math.sqrt(len(d))), len(d) - 1
    pair = _two_samples(array1, array2)
    if type(pair) is XLError:
        return pair
    a, b = pair
    n1, n2 = len(a), len(b)
    if n1 < 2 or n2 < 2:
        return DIV0
    v1, v2 = stdev(a, True) ** 2, stdev(b, True) ** 2
    diff = abs(sum(a) / n1 - sum(b) / n2)
    if kind == 2:
        pooled = ((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2)
        se = math.sqrt(pooled * (1 / n1 + 1 / n2))
        df = n1 + n2 - 2
    else:
        se = math.sqrt(v1 / n1 + v2 / n2)
        df = (v1 / n1 + v2 / n2) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1)) \
            if se else 0.0
    if se == 0:
        return DIV0
    return diff / se, df


@_distribution("T.TEST", "TTEST")
def t_test(array1: Arr, array2: Arr, tails: Num, type_: Num) -> Any:
    t, kind = _trunc(tails), _trunc(type_)
    if t not in (1, 2) or kind not in (1, 2, 3):
        return NUM
    result = _t_statistic(array1, array2, kind)
    if type(result) is XLError:
        return result
    stat, df = result
    return t * stats.t.sf(stat, df)


@_distribution("F.TEST", "FTEST")
def f_test(array1: Arr, array2: Arr) -> Any:
    pair = _two_samples(array1, array2)
    if type(pair) is XLError:
        return pair
    a, b = pair
    if len(a) < 2 or len(b) < 2:
        return DIV0
    v1, v2 = stdev(a, True) ** 2, stdev(b, True) ** 2
    if v1 == 0 or v2 == 0:
        return DIV0
    ratio = v1 / v2
    d1, d2 = len(a) - 1, len(b) - 1
    return 2 * min(stats.f.cdf(ratio, d1, d2), stats.f.sf(ratio, d1, d2))


def _shape(v: Any) -> tuple[int, int]:
    return v.shape if type(v) is Array else (1, 1)


@_distribution("CHISQ.TEST", "CHITEST")
def chisq_test(actual_range: Arr, expected_range: Arr) -> Any:
    actual, expected = _flat(actual_range), _flat(expected_range)
    if len(actual) != len(expected):
        return NA
    for w in actual + expected:
        if type(w) is XLError and w is not NULL:
            return w
    rows, cols = _shape(actual_range)
    df = (rows - 1) * (cols - 1) if rows > 1 and cols > 1 else len(actual) - 1
    if df < 1:
        return NA
    chi2 = 0.0
    used = 0
    for a, e in zip(actual, expected, strict=True):
        if type(a) is float and type(e) is float:
            if e == 0:
                return DIV0
            chi2 += (a - e) ** 2 / e
            used += 1
    if not used:
        return DIV0
    return stats.chi2.sf(chi2, df)


@_distribution("PROB")
def prob(x_range: Arr, prob_range: Arr, lower_limit: Num, upper_limit: Num = MISSING) -> Any:
    xs, ps = _flat(x_range), _flat(prob_range)
    if len(xs) != len(ps):
        return NA
    for w in xs + ps:
        if type(w) is XLError:
            return w
    pairs = [(x, p) for x, p in zip(xs, ps, strict=True)
             if type(x) is float and type(p) is float]
    if any(p <= 0 or p > 1 for _, p in pairs):
        return NUM
    if abs(sum(p for _, p in pairs) - 1) > 1e-7:
        return NUM
    upper = lower_limit if upper_limit is MISSING else upper_limit
    return sum(p for x, p in pairs if lower_limit <= x <= upper)

