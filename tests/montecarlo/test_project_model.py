"""The benchmark's two versions of the project model must be the same model.

benchmarks/mc_speed.py compares the engine running the generated workbook with a hand-written
NumPy version; the comparison only means something if both compute the same thing. So: at the
inputs' static values (their means, what @RISK shows outside a simulation) the workbook's cells
equal the NumPy model's, and a short simulation's means match the NumPy Monte Carlo's within
standard errors.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from engine.api import evaluate_workbook
from engine.loader import load_workbook
from engine.montecarlo.model import build_model
from engine.montecarlo.simulate import RunSettings, simulate

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "project_model.py"
_SPEC = importlib.util.spec_from_file_location("project_model", _PATH)
pm = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(pm)

ENGINE_ITERATIONS = 20_000
NUMPY_ITERATIONS = 200_000


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    return pm.write_workbook(tmp_path_factory.mktemp("project") / "model.xlsx")


def test_workbook_is_the_size_the_issue_describes(book):
    assert 230 <= pm.formula_count(book) <= 260


def test_workbook_equals_numpy_model_at_static_values(book):
    results, warnings = evaluate_workbook(load_workbook(book))
    assert warnings == []
    static = {k: np.array([v]) for k, v in pm.static_values().items()}
    for key, cell in pm.INPUT_CELLS.items():
        assert results[cell] == pytest.approx(static[key][0], rel=1e-12)
    expected = pm.numpy_model(static)
    fcf = [results[f"CashFlow!{col}18"] for col in pm.COLS]
    np.testing.assert_allclose(fcf, expected["free_cash_flow"][:, 0], rtol=1e-12, atol=1e-9)
    for name in pm.OUTPUTS:
        assert results[pm.OUTPUT_CELLS[name]] == pytest.approx(expected[name][0], rel=1e-12)
    # the cumulative discounted cash row reaches Excel's NPV: both discount the same way
    assert results["Summary!B6"] == pytest.approx(results["Summary!B2"], rel=1e-12)
    # the tax-loss carry-forward is exercised (a loss in year 1 lowers year 2's tax), so the
    # MAX/IF paths both run
    assert results["CashFlow!C12"] > 0
    assert results["CashFlow!D13"] < results["CashFlow!D9"] * pm.C["Tax rate"]


def test_simulation_means_match_numpy_monte_carlo(book):
    model = build_model(load_workbook(book))
    assert sorted(model.output_names.values()) == sorted(pm.OUTPUTS)
    result = simulate(model, RunSettings(iterations=ENGINE_ITERATIONS, seed=7))
    reference = pm.numpy_model(pm.sample_inputs(NUMPY_ITERATIONS, np.random.default_rng(7)))
    for name in pm.OUTPUTS:
        stats = result.outputs[pm.OUTPUT_CELLS[name]]
        assert stats["errors"] == 0
        ref = reference[name]
        se = math.hypot(stats["sem"], ref.std(ddof=1) / math.sqrt(ref.size))
        assert abs(stats["mean"] - ref.mean()) < 5 * se, name
        # and the spread, within 5 standard errors of the sd: Var(s) ~ sd^2 (kurtosis - 1) / 4n
        kurt = float(np.mean((ref - ref.mean()) ** 4) / ref.var() ** 2)
        sd_se = math.sqrt((kurt - 1) / 4) * math.hypot(stats["std"] / math.sqrt(ENGINE_ITERATIONS),
                                                       ref.std(ddof=1) / math.sqrt(ref.size))
        assert abs(stats["std"] - ref.std(ddof=1)) < 5 * sd_se, name
