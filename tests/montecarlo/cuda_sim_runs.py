"""Runs for tests/montecarlo/test_cuda.py in the CUDA simulator: CPU and GPU paths side by side.

Run as ``NUMBA_ENABLE_CUDASIM=1 python -m tests.montecarlo.cuda_sim_runs CASE``: the variable
must be set before Numba is first imported, which the pytest process has done already. Without
it the same cases run on a real GPU (benchmarks/gpu_session.sh), where CUDA_CASES_ITERATIONS
makes them larger than the simulator's 64 iterations. Prints
one JSON object: for each run, the largest relative difference between the backends' input
samples, output values and summary statistics, whether error codes agree, and what the GPU
path reported.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl

from engine.loader import load_workbook
from engine.montecarlo.model import SimulationModel, build_model
from engine.montecarlo.simulate import RunResult, RunSettings, simulate

N = int(os.environ.get("CUDA_CASES_ITERATIONS", "64"))

FAMILIES = {
    "A1": "normal(10, 2, truncate=(9, None))",
    "A2": "lognormal(5, 1)",
    "A3": "lognormal2(0.5, 0.3, shift=2)",
    "A4": "uniform(-1, 3)",
    "A5": "triangular(1, 2, 5)",
    "A6": "pert(1, 2, 5, truncate=(1.5, None), shift=10)",
    "A7": "beta(2, 3)",
    "A8": "beta_general(0.5, 0.7, 2, 4)",
    "A9": "gamma(2, 1.5)",
    "A10": "gamma(2, 1, truncate=(0, 0.01))",  # every sample in the table's exact tail
    "A11": "weibull(1.5, 2)",
    "A12": "exponential(3)",
    "A13": "logistic(1, 0.5)",
    "A14": "student_t(4)",
    "A15": "poisson(3.5)",
    "A16": "binomial(10, 0.3, truncate=(2, 8))",
    "A17": "bernoulli(0.4)",
    "A18": "discrete({1, 5, 9}, {0.2, 0.5, 0.3})",
    "A19": "duniform({2, 4, 8, 16})",
    "A20": "intuniform(-3, 7)",
    "A21": "cumul(0, 10, {2, 5, 6}, {0.1, 0.1, 0.8})",
    "A22": "histogram(0, 4, {0.1, 0.4, 0.5})",
    "A23": "trigen(1, 2, 5, 10, 90)",
    "A24": "normal(3, 0)",  # a point
}


def _model(cells: dict[str, Any], inputs: dict[str, str], outputs: list[str],
            folder: Path) -> SimulationModel:
    wb = openpyxl.Workbook()
    wb.active.title = "Sheet1"
    for key, value in cells.items():
        wb.active[key] = value
    path = folder / "book.xlsx"
    wb.save(path)
    return build_model(load_workbook(path),
                       {f"Sheet1!{k}": v for k, v in inputs.items()} or None,
                       [f"Sheet1!{c}" for c in outputs])


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    """Largest relative difference, NaN where both are NaN counting as equal."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    same_nan = np.isnan(a) & np.isnan(b)
    if (np.isnan(a) != np.isnan(b)).any():
        return float("inf")
    diff = np.abs(a - b)[~same_nan]
    scale = np.maximum(np.abs(a), np.abs(b))[~same_nan]
    return float(np.max(diff / np.maximum(scale, 1e-300), initial=0.0))


def _stats_rel(cpu: RunResult, gpu: RunResult) -> float:
    worst = 0.0
    for label, s in cpu.outputs.items():
        t = gpu.outputs[label]
        keys = [k for k in ("mean", "std", "min", "max") if k in s]
        worst = max(worst, _rel([s[k] for k in keys], [t[k] for k in keys]),
                    _rel(list(s["percentiles"].values()), list(t["percentiles"].values())))
    return worst


def compare(model: SimulationModel, **settings: Any) -> dict[str, Any]:
    cpu = simulate(model, RunSettings(device="cpu", **settings))
    gpu = simulate(model, RunSettings(device="cuda", **settings))
    return {"samples": _rel(cpu.input_samples, gpu.input_samples),
            "outputs": _rel(cpu.output_values, gpu.output_values),
            "stats": _stats_rel(cpu, gpu),
            "errors_equal": bool((cpu.output_errors == gpu.output_errors).all()),
            "error_count": int((gpu.output_errors != 0).sum()),
            "nan_samples": int(np.isnan(gpu.input_samples).sum()),
            "device": gpu.device, "warnings": gpu.warnings}


def families(folder: Path) -> dict[str, Any]:
    cells = {k: 0 for k in FAMILIES} | {"B1": "=SUM(A1:A24)", "B2": "=A5*A15-A20"}
    model = _model(cells, FAMILIES, ["B1", "B2"], folder)
    out = {s: compare(model, iterations=N, seed=7, sampling=s) for s in ("mc", "lhs")}
    out["device_tail_nans"] = _device_tail_nans(model)
    return out


def _device_tail_nans(model: SimulationModel) -> dict[str, int]:
    """Samples per input that the device left to the host's exact tail quantiles."""
    from numba import cuda

    from engine.montecarlo.cuda_sampling import DeviceSampler

    sampler = DeviceSampler([s.distribution for s in model.inputs],
                            [s.stream for s in model.inputs], 7, "mc", N)
    out = cuda.device_array((len(model.inputs), N))
    sampler.sample(0, out, (1, 32))
    nans = np.isnan(out.copy_to_host()).sum(axis=1)
    return {s.label: int(k) for s, k in zip(model.inputs, nans, strict=True) if k}


def correlated(folder: Path) -> dict[str, Any]:
    cells = {"A1": 0, "A2": 0, "A3": 0, "B1": "=A1+2*A2-A3"}
    inputs = {"A1": "normal(0, 1)", "A2": "pert(0, 1, 4)", "A3": "poisson(2)"}
    model = _model(cells, inputs, ["B1"], folder)
    corr = {("Sheet1!A1", "Sheet1!A2"): 0.8, ("Sheet1!A2", "Sheet1!A3"): -0.5}
    return {s: compare(model, iterations=2 * N, seed=3, sampling=s, correlations=corr)
            for s in ("mc", "lhs")}


def errors(folder: Path) -> dict[str, Any]:
    """#DIV/0! in some iterations only, caught by IFERROR there; IF, lookups, CHOOSE, MOD."""
    cells = {"A1": 0, "A2": 0, "D1": 0, "E1": "zero", "D2": 1, "E2": 10, "D3": 2, "E3": 20,
             "B1": "=1/A1", "B2": "=IFERROR(1/A1, -1)", "B3": "=IF(A1>1, A2*2, A2-5)",
             "B4": "=VLOOKUP(A1, D1:E3, 2, FALSE)", "B5": "=CHOOSE(A1+1, A2, 2*A2, 3*A2)",
             "B6": "=INDEX(E1:E3, A1+1)+MATCH(A1, D1:D3, 0)", "B7": "=MOD(A2, A1)",
             "B8": "=SQRT(A2-1)+LN(A2)", "B9": "=ROUND(A2*100, 1)+MAX(A1, A2)^2"}
    inputs = {"A1": "discrete({0, 1, 2}, {0.3, 0.3, 0.4})", "A2": "uniform(0, 3)"}
    model = _model(cells, inputs, [f"B{k}" for k in range(1, 10)], folder)
    return {"mc": compare(model, iterations=N, seed=5)}


def cashflow_cells() -> dict[str, Any]:
    return {"A1": 0, "A2": 0, "C1": "=-A1", "D1": "=A2", "E1": "=A2*1.1", "F1": "=A2*1.2",
            "G1": "=A2*0.9-A1/4", "B1": "=IRR(C1:G1)", "B2": "=NPV(0.08, D1:G1)+C1",
            "B3": "=PMT(0.05/12, 60, A1)", "B4": "=IRR(C1:G1, -0.5)"}


CASHFLOW_INPUTS = {"A1": "normal(100, 15)", "A2": "triangular(0, 25, 45)"}


def cashflows(folder: Path) -> dict[str, Any]:
    model = _model(cashflow_cells(), CASHFLOW_INPUTS, ["B1", "B2", "B3", "B4"], folder)
    return {"mc": compare(model, iterations=N, seed=9)}


def batches(folder: Path) -> dict[str, Any]:
    """A memory cap that forces one chunk through several batches, against the CPU."""
    from engine.montecarlo.cuda_vm import CudaRunner, plan

    model = _model(cashflow_cells(), CASHFLOW_INPUTS, ["B1", "B2", "B3", "B4"], folder)
    settings = RunSettings(iterations=N, seed=9)
    cpu = simulate(model, settings)
    p = model.program
    limit = 64
    while True:  # the smallest memory that holds a quarter of the run
        try:
            if plan(limit, p.n_regs, p.arglist.size, 2, 4, 32)[1] >= N // 4:
                break
        except ValueError:
            pass
        limit += 64
    runner = CudaRunner(model, settings, memory_limit=limit)
    samples, vals = np.empty((2, N)), np.empty((4, N))
    errs = np.empty((4, N), dtype=np.uint8)
    runner.run(0, N, lambda s: False, samples, vals, errs)
    vals[errs != 0] = np.nan
    return {"batch": runner.batch, "slots": runner.slots,
            "samples": _rel(cpu.input_samples, samples), "outputs": _rel(cpu.output_values, vals),
            "errors_equal": bool((cpu.output_errors == errs).all())}


def project(folder: Path) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import project_model

    path = project_model.write_workbook(folder / "project.xlsx")
    model = build_model(load_workbook(path), None, None)
    return {"mc": compare(model, iterations=N // 2, seed=1)}


def fallback(folder: Path) -> dict[str, Any]:
    model = _model({"A1": 0, "B1": '=LEN(TEXT(A1, "0.00"))'}, {"A1": "uniform(0, 100)"},
                   ["B1"], folder)
    return {"mc": compare(model, iterations=8, seed=1)}


CASES = {f.__name__: f for f in (families, correlated, errors, cashflows, batches, project,
                                  fallback)}


def main(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = {}
        for name in names:
            folder = Path(tmp) / name
            folder.mkdir()
            out[name] = CASES[name](folder)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:] or list(CASES))
