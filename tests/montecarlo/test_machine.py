"""The machine's building blocks: radix argsort, register allocation, the stop rule."""

from __future__ import annotations

import numpy as np
import pytest

from engine.loader import load_workbook
from engine.montecarlo import opcodes as op
from engine.montecarlo.model import build_model
from engine.montecarlo.program import ProgramBuilder
from engine.montecarlo.simulate import RunSettings, simulate
from engine.montecarlo.sorting import argsort


@pytest.mark.parametrize("values", [
    np.random.default_rng(3).normal(size=100_003),
    np.array([3.0, -1.0, 0.0, 2.5, -7.0, 3.0, 1e300, -1e-300, 5e-324, -np.inf, np.inf]),
    np.repeat(np.array([2.0, -1.0, 0.5]), 1000),   # heavy ties: the sort must be stable
    np.array([42.0]),
    np.array([], dtype=np.float64),
])
def test_radix_argsort_equals_a_stable_comparison_sort(values):
    assert np.array_equal(argsort(values), np.argsort(values, kind="stable"))


def test_register_allocation_reuses_registers_of_a_long_chain():
    b = ProgramBuilder()
    x = b.emit(op.INPUT, 0)
    acc = x
    for _ in range(500):  # acc = acc * x + 1, five hundred times
        acc = b.emit(op.ADD, b.emit(op.MUL, acc, x), b.const(1.0))
    program = b.build([acc], n_inputs=1)
    assert program.n_regs <= 4  # input, constant, two temporaries: not 1,000 live arrays
    from engine.montecarlo.vm import run_blocks
    inputs = np.array([[0.5, 2.0, -1.0]])
    vals = np.empty((1, 3))
    errs = np.empty((1, 3), dtype=np.uint8)
    run_blocks(program.code, program.arglist, program.consts, program.const_errs,
               program.tables, program.table_errs, program.table_meta, inputs,
               program.n_regs, program.outputs, vals, errs, 2)
    expected = []
    for v in inputs[0]:
        a = v
        for _ in range(500):
            a = a * v + 1
        expected.append(a)
    assert np.allclose(vals[0], expected) and not errs.any()


def test_stop_rule_ends_the_run_once_outputs_have_converged(make_xlsx):
    path = make_xlsx({"A1": "=RiskNormal(100,10)", "A2": "=RiskOutput()+A1*2"})
    model = build_model(load_workbook(path))
    result = simulate(model, RunSettings(iterations=2_000_000, seed=3, stop_tolerance=0.01))
    assert 10_000 <= result.iterations < 2_000_000
    assert any("converged after" in w for w in result.warnings)
    assert result.outputs["Sheet1!A2"]["mean"] == pytest.approx(200, rel=0.01)
    full = simulate(model, RunSettings(iterations=50_000, seed=3))
    assert full.iterations == 50_000
