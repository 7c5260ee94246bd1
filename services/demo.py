"""The bundled demo: a 10-year project cash-flow model with its uncertainty declared in @RISK
functions, so a new user sees a complete simulation (upload, run, results) in one click, with
nothing of their own to prepare.

The workbook is generated here rather than shipped as a binary: its formulas stay readable and
reviewable, and benchmarks/project_model.py builds the very same model for the speed benchmark
(which is why the generator lives in this module and the benchmark imports it). Five uncertain
inputs are declared on the Assumptions sheet; the CashFlow sheet has one column per year (0..10);
the Summary sheet marks NPV (Excel's NPV) and the peak funding need (MIN of cumulative cash) with
RiskOutput.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from db.entities import Actor, RunRecord
    from services.context import AppContext

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




DEMO_FILENAME = "project_cash_flow.xlsx"
DEMO_ITERATIONS = 100_000
"""Enough for smooth histograms and stable percentiles, and a few seconds on two cores, so the
first impression is a finished run, not a progress bar."""
DEMO_SEED = 1


def demo_file(data_dir: str | os.PathLike[str]) -> Path:
    """The demo workbook under ``data_dir/demo``, written on first use and then kept: its bytes
    (and so its content hash) stay the same for the life of the data directory, which is what
    lets every user's "once" check recognise a demo already saved. Written to a temporary name
    and renamed, so two sessions starting the demo at once never read half a file."""
    path = Path(data_dir) / "demo" / DEMO_FILENAME
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{DEMO_FILENAME}.{os.getpid()}.tmp")
        write_workbook(tmp)
        os.replace(tmp, path)
    return path


def demo_setup() -> dict[str, object]:
    """The demo's run: the workbook's own @RISK inputs and RiskOutput outputs (an empty inputs
    map and outputs list tell the engine to use what the workbook declares), default settings."""
    return {"inputs": {}, "outputs": [], "settings": {}, "iterations": DEMO_ITERATIONS,
            "seed": DEMO_SEED, "sampling": "mc", "device": "cpu"}


def start_demo(ctx: AppContext, actor: Actor) -> RunRecord:
    """One click: save the demo workbook for the user (once: the same bytes saved again return
    the existing record) and start a run of it. Raises UploadError or RunError with a sentence
    for the page.

    The app's modules are imported here, not at the top, because the benchmark imports this
    module for the workbook alone and times its NumPy baseline as a whole process: loading the
    store, DuckDB and the engine's calculator there would slow the baseline it compares with."""
    from services.runs import start_run
    from services.workbooks import save_upload

    path = demo_file(ctx.settings.data_dir)
    workbook = save_upload(ctx, actor, DEMO_FILENAME, path.read_bytes())
    return start_run(ctx, actor, workbook.id, demo_setup())
