"""IF, IFS, IFERROR, IFNA, AND, OR, XOR, NOT, SWITCH: expected values are Excel's own (the
LOGICAL sheet of the oracle workbook and Excel's documentation)."""

from __future__ import annotations

import pytest

from engine.api import evaluate_formula as ev
from engine.errors import DIV0, NA, REF, VALUE
from engine.values import Array

ROW = {"C1": 0.0, "D1": 1.0, "E1": 2.3, "G1": -1.0, "I1": "0", "J1": True, "K1": "=1/0",
       "L1": "ciao", "M1": "=NA()"}


@pytest.mark.parametrize("formula, expected", [
    ("=IF(C1,1)", False),
    ("=IF(D1,1)", 1.0),
    ("=IF(H1,1,2)", 2.0),            # blank is FALSE
    ("=IF(L1,1)", VALUE),            # text condition
    ("=IF(K1,1)", DIV0),             # error condition propagates
    ("=IF(\"TRUE\",1,2)", 1.0),
    ("=IF(TRUE,,2)", 0.0),           # missing value_if_true gives 0
    ("=IF(FALSE,1,)", 0.0),
    ("=IF(TRUE,1,1/0)", 1.0),        # the other branch is never evaluated
    ("=IF(FALSE,NA(),5)", 5.0),
])
def test_if(formula, expected):
    assert ev(formula, ROW) == expected


def test_if_returns_a_reference_usable_by_sum():
    assert ev("=SUM(IF(TRUE,A1:A3,B1))", {"A1": 1, "A2": 2, "A3": 3}) == 6.0


def test_if_array_condition_chooses_per_element():
    cells = {"C1": 0, "D1": 1, "E1": 2.3, "F1": 10}
    assert ev("=IF(C1:D1,D1:E1)", cells, array=True) == Array([[False, 2.3]])
    assert ev("=IF(C1:D1,D1:E1,E1:F1)", cells, array=True) == Array([[2.3, 2.3]])
    assert ev("=IF({1;0},{1,2},3)", array=True) == Array([[1.0, 2.0], [3.0, 3.0]])


def test_if_array_condition_with_text_and_errors():
    cells = {"A1": "ciao", "B1": True, "C1": "=1/0", "D1": 1, "E1": 2, "F1": 3}
    assert ev("=IF(A1:C1,D1:F1,0)", cells, array=True) == Array([[VALUE, 2.0, DIV0]])


@pytest.mark.parametrize("formula, expected", [
    ("=IFS(C1,1,E1,2)", 2.0),
    ("=IFS(C1,1,H1,2)", NA),         # nothing true
    ("=IFS(I1,1,TRUE,2)", VALUE),    # text "0" from a cell is not a logical
    ("=IFS(C1,1,K1,2)", DIV0),
    ("=IFS(TRUE,1,1/0,2)", 1.0),     # stops at the first true condition
    ("=IFS(TRUE)", VALUE),
])
def test_ifs(formula, expected):
    assert ev(formula, ROW) == expected


def test_ifs_over_arrays():
    cells = {"C1": 0, "D1": 1, "E1": 2.3, "F1": 0, "G1": -1, "J1": True}
    assert ev("=IFS(C1:D1,J1,E1:F1,G1)", cells, array=True) == Array([[-1.0, True]])


@pytest.mark.parametrize("formula, expected", [
    ("=IFERROR(1/0,5)", 5.0),
    ("=IFERROR(NA(),5)", 5.0),
    ("=IFERROR(3,1/0)", 3.0),
    ("=IFERROR(1/0,)", 0.0),
    ("=IFERROR(\"a\",1)", "a"),
    ("=IFNA(NA(),5)", 5.0),
    ("=IFNA(1/0,5)", DIV0),          # only #N/A is caught
    ("=IFNA(K1,M1)", DIV0),
])
def test_iferror_ifna(formula, expected):
    assert ev(formula, ROW) == expected


def test_iferror_ifna_per_element():
    cells = {"A1": "=1/0", "B1": "=NA()", "C1": 4}
    assert ev("=IFERROR(A1:C1,0)", cells, array=True) == Array([[0.0, 0.0, 4.0]])
    assert ev("=IFNA(A1:C1,0)", cells, array=True) == Array([[DIV0, 0.0, 4.0]])


@pytest.mark.parametrize("formula, expected", [
    ("=AND(C1,TRUE)", False),
    ("=AND(D1,TRUE)", True),
    ("=AND(H1,TRUE)", True),          # blank cells are ignored
    ("=AND(I1,TRUE)", True),          # text in a cell is ignored
    ("=AND(TRUE,\"0\")", True),       # typed text that is not TRUE/FALSE is skipped
    ("=AND(TRUE,\"FALSE\")", False),  # typed "FALSE" counts
    ("=AND(H1:I1)", VALUE),           # nothing logical at all
    ("=AND(C1:D1,D1)", False),
    ("=AND(TRUE,\"0\",#REF!)", REF),
    ("=AND(K1,TRUE)", DIV0),
    ("=OR(C1,FALSE)", False),
    ("=OR(G1,FALSE)", True),
    ("=OR(L1,FALSE)", False),
    ("=OR(C1:D1,C1)", True),
    ("=OR(H1:I1)", VALUE),
    ("=XOR(D1,FALSE)", True),
    ("=XOR(C1:E1,C1)", False),        # two TRUEs
    ("=XOR(C1:D1,C1)", True),
    ("=XOR(TRUE,TRUE,TRUE)", True),
])
def test_and_or_xor(formula, expected):
    assert ev(formula, ROW) == expected


def test_and_reads_every_area_of_a_union():
    assert ev("=AND((A1,B1))", {"A1": True, "B1": 0}) is False


@pytest.mark.parametrize("formula, expected", [
    ("=NOT(C1)", True),
    ("=NOT(E1)", False),
    ("=NOT(H1)", True),
    ("=NOT(I1)", VALUE),
    ("=NOT(K1)", DIV0),
    ("=TRUE()", True),
    ("=FALSE()", False),
])
def test_not_true_false(formula, expected):
    assert ev(formula, ROW) == expected


def test_not_lifts_over_ranges():
    assert ev("=NOT(C1:E1)", ROW, array=True) == Array([[True, False, False]])


SWITCH = '=SWITCH({x},2,0,1,3,TRUE,2,1,1,-1,6,2.3,5,,3,"ciao",99,7)'


@pytest.mark.parametrize("x, expected", [
    ("C1", 3.0),        # 0 matches the empty value
    ("2", 0.0),
    ("E1", 5.0),
    ("10", 7.0),        # default
    ("G1", 6.0),
    ("H1", 3.0),        # blank matches the empty value too
    ('"CIAO"', 99.0),   # text compares case-insensitively
    ("J1", 2.0),        # TRUE is not 1
    ("K1", DIV0),
])
def test_switch(x, expected):
    assert ev(SWITCH.format(x=x), ROW) == expected


def test_switch_without_default_and_match_is_na():
    assert ev("=SWITCH(5,1,2)") == NA
    assert ev("=SWITCH(5)") == VALUE


def test_switch_lifts_over_the_expression():
    assert ev(SWITCH.format(x="C1:E1"), ROW, array=True) == Array([[3.0, 3.0, 5.0]])
