"""Sensitivity measures against exact identities, SciPy and closed forms (5 standard errors)."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from engine.montecarlo.sensitivity import sensitivity, sort_inputs

N = 100_000


def test_spearman_of_monotone_transforms_is_one():
    x = np.random.default_rng(1).normal(size=N)
    r = sensitivity(np.exp(x), {"up": x, "down": -(x**3)})["inputs"]
    assert r["up"]["spearman"] == pytest.approx(1.0, abs=1e-12)
    assert r["down"]["spearman"] == pytest.approx(-1.0, abs=1e-12)


def test_spearman_with_ties_matches_scipy():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 5, N).astype(float)          # heavy ties: average ranks matter
    b = rng.poisson(3.0, N).astype(float)
    c = rng.normal(size=N)
    y = np.round(a + 0.5 * b + c, 1)                 # ties in the output too
    r = sensitivity(y, {"a": a, "b": b, "c": c})["inputs"]
    for name, x in (("a", a), ("b", b), ("c", c)):
        assert r[name]["spearman"] == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)


def test_src_recovers_linear_coefficients():
    rng = np.random.default_rng(3)
    a, b, c = rng.normal(0, 1, N), rng.normal(5, 2, N), rng.uniform(0, 3, N)
    coef, sds = np.array([3.0, -2.0, 0.5]), np.array([1.0, 2.0, math.sqrt(0.75)])
    noise_sd = 1.5
    y = coef @ np.vstack([a, b, c]) + rng.normal(0, noise_sd, N)
    sd_y = math.sqrt(float(np.sum((coef * sds) ** 2)) + noise_sd**2)
    res = sensitivity(y, {"a": a, "b": b, "c": c})
    src = np.array([res["inputs"][k]["src"] for k in "abc"])
    # Same sample: SRC is the least-squares slope times sd(x) / sd(y).
    design = np.column_stack([np.ones(N), a, b, c])
    fit = np.linalg.lstsq(design, y, rcond=None)[0][1:]
    np.testing.assert_allclose(src, fit * np.array([a.std(), b.std(), c.std()]) / y.std(),
                               rtol=1e-9)
    # Population: SRC_i = b_i sd_i / sd_y; slope error noise_sd / (sd_i sqrt(N)) scaled, plus
    # the relative error of the two sample sds (1 / sqrt(2N) each).
    expected = coef * sds / sd_y
    se = noise_sd / (sd_y * math.sqrt(N)) + np.abs(expected) * 2 / math.sqrt(2 * N)
    assert np.all(np.abs(src - expected) < 5 * se)
    r2 = 1 - noise_sd**2 / sd_y**2
    assert abs(res["r_squared"] - r2) < 5 * 2 * (1 - r2) / math.sqrt(N)


def test_src_of_an_exact_linear_model_has_r2_one():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=1000), rng.normal(size=1000)
    res = sensitivity(3 * a - b, {"a": a, "b": b})
    assert res["r_squared"] == pytest.approx(1.0, abs=1e-12)
    y = 3 * a - b
    assert res["inputs"]["a"]["src"] == pytest.approx(3 * a.std() / y.std(), rel=1e-10)
    assert res["inputs"]["b"]["src"] == pytest.approx(-b.std() / y.std(), rel=1e-10)


def test_contribution_is_normalised_signed_squared_spearman():
    rng = np.random.default_rng(5)
    a, b, c = rng.normal(size=(3, 20_000))
    r = sensitivity(2 * a - b + 0.1 * c, {"a": a, "b": b, "c": c})["inputs"]
    rho = np.array([r[k]["spearman"] for k in "abc"])
    share = np.array([r[k]["contribution"] for k in "abc"])
    assert np.sum(np.abs(share)) == pytest.approx(100.0, abs=1e-9)
    np.testing.assert_allclose(share, np.sign(rho) * rho**2 / np.sum(rho**2) * 100, rtol=1e-12)
    assert share[0] > 0 > share[1]


def test_tornado_of_2a_plus_b_puts_a_first_with_closed_form_bars():
    rng = np.random.default_rng(6)
    a, b, c = rng.normal(size=(3, N))
    res = sensitivity(2 * a + b, {"c": c, "b": b, "a": a})
    bars = res["tornado"]["bars"]
    assert [bar["input"] for bar in bars] == ["a", "b", "c"]
    # E[2a + b | a in its bottom decile] = 2 E[a | a <= z_0.1] = -2 phi(z) / 0.1.
    z = stats.norm.ppf(0.1)
    lam = stats.norm.pdf(z) / 0.1
    k = N // 10
    cond_var = 4 * stats.truncnorm.var(-np.inf, z) + 1
    threshold_se = math.sqrt(0.1 * 0.9 / N) / stats.norm.pdf(z)   # sample decile vs z
    se = math.sqrt(cond_var / k) + 2 * lam * (lam + z) * threshold_se
    assert abs(bars[0]["low"] + 2 * lam) < 5 * se
    assert abs(bars[0]["high"] - 2 * lam) < 5 * se
    assert res["tornado"]["mean"] == pytest.approx(np.mean(2 * a + b), rel=1e-12)


def test_tornado_keeps_tied_values_together():
    rng = np.random.default_rng(7)
    flag = (rng.random(10_000) < 0.3).astype(float)   # Bernoulli: 70% tied at 0
    y = 5 * flag + rng.normal(size=10_000)
    bar = sensitivity(y, {"flag": flag})["tornado"]["bars"][0]
    assert bar["low"] == pytest.approx(y[flag == 0].mean(), rel=1e-12)
    assert bar["high"] == pytest.approx(y[flag == 1].mean(), rel=1e-12)


def test_error_iterations_are_excluded_like_a_smaller_run():
    rng = np.random.default_rng(8)
    n = 70_000                                       # more than one regression chunk
    a, b = rng.normal(size=(2, n))
    b = np.round(b, 1)                               # ties, so re-ranking the subset matters
    y = a * a + b
    codes = np.zeros(n, dtype=np.uint8)
    codes[rng.random(n) < 0.2] = 2
    y_err = np.where(codes == 0, y, np.nan)
    keep = codes == 0
    expected = sensitivity(y[keep], {"a": a[keep], "b": b[keep]})
    shared = sort_inputs({"a": a, "b": b})
    for errors in (None, codes):
        got = sensitivity(y_err, shared, errors)
        assert got["errors"] == int(np.count_nonzero(~keep)) and got["n"] == expected["n"]
        for name in "ab":
            for key in ("spearman", "src", "contribution"):
                assert got["inputs"][name][key] == pytest.approx(
                    expected["inputs"][name][key], rel=1e-10, abs=1e-12)
        assert got["tornado"] == expected["tornado"]


def test_constant_input_or_output_has_no_correlation():
    rng = np.random.default_rng(9)
    a = rng.normal(size=1000)
    res = sensitivity(2 * a, {"a": a, "fixed": np.full(1000, 3.0)})
    assert res["inputs"]["fixed"] == {"spearman": None, "src": None, "contribution": None}
    assert res["inputs"]["a"]["src"] == pytest.approx(1.0, rel=1e-12)
    assert json.loads(json.dumps(res)) == res
    flat = sensitivity(np.ones(1000), {"a": a})
    assert flat["inputs"]["a"]["spearman"] is None and flat["r_squared"] is None


@pytest.mark.parametrize(
    ("output", "inputs", "message"),
    [
        (np.zeros(3), {}, "at least one input"),
        (np.zeros(3), {"Sheet1!B2": np.zeros(3), "Sheet1!B3": np.zeros(4)},
         "Sheet1!B3: has 4 samples but Sheet1!B2 has 3"),
        (np.zeros(3), {"Sheet1!B2": np.array([1.0, np.nan, 2.0])},
         "Sheet1!B2: input samples must be finite"),
        (np.zeros(5), {"Sheet1!B2": np.zeros(3)},
         "Sheet1!C9: has 5 iterations but the inputs have 3"),
    ],
)
def test_bad_arguments_name_the_cell(output, inputs, message):
    with pytest.raises(ValueError, match=message):
        sensitivity(output, inputs, label="Sheet1!C9")
