"""Distributions as inverse CDFs: moments, quantiles against scipy, truncation, shift, checks.

Statistical checks use 2e5 uniforms from a fixed numpy Generator and a tolerance of 5 standard
errors: sqrt(var/n) for the mean and sqrt((m4 - var^2)/n) for the variance, m4 being the
sample's fourth central moment.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from engine.montecarlo import distributions as D

N = 200_000


@pytest.fixture(scope="module")
def uniforms() -> np.ndarray:
    return np.random.default_rng(20240611).random(N)


# Every family, plus truncated and shifted variants; ids are what a failure names.
MOMENT_CASES = {
    "normal": lambda: D.Normal(100, 10),
    "lognormal": lambda: D.LogNormal(50, 5),
    "lognormal2": lambda: D.LogNormal2(1, 0.5),
    "uniform": lambda: D.Uniform(1, 3),
    "triangular": lambda: D.Triangular(1, 2, 5),
    "pert": lambda: D.Pert(1, 2, 5),
    "beta": lambda: D.Beta(2, 3),
    "beta_general": lambda: D.BetaGeneral(0.7, 1.5, 10, 20),
    "gamma": lambda: D.Gamma(2, 3),
    "gamma_small_shape": lambda: D.Gamma(0.4, 2),
    "weibull": lambda: D.Weibull(1.5, 2),
    "exponential": lambda: D.Exponential(4),
    "logistic": lambda: D.Logistic(1, 2),
    "student_t": lambda: D.StudentT(10),
    "poisson": lambda: D.Poisson(3.5),
    "poisson_large": lambda: D.Poisson(5e4),
    "binomial": lambda: D.Binomial(10, 0.3),
    "bernoulli": lambda: D.Bernoulli(0.3),
    "discrete": lambda: D.Discrete((3, 1, 2), (0.3, 0.2, 0.5)),
    "duniform": lambda: D.DUniform((1, 5, 7)),
    "intuniform": lambda: D.IntUniform(1, 6),
    "cumul": lambda: D.Cumul(0, 10, (1, 5, 9), (0.1, 0.7, 0.9)),
    "histogram": lambda: D.Histogram(10, 20, (0.1, 0.2, 0.4, 0.2, 0.1)),
    "trigen": lambda: D.Trigen(100, 200, 300, 10, 90),
    "normal_truncated": lambda: D.Normal(0, 1, truncate=(-1, 2)),
    "pert_truncated_shifted": lambda: D.Pert(1, 2, 5, truncate=(1.5, None), shift=10),
    "gamma_truncated_above": lambda: D.Gamma(2, 3, truncate=(None, 4)),
    "poisson_truncated": lambda: D.Poisson(4, truncate=(2, 6)),
    "intuniform_truncated_shifted": lambda: D.IntUniform(1, 10, truncate=(2.5, 7), shift=-1),
}


@pytest.mark.parametrize("make", MOMENT_CASES.values(), ids=MOMENT_CASES.keys())
def test_sample_moments_match_analytic_within_5_standard_errors(make, uniforms):
    dist = make()
    x = dist.sample(uniforms)
    mean, var = dist.mean, dist.variance
    se_mean = math.sqrt(var / N)
    m4 = np.mean((x - x.mean()) ** 4)
    se_var = math.sqrt((m4 - var * var) / N)
    assert abs(x.mean() - mean) < 5 * se_mean, (x.mean(), mean, se_mean)
    assert abs(x.var() - var) < 5 * se_var, (x.var(), var, se_var)


def test_analytic_moments_of_the_conventions():
    """The parameter conventions themselves: wrong conventions give other moments."""
    assert D.LogNormal(50, 5).mean == pytest.approx(50)
    assert D.LogNormal(50, 5).variance == pytest.approx(25)
    assert D.Pert(1, 2, 5).mean == pytest.approx((1 + 4 * 2 + 5) / 6)
    assert D.Gamma(2, 3).mean == pytest.approx(6)
    assert D.Gamma(2, 3).variance == pytest.approx(18)
    assert D.Weibull(3, 20).mean == pytest.approx(20 * math.gamma(1 + 1 / 3))
    assert D.Exponential(4).variance == pytest.approx(16)
    assert D.Logistic(1, 2).variance == pytest.approx(4 * math.pi ** 2 / 3)
    assert D.Normal(0, 1, truncate=(-1, 2)).mean == pytest.approx(stats.truncnorm(-1, 2).mean())
    assert D.Normal(0, 1, truncate=(-1, 2)).variance == pytest.approx(stats.truncnorm(-1, 2).var())
    assert D.Normal(5, 1, shift=3).mean == pytest.approx(8)
    assert math.isinf(D.StudentT(2).variance) and math.isnan(D.StudentT(1).mean)


# Inverse CDF against scipy's ppf at fixed probabilities, tails included.
U_GRID = np.sort(np.r_[1e-15, 1e-12, 1e-9, 1e-7, 1e-5, 1.5e-4, np.linspace(1e-4, 1 - 1e-4, 20001),
                       1 - 1.5e-4, 1 - 1e-5, 1 - 1e-7, 1 - 1e-9, 1 - 1e-12])

CLOSED_FORM = {
    "normal": (lambda: D.Normal(100, 10), stats.norm(100, 10), 1e-14),
    "lognormal": (lambda: D.LogNormal(50, 5),
                  stats.lognorm(math.sqrt(math.log1p(0.01)),
                                scale=50 / math.sqrt(1.01)), 1e-13),
    "lognormal2": (lambda: D.LogNormal2(1, 0.5), stats.lognorm(0.5, scale=math.e), 1e-13),
    "uniform": (lambda: D.Uniform(1, 3), stats.uniform(1, 2), 1e-15),
    "triangular": (lambda: D.Triangular(1, 2, 5), stats.triang(0.25, loc=1, scale=4), 1e-12),
    "weibull": (lambda: D.Weibull(1.5, 2), stats.weibull_min(1.5, scale=2), 1e-13),
    "exponential": (lambda: D.Exponential(4), stats.expon(scale=4), 1e-13),
    "logistic": (lambda: D.Logistic(1, 2), stats.logistic(1, 2), 1e-13),
    "cumul": (lambda: D.Cumul(0, 10, (1, 5, 9), (0.1, 0.7, 0.9)),
              stats.rv_histogram(([0.1, 0.6, 0.2, 0.1], [0, 1, 5, 9, 10]), density=False),
              1e-12),
    "histogram": (lambda: D.Histogram(10, 20, (0.1, 0.2, 0.4, 0.2, 0.1)),
                  stats.rv_histogram(([0.1, 0.2, 0.4, 0.2, 0.1], np.linspace(10, 20, 6))), 1e-12),
}
# Tabulated quantiles: error relative to max(|x|, interquartile range); measured <= 3e-8.
TABULATED = {
    "pert": (lambda: D.Pert(1, 2, 5), stats.beta(2, 4, loc=1, scale=4)),
    "pert_skewed": (lambda: D.Pert(0, 0.1, 10), stats.beta(1.04, 4.96, loc=0, scale=10)),
    "beta": (lambda: D.Beta(2, 3), stats.beta(2, 3)),
    "beta_u_shaped": (lambda: D.Beta(0.5, 0.5), stats.beta(0.5, 0.5)),
    "beta_steep": (lambda: D.Beta(0.2, 7), stats.beta(0.2, 7)),
    "beta_general": (lambda: D.BetaGeneral(5, 1, -3, 3), stats.beta(5, 1, loc=-3, scale=6)),
    "gamma": (lambda: D.Gamma(2, 3), stats.gamma(2, scale=3)),
    "gamma_small_shape": (lambda: D.Gamma(0.3, 1), stats.gamma(0.3)),
    "gamma_large_shape": (lambda: D.Gamma(1e4, 0.01), stats.gamma(1e4, scale=0.01)),
    "student_t": (lambda: D.StudentT(5), stats.t(5)),
    "student_t_cauchy": (lambda: D.StudentT(1), stats.t(1)),
}
DISCRETE = {
    "poisson": (lambda: D.Poisson(3.5), stats.poisson(3.5)),
    "poisson_large": (lambda: D.Poisson(1e6), stats.poisson(1e6)),
    "binomial": (lambda: D.Binomial(40, 0.3), stats.binom(40, 0.3)),
    "bernoulli": (lambda: D.Bernoulli(0.3), stats.bernoulli(0.3)),
    "intuniform": (lambda: D.IntUniform(-2, 7), stats.randint(-2, 8)),
    "discrete": (lambda: D.Discrete((3, 1, 2), (0.3, 0.2, 0.5)),
                 stats.rv_discrete(values=([1, 2, 3], [0.2, 0.5, 0.3]))),
    "duniform": (lambda: D.DUniform((7, 1, 5)),
                 stats.rv_discrete(values=([1, 5, 7], [1 / 3, 1 / 3, 1 / 3]))),
}


@pytest.mark.parametrize("make, ref, rtol", CLOSED_FORM.values(), ids=CLOSED_FORM.keys())
def test_closed_form_quantiles_match_scipy(make, ref, rtol):
    x, r = make().sample(U_GRID), ref.ppf(U_GRID)
    err = np.abs(x - r) / np.maximum(np.abs(r), 1.0)
    assert err.max() < rtol, f"max relative error {err.max():.2e} at u={U_GRID[err.argmax()]}"


@pytest.mark.parametrize("make, ref", TABULATED.values(), ids=TABULATED.keys())
def test_tabulated_quantiles_match_scipy(make, ref):
    x, r = make().sample(U_GRID), ref.ppf(U_GRID)
    iqr = ref.ppf(0.75) - ref.ppf(0.25)
    err = np.abs(x - r) / np.maximum(np.abs(r), iqr)
    assert err.max() < 1e-7, f"max relative error {err.max():.2e} at u={U_GRID[err.argmax()]}"


@pytest.mark.parametrize("make, ref", DISCRETE.values(), ids=DISCRETE.keys())
def test_discrete_quantiles_equal_scipy(make, ref):
    u = np.random.default_rng(7).random(5000)  # random u never sits exactly on a CDF step
    np.testing.assert_array_equal(make().sample(u), ref.ppf(u))


def test_trigen_puts_bottom_and_top_at_their_percentiles(uniforms):
    dist = D.Trigen(100, 200, 300, 10, 90)
    np.testing.assert_allclose(dist.cdf([100, 300]), [0.1, 0.9], atol=1e-12)
    x = dist.sample(uniforms)
    se = math.sqrt(0.1 * 0.9 / N)
    assert abs(np.mean(x <= 100) - 0.1) < 5 * se
    assert abs(np.mean(x > 300) - 0.1) < 5 * se
    skewed = D.Trigen(10, 12, 30, 5, 80)
    np.testing.assert_allclose(skewed.cdf([10, 30]), [0.05, 0.80], atol=1e-12)
    np.testing.assert_allclose(D.Trigen(1, 2, 3, 0, 100).sample(U_GRID),
                               D.Triangular(1, 2, 3).sample(U_GRID), rtol=1e-12)


@pytest.mark.parametrize("make", MOMENT_CASES.values(), ids=MOMENT_CASES.keys())
def test_samples_are_monotone_in_u(make):
    """Rank correlation and LHS rearrange uniforms: the order must survive the transform."""
    assert np.all(np.diff(make().sample(U_GRID)) >= 0)


@pytest.mark.parametrize("make", [MOMENT_CASES[k] for k in (
    "normal", "lognormal", "triangular", "pert", "gamma", "weibull", "logistic", "student_t",
    "cumul", "histogram", "normal_truncated", "pert_truncated_shifted")])
def test_cdf_inverts_the_sample(make):
    dist = make()
    np.testing.assert_allclose(dist.cdf(dist.sample(U_GRID[5:-5])), U_GRID[5:-5], atol=1e-7)


TRUNCATIONS = [
    (lambda t: D.Normal(100, 10, truncate=t), (95, 120)),
    (lambda t: D.Gamma(2, 3, truncate=t), (1, None)),
    (lambda t: D.Pert(1, 2, 5, truncate=t), (None, 4)),
    (lambda t: D.StudentT(3, truncate=t), (-0.5, 0.25)),
    (lambda t: D.Poisson(4, truncate=t), (2, 6)),
    (lambda t: D.Discrete((1, 2, 3, 4), (0.1, 0.2, 0.3, 0.4), truncate=t), (1.5, 3)),
    (lambda t: D.IntUniform(1, 10, truncate=t), (2.5, 7.5)),
    (lambda t: D.Histogram(0, 10, (0.5, 0.5), truncate=t), (2, 9)),
]


@pytest.mark.parametrize("make, bounds", TRUNCATIONS)
def test_truncation_bounds_respected_and_conditional(make, bounds, uniforms):
    dist, full = make(bounds), make(None)
    x = dist.sample(uniforms)
    lo, hi = bounds
    lo_f = -np.inf if lo is None else lo
    hi_f = np.inf if hi is None else hi
    assert x.min() >= lo_f and x.max() <= hi_f
    # Truncation is conditioning: P(X <= q | lo <= X <= hi) for a point q inside.
    q = float(np.median(x))
    below_lo = 0.0 if lo is None else float(full._cdf_below(np.array(lo)))
    expected = (float(full.cdf(q)) - below_lo) / (float(full.cdf(hi_f)) - below_lo)
    se = math.sqrt(expected * (1 - expected) / N)
    assert abs(np.mean(x <= q) - expected) <= 5 * se


def test_discrete_truncation_keeps_the_bounds_themselves(uniforms):
    x = D.Poisson(4, truncate=(2, 6)).sample(uniforms)
    assert set(np.unique(x)) == {2, 3, 4, 5, 6}


def test_shift_applies_after_truncation(uniforms):
    truncated = D.Pert(1, 2, 5, truncate=(1.5, None))
    shifted = D.Pert(1, 2, 5, truncate=(1.5, None), shift=10)
    np.testing.assert_array_equal(shifted.sample(uniforms), truncated.sample(uniforms) + 10)
    assert shifted.sample(uniforms).min() >= 11.5
    assert shifted.mean == pytest.approx(truncated.mean + 10)
    assert shifted.variance == pytest.approx(truncated.variance)
    np.testing.assert_allclose(shifted.cdf([11.5, 15]), [0.0, 1.0])


def test_degenerate_parameters_give_a_constant():
    u = np.array([1e-9, 0.5, 1 - 1e-9])
    for dist in (D.Normal(5, 0), D.Uniform(5, 5), D.Triangular(5, 5, 5), D.Pert(5, 5, 5),
                 D.LogNormal(5, 0), D.Histogram(5, 5, (1.0,)), D.Trigen(5, 5, 5, 10, 90)):
        np.testing.assert_allclose(dist.sample(u), 5.0)
        assert dist.mean == pytest.approx(5.0) and dist.variance == 0.0
        np.testing.assert_array_equal(dist.cdf([4.9, 5.0]), [0.0, 1.0])


def test_sample_keeps_the_shape_of_u():
    u = np.random.default_rng(3).random((4, 5))
    for dist in (D.Normal(0, 1), D.Beta(2, 3), D.Poisson(2)):
        assert dist.sample(u).shape == (4, 5)


def test_quantile_table_is_built_once_per_parameter_set():
    first = D._quantile_table("beta", (2.5, 3.5))
    assert D._quantile_table("beta", (2.5, 3.5)) is first
    assert first[0].size == 4097


INVALID = [
    (lambda: D.Normal(0, -1, label="Sheet1!B2"), "sd must be >= 0"),
    (lambda: D.LogNormal(-5, 1, label="Sheet1!B2"), "mean must be > 0"),
    (lambda: D.Uniform(3, 1, label="Sheet1!B2"), "min 3.0 is above max 1.0"),
    (lambda: D.Triangular(1, 6, 5, label="Sheet1!B2"), "mode 6.0 is outside"),
    (lambda: D.Pert(1, 0, 5, label="Sheet1!B2"), "mode 0.0 is outside"),
    (lambda: D.Beta(0, 1, label="Sheet1!B2"), "alpha must be > 0"),
    (lambda: D.Gamma(2, -1, label="Sheet1!B2"), "scale must be > 0"),
    (lambda: D.StudentT(0, label="Sheet1!B2"), "nu must be > 0"),
    (lambda: D.Binomial(2.5, 0.5, label="Sheet1!B2"), "n must be a whole number"),
    (lambda: D.Binomial(3, 1.5, label="Sheet1!B2"), "p must be in [0, 1]"),
    (lambda: D.Poisson(-1, label="Sheet1!B2"), "lambda must be >= 0"),
    (lambda: D.Discrete((1, 2), (0.5, 0.6), label="Sheet1!B2"), "probabilities must sum to 1"),
    (lambda: D.Discrete((1, 2), (1.5, -0.5), label="Sheet1!B2"),
     "probabilities must not be negative"),
    (lambda: D.Discrete((1, 2, 3), (0.5, 0.5), label="Sheet1!B2"), "values has 3 items"),
    (lambda: D.DUniform((), label="Sheet1!B2"), "values must not be empty"),
    (lambda: D.DUniform(3, label="Sheet1!B2"), "values must be a list"),
    (lambda: D.IntUniform(1.5, 4, label="Sheet1!B2"), "whole numbers"),
    (lambda: D.Cumul(0, 10, (5, 1), (0.1, 0.9), label="Sheet1!B2"), "xs must be increasing"),
    (lambda: D.Cumul(0, 10, (1, 5), (0.9, 0.1), label="Sheet1!B2"),
     "cumulative_ps must not decrease"),
    (lambda: D.Cumul(0, 4, (1, 5), (0.1, 0.9), label="Sheet1!B2"), "xs must lie within"),
    (lambda: D.Histogram(0, 1, (0.5, 0.4), label="Sheet1!B2"), "probabilities must sum to 1"),
    (lambda: D.Trigen(3, 2, 5, 10, 90, label="Sheet1!B2"), "bottom <= mode <= top"),
    (lambda: D.Trigen(1, 2, 5, 90, 10, label="Sheet1!B2"), "bottom_pct < top_pct"),
    (lambda: D.Normal(0, label="Sheet1!B2"), "takes 2 parameters, got 1"),
    (lambda: D.Normal("a", 1, label="Sheet1!B2"), "mean must be a number"),
    (lambda: D.Normal(math.nan, 1, label="Sheet1!B2"), "mean must be finite"),
    (lambda: D.Normal(0, 1, truncate=(2, 1), label="Sheet1!B2"), "lower bound 2.0 is above"),
    (lambda: D.Uniform(0, 1, truncate=(2, 3), label="Sheet1!B2"), "leaves no probability"),
    (lambda: D.Poisson(3, truncate=(1.2, 1.8), label="Sheet1!B2"), "leaves no probability"),
    (lambda: D.Normal(5, 0, truncate=(6, None), label="Sheet1!B2"), "excludes its only value"),
    (lambda: D.Normal(0, 1, shift=math.inf, label="Sheet1!B2"), "shift must be finite"),
]


@pytest.mark.parametrize("make, message", INVALID)
def test_impossible_parameters_name_the_input_and_parameter(make, message):
    with pytest.raises(ValueError) as info:
        make()
    assert str(info.value).startswith("Sheet1!B2: ")
    assert message in str(info.value)


def test_every_family_is_listed_once():
    names = [cls.name for cls in D.FAMILIES]
    assert len(names) == len(set(names)) == 22
    for cls in D.FAMILIES:
        assert cls.convention and len(cls.params) >= 1
