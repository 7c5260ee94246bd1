"""LET, LAMBDA and the LAMBDA helpers, checked at formula level.

Expected values come from Excel (the LOGICAL sheet of the oracle workbook, written here as
literals) or from Excel's documentation.
"""

from __future__ import annotations

import pytest

from engine.api import evaluate_formula, evaluate_workbook, workbook_from_cells
from engine.errors import CALC, DIV0, NA, NAME, VALUE
from engine.lambdas import Lambda
from engine.nodes import Call, Invoke, Literal, Name, walk
from engine.parser import parse
from engine.values import Array

# Row 4..5 of the oracle's BYCOL/BYROW inputs: numbers, a blank, text, FALSE, an error.
ROW_CELLS = {"A1": 0, "B1": 1, "C1": 2.3, "D1": 0, "E1": -1, "G1": "0", "H1": False,
             "A2": 0, "B2": 1, "C2": 2.3, "D2": 1, "E2": -1, "G2": "0", "H2": False,
             "I1": "=1/0", "I2": 2}


def ev(formula: str, cells: dict | None = None) -> object:
    return evaluate_formula(formula, cells, array=True)


def rows(value: object) -> list[list[object]]:
    assert isinstance(value, Array)
    return value.rows


def approx_rows(value: object, expected: list[list[float]]) -> bool:
    """Numbers equal to Excel's to 1e-9, shape included (approx does not nest)."""
    got = rows(value)
    return [len(r) for r in got] == [len(r) for r in expected] and \
        [v for r in got for v in r] == pytest.approx([v for r in expected for v in r])


# -- parsing ---------------------------------------------------------------------------------
def test_immediate_invocation_parses_as_invoke():
    tree = parse("=LAMBDA(x,x+1)(2)")
    assert type(tree) is Invoke
    assert tree.args == (Literal(2.0),)
    assert type(tree.target) is Call and tree.target.name == "LAMBDA"


def test_chained_invocation_and_walk_reaches_everything():
    tree = parse("=_xlfn.LAMBDA(_xlpm.x,_xlfn.LAMBDA(_xlpm.y,_xlpm.x*_xlpm.y))(3)(A1)")
    assert type(tree) is Invoke and type(tree.target) is Invoke
    names = {n.name for n in walk(tree) if type(n) is Name}
    assert names == {"_XLPM.X", "_XLPM.Y"}
    assert any(type(n).__name__ == "RefNode" for n in walk(tree))


# -- LET -------------------------------------------------------------------------------------
def test_let_oracle_with_file_prefixes():
    # LOGICAL!C13: an unused name bound to #N/A does not matter
    f = "=_xlfn.LET(_xlpm.x,1,_xlpm.y,A1,_xlpm.z,B1,232+_xlpm.x+_xlpm.y)"
    assert ev(f, {"A1": 2.3, "B1": "=NA()"}) == pytest.approx(235.3)


def test_let_later_values_see_earlier_names():
    assert ev("=LET(x,2,y,x*3,x+y)") == 8.0


def test_let_keeps_references():
    cells = {"A1": 1, "A2": 2, "A3": 3}
    assert ev("=LET(r,A1:A3,ROWS(r)*10+SUM(r))", cells) == 36.0


def test_let_bad_shapes_are_value_errors():
    assert ev("=LET(x,1)") == VALUE
    assert ev("=LET(x,1,y,2)") == VALUE
    assert ev("=LET(1,1,2)") == VALUE


def test_let_name_shadows_defined_name_only_inside():
    assert ev("=LET(x,5,x)+1") == 6.0


# -- LAMBDA ----------------------------------------------------------------------------------
def test_lambda_oracle_immediate_call():
    # LOGICAL!C12 with D3=1, C3=0
    f = ("=_xlfn.LAMBDA(_xlpm.x,_xlpm.y,_xlpm.z,SUM(_xlpm.y)+SUM(_xlpm.x+1,"
         "(_xlpm.y+_xlpm.x+B1+A1)))(1,2,3)")
    assert ev(f, {"A1": 0, "B1": 1}) == 8.0


def test_lambda_without_parameters():
    # LOGICAL!E13
    assert ev("=_xlfn.LAMBDA(B1+A1)()", {"A1": 0, "B1": 1}) == 1.0


def test_lambda_wrong_argument_count_is_value_error():
    assert ev("=LAMBDA(x,x)(1,2)") == VALUE
    assert ev("=LAMBDA(x,y,x)(1)") == VALUE
    assert ev("=LAMBDA()") == VALUE


def test_lambda_is_a_closure_over_let_names():
    assert ev("=LET(x,1,LAMBDA(y,x+y))(5)") == 6.0
    assert ev("=LAMBDA(x,LAMBDA(y,x*y))(3)(4)") == 12.0


def test_closure_does_not_see_the_callers_names():
    # f was written where y is unknown: the caller's y must not leak in
    assert ev("=LET(f,LAMBDA(x,x+y),y,5,f(1))") == NAME


def test_let_name_holding_lambda_is_callable():
    assert ev("=LET(f,LAMBDA(a,b,a*b),f(3,4))") == 12.0
    assert ev("=_xlfn.LET(_xlpm.f,_xlfn.LAMBDA(_xlpm.a,_xlpm.a+1),_xlpm.f(2))") == 3.0


def test_lambda_result_is_a_function_value():
    assert type(ev("=LAMBDA(x,x)")) is Lambda


def test_lambda_returning_reference():
    cells = {"A1": 1, "A2": 2}
    assert ev("=SUM(LAMBDA(r,r)(A1:A2))", cells) == 3.0


def test_lambda_chosen_by_if():
    assert ev("=IF(TRUE,LAMBDA(x,x*2),LAMBDA(x,x*3))(4)") == 8.0


def test_error_target_propagates():
    assert ev("=IF(1/0,LAMBDA(x,x))(4)") == DIV0


def test_calling_a_non_function_is_value_error():
    assert ev("=LET(x,5,x(1))") == VALUE


# -- defined-name LAMBDAs --------------------------------------------------------------------
def _workbook_results(names: dict[str, str], cells: dict) -> dict:
    wb = workbook_from_cells(cells)
    for name, text in names.items():
        wb.names[(None, name)] = text
    return evaluate_workbook(wb)[0]


def test_defined_name_lambda_oracle():
    # LOGICAL!R12: MYLAMBDA(2,1,2) = SUM(4, 3, -2, D12=3) = 8
    names = {"MYLAMBDA": "_xlfn.LAMBDA(_xlpm.x,_xlpm.y,_xlpm.z,"
                         "SUM(_xlpm.x*2,_xlpm.y*3,-_xlpm.z,Sheet1!$D$12))"}
    out = _workbook_results(names, {"D12": 3, "A1": "=MYLAMBDA(2,1,2)"})
    assert out["Sheet1!A1"] == 8.0


def test_recursive_defined_name_lambda():
    names = {"FACT": "LAMBDA(n,IF(n<=1,1,n*FACT(n-1)))"}
    out = _workbook_results(names, {"A1": "=FACT(10)"})
    assert out["Sheet1!A1"] == 3628800.0


def test_unknown_function_still_name_error():
    assert ev("=NOSUCHFUNCTION(1)") == NAME


# -- ISOMITTED and optional parameters -------------------------------------------------------
def test_isomitted_with_empty_argument():
    assert ev('=LAMBDA(x,y,IF(ISOMITTED(y),"none",x+y))(1,)') == "none"
    assert ev('=LAMBDA(x,y,IF(ISOMITTED(y),"none",x+y))(1,2)') == 3.0


def test_omitted_argument_acts_as_zero_in_arithmetic():
    assert ev("=LAMBDA(x,y,x+y)(1,)") == 1.0


def test_optional_bracketed_parameter_may_be_left_out():
    f = "=LAMBDA(x,[y],IF(ISOMITTED(y),x*2,x+y))"
    assert ev(f + "(5)") == 10.0
    assert ev(f + "(5,1)") == 6.0
    g = "=_xlfn.LAMBDA(_xlpm.x,_xlpm.[y],IF(ISOMITTED(_xlpm.y),_xlpm.x*2,_xlpm.x+_xlpm.y))(5)"
    assert ev(g) == 10.0


def test_optional_parameter_before_required_is_value_error():
    assert ev("=LAMBDA([x],y,y)(1,2)") == VALUE


def test_isomitted_outside_lambda_is_false():
    assert ev("=ISOMITTED(A1)") is False


# -- MAP -------------------------------------------------------------------------------------
def test_map_oracle_range_with_blanks():
    # LOGICAL!R18: MAP(C18:E19, a^2) with the second row blank
    cells = {"A1": 1, "B1": 2, "C1": 3, "A3": "x"}
    assert rows(ev("=_xlfn.MAP(A1:C2,_xlfn.LAMBDA(_xlpm.a,_xlpm.a^2))", cells)) == [
        [1.0, 4.0, 9.0], [0.0, 0.0, 0.0]]


def test_map_array_constant_and_two_arrays():
    assert rows(ev("=MAP({1;3},LAMBDA(b,b^2))")) == [[1.0], [9.0]]
    assert rows(ev("=MAP({1,2},{10,20},LAMBDA(a,b,a+b))")) == [[11.0, 22.0]]


def test_map_extra_lambda_is_value_error():
    # LOGICAL!W18: the first LAMBDA is not an array, the last has too few parameters
    f = "=MAP({1,2;3,3},LAMBDA(a,a+1),LAMBDA(b,b+3))"
    assert ev(f) == VALUE


def test_map_shorter_array_runs_out_as_na():
    assert rows(ev("=MAP({1,2,3},{1,2;3,4},LAMBDA(a,b,a+b))"))[0][2] == NA


def test_map_without_lambda_is_value_error():
    assert ev("=MAP({1,2},3)") == VALUE


# -- REDUCE / SCAN ---------------------------------------------------------------------------
def test_reduce_oracle_omitted_initial():
    # LOGICAL!R22
    cells = {"A1": 0, "B1": 1, "C1": 2.3, "A2": 0, "B2": 1, "C2": 2.3}
    f = "=_xlfn.REDUCE(, A1:C2, _xlfn.LAMBDA(_xlpm.a,_xlpm.b,_xlpm.a+_xlpm.b^2))"
    assert ev(f, cells) == pytest.approx(12.58)


def test_reduce_array_initial_spills():
    # LOGICAL!S22: initial C22:E22 = 1,2,3
    f = "=REDUCE(A1:C1,{1,2,3},LAMBDA(a,b,a+b^2))"
    assert rows(ev(f, {"A1": 1, "B1": 2, "C1": 3})) == [[15.0, 16.0, 17.0]]


@pytest.mark.parametrize(("initial", "expected"), [
    (1.0, 15.0), (True, 15.0), ("ciao", VALUE), ("=NA()", NA), (None, 14.0)])
def test_reduce_initial_kinds(initial, expected):
    # LOGICAL!V22..AB22: a blank initial is 0, TRUE is 1, text fails, errors propagate
    cells = {"A1": initial} if initial is not None else {"Z9": 0}
    assert ev("=REDUCE(A1,{1,2,3},LAMBDA(a,b,a+b^2))", cells) == expected


def test_scan_oracle_row_major():
    # LOGICAL!R23: 2, C21:E22 = 0,1,2.3 / 1,2,3
    cells = {"A1": 0, "B1": 1, "C1": 2.3, "A2": 1, "B2": 2, "C2": 3}
    got = ev("=SCAN(2,A1:C2,LAMBDA(a,b,a+b^2))", cells)
    assert approx_rows(got, [[2.0, 3.0, 8.29], [9.29, 13.29, 22.29]])


def test_scan_with_array_accumulator_uses_sum():
    # LOGICAL!U23: SCAN(C23:E23, C21:C22, SUM(a)+b^2) = 6, 7
    cells = {"A1": 1, "B1": 2, "C1": 3, "D1": 0, "D2": 1}
    assert rows(ev("=SCAN(A1:C1,D1:D2,LAMBDA(a,b,SUM(a)+b^2))", cells)) == [[6.0], [7.0]]


def test_scan_blank_text_and_error_initial():
    # LOGICAL!X18, Y18, AB18
    assert rows(ev("=SCAN(Z1,{1;3},LAMBDA(a,b,a+b^2))", {"A1": 0})) == [[1.0], [10.0]]
    assert rows(ev('=SCAN("ciao",{1;3},LAMBDA(a,b,a+b^2))')) == [[VALUE], [VALUE]]
    assert rows(ev("=SCAN(NA(),{1;3},LAMBDA(a,b,a+b^2))")) == [[NA], [NA]]


def test_scan_step_returning_array_is_calc():
    assert rows(ev("=SCAN(0,{1,2},LAMBDA(a,b,{1,2}))")) == [[CALC, CALC]]


# -- BYROW / BYCOL ---------------------------------------------------------------------------
def test_byrow_oracle_sum():
    # LOGICAL!R5: BYROW(C4:J5, SUM) = 2.3 / 3.3; text and FALSE in a row are skipped
    got = ev("=_xlfn.BYROW(A1:H2,_xlfn.LAMBDA(_xlpm.x,SUM(_xlpm.x)))", ROW_CELLS)
    assert approx_rows(got, [[2.3], [3.3]])


def test_byrow_eta_reduced_builtin_with_error_row():
    # LOGICAL!Y5: a row holding an error sums to it, the other row to 2
    assert rows(ev("=_xlfn.BYROW(G1:I2,_xleta.SUM)", ROW_CELLS)) == [
        [DIV0], [2.0]]


def test_bycol_oracle():
    # LOGICAL!R4: one sum per column, blank column 0
    got = ev("=BYCOL(A1:F2,LAMBDA(x,SUM(x)))", ROW_CELLS)
    assert approx_rows(got, [[0.0, 2.0, 4.6, 1.0, -2.0, 0.0]])


def test_byrow_lambda_returning_row_is_calc():
    assert rows(ev("=BYROW({1,2;3,4},LAMBDA(r,r))")) == [[CALC], [CALC]]


def test_byrow_unknown_eta_function_is_name_error():
    assert ev("=BYROW({1},_xleta.NOSUCH)") == NAME


def test_byrow_wrong_lambda_arity_is_value_error():
    assert rows(ev("=BYROW({1;2},LAMBDA(a,b,a))")) == [[VALUE], [VALUE]]


# -- MAKEARRAY -------------------------------------------------------------------------------
def test_makearray_basic():
    assert rows(ev("=MAKEARRAY(2,3,LAMBDA(r,c,r*c))")) == [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]]


def test_makearray_oracle_column():
    # LOGICAL!U15: MAKEARRAY(3,1,x+1+y) = 3;4;5
    f = "=_xlfn.MAKEARRAY(A1,1,_xlfn.LAMBDA(_xlpm.x,_xlpm.y,_xlpm.x+1+_xlpm.y))"
    assert rows(ev(f, {"A1": 3})) == [[3.0], [4.0], [5.0]]


@pytest.mark.parametrize(("size", "expected"), [
    (0, VALUE), (2.3, VALUE), (-1, VALUE), ("0", VALUE), (True, 3.0), ("=NA()", NA)])
def test_makearray_size_rules(size, expected):
    # LOGICAL!R15..AA15
    f = "=MAKEARRAY(A1,1,LAMBDA(x,y,x+1+y))"
    got = ev(f, {"A1": size})
    assert (got.top_left() if isinstance(got, Array) else got) == expected


def test_makearray_blank_size_is_value_error():
    assert ev("=MAKEARRAY(Z1,1,LAMBDA(x,y,1))", {"A1": 0}) == VALUE


def test_makearray_lifted_over_a_range_of_sizes():
    # LOGICAL!R14: each size gives its own array, shown by its top-left value
    cells = {"A1": 0, "B1": 2, "C1": 2.3, "D1": 3}
    got = rows(ev("=MAKEARRAY(A1:D1,1,LAMBDA(x,y,x+1+y))", cells))
    assert got == [[VALUE, 3.0, VALUE, 3.0]]


# -- function arguments -------------------------------------------------------------------------
def test_helpers_reject_non_lambda_function_argument():
    assert ev("=BYCOL({1,2},5)") == VALUE
    assert ev("=REDUCE(0,{1,2},NA())") == NA
