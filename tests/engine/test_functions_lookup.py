"""Lookup and reference functions and the dynamic-array family: Excel's own values (the LOOKUP
sheet of the oracle workbook and Excel's documentation)."""

from __future__ import annotations

import pytest

from engine.api import evaluate_formula as ev
from engine.errors import DIV0, NA, NUM, REF, VALUE
from engine.functions.lookup import find_sorted
from engine.values import Array

SORTED = "{-1.1,2.1,3.1,4.1}"


@pytest.mark.parametrize("value, array, match_type, expected", [
    ("-2", SORTED, "", NA),
    ("1.1", SORTED, "", 1.0),
    ("3", SORTED, "", 2.0),
    ("4.1", SORTED, "", 4.0),
    ("A1", SORTED, "", 1.0),                             # blank looks for 0
    ('"x"', SORTED, "", NA),                             # other types never match
    ("3", '{"a",2.1,"c bau c",4.1}', "", 2.0),           # probes skip text cells
    ("4.1", '{"a",2.1,"c bau c",4.1}', "", 4.0),
    ("4.1", '{"c bau c",4.1,"a",1.1}', "", 2.0),         # stops at an exact hit
    ("4", "{4.1,3.1,2.1,1.1}", "", 4.0),                 # unsorted: Excel's bisection answer
    ("3", "{4.1,3.1,2.1,1.1}", "", NA),
    ("TRUE", "{FALSE,2.1,TRUE,4.1}", "", 3.0),
    ("2", "{1,2,2,2,3}", "", 4.0),                       # last of equal values
    ("3", "{4.1,3.1,2.1,1.1}", ",-1", 2.0),
    ("-2", SORTED, ",-1", 4.0),
    ("1.1", SORTED, ",-1", NA),                          # -1 walks forward until smaller
    ("0", "{3,2,2}", ",-1", 3.0),
    ("4.1", "{4.1,3.1,2.1,1.1}", ",0", 1.0),
    ('"*b?u*"', '{"c bau c",4.1,"a",1.1}', ",0", 1.0),   # wildcards in exact mode
    ('"A"', '{"c","a"}', ",0", 2.0),                      # case-insensitive
    ("TRUE", "{1,TRUE}", ",0", 2.0),
    ("A1", '{"",0}', ",0", 2.0),
    ("#N/A", SORTED, "", NA),
    ("1/0", SORTED, "", DIV0),
])
def test_match(value, array, match_type, expected):
    assert ev(f"=MATCH({value},{array}{match_type})") == expected


def test_match_two_dimensional_is_na_and_lifts_over_values():
    assert ev("=MATCH(1,{1,2;3,4},0)") == NA
    assert ev("=MATCH({3,1},{1,2,3},0)", array=True) == Array([[3.0, 1.0]])


def test_find_sorted_on_a_large_sorted_column():
    items = [float(i) for i in range(0, 10000, 2)]
    assert find_sorted(items, 5001.0) == 2500
    assert find_sorted(items, -1.0) is None


@pytest.mark.parametrize("formula, expected", [
    ("=LOOKUP(2,{-1.1,2.1,3.1,4.1})", -1.1),
    ("=LOOKUP(20,{-1.1,2.1,3.1,4.1},{\"L\",\"ML\",\"MR\",\"R\"})", "R"),
    ("=LOOKUP(-2,{-1.1,2.1,3.1,4.1})", NA),
    ('=LOOKUP("b",{"a",2.1,"b",4.1})', "b"),
    ('=LOOKUP(4,{"a",2.1,"b",4.1})', 2.1),
    ("=LOOKUP(4,{1,2;3,4;5,6})", 4.0),                   # array form: first column, last column
    ("=LOOKUP(4,{1,3,5;10,20,30})", 20.0),               # wider than tall: first row, last row
    ("=LOOKUP(2,1/(A1:A4=\"x\"),B1:B4)", 3.0),           # the last-match idiom
])
def test_lookup(formula, expected):
    cells = {"A1": "x", "A2": "y", "A3": "x", "A4": "z", "B1": 1, "B2": 2, "B3": 3, "B4": 4}
    assert ev(formula, cells, array=True) == expected


TABLE = "{-1.1,2.1,3.1,4.1;5,6,7,8}"


@pytest.mark.parametrize("value, index, mode, expected", [
    ("-1.1", "2", "0", 5.0),
    ("3", "2", "0", NA),
    ("3", "2", "-2", 6.0),       # any non-zero is approximate
    ("3", "2", "", 6.0),
    ("A1", "2", "-2", 5.0),      # blank looks for 0
    ('"b"', "2", "0", NA),
    ("3", "{2,3}", "-2", 6.0),   # only the first cell of an index array counts
    ("3", "3", "1", REF),
    ("3", "0", "1", VALUE),
    ("#DIV/0!", "2", "0", DIV0),
])
def test_hlookup(value, index, mode, expected):
    sep = "," if mode else ""
    assert ev(f"=HLOOKUP({value},{TABLE},{index}{sep}{mode})") == expected


def test_vlookup():
    cells = {"A1": "apple", "B1": 1, "A2": "Banana", "B2": 2, "A3": "cherry", "B3": 3}
    assert ev('=VLOOKUP("banana",A1:B3,2,FALSE)', cells) == 2.0
    assert ev('=VLOOKUP("b*",A1:B3,2,FALSE)', cells) == 2.0
    assert ev('=VLOOKUP("c?erry",A1:B3,2,0)', cells) == 3.0
    assert ev('=VLOOKUP("zz",A1:B3,2,)', cells) == NA        # empty 4th argument is FALSE
    assert ev('=VLOOKUP("bz",A1:B3,2)', cells) == 2.0
    assert ev("=VLOOKUP(2.5,{1,10;2,20;3,30},2,TRUE)") == 20.0
    assert ev("=VLOOKUP(2,{1,10;2,20;3,30},3,TRUE)") == REF
    assert ev("=VLOOKUP({1;3},{1,10;2,20;3,30},2,0)", array=True) == Array([[10.0], [30.0]])


@pytest.mark.parametrize("formula, expected", [
    ("=XMATCH(3.1,{-1.1,2.1,3.1,4.1})", 3.0),
    ("=XMATCH(3,{-1.1,2.1,3.1,4.1})", NA),
    ("=XMATCH(3,{-1.1,2.1,3.1,4.1},-1)", 2.0),
    ("=XMATCH(3,{-1.1,2.1,3.1,4.1},1)", 3.0),
    ("=XMATCH(3,{4.1,2.1,3.1},1)", 3.0),                 # linear: closest larger
    ('=XMATCH("c*",{"a","cat","dog"},2)', 2.0),
    ('=XMATCH("c*",{"a","cat","dog"})', NA),              # no wildcards in exact mode
    ("=XMATCH(2,{2,1,2},0,-1)", 3.0),                     # last to first
    ("=XMATCH(3,{1,2,3,4,5},0,2)", 3.0),
    ("=XMATCH(3.5,{1,2,3,4,5},-1,2)", 3.0),
    ("=XMATCH(3.5,{5,4,3,2,1},1,-2)", 2.0),
    ('=XMATCH("x",{-1.1,2.1,3.1,4.1},-1)', 4.0),          # text sorts above numbers
    ("=XMATCH(A1,{-1.1,2.1,3.1,4.1},1)", NA),             # blank sorts above everything
    ("=XMATCH(A1,{-1.1,2.1,3.1,4.1},-1)", 4.0),
    ("=XMATCH(4.1,{\"c bau c\",4.1,\"a\",1.1},0,2)", 2.0),
    ("=XMATCH(TRUE,{TRUE,4.1,FALSE,1.1},-1,2)", 4.0),     # Excel's bisection on unsorted data
    ("=XMATCH(1,{1,2},3)", VALUE),
    ("=XMATCH(1,{1,2},0,0)", VALUE),
    # the oracle (EXTRA L74:L79): XMATCH compares text under case folding, MATCH does not
    ('=XMATCH("ß",{1,"ss",2.1,"c bau c",4.1},0)', 2.0),
    ('=XMATCH("ß",{1,"ss",2.1,"c bau c",4.1},1)', 2.0),
    ('=XMATCH("ß",{1,"SS",2.1},-1)', 2.0),
    ('=MATCH("ß",{1,"ss",2.1,"c bau c",4.1},0)', NA),
    ('=XMATCH("ß?",{1,"ssa",2.1},2)', NA),                # nor in wildcard mode
    # match mode 3: a regular expression matching part of a text cell, case-sensitively
    ('=XMATCH("ß",{1,"ss",2.1,"c bau c",4.1},3)', NA),
    ('=XMATCH("b.u",{1,"ss",2.1,"c bau c",4.1},3)', 4.0),
    ('=XMATCH("^B",{"abc","bcd","Bde"},3)', 3.0),
    ('=XMATCH("^b",{"bcd","Bde","b"},3,-1)', 3.0),
    ('=XMATCH("(",{"a"},3)', VALUE),
    ('=XMATCH("a",{"a"},3,2)', VALUE),
    ("=XMATCH(3,{1,2,3},4)", VALUE),
])
def test_xmatch(formula, expected):
    assert ev(formula) == expected


def test_xlookup():
    cells = {"A1": "a", "A2": "b", "A3": "c", "B1": 1, "B2": 2, "B3": 3, "C1": 10, "C2": 20,
             "C3": 30}
    assert ev('=XLOOKUP("b",A1:A3,B1:B3)', cells) == 2.0
    assert ev('=XLOOKUP("z",A1:A3,B1:B3)', cells) == NA
    assert ev('=XLOOKUP("z",A1:A3,B1:B3,"none")', cells) == "none"
    assert ev('=XLOOKUP("z",A1:A3,B1:B3,)', cells) == NA
    assert ev('=XLOOKUP("b",A1:A3,B1:C3)', cells, array=True) == Array([[2.0, 20.0]])
    assert ev("=XLOOKUP(2,B1:C1,B1:C3)", cells, array=True) == NA
    assert ev("=XLOOKUP(10,C1:C3,A1:A3,,1)", cells) == "a"
    assert ev("=XLOOKUP(15,C1:C3,A1:A3,,1)", cells) == "b"
    assert ev("=XLOOKUP(1,B1:B3,A1:A2)", cells) == VALUE       # sizes differ
    assert ev('=XLOOKUP("x",A1:A3,B1:B3,1/0)', cells) == DIV0
    # the oracle (LOOKUP row 162): search_mode -1.1 is read as -2 (rounded down), so a binary
    # search in descending order on ascending data
    table = '{-1.1,2.1,3.1,4.1},{"L","ML","MR","R"}'
    assert ev(f"=XLOOKUP(-1.1,{table},1,1,-1.1)") == "R"
    assert ev(f"=XLOOKUP(-1.1,{table},1,1,-1)") == "L"
    assert ev(f"=XLOOKUP(3,{table},1,2,-1.1)") == VALUE      # wildcards and bisection


def test_index_array_form():
    assert ev("=INDEX({2,3,4},2)") == 3.0
    assert ev("=INDEX({2,3,4},1,1)") == 2.0
    assert ev("=INDEX({2,3,4},2,1)") == REF
    assert ev("=INDEX({2,3,4},4)") == REF
    assert ev("=INDEX({2,3;4,5},2)", array=True) == Array([[4.0, 5.0]])
    assert ev("=INDEX({2,3;4,5},0,2)", array=True) == Array([[3.0], [5.0]])
    assert ev("=INDEX({2,3;4,5},{1,2})", array=True) == Array([[2.0, 4.0]])
    assert ev("=INDEX({2,3,4,5},#N/A,#VALUE!)") == NA
    assert ev("=INDEX({2,3,4,5},1,1,2)") == REF


def test_index_reference_form():
    cells = {"A1": 1, "B1": 2, "C1": 3, "A2": 4, "B2": 5, "C2": 6, "A3": 7, "B3": 8, "C3": 9}
    assert ev("=INDEX(A1:C3,2,3)", cells) == 6.0
    assert ev("=SUM(INDEX(A1:C3,2,0))", cells) == 15.0
    assert ev("=SUM(INDEX(A1:C3,0,2))", cells) == 15.0
    assert ev("=SUM(INDEX(A1:C3,2,2):C3)", cells) == 28.0
    assert ev("=INDEX(A1:C3,2)", cells) == REF           # 2-D reference needs a column
    assert ev("=INDEX(A1:A3,2)", cells) == 4.0
    assert ev("=INDEX(A1:C1,2)", cells) == 2.0           # one row: the index is a column
    assert ev("=INDEX(A1:C3,-1)", cells) == VALUE
    assert ev("=INDEX((A1:A3,C1:C3),2,1,2)", cells) == 6.0
    assert ev("=INDEX((A1:A3,C1:C3),1,1,3)", cells) == REF
    assert ev("=INDEX((A1:A3,C1:C3),1,1,0)", cells) == VALUE
    assert ev("=INDEX(A1:A3,B4)", cells | {"B4": 3}) == 7.0
    assert ev("=INDEX(A1:B3,{3;1},1)", cells, array=True) == Array([[7.0], [1.0]])


def test_choose():
    cells = {"A1": 1, "A2": 2, "B1": 10, "B2": 20}
    assert ev("=CHOOSE(2,\"a\",\"b\",\"c\")") == "b"
    assert ev("=CHOOSE(2.9,1,2,3)") == 2.0
    assert ev("=CHOOSE(TRUE,1,2,3)") == 1.0
    assert ev("=CHOOSE(4,1,2,3)") == VALUE
    assert ev("=CHOOSE(0,1,2,3)") == VALUE
    assert ev("=CHOOSE(\"x\",1,2,3)") == VALUE
    assert ev("=CHOOSE(1,5,1/0)") == 5.0                     # others are not evaluated
    assert ev("=SUM(CHOOSE(2,A1:A2,B1:B2))", cells) == 30.0  # the chosen reference
    assert ev("=CHOOSE({1,2},A1:A2,B1:B2)", cells, array=True) == Array([[1.0, 10.0],
                                                                         [2.0, 20.0]])
    assert ev("=CHOOSE({1,3},A1,B1)", cells, array=True) == Array([[1.0, VALUE]])


def test_offset_and_indirect():
    cells = {"A1": 1, "A2": 2, "B2": 5, "B3": 6, "C3": 7}
    assert ev("=OFFSET(A1,1,1)", cells) == 5.0
    assert ev("=SUM(OFFSET(A1,1,1,2,2))", cells) == 18.0
    assert ev("=SUM(OFFSET(A1,1,1,,))", cells) == 5.0      # empty size keeps the reference's
    assert ev("=OFFSET(A1,-1,0)", cells) == REF
    assert ev("=OFFSET(A1,0,0,0)", cells) == REF
    assert ev("=OFFSET(5,1,1)", cells) == VALUE
    assert ev('=INDIRECT("B2")', cells) == 5.0
    assert ev('=SUM(INDIRECT("A1:A2"))', cells) == 3.0
    assert ev('=INDIRECT("R3C3",FALSE)', cells) == 7.0


def test_row_column_rows_columns_areas():
    assert ev("=ROW(C112)") == 112.0
    assert ev("=ROW()", at="D7") == 7.0
    assert ev("=COLUMN()", at="D7") == 4.0
    assert ev("=COLUMN(AC12:AD12)", array=True) == Array([[29.0, 30.0]])
    assert ev("=ROW(B2:C4)", array=True) == Array([[2.0], [3.0], [4.0]])
    assert ev("=ROW(B2:C4)") == 2.0
    assert ev("=ROWS(C114:F115)") == 2.0
    assert ev("=COLUMNS(C15:F15)") == 4.0
    assert ev("=ROWS({1,2;3,4;5,6})") == 3.0
    assert ev("=COLUMNS(7)") == 1.0
    assert ev("=ROWS((A1:A2,B1:B3))") == REF
    assert ev("=AREAS((A1:A2,B1:B3,C5))") == 3.0
    assert ev("=AREAS(A1:C5)") == 1.0


@pytest.mark.parametrize("formula, expected", [
    ("=ADDRESS(2,3)", "$C$2"),
    ("=ADDRESS(2,3,2)", "C$2"),
    ("=ADDRESS(2,3,3)", "$C2"),
    ("=ADDRESS(2,3,4)", "C2"),
    ("=ADDRESS(2,3,1,FALSE)", "R2C3"),
    ("=ADDRESS(3,4,4.1,FALSE,\"*b?u*\")", "'*b?u*'!R[3]C[4]"),
    ("=ADDRESS(1.1,3,4,4.1,A9)", "!C1"),                  # empty sheet text
    ('=ADDRESS(1,1,1,TRUE,"Sheet1")', "Sheet1!$A$1"),
    ('=ADDRESS(1,1,1,TRUE,"My Sheet")', "'My Sheet'!$A$1"),
    ("=ADDRESS(-2,1)", VALUE),
    ("=ADDRESS(1,1,5)", VALUE),
    ("=ADDRESS(1,16385)", VALUE),
])
def test_address(formula, expected):
    assert ev(formula) == expected


def test_transpose_and_stacks():
    assert ev("=TRANSPOSE({1,2;3,4})", array=True) == Array([[1.0, 3.0], [2.0, 4.0]])
    assert ev("=HSTACK({1;2},3)", array=True) == Array([[1.0, 3.0], [2.0, NA]])
    assert ev("=VSTACK({1,2},3)", array=True) == Array([[1.0, 2.0], [3.0, NA]])


M = "{1,2,3;4,5,6;7,8,9}"


@pytest.mark.parametrize("formula, expected", [
    (f"=TAKE({M},-2)", Array([[4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])),
    (f"=TAKE({M},1,-1)", Array([[3.0]])),
    (f"=TAKE({M},,2)", Array([[1.0, 2.0], [4.0, 5.0], [7.0, 8.0]])),
    (f"=TAKE({M},0)", VALUE),
    (f"=DROP({M},-2)", Array([[1.0, 2.0, 3.0]])),
    (f"=DROP({M},1,1)", Array([[5.0, 6.0], [8.0, 9.0]])),
    (f"=DROP({M},0)", Array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])),
    (f"=DROP({M},4)", VALUE),
    (f"=DROP({M},\"1.1\",{{1;2;1}})", Array([[5.0], [6.0], [5.0]])),
    (f"=CHOOSECOLS({M},-3.9)", Array([[1.0], [4.0], [7.0]])),
    (f"=CHOOSECOLS({M},{{1,2}},3)", Array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0],
                                           [7.0, 8.0, 9.0]])),
    (f"=CHOOSECOLS({M},4)", VALUE),
    (f"=CHOOSECOLS({M},{{1,2;1,2}})", VALUE),
    (f"=CHOOSEROWS({M},2.9)", Array([[4.0, 5.0, 6.0]])),
    (f"=CHOOSEROWS({M},#N/A)", NA),
    ("=EXPAND({1},2,2,4)", Array([[1.0, 4.0], [4.0, 4.0]])),
    ("=EXPAND({1},3)", Array([[1.0], [NA], [NA]])),
    ("=EXPAND({1,2},1,1)", VALUE),
    ("=WRAPROWS({1,2,3,4,5},2)", Array([[1.0, 2.0], [3.0, 4.0], [5.0, NA]])),
    ("=WRAPCOLS({1,2,3},2,0)", Array([[1.0, 3.0], [2.0, 0.0]])),
    ("=WRAPROWS({1,2,3},0)", NUM),
    ("=TOCOL({1,2;3,4})", Array([[1.0], [2.0], [3.0], [4.0]])),
    ("=TOCOL({1,2;3,4},0,TRUE)", Array([[1.0], [3.0], [2.0], [4.0]])),
    ("=TOROW({1,#N/A;3,4},2)", Array([[1.0, 3.0, 4.0]])),
    ("=TOROW({1,2},4)", VALUE),
])
def test_shape_functions(formula, expected):
    assert ev(formula, array=True) == expected


def test_tocol_can_skip_blanks():
    cells = {"A1": 1, "B1": 2, "B2": 3}
    assert ev("=TOCOL(A1:B2,1)", cells, array=True) == Array([[1.0], [2.0], [3.0]])


@pytest.mark.parametrize("formula, expected", [
    ("=SORT({3;1;2})", Array([[1.0], [2.0], [3.0]])),
    ("=SORT({3;1;2},1,-1)", Array([[3.0], [2.0], [1.0]])),
    ('=SORT({"b";1;TRUE;#N/A;"A"})', Array([[1.0], ["A"], ["b"], [True], [NA]])),
    ("=SORT({1,3;2,2;3,1},2)", Array([[3.0, 1.0], [2.0, 2.0], [1.0, 3.0]])),
    ("=SORT({3,1,2},1,1,TRUE)", Array([[1.0, 2.0, 3.0]])),
    ("=SORT({2,1,2,1},-1,1)", VALUE),
    ("=SORT({1;2},1,2)", VALUE),
    ("=SORTBY({1,2,3;4,5,6},{3,2,2},1,{5,1,4},-1)", Array([[3.0, 2.0, 1.0], [6.0, 5.0, 4.0]])),
    ('=SORTBY({"a";"b";"c"},{2;3;1})', Array([["c"], ["a"], ["b"]])),
    ("=SORTBY({1;2;3},{1,2,3})", VALUE),
    ('=UNIQUE({"a";"A";"b";"a"})', Array([["a"], ["b"]])),
    ("=UNIQUE({1;2;1},FALSE,TRUE)", Array([[2.0]])),
    ("=UNIQUE({1,2,1},TRUE)", Array([[1.0, 2.0]])),
    ("=UNIQUE({1;1},FALSE,TRUE)", VALUE),
    ("=FILTER({1;2;3},{TRUE;FALSE;TRUE})", Array([[1.0], [3.0]])),
    ("=FILTER({1,2,3},{0,1,1})", Array([[2.0, 3.0]])),
    ('=FILTER({1;2},{0;0},"none")', "none"),
    ('=FILTER({"a",2.1},{FALSE,FALSE},{"A";"B"})', Array([["A"], ["B"]])),  # if_empty whole
    ("=FILTER({1;2},{0;0})", VALUE),
    ('=FILTER({1;2},{"a";1})', VALUE),
    ("=FILTER({1;2},{#N/A;1})", NA),
    ("=FILTER({1;2;3},{1;0})", VALUE),
])
def test_sort_unique_filter(formula, expected):
    assert ev(formula, array=True) == expected
