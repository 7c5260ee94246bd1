"""A 10-year project cash-flow model, as a workbook and as hand-written vectorised NumPy.

The Monte Carlo benchmark (mc_speed.py, mc_memory.py) runs the workbook through the engine and
compares it with what a good engineer would write by hand in NumPy for the same model, so both
versions live here, side by side, and tests/montecarlo/test_project_model.py checks that they
agree. Five uncertain inputs are declared with @RISK functions on the Assumptions sheet; the
CashFlow sheet has one column per year (0..10); the Summary sheet marks NPV (Excel's NPV) and the
peak funding need (MIN of cumulative cash) with RiskOutput.

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

YEARS = 11  # year 0 (build) to year 10
COLS = "BCDEFGHIJKL"  # one column per year on the CashFlow sheet
RAMP = (0.0, 0.4, 0.7, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 0.95, 0.85)
CAPEX_PHASING = (0.6, 0.4) + (0.0,) * 9

# (sample key, Assumptions row, label, @RISK function, parameters in @RISK's order)
INPUTS = (
    ("capex", 2, "Capex", "RiskTriang", (150.0, 180.0, 240.0)),
    ("price_growth", 3, "Price growth", "RiskNormal", (0.02, 0.015)),
    ("peak_volume", 4, "Peak volume", "RiskPert", (700.0, 1000.0, 1200.0)),
    ("opex_ratio", 5, "Opex ratio", "RiskUniform", (0.35, 0.45)),
    ("discount_spread", 6, "Discount spread", "RiskLognorm", (0.03, 0.01)),
)
# (label, Assumptions row, value)
CONSTANTS = (
    ("Initial price ($m per k units)", 8, 0.11),
    ("Fixed costs, year 1 ($m)", 9, 20.0),
    ("Fixed cost inflation", 10, 0.025),
    ("Tax rate", 11, 0.25),
    ("Working capital, share of revenue", 12, 0.12),
    ("Depreciation life (years)", 13, 8.0),
    ("Salvage value, share of capex", 14, 0.10),
    ("Base discount rate", 15, 0.05),
)
C = {label: value for label, _, value in CONSTANTS}
OUTPUTS = ("NPV", "Peak funding")
OUTPUT_CELLS = {"NPV": "Summary!B2", "Peak funding": "Summary!B3"}
INPUT_CELLS = {key: f"Assumptions!B{row}" for key, row, _, _, _ in INPUTS}


def static_values() -> dict[str, float]:
    """Each input's expected value: what @RISK (and the engine) shows outside a simulation."""
    means = {"RiskTriang": lambda a, m, b: (a + m + b) / 3,
             "RiskNormal": lambda m, s: m,
             "RiskPert": lambda a, m, b: (a + 4 * m + b) / 6,
             "RiskUniform": lambda a, b: (a + b) / 2,
             "RiskLognorm": lambda m, s: m}
    return {key: means[fn](*params) for key, _, _, fn, params in INPUTS}


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


def _risk_formula(fn: str, params: tuple[float, ...], label: str) -> str:
    return f'={fn}({",".join(repr(x) for x in params)},RiskName("{label}"))'


def _cashflow_rows() -> list[tuple[str, str | float | None, str]]:
    """(label, year-0 entry, later years' formula); ``{c}`` is the column, ``{p}`` the one
    before. A year-0 entry of None uses the later formula."""
    a = "Assumptions!"
    return [
        ("Price ($m per k units)", f"={a}$B$8", f"={{p}}2*(1+{a}$B$3)"),
        ("Volume (k units)", None, f"={a}$B$4*{a}{{c}}$21"),
        ("Revenue", None, "={c}2*{c}3"),
        ("Variable opex", None, f"={{c}}4*{a}$B$5"),
        ("Fixed costs", None, f"=IF({{c}}1=0,0,{a}$B$9*(1+{a}$B$10)^({{c}}1-1))"),
        ("EBITDA", None, "={c}4-{c}5-{c}6"),
        ("Depreciation", None, f"=IF(AND({{c}}1>=1,{{c}}1<={a}$B$13),{a}$B$18,0)"),
        ("EBIT", None, "={c}7-{c}8"),
        ("Tax losses brought forward", 0.0, "={p}12"),
        ("Taxable income", None, "=MAX(0,{c}9-{c}10)"),
        ("Tax losses carried forward", None, "=MAX(0,{c}10-{c}9)"),
        ("Tax", None, f"=IF({{c}}11>0,{{c}}11*{a}$B$11,0)"),
        ("Working capital", None, f"=IF({{c}}1=$L$1,0,{{c}}4*{a}$B$12)"),
        ("Change in working capital", "=B14", "={c}14-{p}14"),
        ("Capex", None, f"={a}$B$2*{a}{{c}}$22"),
        ("Salvage", None, f"=IF({{c}}1=$L$1,{a}$B$17,0)"),
        ("Free cash flow", None, "={c}7-{c}13-{c}15-{c}16+{c}17"),
        ("Cumulative cash", "=B18", "={p}19+{c}18"),
        ("Payback year flag", "=IF(B19>=0,1,0)", "=IF(AND({c}19>=0,{p}19<0),1,0)"),
        ("Discounted free cash flow", None, f"={{c}}18/(1+{a}$B$16)^{{c}}1"),
        ("Cumulative discounted cash", "=B21", "={p}22+{c}21"),
    ]


def write_workbook(path: str | Path, plain: bool = False) -> Path:
    """Write the model; ``plain`` puts the inputs' static values and plain output formulas in
    place of the @RISK functions, for formula libraries that do not know them."""
    from openpyxl import Workbook

    wb = Workbook()
    asm = wb.active
    asm.title = "Assumptions"
    asm.append(["Assumption", "Value"])
    statics = static_values()
    for key, row, label, fn, params in INPUTS:
        asm.cell(row, 1, label)
        asm.cell(row, 2, statics[key] if plain else _risk_formula(fn, params, label))
    for label, row, value in CONSTANTS:
        asm.cell(row, 1, label)
        asm.cell(row, 2, value)
    for row, label, formula in ((16, "Discount rate", "=B15+B6"), (17, "Salvage value", "=B2*B14"),
                                (18, "Annual depreciation", "=(B2-B17)/B13")):
        asm.cell(row, 1, label)
        asm.cell(row, 2, formula)
    for row, label, values in ((20, "Year", range(YEARS)), (21, "Volume ramp-up", RAMP),
                               (22, "Capex phasing", CAPEX_PHASING)):
        asm.cell(row, 1, label)
        for c, v in enumerate(values):
            asm.cell(row, 2 + c, float(v))

    cf = wb.create_sheet("CashFlow")
    cf.cell(1, 1, "Year")
    for c in range(YEARS):
        cf.cell(1, 2 + c, float(c))
    for r, (label, first, later) in enumerate(_cashflow_rows(), start=2):
        cf.cell(r, 1, label)
        for k, col in enumerate(COLS):
            entry = later if k == 0 and first is None else (first if k == 0 else later)
            cf.cell(r, 2 + k, entry.format(c=col, p=COLS[k - 1]) if type(entry) is str else entry)

    summary = wb.create_sheet("Summary")
    mark = (lambda name: "") if plain else (lambda name: f'RiskOutput("{name}")+')
    for r, (label, formula) in enumerate((
            ("NPV", f"={mark('NPV')}CashFlow!B18+NPV(Assumptions!B16,CashFlow!C18:L18)"),
            ("Peak funding", f"={mark('Peak funding')}-MIN(CashFlow!B19:L19)"),
            ("Payback year", "=SUMPRODUCT(CashFlow!B20:L20,CashFlow!B1:L1)"),
            ("Total revenue", "=SUM(CashFlow!B4:L4)"),
            ("NPV check (cumulative discounted cash)", "=CashFlow!L22"),
    ), start=2):
        summary.cell(r, 1, label)
        summary.cell(r, 2, formula)
    path = Path(path)
    wb.save(path)
    return path


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
