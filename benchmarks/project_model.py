"""A 10-year project cash-flow model, as a workbook and as hand-written vectorised NumPy.

The Monte Carlo benchmark (mc_speed.py, mc_memory.py) runs the workbook through the engine and
compares it with what a good engineer would write by hand in NumPy for the same model, so both
versions are reachable here, side by side, and tests/montecarlo/test_project_model.py checks that
they agree. The workbook is the app's demo (services/demo.py, re-exported here so the benchmark
and its test read one definition): five uncertain inputs declared with @RISK functions on the
Assumptions sheet, one CashFlow column per year (0..10), NPV (Excel's NPV) and the peak funding
need (MIN of cumulative cash) marked with RiskOutput on the Summary sheet.

Usage (the NumPy side of the benchmark, run as its own process so start-up counts):
    python benchmarks/project_model.py numpy --iterations 1000000 [--seed 1]
    python benchmarks/project_model.py write model.xlsx [--plain]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: find services

from services.demo import (  # noqa: E402  (the workbook side lives with the app's demo)
    CAPEX_PHASING,
    COLS,
    CONSTANTS,
    INPUT_CELLS,
    INPUTS,
    OUTPUT_CELLS,
    OUTPUTS,
    RAMP,
    YEARS,
    static_values,
    write_workbook,
)

__all__ = ["COLS", "INPUT_CELLS", "OUTPUT_CELLS", "OUTPUTS", "formula_count", "numpy_model",
           "run_numpy", "sample_inputs", "static_values", "write_workbook"]

C = {label: value for label, _, value in CONSTANTS}


def sample_inputs(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The five inputs drawn with NumPy's Generator, in the same conventions as @RISK's."""
    p = {key: params for key, _, _, _, params in INPUTS}
    lo, mode, hi = p["peak_volume"]
    mean, sd = p["discount_spread"]
    sigma = math.sqrt(math.log1p((sd / mean) ** 2))
    return {
        "capex": rng.triangular(*p["capex"], n),
        "price_growth": rng.normal(*p["price_growth"], n),
        "peak_volume": lo + (hi - lo) * rng.beta(1 + 4 * (mode - lo) / (hi - lo),
                                                 1 + 4 * (hi - mode) / (hi - lo), n),
        "opex_ratio": rng.uniform(*p["opex_ratio"], n),
        "discount_spread": rng.lognormal(math.log(mean) - sigma ** 2 / 2, sigma, n),
    }


def numpy_model(samples: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The workbook's outputs for every sample at once; arrays are (year, iteration) so the
    tax-loss recursion walks contiguous rows. Also returns the free cash flows for checks."""
    capex = samples["capex"]
    years = np.arange(YEARS, dtype=float)[:, None]
    price = C["Initial price ($m per k units)"] * (1 + samples["price_growth"]) ** years
    revenue = price * (samples["peak_volume"] * np.array(RAMP)[:, None])
    fixed = np.where(years == 0, 0.0, C["Fixed costs, year 1 ($m)"]
                     * (1 + C["Fixed cost inflation"]) ** (years - 1))
    ebitda = revenue * (1 - samples["opex_ratio"]) - fixed
    salvage = capex * C["Salvage value, share of capex"]
    life = C["Depreciation life (years)"]
    in_life = (years >= 1) & (years <= life)
    ebit = ebitda - np.where(in_life, (capex - salvage) / life, 0.0)
    tax = np.empty_like(ebit)
    losses = np.zeros_like(capex)
    for t in range(YEARS):
        tax[t] = np.maximum(0.0, ebit[t] - losses) * C["Tax rate"]
        losses = np.maximum(0.0, losses - ebit[t])
    wc = revenue * C["Working capital, share of revenue"]
    wc[-1] = 0.0
    fcf = ebitda - tax - np.diff(wc, axis=0, prepend=0.0) - capex * np.array(CAPEX_PHASING)[:, None]
    fcf[-1] += salvage
    rate = C["Base discount rate"] + samples["discount_spread"]
    npv = (fcf / (1 + rate) ** years).sum(axis=0)
    peak = -np.cumsum(fcf, axis=0).min(axis=0)
    return {"NPV": npv, "Peak funding": peak, "free_cash_flow": fcf}


def formula_count(path: str | Path) -> int:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    return sum(1 for ws in wb for row in ws.iter_rows() for c in row
               if type(c.value) is str and c.value.startswith("="))


def run_numpy(iterations: int, seed: int, chunk: int = 0) -> dict:
    """The hand-written benchmark: sample, run the model, summarise, as a user's script would.

    ``chunk`` > 0 runs the iterations in slices of that size, which keeps the temporaries in
    reused memory instead of faulting in fresh pages (a stronger baseline than whole arrays).
    """
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    step = chunk or iterations
    values = {name: np.empty(iterations) for name in OUTPUTS}
    for start in range(0, iterations, step):
        out = numpy_model(sample_inputs(min(step, iterations - start), rng))
        for name in OUTPUTS:
            values[name][start:start + step] = out[name]
    stats = {}
    for name in OUTPUTS:
        v = values[name]
        p5, p50, p95 = np.percentile(v, [5, 50, 95])
        stats[name] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)), "p5": float(p5),
                       "p50": float(p50), "p95": float(p95)}
    return {"iterations": iterations, "chunk": chunk, "outputs": stats,
            "compute_seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    np_cmd = sub.add_parser("numpy", help="run the hand-written NumPy Monte Carlo")
    np_cmd.add_argument("--iterations", type=int, default=1_000_000)
    np_cmd.add_argument("--seed", type=int, default=1)
    np_cmd.add_argument("--chunk", type=int, default=0, help="iterations per slice (0: all)")
    write = sub.add_parser("write", help="write the workbook")
    write.add_argument("path")
    write.add_argument("--plain", action="store_true", help="no @RISK functions")
    args = ap.parse_args(argv)
    if args.command == "numpy":
        json.dump(run_numpy(args.iterations, args.seed, args.chunk), sys.stdout)
        sys.stdout.write("\n")
    else:
        print(write_workbook(args.path, args.plain))
    return 0


if __name__ == "__main__":
    sys.exit(main())
