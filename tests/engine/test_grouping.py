"""GROUPBY, PIVOTBY and TRIMRANGE against layouts and values Excel 365 produced."""

from __future__ import annotations

import pytest

from engine.api import evaluate_formula
from engine.errors import NA, REF, VALUE
from engine.values import BLANK as B
from engine.values import Array

# A small sales table with a header row: region, product, units, filter.
SALES = {
    "A1": "region", "B1": "product", "C1": "units", "D1": "keep",
    "A2": "north", "B2": "x", "C2": 5.0, "D2": True,
    "A3": "south", "B3": "y", "C3": 2.0, "D3": True,
    "A4": "North", "B4": "y", "C4": 1.0, "D4": False,
    "A5": "north", "B5": "y", "C5": 4.0, "D5": True,
    "A6": "south", "B6": "x", "C6": 3.0, "D6": True,
}


def rows(formula: str, cells: dict | None = None) -> list[list]:
    result = evaluate_formula(formula, cells, array=True)
    assert type(result) is Array, result
    return result.rows


# -- GROUPBY -------------------------------------------------------------------------------------
def test_groupby_detects_headers_groups_case_insensitively_and_adds_total():
    assert rows("=GROUPBY(A1:A6,C1:C6,_xleta.SUM)", SALES) == [
        ["north", 10.0], ["south", 5.0], ["Total", 15.0]]


def test_groupby_subtotals_grand_total_and_shown_headers():
    assert rows("=GROUPBY(A1:B6,C1:C6,_xleta.SUM,3,2)", SALES) == [
        ["region", "product", "units"],
        ["north", "x", 5.0], ["north", "y", 5.0], ["north", "", 10.0],
        ["south", "x", 3.0], ["south", "y", 2.0], ["south", "", 5.0],
        ["Grand Total", "", 15.0]]


def test_groupby_totals_on_top_and_no_totals():
    assert rows("=GROUPBY(A1:B6,C1:C6,_xleta.SUM,1,-2)", SALES)[:2] == [
        ["Grand Total", "", 15.0], ["north", "", 10.0]]
    assert rows("=GROUPBY(A1:A6,C1:C6,_xleta.SUM,1,0)", SALES) == [
        ["north", 10.0], ["south", 5.0]]


def test_groupby_sorts_by_value_descending_and_filters():
    assert rows("=GROUPBY(B1:B6,C1:C6,_xleta.SUM,1,1,-2)", SALES) == [
        ["x", 8.0], ["y", 7.0], ["Total", 15.0]]
    assert rows("=GROUPBY(B1:B6,C1:C6,_xleta.SUM,1,0,1,D1:D6)", SALES) == [
        ["x", 8.0], ["y", 6.0]]


def test_groupby_percentof_gets_the_whole_column_and_lambdas_work():
    assert rows("=GROUPBY(A1:A6,C1:C6,_xleta.PERCENTOF)", SALES) == [
        ["north", 10 / 15], ["south", 5 / 15], ["Total", 1.0]]
    assert rows("=GROUPBY(A1:A6,C1:C6,LAMBDA(v,MAX(v)),,0)", SALES) == [
        ["north", 5.0], ["south", 3.0]]


def test_groupby_table_relationship_sorts_whole_keys_by_value():
    # Hierarchy keeps 'north' together; the table layout orders the leaves themselves.
    assert rows("=GROUPBY(A1:B6,C1:C6,_xleta.SUM,1,0,3,,1)", SALES) == [
        ["south", "y", 2.0], ["south", "x", 3.0], ["north", "x", 5.0], ["north", "y", 5.0]]


@pytest.mark.parametrize("formula", [
    "=GROUPBY(A1:A6,C1:C5,_xleta.SUM)",  # values shorter than the fields
    "=GROUPBY(A1:A6,C1:C6,_xleta.SUM,1,1,3)",  # sort column past fields + values
    "=GROUPBY(A1:A6,C1:C6,_xleta.SUM,1,2)",  # subtotals need two fields
    "=GROUPBY(A1:B6,C1:C6,_xleta.SUM,1,2,1,,1)",  # no subtotals in the table layout
])
def test_groupby_invalid_arguments_are_value_errors(formula):
    assert evaluate_formula(formula, SALES) is VALUE


def test_groupby_filter_error_and_function_error_propagate():
    cells = dict(SALES, D4=NA, F1=NA)
    assert evaluate_formula("=GROUPBY(A1:A6,C1:C6,_xleta.SUM,1,1,1,D1:D6)", cells) is NA
    assert evaluate_formula("=GROUPBY(A1:A6,C1:C6,F1)", cells) is NA


# -- PIVOTBY -------------------------------------------------------------------------------------
def test_pivotby_without_headers_leaves_missing_combinations_empty():
    assert rows("=PIVOTBY({2;2;3},{1;2;2},{1;2;3},_xleta.SUM)") == [
        ["", 1.0, 2.0, "Total"], [2.0, 1.0, 2.0, 3.0], [3.0, "", 3.0, 3.0],
        ["Total", 1.0, 5.0, 6.0]]


def test_pivotby_function_errors_fill_only_cells_with_data():
    assert rows("=PIVOTBY({2;2;3},{1;2;2},{1;2;3},_xleta.IF)")[2] == [3.0, "", VALUE, VALUE]


PIVOT_ROWS = '{"r2";"r2";"r3";"r2";"r2";"r2";"r3";"r2";"r3"}'
PIVOT_COLS = '{"c1";"c1";"c2";"c2";"c1";"c2";"c1";"c2";"c2"}'
PIVOT_VALUES = "{1;-1;-7;-1;7;5;9;8;-8}"


def test_pivotby_percentof_relative_to_parent_column_total():
    formula = (f"=PIVOTBY({PIVOT_ROWS},{PIVOT_COLS},{PIVOT_VALUES},_xleta.PERCENTOF,"
               "0,1,1,1,1,{1;1;1;1;1;1;1;1;1},3)")
    got = rows(formula)
    assert got[0] == ["", "c1", "c2", "Total"]
    assert got[1:] == [
        ["r2", pytest.approx(0.3684210526315789), pytest.approx(0.631578947368421), 1.0],
        ["r3", -1.5, 2.5, 1.0],
        ["Total", pytest.approx(1.2307692307692308), pytest.approx(-0.23076923076923078), 1.0]]


@pytest.mark.parametrize("relative, r2_c1", [(0, 7 / 16), (1, 7 / 19), (2, 7 / 13), (4, 7 / 16)])
def test_pivotby_relative_to_choices(relative, r2_c1):
    formula = (f"=PIVOTBY({PIVOT_ROWS},{PIVOT_COLS},{PIVOT_VALUES},_xleta.PERCENTOF,"
               f"0,1,1,1,1,,{relative})")
    assert rows(formula)[1][1] == pytest.approx(r2_c1)


def test_pivotby_totals_first_and_sorted_by_value():
    got = rows(f"=PIVOTBY({PIVOT_ROWS},{PIVOT_COLS},{PIVOT_VALUES},_xleta.SUM,0,-1,2,-1,-2)")
    assert got == [["", "Total", "c1", "c2"], ["Total", 13.0, 16.0, -3.0],
                   ["r3", -6.0, 9.0, -15.0], ["r2", 19.0, 7.0, 12.0]]


def test_pivotby_two_column_levels_sorted_per_level():
    cells = {"A1": "r", "A2": "r", "A3": "r", "A4": "r",
             "B1": "a", "B2": "a", "B3": "b", "B4": "b",
             "C1": "e", "C2": "g", "C3": "d", "C4": "f",
             "D1": 23.0, "D2": 14.0, "D3": 9.0, "D4": 7.0}
    assert rows("=PIVOTBY(A1:A4,B1:C4,D1:D4,_xleta.SUM,0,0,1,1,{1,-2})", cells) == [
        ["", "a", "a", "b", "b", "Total"], ["", "g", "e", "f", "d", ""],
        ["r", 14.0, 23.0, 7.0, 9.0, 53.0]]
    # A value sort orders the innermost level; the outer level keeps ascending keys.
    assert rows("=PIVOTBY(A1:A4,B1:C4,D1:D4,_xleta.SUM,0,0,1,1,3)", cells)[1] == [
        "", "g", "e", "f", "d", ""]


def test_pivotby_shown_headers_with_subtotals_and_parent_row_percentages():
    formula = ('=PIVOTBY({"r1","r2";2,1;2,2;3,1},{"c1","c2";1,1;2,1;2,2},'
               '{"v1","v2";1,3;2,5;3,2},_xleta.PERCENTOF,3,2,1,0,1,{"f";1;1;1},3)')
    got = rows(formula)
    assert got[0] == ["", "", "c1, c2", "", "", "", "", ""]
    assert got[1] == ["", "", 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]
    assert got[3] == ["r1", "r2", "v1", "v2", "v1", "v2", "v1", "v2"]
    assert got[6] == [2.0, "", 1.0, 1.0, 1.0, 1.0, "", ""]
    assert got[-1] == ["Grand Total", "", 1.0, 1.0, 0.4, pytest.approx(5 / 7), 0.6,
                       pytest.approx(2 / 7)]


def test_pivotby_total_depth_past_the_fields_is_value_error():
    assert evaluate_formula("=PIVOTBY({1;2},{1;2},{1;2},_xleta.SUM,0,3)") is VALUE


# -- TRIMRANGE ---------------------------------------------------------------------------------
GRID = {"B1": 0.0, "B2": 1.0, "C3": 3.0, "B4": 2.0}  # A1:C5 with blank column A and row 5


def test_trimrange_trims_blank_outer_rows_and_columns():
    assert rows("=TRIMRANGE(A1:C5)", GRID) == [[0.0, B], [1.0, B], [B, 3.0], [2.0, B]]
    assert rows("=TRIMRANGE(A1:C5,3,2)", GRID) == [
        [B, 0.0, B], [B, 1.0, B], [B, B, 3.0], [B, 2.0, B]]
    assert rows('=TRIMRANGE(C1:C5,"1",0)', GRID) == [[3.0], [B], [B]]


def test_trimrange_returns_a_reference():
    assert evaluate_formula("=ROWS(TRIMRANGE(A1:C9))", GRID) == 4.0
    assert evaluate_formula("=SUM(TRIMRANGE(B:B))", GRID) == 3.0


def test_trimrange_errors():
    assert evaluate_formula("=TRIMRANGE(D1:E5)", GRID) is REF
    assert evaluate_formula("=TRIMRANGE(A1:C5,2.3)", GRID) is VALUE
    assert evaluate_formula('=TRIMRANGE(A1:C5,"3.3")', GRID) is VALUE
    assert evaluate_formula("=TRIMRANGE(A1:C5,4)", GRID) is VALUE
    assert rows("=TRIMRANGE(A1:C5,{1,1},2)", GRID) == [[VALUE, VALUE]]
    assert rows("=TRIMRANGE(C1:C5,{3;1})", GRID) == [[3.0], [VALUE]]
