"""The virtual machine against the scalar engine, iteration by iteration.

Each model is simulated for a few dozen iterations; then, for every iteration, that iteration's
input samples are written into a fresh load of the workbook as constants (a cell input becomes
the cell's value, a RAND() or @RISK call inside a formula becomes the sampled number) and the
scalar engine recalculates. Every output must agree: numbers to 1e-9 relative, errors by code.
The models mix constants and uncertain cells so that the lowering's constant folding and the
machine's per-iteration paths are both exercised, and the input ranges reach the error branches
(a negative square root, a lookup key out of range) in some iterations only.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl.workbook.defined_name import DefinedName

from engine.calc import Calculation
from engine.errors import XLError
from engine.loader import load_workbook
from engine.montecarlo.model import build_model
from engine.montecarlo.opcodes import ERRORS_BY_CODE
from engine.montecarlo.simulate import RunSettings, simulate
from engine.refs import split_key
from engine.workbook import FormulaCell

ITERATIONS = 40

# Calls that declare an input inside a formula (their arguments never nest parentheses here).
_RAND_CALL = re.compile(r"\b(?:RAND\(\)|RANDBETWEEN\([^()]*\))", re.IGNORECASE)
_RISK_CALL = re.compile(r"\bRisk(?!Output)[A-Za-z0-9]+\([^()]*\)", re.IGNORECASE)


def _substituted(text: str, pattern: re.Pattern[str], samples: list[float]) -> str:
    """``text`` with the k-th match of ``pattern`` replaced by the k-th sample."""
    matches = list(pattern.finditer(text))
    assert len(matches) == len(samples), (text, samples)
    for m, x in zip(reversed(matches), reversed(samples), strict=True):
        text = text[:m.start()] + f"({x!r})" + text[m.end():]
    return text


def _scalar_outputs(path: Path, model: Any, samples: list[float]) -> list[Any]:
    """The outputs as the scalar engine computes them with these input values fixed."""
    wb = load_workbook(path)
    in_formula: dict[tuple[str, int, int], dict[str, list[float]]] = {}
    for site, x in zip(model.inputs, samples, strict=True):
        if site.node is None:
            sheet, row, col = site.cell
            wb.formulas.pop(site.cell, None)
            wb.sheet_values(sheet)[(row, col)] = float(x)
        else:
            kind = "rand" if site.node.name in ("RAND", "RANDBETWEEN") else "risk"
            in_formula.setdefault(site.cell, {"rand": [], "risk": []})[kind].append(float(x))
    for cell, found in in_formula.items():
        text = _substituted(wb.formulas[cell].text, _RAND_CALL, found["rand"])
        text = _substituted(text, _RISK_CALL, found["risk"])
        wb.formulas[cell] = FormulaCell(*cell, text)
    wb.invalidate_layout()
    Calculation(wb).run()
    return [wb.values[s][(r, c)] for s, r, c in (split_key(o) for o in model.outputs)]


def _same(vm_value: float, vm_error: int, scalar: Any) -> bool:
    if type(scalar) is XLError:
        return vm_error != 0 and ERRORS_BY_CODE[vm_error] == scalar
    if vm_error:
        return False
    return math.isclose(vm_value, float(scalar), rel_tol=1e-9, abs_tol=1e-300)


_RISK_NAMES = {"normal": "RiskNormal", "uniform": "RiskUniform", "triangular": "RiskTriang"}


@pytest.fixture(params=["risk", "caller"])
def declare(request) -> str:
    """How the inputs are declared: @RISK calls in their cells, or by the caller on constant
    cells (the CLI's --input)."""
    return request.param


def check_against_scalar(make_xlsx, cells: dict[str, Any], inputs: dict[str, str],
                         outputs: list[str] | None = None, declare: str = "risk",
                         min_errors: int = 0, **make: Any) -> None:
    """Build the workbook with ``inputs`` declared as ``declare`` says, simulate, then recompute
    every iteration with the scalar engine and compare."""
    cells = dict(cells)
    for label, text in inputs.items():
        sheet, _, addr = label.rpartition("!")
        key = f"{sheet.strip(chr(39))}!{addr}"
        family, _, args = text.partition("(")
        cells[key] = 0 if declare == "caller" else f"={_RISK_NAMES[family]}({args}"
    path = make_xlsx(cells, **make)
    model = build_model(load_workbook(path), inputs if declare == "caller" else None, outputs)
    result = simulate(model, RunSettings(iterations=ITERATIONS, seed=7))
    mismatches = []
    for i in range(ITERATIONS):
        samples = list(result.input_samples[:, i])
        expected = _scalar_outputs(path, model, samples)
        for k, label in enumerate(model.outputs):
            got, code = result.output_values[k, i], int(result.output_errors[k, i])
            if not _same(got, code, expected[k]):
                shown = ERRORS_BY_CODE[code].code if code else got
                mismatches.append(f"iteration {i}, {label}: machine {shown!r}, scalar "
                                  f"{expected[k]!r}, inputs {samples}")
    assert not mismatches, "\n".join(mismatches[:10])
    # The comparison only means something for the error paths if some iterations took them.
    assert int((result.output_errors != 0).sum()) >= min_errors


def _outputs(formulas: list[str]) -> tuple[dict[str, str], list[str]]:
    """Formulas placed down column C from row 1, and their cells as outputs."""
    cells = {f"Sheet1!C{i + 1}": f for i, f in enumerate(formulas)}
    return cells, list(cells)


TWO_INPUTS = {"Sheet1!A1": "normal(1.5, 1)", "Sheet1!A2": "uniform(1, 3)"}


def test_arithmetic_and_precedence(make_xlsx, declare):
    cells, outputs = _outputs(["=-A1^2+A2*3-A1/A2", "=(A1+A2)*2^-1", "=A1*10%", "=2^A2^0.5",
                               "=A1^0.5", "=A1-A2-1", "=A1/A2/2", "=-(A1-A2)*+A2", "=A1^A2",
                               "=1/(A1-A2)", "=-A1^2"])
    check_against_scalar(make_xlsx, cells, TWO_INPUTS, outputs, declare, min_errors=1)


def test_comparisons_and_logic(make_xlsx, declare):
    cells, outputs = _outputs([
        "=A1>A2", "=A1<=A2", "=A1=ROUND(A1,0)", "=A1<>A2", "=(A1>A2)+1", "=IF(A1>=A2,A1,A2)",
        "=IF(AND(A1>1,A2<2),1,2)", "=OR(A1>3,A2>2.5)", "=NOT(A1>2)", "=IF(A1>2,SQRT(A1-2),-1)",
        "=IFERROR(SQRT(A1-2),-1)", "=IFERROR(1/B1,99)", "=IFNA(MATCH(B1,{1,2,3},0),99)",
        "=IF(B1,10/B1,0)", "=AND(A1>0,B1)", "=IF(B1=0,1/B1,B1)"])
    check_against_scalar(make_xlsx, {"B1": "=RANDBETWEEN(0,3)", **cells}, TWO_INPUTS, outputs,
                         declare, min_errors=1)


def test_aggregates_over_ranges_mixing_constants_and_uncertain_cells(make_xlsx, declare):
    column = {"D1": 1, "D2": "=A1", "D3": "x", "D4": "=A2", "D6": -2.5, "D7": True}
    cells, outputs = _outputs([
        "=SUM(D1:D7)", "=AVERAGE(D1:D7)", "=MIN(D1:D7)", "=MAX(D1:D7)", "=PRODUCT(D1:D7)",
        "=SUM(D1:D7,A1,10)", "=MIN(A1,A2,0.5)", "=MAX(A1,-A2)", "=AVERAGE(A1,A2,D6)",
        "=PRODUCT(A1,A2,2)", "=SUM(D2,D4)*2", "=SUM(A1:A2)"])
    check_against_scalar(make_xlsx, {**column, **cells}, TWO_INPUTS, outputs, declare)


def test_math_functions(make_xlsx, declare):
    cells, outputs = _outputs([
        "=ROUND(A1*100,1)", "=ROUND(A1,-1)", "=ROUNDUP(A1,1)", "=ROUNDDOWN(A1,1)",
        "=ROUNDUP(-A1,0)", "=MOD(A1*7,3)", "=MOD(-A1*7,3)", "=MOD(A1,A2-2)", "=INT(A1)",
        "=INT(-A1)", "=ABS(A1)", "=SQRT(A1)", "=EXP(A1)", "=LN(A1)", "=POWER(A2,A1)",
        "=POWER(A1,0.5)", "=ROUND(B1/2,0)", "=MOD(B1,2)"])
    check_against_scalar(make_xlsx, {"B1": "=RANDBETWEEN(-3,3)", **cells},
                         {"Sheet1!A1": "normal(1, 2)", "Sheet1!A2": "uniform(1, 3)"}, outputs,
                         declare, min_errors=1)


def test_lookups_with_a_sampled_index_into_constant_tables(make_xlsx, declare):
    table = {f"D{r}": r * 10 for r in range(1, 6)} | {f"E{r}": r * r + 0.5 for r in range(1, 6)}
    cells, outputs = _outputs([
        "=INDEX(E1:E5,B1)", "=INDEX(D1:E5,B1,2)", "=CHOOSE(B1,10,20,30,40,50)",
        "=VLOOKUP(B1*10,D1:E5,2,FALSE)", "=VLOOKUP(B1*10+5,D1:E5,2,TRUE)",
        "=MATCH(B1*10,D1:D5,0)", "=MATCH(A1,D1:D5,1)", "=INDEX(E1:E5,B2)",
        "=CHOOSE(B2,1,2,3,4,5)", "=VLOOKUP(A1,D1:E5,2)", "=IFERROR(INDEX(E1:E5,B2),0)",
        "=CHOOSE(B2-1,1,2,3,4,5)", "=INDEX(D1:E5,B2,1+MOD(B1,2))"])
    cells |= {"B1": "=RANDBETWEEN(1,5)", "B2": "=RANDBETWEEN(1,7)", **table}
    check_against_scalar(make_xlsx, cells, {"Sheet1!A1": "uniform(0, 60)"}, outputs, declare,
                         min_errors=1)


def test_index_with_a_sampled_row_of_zero(make_xlsx):
    table = {f"E{r}": r * r + 0.5 for r in range(1, 6)}
    # Row 0 is the whole column: C3 shares row 3 with it and shows E3, C8 shares none: #VALUE!.
    cells = {"B2": "=RANDBETWEEN(0,1)", "C3": "=INDEX(E1:E5,B2)", "C8": "=INDEX(E1:E5,B2)"}
    check_against_scalar(make_xlsx, {**table, **cells}, {}, ["Sheet1!C3", "Sheet1!C8"])


def test_npv_irr_pmt_over_sampled_cash_flows(make_xlsx, declare):
    flows = {"F1": -100, "F2": "=A1", "F3": "=A2", "F4": 40, "F5": "=A1+A2"}
    cells, outputs = _outputs([
        "=NPV(0.1,F2:F5)+F1", "=NPV(A3,F1:F5)", "=IRR(F1:F5)", "=IRR(F1:F5,0.2)",
        "=PMT(A3,10,-1000)", "=PMT(A3/12,360,A1*1000,0,1)", "=NPV(0.08,A1,A2,50)"])
    check_against_scalar(make_xlsx, {**flows, **cells},
                         {"Sheet1!A1": "normal(40, 15)", "Sheet1!A2": "uniform(10, 60)",
                          "Sheet1!A3": "uniform(0.01, 0.2)"}, outputs, declare)


def test_norm_inv_of_rand_and_risk_calls_inside_formulas(make_xlsx):
    cells = {"A1": "=NORM.INV(RAND(),100,10)", "A2": "=RiskNormal(5,2)*3",
             "A3": "=RAND()*RAND()", "A4": "=RANDBETWEEN(1,6)+RiskUniform(0,1)",
             "C1": "=RiskOutput()+A1+A2", "C2": "=RiskOutput(\"spread\")+A1*A3-A2-A4",
             "C3": "=5"}
    check_against_scalar(make_xlsx, cells, {})
    model = build_model(load_workbook(make_xlsx(cells, name="again.xlsx")))
    assert model.outputs == ["Sheet1!C1", "Sheet1!C2"]  # the RiskOutput cells; C3 is not one
    assert model.output_names["Sheet1!C2"] == "spread"


def test_defined_names_and_cross_sheet_references(make_xlsx, declare):
    def names(wb):
        wb.defined_names["Rate"] = DefinedName("Rate", attr_text="Sheet1!$H$1")
        wb.defined_names["Draw"] = DefinedName("Draw", attr_text="'Data Sheet'!$B$2")
        wb.defined_names["Flows"] = DefinedName("Flows", attr_text="'Data Sheet'!$B$2:$B$4")

    cells = {"H1": 0.05, "Data Sheet!B3": 7, "Data Sheet!B4": "=B2*2", "C1": "=Draw*(1+Rate)",
             "C2": "='Data Sheet'!B2+'Data Sheet'!B4", "C3": "=SUM(Flows)",
             "C4": "=NPV(Rate,Flows)", "C5": "=MAX(Flows)-'Data Sheet'!B3"}
    check_against_scalar(make_xlsx, cells, {"'Data Sheet'!B2": "triangular(0, 5, 12)"},
                         [f"Sheet1!C{i}" for i in range(1, 6)], declare, setup=names)


def test_functions_without_an_instruction_run_in_the_scalar_engine(make_xlsx, declare):
    # GCD, COMBIN, TEXT, LEN, XNPV and DATE have no machine instruction: each iteration goes to
    # the scalar engine, with text passing between nested calls (LEN(TEXT(...))).
    cells, outputs = _outputs([
        "=GCD(INT(A1*10),6)+COMBIN(10,INT(A2))", '=LEN(TEXT(A1*1000,"#,##0.00"))*A2',
        "=XNPV(0.1,{-100,60,70}*A2,{43831,44197,44562})", "=YEAR(DATE(2020,INT(A2*5),1))",
        "=FACTDOUBLE(INT(A2*3))"])
    check_against_scalar(make_xlsx, cells, TWO_INPUTS, outputs, declare)


def test_sumproduct_over_uncertain_ranges(make_xlsx, declare):
    cells = {"Sheet1!B1": "=A1*2", "Sheet1!B2": "=A2-1", "Sheet1!B3": 4, "Sheet1!D1": 0.5,
             "Sheet1!D2": "text", "Sheet1!D3": 2}
    cells_out, outputs = _outputs(["=SUMPRODUCT(B1:B3,D1:D3)", "=SUMPRODUCT((B1:B3>2)*B1:B3)",
                                   "=SUMPRODUCT(B1:B3,D1:D2)", "=SUMPRODUCT(B1:B3)+A1",
                                   "=SUMPRODUCT(B1:B3>2,B1:B3)+SUMPRODUCT(--(B1:B3>2),B1:B3)"])
    cells_out = {k.replace("!C", "!E"): v for k, v in cells_out.items()}
    outputs = [o.replace("!C", "!E") for o in outputs]
    check_against_scalar(make_xlsx, {**cells, **cells_out}, TWO_INPUTS, outputs, declare)
