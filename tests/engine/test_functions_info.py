"""IS* tests, N, T, TYPE, NA, ERROR.TYPE, ISREF, ISFORMULA, SHEET(S): Excel's own values (the
INFORMATION sheet of the oracle workbook)."""

from __future__ import annotations

import pytest

from engine.api import evaluate_formula as ev
from engine.errors import DIV0, NA, VALUE
from engine.values import Array

ROW = {"C1": 0.0, "D1": 1.0, "E1": 2.3, "F1": 10.0, "G1": -1.0, "I1": "ciao", "J1": True,
       "K1": "=1/0", "L1": "=NA()", "M1": "1/1/1900", "N1": "", "O1": "=1+1"}


@pytest.mark.parametrize("name, blank, number, text, logical, div0, na, empty_text", [
    ("ISBLANK", True, False, False, False, False, False, False),
    ("ISERR", False, False, False, False, True, False, False),
    ("ISERROR", False, False, False, False, True, True, False),
    ("ISNA", False, False, False, False, False, True, False),
    ("ISLOGICAL", False, False, False, True, False, False, False),
    ("ISNUMBER", False, True, False, False, False, False, False),
    ("ISTEXT", False, False, True, False, False, False, True),
    ("ISNONTEXT", True, True, False, True, True, True, False),
])
def test_is_functions(name, blank, number, text, logical, div0, na, empty_text):
    cells = ["H1", "E1", "I1", "J1", "K1", "L1", "N1"]
    expected = [blank, number, text, logical, div0, na, empty_text]
    assert [ev(f"={name}({c})", ROW) for c in cells] == expected


def test_is_functions_lift_over_ranges():
    assert ev("=ISERR(C1:L1)", ROW, array=True) == Array(
        [[False, False, False, False, False, False, False, False, True, False]])
    assert ev("=ISNUMBER({1,\"1\",TRUE})", array=True) == Array([[True, False, False]])


@pytest.mark.parametrize("formula, expected", [
    ("=ISEVEN(C1)", True),
    ("=ISEVEN(E1)", True),       # truncated to 2
    ("=ISEVEN(G1)", False),
    ("=ISEVEN(H1)", True),       # blank is 0
    ("=ISEVEN(M1)", False),      # date text is serial 1
    ("=ISEVEN(J1)", VALUE),      # logicals are refused
    ("=ISEVEN(I1)", VALUE),
    ("=ISEVEN(K1)", DIV0),
    ("=ISODD(D1)", True),
    ("=ISODD(-3.7)", True),
    ("=ISODD(\"4\")", False),
    ("=ISODD(J1)", VALUE),
])
def test_iseven_isodd(formula, expected):
    assert ev(formula, ROW) == expected


def test_iseven_refuses_ranges_even_in_array_formulas():
    assert ev("=ISEVEN(C1:E1)", ROW, array=True) == VALUE


@pytest.mark.parametrize("formula, expected", [
    ("=ISREF(0)", False),
    ("=ISREF(\"\")", False),
    ("=ISREF(D1)", True),
    ("=ISREF(C1:E1)", True),
    ("=ISREF(K1)", True),        # a cell holding an error is still a reference
    ("=ISREF(INDEX(C1:E1,1,2))", True),
    ("=ISFORMULA(O1)", True),
    ("=ISFORMULA(C1)", False),
    ("=ISFORMULA(5)", VALUE),
])
def test_isref_isformula(formula, expected):
    assert ev(formula, ROW) == expected


def test_isformula_over_a_range_in_an_array_formula():
    assert ev("=ISFORMULA(K1:M1)", ROW, array=True) == Array([[True, True, False]])


@pytest.mark.parametrize("formula, expected", [
    ("=N(F1)", 10.0),
    ("=N(H1)", 0.0),
    ("=N(M1)", 0.0),             # text is 0, even when it reads as a date
    ("=N(J1)", 1.0),
    ("=N(K1)", DIV0),
    ("=N(C1:F1)", 0.0),          # first cell of a range
    ("=T(I1)", "ciao"),
    ("=T(F1)", ""),
    ("=T(J1)", ""),
    ("=T(L1)", NA),
])
def test_n_t(formula, expected):
    assert ev(formula, ROW) == expected


def test_n_takes_the_first_cell_even_in_array_formulas():
    assert ev("=N(F1:J1)", ROW, array=True) == 10.0


@pytest.mark.parametrize("formula, expected", [
    ("=TYPE(C1)", 1.0),
    ("=TYPE(H1)", 1.0),
    ("=TYPE(I1)", 2.0),
    ("=TYPE(J1)", 4.0),
    ("=TYPE(K1)", 16.0),
    ("=TYPE(C1:Q1)", 64.0),
    ("=TYPE({1,2})", 64.0),
    ("=TYPE(\"x\")", 2.0),
    ("=TYPE(LAMBDA(x,x))", 128.0),     # a function value (the oracle: TYPE(_xleta.SUM))
])
def test_type(formula, expected):
    assert ev(formula, ROW) == expected


@pytest.mark.parametrize("formula, expected", [
    ("=NA()", NA),
    ("=ERROR.TYPE(#NULL!)", 1.0),
    ("=ERROR.TYPE(K1)", 2.0),
    ("=ERROR.TYPE(#VALUE!)", 3.0),
    ("=ERROR.TYPE(#REF!)", 4.0),
    ("=ERROR.TYPE(#NAME?)", 5.0),
    ("=ERROR.TYPE(#NUM!)", 6.0),
    ("=ERROR.TYPE(L1)", 7.0),
    ("=ERROR.TYPE(#GETTING_DATA)", 8.0),
    ("=ERROR.TYPE(C1)", NA),
    ("=ERROR.TYPE(I1)", NA),
])
def test_na_error_type(formula, expected):
    assert ev(formula, ROW) == expected


def test_error_type_lifts():
    assert ev("=ERROR.TYPE(J1:L1)", ROW, array=True) == Array([[NA, 2.0, 7.0]])


def test_sheet_and_sheets():
    cells = {"A1": 1, "Data!A1": 2, "Other!A1": 3}
    assert ev("=SHEET()", cells) == 1.0
    assert ev("=SHEET(Other!A1)", cells) == 3.0
    assert ev("=SHEET(\"data\")", cells) == 2.0
    assert ev("=SHEET(\"nope\")", cells) == NA
    assert ev("=SHEETS()", cells) == 3.0
    assert ev("=SHEETS(Data!A1)", cells) == 1.0
