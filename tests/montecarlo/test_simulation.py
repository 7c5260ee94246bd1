"""Whole simulations against closed forms, for Monte Carlo and Latin hypercube sampling.

Every tolerance is five standard errors of the estimate under plain Monte Carlo, derived from
the closed form (the mean: sd / sqrt(n); the variance: sqrt((mu4 - sd^4) / n); a percentile:
sqrt(p (1 - p) / n) / density; a proportion: sqrt(p (1 - p) / n)). Latin hypercube sampling
never has a larger variance than that for these models, so the same bound holds for both.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from engine.loader import load_workbook
from engine.montecarlo.model import SimulationModel, build_model
from engine.montecarlo.simulate import RunResult, RunSettings, simulate

N = 20_000
Z = 5.0  # standard errors allowed

SAMPLINGS = ["mc", "lhs"]

def compile_model(make_xlsx, cells: dict[str, Any], inputs: dict[str, str] | None = None,
                  outputs: list[str] | None = None) -> SimulationModel:
    return build_model(load_workbook(make_xlsx(cells)), inputs, outputs)


def run(model: SimulationModel, sampling: str = "mc", n: int = N, seed: int = 11,
        **settings: Any) -> RunResult:
    return simulate(model, RunSettings(iterations=n, seed=seed, sampling=sampling, **settings))


def assert_mean(stats_: dict[str, Any], mean: float, sd: float, n: int = N) -> None:
    tol = Z * sd / math.sqrt(n)
    assert abs(stats_["mean"] - mean) < tol, (stats_["mean"], mean, tol)


def assert_variance(stats_: dict[str, Any], var: float, mu4: float, n: int = N) -> None:
    """The sample variance against ``var``; ``mu4`` is the fourth central moment."""
    tol = Z * math.sqrt((mu4 - var * var) / n)
    assert abs(stats_["std"] ** 2 - var) < tol, (stats_["std"] ** 2, var, tol)


def assert_percentile(stats_: dict[str, Any], p: float, dist: Any, n: int = N) -> None:
    """The ``p``-th percentile against the frozen scipy distribution ``dist``."""
    q = dist.ppf(p / 100)
    tol = Z * math.sqrt(p / 100 * (1 - p / 100) / n) / dist.pdf(q)
    got = stats_["percentiles"][f"{p:g}"]
    assert abs(got - q) < tol, (p, got, q, tol)


@pytest.fixture(params=SAMPLINGS)
def sampling(request) -> str:
    return request.param


# --------------------------------------------------------------------------------------------
# Closed forms.

def test_sum_of_independent_normals(make_xlsx, sampling):
    model = compile_model(make_xlsx, {
        "A1": "=RiskNormal(10,2)", "A2": "=RiskNormal(-3,1.5)", "A3": "=RiskNormal(4,0.5)",
        "B1": "=RiskOutput()+A1+A2+A3", "B2": "=A1*2"})
    result = run(model, sampling)
    assert list(result.outputs) == ["Sheet1!B1"]  # only the RiskOutput cell by default
    s = result.outputs["Sheet1!B1"]
    dist = stats.norm(11, math.sqrt(4 + 2.25 + 0.25))
    assert_mean(s, dist.mean(), dist.std())
    assert_variance(s, dist.var(), 3 * dist.var() ** 2)
    assert_percentile(s, 5, dist)
    assert_percentile(s, 95, dist)


def test_linear_combination_of_normals(make_xlsx, sampling):
    model = compile_model(make_xlsx, {
        "A1": "=RiskNormal(10,2)", "A2": "=RiskNormal(-3,1.5)", "B2": "=2*A1-A2"},
        outputs=["Sheet1!B2"])
    s = run(model, sampling).outputs["Sheet1!B2"]
    dist = stats.norm(23, math.sqrt(16 + 2.25))
    assert_mean(s, dist.mean(), dist.std())
    assert_variance(s, dist.var(), 3 * dist.var() ** 2)
    assert_percentile(s, 5, dist)
    assert_percentile(s, 95, dist)


def test_product_of_lognormals(make_xlsx, sampling):
    # RiskLognorm takes the variable's own mean and sd, RiskLognorm2 the log's mu and sigma.
    model = compile_model(make_xlsx, {"A1": "=RiskLognorm(10,3)", "A2": "=RiskLognorm2(0.5,0.25)",
                                      "B1": "=A1*A2"}, outputs=["Sheet1!B1"])
    s = run(model, sampling).outputs["Sheet1!B1"]
    s1 = math.log(1 + (3 / 10) ** 2)
    mu = math.log(10) - s1 / 2 + 0.5
    sigma = math.sqrt(s1 + 0.25 ** 2)
    product = stats.lognorm(sigma, scale=math.exp(mu))
    assert math.isclose(product.mean(), 10 * math.exp(0.5 + 0.25 ** 2 / 2))  # E[XY] = E[X]E[Y]
    assert_mean(s, product.mean(), product.std())
    assert_percentile(s, 50, product)
    assert_percentile(s, 90, product)


@pytest.mark.parametrize("k", [2, 5])
def test_order_statistics_of_uniforms(make_xlsx, sampling, k):
    cells = {f"A{i}": "=RAND()" for i in range(1, k + 1)}
    cells |= {"B1": f"=MAX(A1:A{k})", "B2": f"=MIN(A1:A{k})"}
    result = run(compile_model(make_xlsx, cells, outputs=["Sheet1!B1", "Sheet1!B2"]), sampling)
    var = k / ((k + 1) ** 2 * (k + 2))  # both extremes are Beta(k, 1) / Beta(1, k)
    assert_mean(result.outputs["Sheet1!B1"], k / (k + 1), math.sqrt(var))
    assert_mean(result.outputs["Sheet1!B2"], 1 / (k + 1), math.sqrt(var))
    dist = stats.beta(k, 1)
    assert_percentile(result.outputs["Sheet1!B1"], 25, dist)


def test_indicator_functions(make_xlsx, sampling):
    model = compile_model(make_xlsx, {
        "A1": "=RiskNormal(0,1)", "A2": "=RiskNormal(0.5,2)", "B1": "=IF(A1>A2,1,0)",
        "B2": "=IF(A1>0.8,1,0)", "B3": "=(A2<=-1)*1"},
        outputs=["Sheet1!B1", "Sheet1!B2", "Sheet1!B3"])
    result = run(model, sampling)
    exact = {"Sheet1!B1": stats.norm.cdf(-0.5 / math.sqrt(5)), "Sheet1!B2": stats.norm.sf(0.8),
             "Sheet1!B3": stats.norm.cdf(-0.75)}
    for label, p in exact.items():
        assert_mean(result.outputs[label], p, math.sqrt(p * (1 - p)))


def _triangular(a: float, c: float, b: float) -> tuple[float, float, float]:
    mean = (a + b + c) / 3
    var = (a * a + b * b + c * c - a * b - a * c - b * c) / 18
    return mean, var, 2.4 * var * var  # excess kurtosis -3/5


def _pert(a: float, m: float, b: float) -> tuple[float, float, float]:
    alpha, beta = 1 + 4 * (m - a) / (b - a), 1 + 4 * (b - m) / (b - a)
    mean = (a + 4 * m + b) / 6
    s = alpha + beta
    var = alpha * beta * (b - a) ** 2 / (s * s * (s + 1))
    excess = 6 * ((alpha - beta) ** 2 * (s + 1) - alpha * beta * (s + 2)) / (
        alpha * beta * (s + 2) * (s + 3))
    return mean, var, (3 + excess) * var * var


@pytest.mark.parametrize("declare", ["risk", "caller"])
def test_triangular_and_pert_moments(make_xlsx, sampling, declare):
    if declare == "risk":
        cells = {"A1": "=RiskTriang(2,5,11)", "A2": "=RiskPert(2,5,11)"}
        inputs = None
    else:
        cells = {"A1": 0, "A2": 0}
        inputs = {"Sheet1!A1": "triangular(2, 5, 11)", "Sheet1!A2": "pert(2, 5, 11)"}
    model = compile_model(make_xlsx, {**cells, "B1": "=A1+0", "B2": "=A2*1"}, inputs,
                          ["Sheet1!B1", "Sheet1!B2"])
    result = run(model, sampling)
    for label, (mean, var, mu4) in (("Sheet1!B1", _triangular(2, 5, 11)),
                                    ("Sheet1!B2", _pert(2, 5, 11))):
        s = result.outputs[label]
        assert_mean(s, mean, math.sqrt(var))
        assert_variance(s, var, mu4)
        assert s["min"] >= 2 and s["max"] <= 11


@pytest.mark.parametrize("declare", ["risk", "caller"])
def test_truncation_applies_before_the_shift(make_xlsx, sampling, declare):
    if declare == "risk":
        cells = {"A1": "=RiskNormal(0,1,RiskTruncate(-1,2),RiskShift(10))"}
        inputs = None
    else:
        cells = {"A1": 0}
        inputs = {"Sheet1!A1": "normal(0, 1, truncate=(-1, 2), shift=10)"}
    model = compile_model(make_xlsx, {**cells, "B1": "=A1*1"}, inputs, ["Sheet1!B1"])
    s = run(model, sampling).outputs["Sheet1!B1"]
    dist = stats.truncnorm(-1, 2, loc=10)
    mean, var, _, excess = (float(x) for x in dist.stats("mvsk"))
    assert_mean(s, mean, math.sqrt(var))
    assert_variance(s, var, (3 + excess) * var * var)
    assert_percentile(s, 50, dist)
    assert 9 <= s["min"] < 9.01 and 11.99 < s["max"] <= 12


# --------------------------------------------------------------------------------------------
# Latin hypercube.

def test_latin_hypercube_error_of_the_mean_is_far_below_monte_carlo(make_xlsx):
    """A1*A2 + EXP(A3/4): Latin hypercube removes the main effects' variance, leaving only the
    interaction (A1-10)(A2-10), of variance 1, against a total variance above 200."""
    model = compile_model(make_xlsx, {
        "A1": "=RiskNormal(10,1)", "A2": "=RiskNormal(10,1)", "A3": "=RiskUniform(0,4)",
        "B1": "=A1*A2+EXP(A3/4)"}, outputs=["Sheet1!B1"])
    exp_mean = math.e - 1  # E exp(U/4) for U uniform on (0, 4)
    exp_var = 2 * (math.e ** 2 - 1) / 4 - exp_mean ** 2
    true_mean = 100 + exp_mean
    mc_se = math.sqrt(201 + exp_var) / math.sqrt(N)
    lhs = run(model, "lhs").outputs["Sheet1!B1"]
    lhs_tol = Z * math.sqrt(1.0 / N)  # five standard errors of the interaction term alone
    assert lhs_tol < 0.4 * mc_se
    assert abs(lhs["mean"] - true_mean) < lhs_tol
    mc = run(model, "mc").outputs["Sheet1!B1"]
    assert abs(mc["mean"] - true_mean) < Z * mc_se


def test_latin_hypercube_puts_one_sample_in_each_stratum(make_xlsx):
    model = compile_model(make_xlsx, {"A1": "=RAND()", "B1": "=A1"}, outputs=["Sheet1!B1"])
    n = 1000
    u = run(model, "lhs", n=n).input_samples[0]
    assert np.array_equal(np.sort(np.floor(u * n)), np.arange(n))


# --------------------------------------------------------------------------------------------
# Correlation.

def _spearman_tol(rho: float, n: int) -> float:
    """Five standard errors of a Spearman coefficient near ``rho``, through Fisher's z
    (variance about 1.06 / (n - 3) for Spearman), mapped back to the coefficient's scale."""
    return Z * math.sqrt(1.06 / (n - 3)) * (1 - rho * rho)


@pytest.mark.parametrize("rho", [0.8, -0.5])
def test_rank_correlation_between_two_inputs(make_xlsx, sampling, rho):
    model = compile_model(make_xlsx, {"A1": "=RiskNormal(0,1)", "A2": "=RiskTriang(0,1,5)",
                                      "A3": "=RiskUniform(0,1)", "B1": "=A1+A2+A3"},
                          outputs=["Sheet1!B1"])
    pairs = {("Sheet1!A1", "Sheet1!A2"): rho}
    result = run(model, sampling, correlations=pairs)
    x = {site.label: result.input_samples[j] for j, site in enumerate(model.inputs)}
    achieved = stats.spearmanr(x["Sheet1!A1"], x["Sheet1!A2"]).statistic
    assert abs(achieved - rho) < _spearman_tol(rho, N)
    untouched = stats.spearmanr(x["Sheet1!A1"], x["Sheet1!A3"]).statistic
    assert abs(untouched) < _spearman_tol(0.0, N)
    # Reordering keeps each input's distribution: the marginal samples are the same set.
    plain = run(model, sampling)
    assert np.array_equal(np.sort(plain.input_samples, axis=1),
                          np.sort(result.input_samples, axis=1))


def test_risk_corrmat_in_the_workbook(make_xlsx):
    model = compile_model(make_xlsx, {
        "E1": 1, "F1": 0.6, "E2": 0.6, "F2": 1,
        "A1": "=RiskNormal(0,1,RiskCorrmat(E1:F2,1))",
        "A2": "=RiskUniform(0,1,RiskCorrmat(E1:F2,2))", "B1": "=A1+A2"}, outputs=["Sheet1!B1"])
    result = run(model)
    achieved = stats.spearmanr(result.input_samples[0], result.input_samples[1]).statistic
    assert abs(achieved - 0.6) < _spearman_tol(0.6, N)


# --------------------------------------------------------------------------------------------
# Determinism.

DETERMINISM_CELLS = {"A1": "=RiskNormal(5,1)", "A2": "=RiskPert(0,1,4)", "A3": "=RAND()",
                     "B1": "=A1*A2+A3", "B2": "=IF(A3>0.5,A1,A2)"}


def test_same_seed_same_numbers_and_a_new_seed_new_numbers(make_xlsx, sampling):
    model = compile_model(make_xlsx, DETERMINISM_CELLS, outputs=["Sheet1!B1", "Sheet1!B2"])
    first, again = run(model, sampling, n=3000), run(model, sampling, n=3000)
    assert np.array_equal(first.input_samples, again.input_samples)
    assert np.array_equal(first.output_values, again.output_values)
    assert first.outputs == again.outputs
    other = run(model, sampling, n=3000, seed=12)
    assert not np.any(other.input_samples == first.input_samples)


def test_chunk_size_does_not_change_any_number(make_xlsx, sampling):
    model = compile_model(make_xlsx, DETERMINISM_CELLS, outputs=["Sheet1!B1", "Sheet1!B2"])
    whole = run(model, sampling, n=5000)
    for chunk in (777, 1024, 4999):
        pieces = run(model, sampling, n=5000, chunk=chunk)
        assert np.array_equal(whole.input_samples, pieces.input_samples), chunk
        assert np.array_equal(whole.output_values, pieces.output_values), chunk


def test_order_of_the_inputs_does_not_change_their_samples(make_xlsx, sampling):
    specs = {"Sheet1!A1": "normal(5, 1)", "Sheet1!A2": "pert(0, 1, 4)",
             "Sheet1!A3": "uniform(0, 1)", "Sheet1!A4": "intuniform(1, 6)"}
    cells = {"A1": 0, "A2": 0, "A3": 0, "A4": 0, "C1": "=RAND()", "B1": "=SUM(A1:A4)+C1"}
    path = make_xlsx(cells)

    def samples(inputs: dict[str, str]) -> dict[str, np.ndarray]:
        model = build_model(load_workbook(path), inputs, ["Sheet1!B1"])
        result = run(model, sampling, n=2000)
        return {site.label: result.input_samples[j] for j, site in enumerate(model.inputs)}

    forward = samples(specs)
    backward = samples(dict(reversed(specs.items())))
    assert forward.keys() == backward.keys() == set(specs) | {"Sheet1!C1"}
    for label in forward:
        assert np.array_equal(forward[label], backward[label]), label
    # Only the one input changes when its own distribution changes.
    changed = samples({**specs, "Sheet1!A2": "pert(0, 2, 4)"})
    assert not np.array_equal(changed["Sheet1!A2"], forward["Sheet1!A2"])
    for label in set(forward) - {"Sheet1!A2"}:
        assert np.array_equal(changed[label], forward[label]), label


# --------------------------------------------------------------------------------------------
# Per-iteration errors.

def test_division_by_a_sampled_zero_fails_only_in_those_iterations(make_xlsx, sampling):
    model = compile_model(make_xlsx, {
        "A1": "=RANDBETWEEN(0,3)", "B1": "=1/A1", "B2": "=IFERROR(1/A1,-1)",
        "B3": "=IF(A1=0,0,1/A1)", "B4": "=B1*2"},
        outputs=["Sheet1!B1", "Sheet1!B2", "Sheet1!B3", "Sheet1!B4"])
    n = 4000
    result = run(model, sampling, n=n)
    draws = result.input_samples[0]
    zero = draws == 0
    assert set(np.unique(draws)) == {0.0, 1.0, 2.0, 3.0}
    assert abs(zero.mean() - 0.25) < Z * math.sqrt(0.25 * 0.75 / n)
    safe = np.where(zero, 1.0, draws)
    out = {label: k for k, label in enumerate(model.outputs)}
    for label in ("Sheet1!B1", "Sheet1!B4"):  # the error flows on to the cells that read it
        k = out[label]
        assert result.outputs[label]["errors"] == int(zero.sum())
        assert result.outputs[label]["error_kinds"] == {"#DIV/0!": int(zero.sum())}
        assert np.array_equal(result.output_errors[k] != 0, zero)
        assert np.all(np.isnan(result.output_values[k][zero]))
    assert np.allclose(result.output_values[out["Sheet1!B1"]][~zero], 1 / draws[~zero])
    assert math.isclose(result.outputs["Sheet1!B1"]["mean"], float(np.mean(1 / draws[~zero])))
    k = out["Sheet1!B2"]  # IFERROR catches per iteration
    assert result.outputs["Sheet1!B2"]["errors"] == 0
    assert np.array_equal(result.output_values[k], np.where(zero, -1.0, 1 / safe))
    k = out["Sheet1!B3"]  # IF evaluates only the branch it picks
    assert result.outputs["Sheet1!B3"]["errors"] == 0
    assert np.array_equal(result.output_values[k], np.where(zero, 0.0, 1 / safe))


def test_square_root_of_a_negative_draw_is_num_error(make_xlsx):
    model = compile_model(make_xlsx, {"A1": "=RiskNormal(1,1)", "B1": "=SQRT(A1)",
                                      "B2": "=IFNA(SQRT(A1),-1)", "B3": "=IFERROR(SQRT(A1),-1)"},
                          outputs=["Sheet1!B1", "Sheet1!B2", "Sheet1!B3"])
    result = run(model, n=4000)
    negative = int((result.input_samples[0] < 0).sum())
    assert negative > 0
    assert result.outputs["Sheet1!B1"]["error_kinds"] == {"#NUM!": negative}
    assert result.outputs["Sheet1!B2"]["error_kinds"] == {"#NUM!": negative}  # IFNA: only #N/A
    assert result.outputs["Sheet1!B3"]["errors"] == 0
