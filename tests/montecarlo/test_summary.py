"""Output statistics against closed forms; tolerances are 5 standard errors of each estimate."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from engine.montecarlo.summary import summarize

N = 200_000


def quantile_se(p: float, n: int, sd: float = 1.0) -> float:
    """Asymptotic standard error of the sample p-quantile of a normal with this sd."""
    return math.sqrt(p * (1 - p) / n) / stats.norm.pdf(stats.norm.ppf(p)) * sd


def test_sum_of_normals_moments_and_percentiles():
    rng = np.random.default_rng(11)
    x = rng.normal(1, 2, N) + rng.normal(-3, 1, N) + rng.normal(10, 0.5, N)
    mu, sd = 8.0, math.sqrt(4 + 1 + 0.25)
    s = summarize(x)
    assert s["n"] == N and s["errors"] == 0
    assert abs(s["mean"] - mu) < 5 * sd / math.sqrt(N)
    assert abs(s["std"] - sd) < 5 * sd / math.sqrt(2 * N)
    assert s["sem"] == pytest.approx(s["std"] / math.sqrt(N), rel=1e-12)
    assert abs(s["skewness"]) < 5 * math.sqrt(6 / N)
    assert abs(s["kurtosis"]) < 5 * math.sqrt(24 / N)
    for key, value in s["percentiles"].items():
        p = float(key) / 100
        assert abs(value - (mu + sd * stats.norm.ppf(p))) < 5 * quantile_se(p, N, sd), key
    assert s["min"] == x.min() and s["max"] == x.max()


def _order_stat_cov(i: int, j: int, n: int) -> float:
    """Cov(U_(i), U_(j)) for i <= j, order statistics (1-based) of n uniforms."""
    return i * (n + 1 - j) / ((n + 1) ** 2 * (n + 2))


def test_uniform_order_statistics_through_percentile_inc():
    # n = 9: PERCENTILE.INC at 25% is exactly U_(3) ~ Beta(3, 7); at 10% it is
    # U_(1) + 0.8 (U_(2) - U_(1)) = 0.2 U_(1) + 0.8 U_(2), mean 0.2/10 + 0.8*2/10 = 0.18.
    n, reps = 9, 4000
    rng = np.random.default_rng(5)
    p25, p10, lo, hi = [], [], [], []
    for _ in range(reps):
        s = summarize(rng.random(n), percentiles=(10, 25))
        p25.append(s["percentiles"]["25"])
        p10.append(s["percentiles"]["10"])
        lo.append(s["min"])
        hi.append(s["max"])
    checks = [
        (p25, 3 / 10, _order_stat_cov(3, 3, n)),
        (p10, 0.18, 0.04 * _order_stat_cov(1, 1, n) + 0.64 * _order_stat_cov(2, 2, n)
         + 0.32 * _order_stat_cov(1, 2, n)),
        (lo, 1 / 10, _order_stat_cov(1, 1, n)),
        (hi, 9 / 10, _order_stat_cov(9, 9, n)),
    ]
    for sample, mean, var in checks:
        assert abs(np.mean(sample) - mean) < 5 * math.sqrt(var / reps)


def test_percentile_inc_matches_excel_and_numpy():
    # Excel: PERCENTILE.INC({1,2,3,4}, 0.3) = 1.9 (h = 3 * 0.3 = 0.9 between 1 and 2).
    assert summarize([4.0, 1.0, 3.0, 2.0], percentiles=(30,))["percentiles"]["30"] == \
        pytest.approx(1.9, abs=1e-15)
    x = np.random.default_rng(3).gamma(2.0, size=1001)
    ps = (0, 2.5, 33.3, 50, 99.9, 100)
    got = summarize(x, percentiles=ps)["percentiles"]
    assert list(got) == ["0", "2.5", "33.3", "50", "99.9", "100"]
    np.testing.assert_allclose(list(got.values()), np.percentile(x, ps), rtol=1e-13)


def test_probability_of_target_within_binomial_error():
    x = np.random.default_rng(8).normal(size=N)
    for target in (-1.5, 0.0, 1.0):
        exact = stats.norm.cdf(target)
        got = summarize(x, target=target)["p_target"]
        assert abs(got - exact) < 5 * math.sqrt(exact * (1 - exact) / N)


def test_skew_and_kurt_are_excels_on_fixed_data():
    data = [3, 4, 5, 2, 3, 4, 5, 6, 4, 7]   # the example of Excel's SKEW and KURT help pages
    n = len(data)
    m = sum(data) / n
    s = math.sqrt(sum((v - m) ** 2 for v in data) / (n - 1))
    skew = n / ((n - 1) * (n - 2)) * sum(((v - m) / s) ** 3 for v in data)
    kurt = (n * (n + 1) / ((n - 1) * (n - 2) * (n - 3)) * sum(((v - m) / s) ** 4 for v in data)
            - 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))
    got = summarize(np.array(data, dtype=float))
    assert got["skewness"] == pytest.approx(skew, rel=1e-12)
    assert got["kurtosis"] == pytest.approx(kurt, rel=1e-12)
    assert got["skewness"] == pytest.approx(0.359543071, abs=1e-9)    # Excel's documented result
    assert got["kurtosis"] == pytest.approx(-0.151799637, abs=1e-9)
    assert got["std"] == pytest.approx(s, rel=1e-14)


def test_var_and_cvar_of_a_normal_match_closed_form():
    mu, sd, level, a = 100.0, 15.0, 0.95, 0.05
    x = np.random.default_rng(21).normal(mu, sd, N)
    c = stats.norm.ppf(a)
    tail_var = stats.truncnorm.var(-np.inf, c)       # Var(Z | Z <= c)
    es = -stats.norm.pdf(c) / a                      # E[Z | Z <= c]
    # Asymptotic variance of the expected-shortfall estimator: (Var tail + (1-a)(ES-q)^2)/(n a).
    es_se = sd * math.sqrt((tail_var + (1 - a) * (es - c) ** 2) / (N * a))
    lower = summarize(x, var_level=level)
    assert lower["var"] == lower["percentiles"]["5"]
    assert abs(lower["var"] - (mu + sd * c)) < 5 * quantile_se(a, N, sd)
    assert abs(lower["cvar"] - (mu + sd * es)) < 5 * es_se
    upper = summarize(x, var_level=level, tail="upper")
    assert upper["var"] == upper["percentiles"]["95"]
    assert abs(upper["var"] - (mu - sd * c)) < 5 * quantile_se(a, N, sd)
    assert abs(upper["cvar"] - (mu - sd * es)) < 5 * es_se


def test_cvar_is_mean_at_or_beyond_var():
    x = np.array([5.0, 1.0, 4.0, 2.0, 3.0, 2.0])
    s = summarize(x, var_level=0.8)                  # VaR = PERCENTILE.INC(x, 0.2) = 2
    assert s["var"] == 2.0 and s["cvar"] == pytest.approx((1 + 2 + 2) / 3)
    s = summarize(x, var_level=0.8, tail="upper")   # VaR = PERCENTILE.INC(x, 0.8) = 4
    assert s["var"] == 4.0 and s["cvar"] == 4.5


def test_error_iterations_are_excluded_and_counted():
    rng = np.random.default_rng(2)
    x = rng.normal(size=1000)
    codes = np.zeros(1000, dtype=np.uint8)
    codes[::10] = 2                                  # e.g. #DIV/0! every tenth iteration
    with_nan = x.copy()
    with_nan[::10] = np.nan
    clean = summarize(x[codes == 0], target=0.2)
    for values, errors in ((with_nan, codes), (with_nan, None), (x, codes), (x, codes != 0)):
        s = summarize(values, errors, target=0.2)
        assert s["errors"] == 100 and s["n"] == 900
        assert s == {**clean, "errors": 100}


def test_undefined_statistics_are_none_and_json_ready():
    none = summarize(np.full(3, np.nan), target=0.0)
    assert none["n"] == 0 and none["errors"] == 3
    assert none["mean"] is None and none["percentiles"]["50"] is None and none["p_target"] is None
    one = summarize([7.0])
    assert one["mean"] == 7.0 and one["std"] is None and one["sem"] is None
    assert one["percentiles"]["99"] == 7.0 and one["cvar"] == 7.0
    flat = summarize(np.full(10, 2.5))
    assert flat["std"] == 0.0 and flat["skewness"] is None and flat["kurtosis"] is None
    three = summarize([1.0, 2.0, 4.0])
    assert three["skewness"] is not None and three["kurtosis"] is None
    s = summarize(np.random.default_rng(0).normal(size=100), target=0.5)
    assert json.loads(json.dumps(s)) == s
    assert all(type(v) in (int, float, str, dict) for v in s.values())


def test_input_array_is_left_untouched():
    x = np.random.default_rng(4).normal(size=5000)
    before = x.copy()
    summarize(x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": np.zeros((2, 2))}, "Sheet1!B2: values must be a 1-D array"),
        ({"errors": np.zeros(3, dtype=bool)}, "Sheet1!B2: errors has shape"),
        ({"errors": np.zeros(4)}, "errors must be booleans or integer"),
        ({"percentiles": (50, 150)}, "Sheet1!B2: percentile 150 is outside 0 to 100"),
        ({"var_level": 1.0}, "Sheet1!B2: var_level must lie strictly between 0 and 1"),
        ({"tail": "middle"}, "Sheet1!B2: tail must be 'lower' or 'upper'"),
        ({"target": math.nan}, "Sheet1!B2: target must be a finite number"),
    ],
)
def test_bad_arguments_name_the_output(kwargs, message):
    args = {"values": np.arange(4.0), **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        summarize(label="Sheet1!B2", **args)
