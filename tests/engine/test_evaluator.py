"""Formula evaluation with Excel's semantics: operators and coercions, reference operators,
implicit intersection, array evaluation, errors. Expected values are Excel's (many from the
OPERATORS and CORE sheets of the Excel-calculated oracle workbook)."""

from __future__ import annotations

import pytest

from engine.api import evaluate_formula
from engine.errors import DIV0, NA, NAME, NULL, NUM, REF, VALUE
from engine.values import Array

# The OPERATORS sheet's inputs: zero, one, a decimal, ten, minus one, a blank, text, TRUE.
ROW = {"C1": 0, "D1": 1, "E1": 2.3, "F1": 10, "G1": -1, "I1": "ciao", "J1": True}


def ev(formula: str, cells: dict | None = None, **kw):
    return evaluate_formula(formula, cells, **kw)


# -- arithmetic, text and comparison operators ----------------------------------------------------

@pytest.mark.parametrize(("formula", "expected"), [
    ("=-2^2", 4.0), ("=2^3^2", 64.0), ("=2*3%", 0.06), ("=5%%", 0.0005), ("=-3^2", 9.0),
    ("=1+2*3", 7.0), ("=(1+2)*3", 9.0), ("=8/4/2", 1.0), ("=1-2-3", -4.0), ("=3-+-2", 5.0),
    ("=2^-1", 0.5), ("=1+2&3", "33"), ('="a"&1+2', "a3"), ("=1+2=3", True), ("=1&2=12", False),
    ('=1&2="12"', True), ("=--TRUE", 1.0),
])
def test_precedence_values(formula, expected):
    assert ev(formula) == expected


@pytest.mark.parametrize(("formula", "expected"), [
    ("=C1+D1", 1.0), ("=D1-E1", -1.2999999999999998), ("=E1^F1", 4142.651121364896),
    ("=F1/G1", -10.0), ("=G1+H1", -1.0), ("=G1/H1", DIV0), ("=H1+I1", VALUE), ('=I1+"a"', VALUE),
    ("=J1+D1", 2.0), ("=J1*D1", 1.0), ("=-H1", 0.0), ("=-I1", VALUE), ("=-J1", -1.0),
    ("=+I1", "ciao"), ("=+J1", True), ("=+H1", 0.0),
    ("=C1&D1", "01"), ("=D1&E1", "12.3"), ("=F1&G1", "10-1"), ("=H1&I1", "ciao"),
    ("=I1&J1", "ciaoTRUE"),
    ("=C1<D1", True), ("=F1<G1", False), ("=G1<H1", True), ("=H1<I1", True), ("=I1<J1", True),
    ("=J1<D1", False), ("=J1>D1", True), ('=C1="0"', False), ('=H1=""', True),
    ('=I1="CIAO"', True), ("=J1=D1", False), ("=J1<>D1", True), ("=H1=C1", True),
    ("=H1=FALSE", True),
])
def test_operators_on_each_kind_of_value(formula, expected):
    assert ev(formula, ROW) == expected


@pytest.mark.parametrize(("formula", "expected"), [
    ('="3"+4', 7.0), ("=TRUE+1", 2.0), ("=TRUE*TRUE", 1.0), ('="1e3"*1', 1000.0),
    ('=-"2"', -2.0), ('="abc"*1', VALUE), ('=""+1', VALUE), ("=1/3&\"\"", "0.333333333333333"),
    ("=TRUE&\"\"", "TRUE"), ('=1E+20&""', "1E+20"), ('=0.1+0.2&""', "0.3"), ("=1&TRUE", "1TRUE"),
])
def test_coercions(formula, expected):
    assert ev(formula) == expected


def test_concatenating_a_blank_cell_gives_empty_text():
    assert ev('=""&A1', {"B5": 1}) == ""
    assert ev('=A1&"x"', {"B5": 1}) == "x"
    assert ev("=A1", {"B5": 1}) == 0.0  # a formula showing a blank cell shows 0


@pytest.mark.parametrize(("formula", "expected"), [
    ('="a"="A"', True), ('="B">"a"', True), ('="abc"<"abd"', True), ('="10"<"9"', True),
    # numbers < text < FALSE < TRUE
    ('=1<"a"', True), ('=1E+300<""', True), ('="zzz"<FALSE', True), ("=FALSE<TRUE", True),
    ('=TRUE>"zzz"', True), ("=9E+307<FALSE", True),
    ('=1="1"', False), ("=1=TRUE", False), ('="TRUE"=TRUE', False),
])
def test_comparisons_follow_excels_type_order(formula, expected):
    assert ev(formula) == expected


@pytest.mark.parametrize(("formula", "expected"), [
    ("=1/0", DIV0), ("=0^0", NUM), ("=0^-1", DIV0), ("=(-8)^(1/3)", NUM), ("=(-8)^3", -512.0),
    ("=1E+308*10", NUM), ("=-1E+308-1E+308", NUM),
    # the left operand's error wins, whatever the errors are
    ("=#VALUE!+#N/A", VALUE), ("=#N/A<#DIV/0!", NA), ("=#DIV/0!&#NAME?", DIV0),
    ("=1+#REF!", REF), ('="a"&#N/A', NA), ("=-#NUM!", NUM),
])
def test_errors(formula, expected):
    assert ev(formula) == expected


def test_unknown_function_and_unknown_name_are_name_errors():
    assert ev("=NOSUCHFUNCTION(1)") is NAME
    assert ev("=NoSuchName+1") is NAME


@pytest.mark.parametrize(("formula", "expected"), [
    ("=IF(,,4)", 4.0), ("=IF(,4,)", 0.0), ("=ROUND(2.5,)", 3.0),
    ('=SUM("2","4",TRUE)', 7.0), ('=SUM("2","4","")', VALUE), ('=SUM("2","4","ciao")', VALUE),
])
def test_missing_and_typed_arguments(formula, expected):
    assert ev(formula) == expected


# -- numbers and dates the engine must not get subtly wrong --------------------------------------

@pytest.mark.parametrize(("formula", "expected"), [
    ("=ROUND(0.125,2)", 0.13), ("=ROUND(1.005,2)", 1.01), ("=ROUND(-2.5,0)", -3.0),
    ("=ROUND(2.675,2)", 2.68),
    ("=DATE(1900,2,29)", 60.0), ("=DATE(1900,3,1)", 61.0), ("=DATE(1900,1,1)", 1.0),
    ("=DATE(1900,2,28)+1", 60.0), ("=DAY(60)", 29.0), ("=MONTH(60)", 2.0),
])
def test_rounding_and_the_1900_leap_year(formula, expected):
    assert ev(formula) == expected


# -- array constants and array evaluation --------------------------------------------------------

def test_array_constants():
    assert ev("=SUM({1,2;3,4})") == 10.0
    assert ev("={1,2;3,4}", array=True) == Array([[1.0, 2.0], [3.0, 4.0]])
    assert ev("={1,2;3,4}") == 1.0  # a normal cell shows the top-left element
    # text and booleans inside an array argument are ignored by SUM
    assert ev('=SUM({1,"2",TRUE})') == 1.0
    assert ev("=ROWS({1,2;3,4;5,6})") == 3.0


def test_arrays_broadcast_and_pad_with_na():
    assert ev("={1,2}+{10;20}", array=True) == Array([[11.0, 12.0], [21.0, 22.0]])
    assert ev("={1,2,3}*{1,2}", array=True) == Array([[1.0, 4.0, NA]])
    assert ev("={1,2}*10", array=True) == Array([[10.0, 20.0]])


COLUMN = {"A1": 1, "A2": 2, "A3": 3, "A4": 4, "B1": 10, "B2": 20, "B3": 30, "B4": 40}


def test_sumproduct_evaluates_its_arguments_as_arrays_in_a_normal_formula():
    assert ev("=SUMPRODUCT((A1:A4>2)*B1:B4)", COLUMN, at="E1") == 70.0
    assert ev("=SUMPRODUCT(--(A1:A4>2))", COLUMN, at="E1") == 2.0
    assert ev("=SUMPRODUCT(A1:A4,B1:B4)", COLUMN, at="E1") == 300.0


def test_same_expression_under_sum_intersects_unless_entered_as_an_array():
    # a normal formula in row 1 sees A1 and B1 only (Excel before dynamic arrays, and how a
    # file stores a non-array formula); as an array formula it sees the whole columns
    assert ev("=SUM((A1:A4>2)*B1:B4)", COLUMN, at="E1") == 0.0
    assert ev("=SUM((A1:A4>2)*B1:B4)", COLUMN, at="E3") == 30.0
    assert ev("=SUM((A1:A4>2)*B1:B4)", COLUMN, at="E1", array=True) == 70.0
    assert ev("=A1:A4*2", COLUMN, at="E1", array=True) == Array([[2.0], [4.0], [6.0], [8.0]])


# -- implicit intersection -----------------------------------------------------------------------

@pytest.mark.parametrize(("formula", "at", "expected"), [
    ("=A1:A3", "B2", 2.0), ("=A1:A3", "Z3", 3.0), ("=A1:A3", "B4", VALUE),
    ("=A1:C1", "B5", 2.0), ("=A1:C1", "D5", VALUE), ("=A1:B2", "D1", VALUE),
    ("=A1:A3*2", "B2", 4.0), ("=A1:A3*2", "B9", VALUE), ("=@A1:A3", "B3", 3.0),
    ("=ABS(A1:A3)", "B2", 2.0),
])
def test_implicit_intersection_with_the_formula_row_or_column(formula, at, expected):
    cells = {"A1": 1, "A2": 2, "A3": 3, "B1": 2, "C1": 3}
    assert ev(formula, cells, at=at) == expected


# -- reference operators ---------------------------------------------------------------------------

GRID = {"A1": 1, "B1": 2, "C1": 3, "A2": 4, "B2": 5, "C2": 6, "A3": 7, "B3": 8, "C3": 9,
        "D3": 100}


@pytest.mark.parametrize(("formula", "expected"), [
    ("=SUM(A1:B2 B2:C3)", 5.0),  # intersection is the single cell B2
    ("=SUM(A1:C3 B1:B3)", 15.0),
    ("=A1:B1 A2:B2", NULL),  # no common cell
    ("=SUM((A1,B2),C3)", 15.0),  # union
    ("=SUM((A1:A3,C1:C3))", 30.0),
    ("=COUNT((A1:A3,C1),D3)", 5.0),
    ("=SUM(B1:C2 (A1:B2,C2:D3))", 13.0),  # intersection with each area of a union: B1:B2, C2
    ("=(A1,B2)", VALUE),  # a union cannot be shown in a cell
    ("=(A1,B2)+1", VALUE),
    ("=SUM(INDEX(A1:A3,2):C3)", 39.0),  # A2:C3
    ("=SUM(A1:INDEX(A1:C3,2,2))", 12.0),  # A1:B2
    ("=SUM(OFFSET(A1,1,1,2,2))", 28.0),  # B2:C3
    ("=OFFSET(A1,-1,0)", REF),
    ("=ROWS(A1:C3 A2:C2)", 1.0),
])
def test_reference_operators(formula, expected):
    assert ev(formula, GRID, at="F10") == expected


def test_indirect_reads_addresses_and_names_at_run_time():
    cells = {**GRID, "Sheet2!B1": 42, "My Sheet!A1": 7}
    assert ev('=INDIRECT("B2")', cells, at="F10") == 5.0
    assert ev('=SUM(INDIRECT("A1:"&"C1"))', cells, at="F10") == 6.0
    assert ev('=INDIRECT("R3C3",FALSE)', cells, at="F10") == 9.0
    assert ev('=INDIRECT("R[-8]C[-4]",FALSE)', cells, at="F10") == 5.0
    assert ev('=INDIRECT("Sheet2!B1")', cells, at="F10") == 42.0
    assert ev('=INDIRECT("\'My Sheet\'!A1")', cells, at="F10") == 7.0
    assert ev('=INDIRECT("Nowhere!A1")', cells, at="F10") is REF
    assert ev('=INDIRECT("not a ref")', cells, at="F10") is REF


# -- errors inside ranges ------------------------------------------------------------------------

ERRS = {"A1": 1, "A2": "=1/0", "A3": 3, "A4": "text", "A5": True}


@pytest.mark.parametrize(("formula", "expected"), [
    ("=SUM(A1:A5)", DIV0),  # an error in a range propagates
    ("=SUM(A1,A3:A5)", 4.0),  # text and booleans in a range are ignored
    ("=COUNT(A1:A5)", 2.0),  # COUNT skips errors
    ("=COUNTA(A1:A5)", 5.0),
    ("=IFERROR(SUM(A1:A5),-1)", -1.0),
    ("=ISERROR(A2)", True),
    ("=A1+A4", VALUE),  # text in arithmetic is an error, unlike in SUM
    ("=A1+A5", 2.0),
    ("=MAX(A1:A5)", DIV0),
])
def test_errors_in_ranges(formula, expected):
    assert ev(formula, ERRS, at="C1") == expected
