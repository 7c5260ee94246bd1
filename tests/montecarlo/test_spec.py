"""The textual distribution form (parse/describe), the registry, and @RISK's functions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.montecarlo import distributions as D
from engine.montecarlo.spec import REGISTRY, describe, from_risk, help_text, parse

U = np.random.default_rng(11).random(1000)


@pytest.mark.parametrize("text, family, args, truncate, shift", [
    ("normal(100,10)", D.Normal, (100, 10), None, 0),
    ("lognormal(50, 5)", D.LogNormal, (50, 5), None, 0),
    ("discrete({1,2,3},{0.2,0.5,0.3})", D.Discrete, ((1, 2, 3), (0.2, 0.5, 0.3)), None, 0),
    ("discrete([1,2,3],[0.2,0.5,0.3])", D.Discrete, ((1, 2, 3), (0.2, 0.5, 0.3)), None, 0),
    ("pert(1,2,5, truncate=(1.5,None), shift=10)", D.Pert, (1, 2, 5), (1.5, None), 10),
    ("pert(1,2,5, truncate=(,4))", D.Pert, (1, 2, 5), (None, 4), 0),
    ("pert(1,2,5, truncate=(1.5,))", D.Pert, (1, 2, 5), (1.5, None), 0),
    ("  Normal ( -1.5e2 , .5 , shift = -3 )  ", D.Normal, (-150, 0.5), None, -3),
    ("gamma(2,3,truncate=(none,4))", D.Gamma, (2, 3), (None, 4), 0),
])
def test_parse(text, family, args, truncate, shift):
    dist = parse(text, "Sheet1!B2")
    assert type(dist) is family
    assert dist.args == args and dist.truncate == truncate and dist.shift == shift
    assert dist.label == "Sheet1!B2"


# One example per family: the round trip below covers every registered distribution.
EXAMPLES = {
    "normal": "normal(100, 10)",
    "lognormal": "lognormal(50, 5)",
    "lognormal2": "lognormal2(1, 0.5, shift=-2)",
    "uniform": "uniform(-1, 3)",
    "triangular": "triangular(1, 2, 5, truncate=(1.5, 4.5))",
    "pert": "pert(1, 2, 5, truncate=(1.5, None), shift=10)",
    "beta": "beta(2, 3)",
    "beta_general": "beta_general(2, 3, 10, 20)",
    "gamma": "gamma(2, 3, truncate=(None, 4))",
    "weibull": "weibull(1.5, 2)",
    "exponential": "exponential(4)",
    "logistic": "logistic(1, 2)",
    "student_t": "student_t(10)",
    "poisson": "poisson(3.5)",
    "binomial": "binomial(10, 0.3)",
    "bernoulli": "bernoulli(0.3)",
    "discrete": "discrete({1,2,3}, {0.2,0.5,0.3})",
    "duniform": "duniform({1,5,7})",
    "intuniform": "intuniform(1, 6)",
    "cumul": "cumul(0, 10, {1,5,9}, {0.1,0.7,0.9})",
    "histogram": "histogram(10, 20, {0.1,0.2,0.4,0.2,0.1})",
    "trigen": "trigen(100, 200, 300, 10, 90)",
}


def test_examples_cover_the_registry():
    assert set(EXAMPLES) == set(REGISTRY)


@pytest.mark.parametrize("text", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_describe_round_trips(text):
    dist = parse(text)
    assert describe(dist) == text
    again = parse(describe(dist))
    np.testing.assert_array_equal(again.sample(U), dist.sample(U))


def test_describe_keeps_every_digit():
    dist = D.Normal(0.1 + 0.2, 1 / 3, shift=1e-20, truncate=(-1e300, None))
    again = parse(describe(dist))
    assert again.args == dist.args and again.shift == dist.shift
    assert again.truncate == dist.truncate


def test_describe_is_canonical_for_equivalent_texts():
    assert describe(parse("NORMAL( 100.0 ,1e1 )")) == "normal(100, 10)"
    assert describe(parse("discrete([1,2],[0.5,0.5], truncate=(,), shift=0)")) == \
        "discrete({1,2}, {0.5,0.5})"


@pytest.mark.parametrize("text, message", [
    ("foo(1,2)", "unknown distribution 'foo'"),
    ("normal(100,10", "expected ','"),
    ("normal(100 10)", "expected ','"),
    ("normal(100,10) x", "unexpected 'x' after the closing parenthesis"),
    ("normal(100,10,scale=2)", "unknown option scale"),
    ("normal(shift=1, 100, 10)", "a parameter follows a keyword"),
    ("normal(100, 10, shift=1, shift=2)", "shift given twice"),
    ("normal(100; 10)", "unexpected character ';'"),
    ("normal(100)", "takes 2 parameters, got 1"),
    ("normal(100, -10)", "sd must be >= 0"),
    ("discrete({1,2},{0.5,0.6})", "probabilities must sum to 1"),
    ("discrete(1, 2)", "values must be a list"),
    ("pert(1, 2, 5, truncate=4)", "expected '('"),
])
def test_parse_errors_name_the_input(text, message):
    with pytest.raises(ValueError) as info:
        parse(text, "'Data Sheet'!C3")
    assert str(info.value).startswith("'Data Sheet'!C3: ")
    assert message in str(info.value)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="known: normal, lognormal, lognormal2"):
        parse("norm(0, 1)")


def test_registry_and_help_state_the_conventions():
    assert REGISTRY["lognormal"].signature == "lognormal(mean, sd)"
    assert "variable itself" in REGISTRY["lognormal"].convention
    assert "log" in REGISTRY["lognormal2"].convention
    assert REGISTRY["gamma"].signature == "gamma(shape, scale)"
    assert REGISTRY["cumul"].signature == "cumul(min, max, xs, cumulative_ps)"
    text = help_text()
    for info in REGISTRY.values():
        assert f"{info.signature}: {info.convention}" in text
    assert "truncate=(lo, hi)" in text and "shift=x" in text


RISK_FUNCTIONS = ["RiskNormal", "RiskLognorm", "RiskLognorm2", "RiskUniform", "RiskTriang",
                  "RiskPert", "RiskBeta", "RiskBetaGeneral", "RiskGamma", "RiskWeibull",
                  "RiskExpon", "RiskPoisson", "RiskBinomial", "RiskDiscrete", "RiskDUniform",
                  "RiskIntUniform", "RiskCumul", "RiskHistogrm", "RiskTrigen"]


@pytest.mark.parametrize("function, args, family, mean", [
    ("RiskNormal", (100, 10), D.Normal, 100),
    ("RiskLognorm", (50, 5), D.LogNormal, 50),
    ("RiskLognorm2", (1, 0.5), D.LogNormal2, math.exp(1.125)),
    ("RiskUniform", (1, 3), D.Uniform, 2),
    ("RiskTriang", (1, 2, 6), D.Triangular, 3),
    ("RiskPert", (1, 2, 5), D.Pert, 14 / 6),
    ("RiskBeta", (2, 3), D.Beta, 0.4),
    ("RiskBetaGeneral", (2, 3, 10, 20), D.BetaGeneral, 14),
    ("RiskGamma", (2.5, 2), D.Gamma, 5),
    ("RiskWeibull", (3, 20), D.Weibull, 20 * math.gamma(4 / 3)),
    ("RiskExpon", (4,), D.Exponential, 4),
    ("RiskPoisson", (3.5,), D.Poisson, 3.5),
    ("RiskBinomial", (10, 0.3), D.Binomial, 3),
    ("RiskDiscrete", ((0, 5), (1, 1)), D.Discrete, 2.5),
    ("RiskDUniform", ((1, 5, 9),), D.DUniform, 5),
    ("RiskIntUniform", (1, 6), D.IntUniform, 3.5),
    ("RiskCumul", (0, 10, (1, 5, 9), (0.1, 0.7, 0.9)), D.Cumul, 4.2),
    ("RiskHistogrm", (10, 20, (1, 2, 3, 2, 1)), D.Histogram, 15),
    ("RiskTrigen", (100, 200, 300, 10, 90), D.Trigen, 200),
    ("RiskLogistic", (1, 2), D.Logistic, 1),
    ("RiskStudent", (5,), D.StudentT, 0),
    ("RiskBernoulli", (0.25,), D.Bernoulli, 0.25),
])
def test_from_risk_argument_order(function, args, family, mean):
    dist = from_risk(function, args, label="Sheet1!B2")
    assert type(dist) is family and dist.label == "Sheet1!B2"
    assert dist.mean == pytest.approx(mean)


def test_from_risk_supports_every_function_of_the_issue():
    for function in RISK_FUNCTIONS:
        family = type(from_risk(function, _risk_args(function)))
        assert family in D.FAMILIES


def _risk_args(function: str) -> tuple:
    return {"RiskDiscrete": ((1, 2), (1, 3)), "RiskDUniform": ((1, 2),),
            "RiskCumul": (0, 10, (5,), (0.5,)), "RiskHistogrm": (0, 1, (1, 1)),
            "RiskTrigen": (1, 2, 3, 10, 90), "RiskBetaGeneral": (2, 2, 0, 1),
            "RiskExpon": (1,), "RiskPoisson": (1,), "RiskBinomial": (3, 0.5),
            "RiskTriang": (1, 2, 3), "RiskPert": (1, 2, 3)}.get(function, (1, 2))


def test_from_risk_normalizes_weights_as_risk_does():
    assert from_risk("RiskDiscrete", ((0, 5), (1, 1))).args[1] == (0.5, 0.5)
    hist = from_risk("RiskHistogrm", (10, 20, (1, 2, 3, 2, 1)))
    assert hist.args[2] == pytest.approx((1 / 9, 2 / 9, 3 / 9, 2 / 9, 1 / 9))


def test_from_risk_trigen_percentiles_are_percents():
    dist = from_risk("RiskTrigen", (100, 200, 300, 10, 90))
    np.testing.assert_allclose(dist.cdf([100, 300]), [0.1, 0.9], atol=1e-12)


def test_from_risk_truncates_before_shifting():
    # @RISK's own example: RiskGamma(2,10) truncated at 5 with a shift of 3 has its minimum at 8.
    dist = from_risk("RiskGamma", (2, 10), {"RiskTruncate": (5, None), "RiskShift": 3})
    assert dist.truncate == (5, None) and dist.shift == 3
    assert dist.sample(U).min() >= 8
    after = from_risk("RiskGamma", (2, 10), {"RiskTruncate2": (5, None), "RiskShift": 3})
    assert after.truncate == (2, None)
    assert after.sample(U).min() >= 5


def test_from_risk_names_and_neutral_properties():
    dist = from_risk("_xll.risknormal", (0, 1), {"RiskName": "Sales", "static": 0})
    assert type(dist) is D.Normal and dist.truncate is None and dist.shift == 0


@pytest.mark.parametrize("function, args, properties, message", [
    ("RiskFoo", (1,), None, "@RISK function RiskFoo is not supported"),
    ("RiskNormal", (1,), None, "RiskNormal(mean, sd) takes 2 arguments, got 1"),
    ("RiskNormal", (0, -1), None, "sd must be >= 0"),
    ("RiskNormal", (0, 1), {"RiskTruncateP": (0.1, 0.9)}, "RiskTruncatep is not supported"),
    ("RiskNormal", (0, 1), {"RiskTruncate": (1, None), "RiskTruncate2": (1, None)},
     "cannot both be given"),
    ("RiskDiscrete", ((1, 2), (1, -1)), None, "probabilities must"),
])
def test_from_risk_errors_name_the_input(function, args, properties, message):
    with pytest.raises(ValueError) as info:
        from_risk(function, args, properties, label="Model!D4")
    assert str(info.value).startswith("Model!D4: ")
    assert message in str(info.value)
