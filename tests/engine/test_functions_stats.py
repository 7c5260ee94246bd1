"""Statistical aggregates, checked against values Excel computed (formulas/test.xlsx)."""

import math

import pytest

from engine.api import evaluate_formula
from engine.errors import DIV0, NA, NUM, REF, VALUE
from engine.functions.stats import kth_largest, numbers_of, percentile_exc, percentile_inc
from engine.values import BLANK, Array

# One row of the oracle sheet: numbers, a blank (F1), text, TRUE and an error.
ROW = {"A1": 0.0, "B1": 0.1, "C1": 0.2, "D1": 0.3, "E1": -0.1, "G1": "abc", "H1": True,
       "I1": "=NA()"}
SPREAD = {"A1": 0.0, "B1": -10.0, "C1": 0.9, "D1": 2.2, "E1": -0.1, "G1": "abc", "H1": True}


def ev(formula, cells=None, array=False):
    return evaluate_formula(formula, cells, array=array)


def approx(x):
    return pytest.approx(x, rel=1e-9, abs=1e-15)


# --- the two readings of arguments -------------------------------------------------------------

def test_numbers_of_reads_ranges_and_typed_scalars_differently():
    rng = Array([[1.0, "2", True, BLANK]])
    assert numbers_of([rng]) == [1.0]
    assert numbers_of([rng], a_style=True) == [1.0, 0.0, 1.0]
    assert numbers_of(["2", True]) == [2.0, 1.0]
    assert numbers_of(["abc"]) is VALUE
    assert numbers_of([Array([[1.0, NA]])]) is NA


@pytest.mark.parametrize("formula, expected", [
    ("=AVERAGE(A1:B1,B1:C1,C1:D1)", 0.15000000000000002),
    ("=AVERAGE(E1:F1)", -0.1),                     # blank ignored
    ("=AVERAGE(G1,E1)", -0.1),                     # referenced text ignored
    ("=AVERAGE(H1,E1)", -0.1),                     # referenced TRUE ignored
    ("=AVERAGE(E1,TRUE)", 0.45),                   # typed TRUE is 1
    ("=AVERAGE(E1,\"2\")", 0.95),                  # typed numeric text counts
    ("=AVERAGEA(D1:H1)", 0.3),                     # text 0, TRUE 1: (0.3-0.1+0+1)/4
    ("=COUNT(A1:H1,TRUE,\"3\",\"x\")", 7),
    ("=COUNT(I1,G1)", 0),                          # errors and text are not counted
    ("=COUNTA(E1:I1)", 4),
    ("=COUNTA(1,)", 2),
    ("=COUNTBLANK(E1:G1)", 1),
    ("=MAX(A1:D1,\"2\")", 2),
    ("=MAX(F1)", 0),
    ("=MIN(A1:E1)", -0.1),
    ("=MAXA(E1,G1)", 0),
    ("=MINA(H1,D1)", 0.3),
    ("=MEDIAN(A1:E1)", 0.1),
    ("=MEDIAN(A1:D1)", 0.15000000000000002),
])
def test_aggregates(formula, expected):
    assert ev(formula, ROW) == approx(expected)


@pytest.mark.parametrize("formula, expected", [
    ("=AVERAGE(F1)", DIV0),
    ("=AVERAGE(A1:I1)", NA),                       # errors in a range propagate
    ("=AVERAGE(A1,\"\")", VALUE),                  # typed text that is no number
    ("=AVERAGEA(F1)", DIV0),
    ("=MEDIAN(F1:G1)", NUM),
    ("=MAX(A1:I1)", NA),
    ("=COUNTBLANK(1)", VALUE),
])
def test_aggregate_errors(formula, expected):
    assert ev(formula, ROW) is expected


def test_union_reference_is_read_area_by_area():
    assert ev("=SUM(1)*0+AVERAGE((A1:B1,D1))", ROW) == approx(0.4 / 3)


# --- dispersion ----------------------------------------------------------------------------------

@pytest.mark.parametrize("formula, expected", [
    ("=VAR.S(A1:B1,B1:C1,C1:D1,\"2\")", 30.409999999999997),
    ("=VAR(A1:H1)", 23.965000000000003),
    ("=VAR.P(A1:B1,B1:C1,C1:D1,\"2\")", 26.065714285714282),
    ("=VARP(A1:E1)", 19.172000000000004),
    ("=VARA(D1:H1)", 1.1491666666666667),
    ("=VARPA(E1,G1)", 0.0025000000000000005),
    ("=STDEV.S(A1:B1,B1:C1,C1:D1,\"2\")", 5.514526271584894),
    ("=STDEV.P(A1:B1,B1:C1,C1:D1,\"2\")", 5.105459262957083),
    ("=STDEVA(H1,E1)", 0.7778174593052023),
    ("=STDEVPA(H1,E1)", 0.55),
])
def test_variance_family(formula, expected):
    assert ev(formula, SPREAD) == approx(expected)


@pytest.mark.parametrize("formula", ["=VAR.S(E1:F1)", "=STDEV(E1)", "=VAR.P(F1)", "=STDEVA(F1)"])
def test_variance_needs_enough_points(formula):
    assert ev(formula, SPREAD) is DIV0


@pytest.mark.parametrize("formula, cells, expected", [
    ("=AVEDEV(A1:B1,B1:C1,C1:D1)", ROW, 0.08333333333333333),
    ("=DEVSQ(A1:B1,B1:C1,C1:D1)", ROW, 0.05499999999999999),
    ("=GEOMEAN(2,8)", None, 4),
    ("=HARMEAN(A1:B1,B1:C1,C1:D1)", {"A1": 4, "B1": 0.1, "C1": 0.2, "D1": 0.3},
     0.17866004962779156),
    ("=KURT(A1:B1,B1:C1,C1:D1)", {"A1": 4, "B1": 0.1, "C1": 0.2, "D1": 0.3}, 5.951621437925667),
    ("=SKEW(D1:E1,E1:F1,F1:G1)", {"D1": 0.3, "E1": -0.1, "G1": "x"}, 1.7320508075688767),
    ("=SKEW.P(D1:E1,E1:F1,F1:G1)", {"D1": 0.3, "E1": -0.1, "G1": "x"}, 0.7071067811865476),
])
def test_moments(formula, cells, expected):
    assert ev(formula, cells) == approx(expected)


@pytest.mark.parametrize("formula, expected", [
    ("=AVEDEV(F1:G1)", NUM), ("=DEVSQ(F1)", NUM), ("=GEOMEAN(A1:B1)", NUM),
    ("=HARMEAN(B1,0)", NUM), ("=KURT(A1:C1)", DIV0), ("=SKEW(A1:B1)", DIV0),
    ("=SKEW.P(E1,E1)", DIV0),
])
def test_moment_errors(formula, expected):
    assert ev(formula, ROW) is expected


# --- modes, order statistics -------------------------------------------------------------------

def test_mode_first_most_frequent_wins():
    cells = {"A1": 0.1, "B1": 0.2, "C1": 0.3, "D1": -0.1}
    assert ev("=MODE.SNGL(A1:B1,B1:C1,C1:D1,\"\")", cells) == 0.2   # typed "" is skipped
    assert ev("=MODE(A1:D1)", cells) is NA
    assert ev("=MODE.MULT(A1:B1,B1:C1)", cells, array=True) == Array([[0.2]])
    assert ev("=MODE.MULT(A1:B1,A1:B1,C1)", cells, array=True) == Array([[0.1], [0.2]])
    assert ev("=MODE.MULT(A1:B1,A1:B1,)", cells, array=True) is VALUE


@pytest.mark.parametrize("formula, expected", [
    ("=LARGE(A1:H1,\"1\")", 2.2),
    ("=LARGE(A1:H1,3)", 0),
    ("=LARGE(A1:H1,2.2)", 0),          # fractional k rounds up for LARGE
    ("=SMALL(A1:H1,2.2)", -0.1),       # ... and down for SMALL
    ("=SMALL(A1:H1,TRUE)", -10),
    ("=PERCENTILE.INC(A1:E1,0.03)", -8.812),
    ("=PERCENTILE(A1:B1,0.5)", -5),
    ("=PERCENTILE.EXC(A1:D1,0.2)", -10),
    ("=QUARTILE.INC(C1:D1,1)", 1.225),
    ("=QUARTILE(B1:C1,1.9)", -7.275),
    ("=QUARTILE.EXC(A1:E1,3)", 1.5500000000000003),
    ("=TRIMMEAN(A1:E1,0.4)", (0 - 0.1 + 0.9) / 3),
])
def test_order_statistics(formula, expected):
    assert ev(formula, SPREAD) == approx(expected)


@pytest.mark.parametrize("formula, expected", [
    ("=LARGE(A1:H1,0.9)", NUM), ("=LARGE(A1:H1,6)", NUM), ("=SMALL(A1:H1,\"c\")", VALUE),
    ("=PERCENTILE.INC(A1:E1,1.1)", NUM), ("=PERCENTILE.EXC(A1:E1,0.1)", NUM),
    ("=QUARTILE(A1:E1,-0.1)", NUM), ("=QUARTILE.INC(A1:E1,5)", NUM),
    ("=QUARTILE.EXC(C1:D1,1)", NUM), ("=TRIMMEAN(A1:E1,1)", NUM),
])
def test_order_statistic_errors(formula, expected):
    assert ev(formula, SPREAD) is expected


@pytest.mark.parametrize("formula, expected", [
    ("=RANK.EQ(0,A1:H1,1)", 3), ("=RANK(D1,A1:H1)", 1), ("=RANK.EQ(E1,A1:H1,0)", 4),
    ("=RANK.AVG(0,A1:H1,1)", 3.5), ("=RANK.AVG(-10,A1:H1,1)", 1),
])
def test_rank(formula, expected):
    cells = {**SPREAD, "C1": 0.0}
    assert ev(formula, cells) == expected


def test_rank_of_missing_value_is_na():
    assert ev("=RANK(2,A1:D1,1)", SPREAD) is NA


@pytest.mark.parametrize("formula, expected", [
    ("=PERCENTRANK.INC(A1:E1,2,2)", 0.84),
    ("=PERCENTRANK.INC(A1:E1,3,2)", 0.92),
    ("=PERCENTRANK(A1:E1,4)", 1),
    ("=PERCENTRANK.EXC(A1:E1,2,2)", 0.73),
    ("=PERCENTRANK.EXC(A1:E1,4,3)", 0.833),
    ("=PERCENTRANK.EXC(A1:E1,3,2)", 0.78),
])
def test_percentrank_interpolates_and_truncates(formula, expected):
    cells = {"A1": 0.0, "B1": 0.1, "C1": 0.7, "D1": 0.002, "E1": 4.0}
    assert ev(formula, cells) == approx(expected)


def test_percentrank_errors():
    cells = {"A1": 0.0, "B1": 4.0}
    assert ev("=PERCENTRANK.INC(A1:B1,5)", cells) is NA
    assert ev("=PERCENTRANK.INC(A1:B1,2,0.7)", cells) is NUM


def test_frequency():
    data = {"A1": 1, "B1": 2, "C1": 3, "D1": 0, "E1": -1}
    assert ev("=FREQUENCY(A1:E1,{1,3;5,3})", data, array=True) == \
        Array([[3.0], [2.0], [0.0], [0.0], [0.0]])
    assert ev("=FREQUENCY(A1:E1,F1)", data, array=True) == Array([[2.0], [3.0]])
    assert ev("=FREQUENCY(A1:C1,F1:G1)", data, array=True) == Array([[0.0], [3.0]])


# --- paired data ---------------------------------------------------------------------------------

PAIRS = {"A1": 0.0, "B1": 0.1, "C1": 0.2, "D1": 0.3, "E1": -0.1, "G1": "x", "H1": True,
         "I1": "=1/0", "J1": "=NA()"}


@pytest.mark.parametrize("formula, expected", [
    ("=CORREL(A1:C1,C1:E1)", -0.720576692122892),
    ("=PEARSON(B1:D1,D1:F1)", -1),
    ("=RSQ(A1:C1,C1:E1)", 0.720576692122892 ** 2),
    ("=COVARIANCE.P(A1:C1,C1:E1)", -0.01),
    ("=COVAR(A1:C1,C1:E1)", -0.01),
    ("=COVARIANCE.S(A1:C1,C1:E1)", -0.015000000000000001),
    ("=SLOPE(A1:C1,C1:E1)", -0.34615384615384615),
    ("=INTERCEPT(A1:C1,C1:E1)", 0.14615384615384616),
    ("=FORECAST(0.1,{1,7,3,0},{7,2,9,4})", 5.077586206896552),
    ("=FORECAST.LINEAR(-0.1,{1,7,3,0},{7,2,9,4})", 5.163793103448276),
    ("=STEYX({1,2,4,3},{1,2,3,4})", math.sqrt(1.8 / 2)),
])
def test_paired(formula, expected):
    assert ev(formula, PAIRS) == approx(expected)


@pytest.mark.parametrize("formula, expected", [
    ("=CORREL(C1:E1,E1:G1)", DIV0),        # one usable pair
    ("=CORREL(A1:B1,A1:C1)", NA),          # different sizes
    ("=CORREL(G1:I1,G1:I1)", DIV0),
    ("=SLOPE(H1:J1,J1:L1)", NA),           # first error met pair by pair
    ("=COVARIANCE.S(C1:E1,E1:G1)", DIV0),
    ("=FORECAST(1,A1:B1,{1,1})", DIV0),
])
def test_paired_errors(formula, expected):
    assert ev(formula, PAIRS) is expected


def test_null_error_in_first_array_skips_the_pair():
    cells = {"A1": "=A2 A3", "B1": "=SQRT(-1)", "C1": "=NA()", "D1": 1}
    assert ev("=SLOPE(A1:B1,C1:D1)", cells) is NUM


@pytest.mark.parametrize("formula, expected", [
    ("=STANDARDIZE(0,-10,0.9)", 11.11111111111111),
    ("=STANDARDIZE(1,2,TRUE)", -1),
    ("=FISHER(0.1)", 0.10033534773107562),
    ("=FISHERINV(TRUE)", 0.7615941559557649),
])
def test_transforms(formula, expected):
    assert ev(formula) == approx(expected)


def test_transform_errors():
    assert ev("=STANDARDIZE(1,2,0)") is NUM
    assert ev("=FISHER(1)") is NUM


# --- multiple regression -------------------------------------------------------------------------

YS = "{2;3;4;21;2}"
XS = "{2,1;2,2;5,3;2,4;4,1}"


def test_trend_and_growth_with_two_variables():
    cells = {"A1": 4, "B1": 0.1, "A2": 0.3, "B2": 5, "C1": "x"}
    assert ev(f"=TREND({YS},{XS},A1:B1)", cells, array=True).top_left() == \
        approx(-6.594117647058825)
    assert ev(f"=GROWTH({YS},{XS},A1:B1)", cells, array=True).top_left() == \
        approx(0.7854753011891914)
    assert ev(f"=TREND({YS},{XS},A1:A2)", cells, array=True) is REF
    assert ev(f"=TREND({YS},{XS},A1:C2)", cells, array=True) is VALUE


def test_trend_defaults_and_linest():
    assert ev("=TREND({1,3,5})", array=True).rows == [[approx(1.0), approx(3.0), approx(5.0)]]
    assert ev("=TREND({1;3;5},,{4;5})", array=True).rows == [[approx(7.0)], [approx(9.0)]]
    result = ev("=LINEST({1,3,5},{0,1,2})", array=True)
    assert result.rows[0] == [approx(2.0), approx(1.0)]
    stats = ev("=LINEST({1,3,6},{0,1,2},TRUE,TRUE)", array=True)
    assert stats.shape == (5, 2)
    assert stats.rows[2][0] == approx(0.986842105263158)   # r squared
    assert stats.rows[3][1] == 1.0                          # degrees of freedom
    assert ev("=LINEST({1,3,5},{0,1,2},NA())", array=True) is VALUE


def test_logest():
    # Excel's documentation example: units over months 11..16
    units = "{33100;47300;69000;102000;150000;220000}"
    result = ev(f"=LOGEST({units},{{11;12;13;14;15;16}})", array=True)
    assert result.rows[0] == [pytest.approx(1.463275628, rel=1e-9),
                              pytest.approx(495.3047702, rel=1e-9)]
    # oracle (STATISTICAL row 59): no constant means b = 1, the rest of a wide area is #N/A
    cells = {"C1": 4, "D1": 0.1, "E1": 0.2, "F1": 0.3, "G1": 5}
    assert ev("=LOGEST(A9:C9,C9:E9,0,0)", {"A9": 4, "B9": 0.1, "C9": 0.2, "D9": 0.3,
                                         "E9": 5}, array=True).rows == \
        [[approx(0.7141390943648429), 1.0]]
    assert ev("=LOGEST(E1:G1,C1:E1,0,0)", cells, array=True).rows[0][0] == \
        approx(0.678037889157633)
    assert ev("=LOGEST(C1:E1,E1:F1)", cells, array=True) is REF
    assert ev("=LOGEST({1,-3,6})", array=True) is NUM
    # the statistics rows are LINEST's on ln(y)
    stats = ev("=LOGEST({1,3,6},{0,1,2},TRUE,TRUE)", array=True)
    linear = ev("=LINEST(LN({1,3,6}),{0,1,2},TRUE,TRUE)", array=True)
    assert stats.shape == (5, 2)
    assert stats.rows[1:] == [[approx(v) for v in row] for row in linear.rows[1:]]
    assert stats.rows[0] == [approx(math.exp(linear.rows[0][0])),
                             approx(math.exp(linear.rows[0][1]))]


# --- conditional aggregates ------------------------------------------------------------------

COND = {"A1": 1.0, "B1": 1.0, "C1": 2.3, "D1": 10.0, "E1": -1.0, "G1": "ciao", "H1": True,
        "I1": "=1/0", "J1": "=NA()"}


@pytest.mark.parametrize("formula, expected", [
    ("=COUNTIF(A1:B1,1)", 2),
    ("=COUNTIF(B1:C1,\"1\")", 1),
    ("=COUNTIF(C1:D1,\">1\")", 2),
    ("=COUNTIF(D1:E1,\"<>-1\")", 1),
    ("=COUNTIF(F1:G1,F1)", 0),                 # an empty criteria cell is 0, not "blank"
    ("=COUNTIF(A1:J1,\"\")", 1),
    ("=COUNTIF(G1:H1,\"<=TRUE\")", 1),
    ("=COUNTIF(I1:J1,I1)", 1),                 # errors match an error criterion
    ("=COUNTIF(A1:J1,\"c*\")", 1),
    ("=COUNTIFS(A1:B1,1,C1:D1,2.3)", 1),
    ("=SUMIF(A1:E1,\">1\")", 12.3),
    ("=SUMIF(A1:B1,1,C1)", 12.3),              # sum_range resized from its top-left
    ("=SUMIFS(C1:D1,A1:B1,1,C1:D1,\">5\")", 10),
    ("=AVERAGEIF(A1:B1,1,C1:D1)", 6.15),
    ("=AVERAGEIF(C1:D1,\">1\",E1:F1)", -1),
    ("=AVERAGEIFS(C1:D1,A1:B1,1,C1:D1,2.3)", 2.3),
    ("=MAXIFS(C1:D1,A1:B1,1)", 10),
    ("=MINIFS(C1:D1,A1:B1,1)", 2.3),
    ("=MAXIFS(C1:D1,A1:B1,5)", 0),
])
def test_conditional(formula, expected):
    assert ev(formula, COND) == approx(expected)


@pytest.mark.parametrize("formula, expected", [
    ("=AVERAGEIF(E1:F1,1,G1:H1)", DIV0),
    ("=AVERAGEIF(G1:H1,G1,I1:J1)", DIV0),       # matched value is an error
    ("=SUMIF(G1:H1,TRUE,I1:J1)", NA),
    ("=SUMIFS(A1:C1,A1:B1,1)", VALUE),          # ranges of different shapes
    ("=COUNTIFS(A1:B1,1,C1)", VALUE),
    ("=COUNTIFS(A1:B1)", VALUE),
])
def test_conditional_errors(formula, expected):
    assert ev(formula, COND) is expected


def test_array_criteria_give_array_results():
    assert ev("=COUNTIF(A1:E1,{1,\">3\"})", COND, array=True) == Array([[2.0, 1.0]])
    assert ev("=AVERAGEIF(B1:F1,{1,\">3\"},C1:G1)", COND, array=True) == \
        Array([[2.3, -1.0]])


# --- shared helpers ------------------------------------------------------------------------------

def test_helpers():
    assert kth_largest([3.0, 1.0, 2.0], 1) == 3.0
    assert kth_largest([3.0, 1.0, 2.0], 1, largest=False) == 1.0
    assert percentile_inc([1.0, 2.0, 3.0, 4.0], 0.25) == 1.75
    assert percentile_exc([1.0, 2.0, 3.0, 4.0], 0.25) == 1.25
    assert percentile_exc([1.0, 2.0], 0.1) is NUM
