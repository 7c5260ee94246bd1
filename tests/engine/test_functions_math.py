"""Math and trig functions: expected values are Excel's own (the MATH & TRIG sheet of the oracle
workbook, the xlcalculator workbooks and Excel's documentation)."""

from __future__ import annotations

import pytest

from engine.api import evaluate_formula as ev
from engine.errors import CALC, DIV0, NA, NUM, VALUE
from engine.values import Array

# One row of the oracle sheet's inputs: numbers, a blank (H1), text, a logical and errors.
ROW = {"C1": 0.0, "D1": 1.0, "E1": 2.3, "F1": 10.0, "G1": -1.0, "I1": "ciao", "J1": True,
       "K1": "=1/0", "L1": "=NA()", "M1": "3.5"}


def check(formula: str, expected, cells=None, array=False):
    got = ev(formula, ROW if cells is None else cells, array=array)
    if isinstance(expected, float) and not isinstance(expected, bool):
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-300)
    else:
        assert got == expected


@pytest.mark.parametrize("formula, expected", [
    ("=SUM(C1:J1)", 12.3),                  # text, logical and blank in a range are ignored
    ("=SUM(1,\"2\",TRUE)", 4.0),            # typed directly they are coerced
    ("=SUM(C1:L1)", DIV0),                  # the first error in the range wins
    ("=SUM(\"x\")", VALUE),
    ("=SUM({1,\"2\",TRUE})", 1.0),
    ("=SUMSQ(E1:G1)", 106.29),
    ("=PRODUCT(E1:J1)", -23.0),
    ("=PRODUCT(I1:J1)", 0.0),               # no numbers at all
    ("=SUMPRODUCT({1,2},{3,4})", 11.0),
    ("=SUMPRODUCT({1,\"a\"},{3,4})", 3.0),  # non-numbers count as 0
    ("=SUMPRODUCT({1,2},{3,4,5})", VALUE),
    ("=SUMPRODUCT(K1:L1,C1:E1)", DIV0),     # errors win over mismatched shapes
    ("=SUMX2MY2({2,3},{1,1})", 11.0),
    ("=SUMX2PY2({2,3},{1,\"a\"})", 5.0),    # pairs with a non-number are skipped
    ("=SUMXMY2({2,3},{1,1,1})", NA),
    ("=PERCENTOF(D1:E1,D1:F1)", 3.3 / 13.3),
    ("=PERCENTOF(D1:E1,D1:L1)", NUM),
])
def test_aggregates(formula, expected):
    check(formula, expected)


@pytest.mark.parametrize("formula, expected", [
    ("=ROUND(0.125,2)", 0.13),
    ("=ROUND(2.5,0)", 3.0),
    ("=ROUND(-2.5,0)", -3.0),
    ("=ROUND(-222.5,-2)", -200.0),
    ("=ROUND(0.234,1.9)", 0.2),             # digits truncated toward zero
    ("=ROUND(J1,0)", 1.0),
    ("=ROUND(I1,0)", VALUE),
    ("=ROUNDUP(-2.55,1)", -2.6),
    ("=ROUNDUP(0.234,1.2)", 0.3),
    ("=ROUNDUP(-255.5,-2)", -300.0),
    ("=ROUNDDOWN(2.55,1)", 2.5),
    ("=ROUNDDOWN(-2.55,1)", -2.5),
    ("=TRUNC(-255.5,-2)", -200.0),
    ("=TRUNC(0.29,2)", 0.29),
    ("=INT(-2.5)", -3.0),
    ("=MROUND(2.55,\"1.4\")", 2.8),
    ("=MROUND(-222.5,-2)", -222.0),
    ("=MROUND(-2.55,1)", NUM),              # signs differ
    ("=MROUND(J1,0)", VALUE),               # Analysis ToolPak: a logical is #VALUE!
    ("=CEILING(2.5,1)", 3.0),
    ("=CEILING(-2.5,-2)", -4.0),
    ("=CEILING(-2.5,2)", -2.0),
    ("=CEILING(2.5,-2)", NUM),
    ("=FLOOR(-2.5,2)", -4.0),
    ("=FLOOR(2.5,0)", DIV0),
    ("=CEILING.MATH(-255.5,-2,TRUE)", -256.0),
    ("=CEILING.MATH(-8.1,3)", -6.0),
    ("=CEILING.MATH(-0.6,2,2)", -2.0),
    ("=CEILING.PRECISE(-5.5,-1)", -5.0),
    ("=ISO.CEILING(-255.5,-2.2)", -255.2),
    ("=ISO.CEILING(0.234,0.01)", 0.24),
    ("=FLOOR.MATH(-255.5,1,TRUE)", -255.0),
    ("=FLOOR.MATH(-5.5,2,-1)", -4.0),
    ("=FLOOR.PRECISE(-5.5,-1)", -6.0),
    ("=EVEN(-0.2)", -2.0),
    ("=EVEN(2.3)", 4.0),
    ("=ODD(0)", 1.0),
    ("=ODD(-2)", -3.0),
])
def test_rounding(formula, expected):
    check(formula, expected)


@pytest.mark.parametrize("formula, expected", [
    ("=MOD(-2.2,1)", 0.8),
    ("=MOD(-1,10)", 9.0),                   # the divisor's sign
    ("=MOD(1,-3)", -2.0),
    ("=MOD(1,0)", DIV0),
    ("=MOD(1,H1)", DIV0),
    ("=QUOTIENT(-7,2)", -3.0),
    ("=QUOTIENT(1,0)", DIV0),
    ("=POWER(10,2.3)", 199.52623149688802),
    ("=POWER(0,0)", NUM),
    ("=POWER(0,-1)", DIV0),
    ("=POWER(-8,1/3)", NUM),
    ("=SQRT(-1)", NUM),
    ("=SQRTPI(2)", 2.5066282746310002),
    ("=LN(0)", NUM),
    ("=LOG(10,3)", 2.095903274289385),
    ("=LOG(2.3,0)", NUM),
    ("=LOG(2,1)", DIV0),
    ("=LOG10(1000)", 3.0),
    ("=EXP(1)", 2.718281828459045),
    ("=ABS(L1)", NA),
    ("=SIGN(-2.3)", -1.0),
])
def test_arithmetic(formula, expected):
    check(formula, expected)


@pytest.mark.parametrize("formula, expected", [
    ("=ACOS(-1)", 3.141592653589793),
    ("=ACOS(2.3)", NUM),
    ("=ACOSH(2.3)", 1.4750447812414251),
    ("=ACOSH(0)", NUM),
    ("=ACOT(0)", 1.5707963267948966),
    ("=ACOTH(1)", NUM),
    ("=ATAN2(1,2.3)", 1.1606689862534056),  # Excel's order: x first
    ("=ATAN2(10,-1)", -0.09966865249116204),
    ("=ATAN2(0,0)", DIV0),
    ("=ATANH(1)", NUM),
    ("=COT(0)", DIV0),
    ("=COTH(0)", DIV0),
    ("=CSC(0)", DIV0),
    ("=CSCH(0)", DIV0),
    ("=SEC(0)", 1.0),
    ("=SECH(0)", 1.0),
    ("=SIN(134217728)", NUM),               # trig arguments must stay below 2^27
    ("=DEGREES(PI())", 180.0),
    ("=RADIANS(180)", 3.141592653589793),
])
def test_trigonometry(formula, expected):
    check(formula, expected)


@pytest.mark.parametrize("formula, expected", [
    ("=FACT(5)", 120.0),
    ("=FACT(2.3)", 2.0),
    ("=FACT(-1)", NUM),
    ("=FACT(171)", NUM),
    ("=FACTDOUBLE(\"2.3\")", 2.0),
    ("=FACTDOUBLE(-1)", 1.0),
    ("=FACTDOUBLE(-1.1)", NUM),
    ("=FACTDOUBLE(7)", 105.0),
    ("=COMBIN(8,2)", 28.0),
    ("=COMBIN(2,3)", NUM),
    ("=COMBINA(4,3)", 20.0),
    ("=PERMUT(100,3)", 970200.0),
    ("=PERMUTATIONA(3,2)", 9.0),
    ("=GCD(15.7,63)", 3.0),
    ("=GCD(-0.4)", NUM),
    ("=GCD(-0.4,J1)", VALUE),               # type errors are found before negative values
    ("=GCD(H1)", VALUE),                    # a blank cell
    ("=GCD(C1:F1)", 1.0),
    ("=LCM(2.3,10)", 10.0),
    ("=LCM(0,5)", 0.0),
    ("=MULTINOMIAL(2,3,4)", 1260.0),
    ("=SERIESSUM(2,1,1,{1,2,3})", 34.0),
])
def test_combinatorics(formula, expected):
    check(formula, expected)


@pytest.mark.parametrize("formula, expected", [
    ("=ROMAN(999.9)", "CMXCIX"),
    ("=ROMAN(999,1)", "LMVLIV"),
    ("=ROMAN(999,2)", "XMIX"),
    ("=ROMAN(999,3)", "VMIV"),
    ("=ROMAN(999,4)", "IM"),
    ("=ROMAN(999,TRUE)", "CMXCIX"),
    ("=ROMAN(4000)", VALUE),
    ("=ARABIC(\"MCMXII\")", 1912.0),
    ("=ARABIC(\"IIIIIIV\")", -1.0),         # Excel reads non-canonical numerals from the right
    ("=ARABIC(\"IILmIIC\")", 1046.0),
    ("=ARABIC(\"Vh\")", VALUE),
    ("=ARABIC(\"\")", 0.0),
    ("=BASE(255,16,4)", "00FF"),
    ("=BASE(-1,2)", NUM),
    ("=DECIMAL(\"FF\",16.6)", 255.0),
    ("=DECIMAL(111,2.5)", 7.0),
    ("=DECIMAL(\"FF\",TRUE)", NUM),
    ("=DECIMAL(\"FF\",I1)", VALUE),
])
def test_number_systems(formula, expected):
    check(formula, expected)


def test_matrices():
    assert ev("=MMULT({1,2;3,4},{5;6})", array=True) == Array([[17.0], [39.0]])
    assert ev("=MMULT({1,2},{1,2})", array=True) == VALUE
    assert ev("=MDETERM({1,3;2,4})") == pytest.approx(-2.0)
    assert ev("=MDETERM(G1:H2)", ROW) == VALUE           # blank cells are not numbers
    assert ev("=MDETERM(L1:M2)", ROW) == NA
    assert ev("=MINVERSE({1,1;1,1})", array=True) == NUM
    inverse = ev("=MINVERSE({4,7;2,6})", array=True)
    assert inverse.rows == [[pytest.approx(0.6), pytest.approx(-0.7)],
                            [pytest.approx(-0.2), pytest.approx(0.4)]]
    assert ev("=MUNIT(2)", array=True) == Array([[1.0, 0.0], [0.0, 1.0]])
    assert ev("=MUNIT(0)") == VALUE


def test_sequence_and_random():
    assert ev("=SEQUENCE(2,3,10,5)", array=True) == Array([[10.0, 15.0, 20.0],
                                                           [25.0, 30.0, 35.0]])
    assert ev("=SEQUENCE(0)") == CALC
    r = ev("=RANDARRAY(3,2,5,6,TRUE)", array=True)
    assert r.shape == (3, 2) and all(v in (5.0, 6.0) for v in r.flat())
    assert 0 <= ev("=RAND()") < 1
    assert ev("=RANDBETWEEN(4,4)") == 4.0
    assert ev("=RANDBETWEEN(2.3,2.9)") == NUM
    assert ev("=RANDBETWEEN(-5,-3)") in (-5.0, -4.0, -3.0)


@pytest.mark.parametrize("formula, expected", [
    ("=SUBTOTAL(9,C1:J1)", 12.3),
    ("=SUBTOTAL(109,C1:G1)", 12.3),
    ("=SUBTOTAL(1,D1:E1)", 1.65),
    ("=SUBTOTAL(2,C1:J1)", 5.0),
    ("=SUBTOTAL(3,C1:J1)", 7.0),
    ("=SUBTOTAL(4,C1:G1)", 10.0),
    ("=SUBTOTAL(7,{2,4,4,4,5,5,7,9})", 2.138089935299395),
    ("=SUBTOTAL(12,C1:G1)", VALUE),
    ("=SUBTOTAL(9,C1:L1)", DIV0),
    ("=AGGREGATE(9,6,C1:L1)", 12.3),        # option 6 skips errors
    ("=AGGREGATE(9,0,C1:L1)", DIV0),
    ("=AGGREGATE(14,6,C1:L1,2)", 2.3),
    ("=AGGREGATE(15,6,C1:L1,1)", -1.0),
    ("=AGGREGATE(16,0,{1,2,3,4},0.25)", 1.75),
    ("=AGGREGATE(17,0,{1,2,3,4},3)", 3.25),
    ("=AGGREGATE(18,0,{1,2,3,4},0.1)", NUM),
    ("=AGGREGATE(12,0,{1,2,3,4})", 2.5),
    ("=AGGREGATE(13,0,{1,2,2,3})", 2.0),
])
def test_subtotal_aggregate(formula, expected):
    check(formula, expected)


def test_error_arguments_propagate():
    assert ev("=ROUND(L1,K1)", ROW) == NA
    assert ev("=ATAN2(I1,K1)", ROW) == VALUE
