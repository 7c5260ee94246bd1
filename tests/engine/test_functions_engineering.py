"""Engineering functions: expected values are Excel's own (the ENGINEERING sheet and the CONVERT
cells of the EXTRA sheet of the oracle workbook, and Excel's documentation)."""

from __future__ import annotations

import pytest

from engine.api import evaluate_formula as ev
from engine.errors import DIV0, NA, NUM, VALUE
from engine.values import Array

ROW = {"C1": 13.0, "D1": 25.0, "E1": 2.3, "F1": 99.0, "G1": -1.0, "I1": "3.6", "J1": True,
       "K1": "=1/0", "L1": "yvj", "M1": "7+25j", "N1": "13+5j", "O1": "-3+2i", "P1": "3.1+2j"}


def check(formula: str, expected, array=False):
    got = ev(formula, ROW, array=array)
    if isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-300)
    else:
        assert got == expected


@pytest.mark.parametrize("formula, expected", [
    ("=CONVERT(1,\"lbm\",\"g\")", 453.59237),
    ("=CONVERT(1,\"km\",\"m\")", 1000.0),
    ("=CONVERT(1,\"parsec\",\"km\")", 30856775812815.53),
    ("=CONVERT(1,\"survey_mi\",\"m\")", 1609.3472186944373),
    ("=CONVERT(1,\"Torr\",\"Pa\")", 133.32236842105263),
    ("=CONVERT(1,\"lbf\",\"N\")", 4.4482216152605005),
    ("=CONVERT(1,\"HPh\",\"J\")", 2684519.537696173),
    ("=CONVERT(1,\"pc\",\"J\")", 4.184e-12),     # read as pico-calorie when parsec cannot fit
    ("=CONVERT(1,\"C\",\"K\")", 274.15),
    ("=CONVERT(1,\"F\",\"K\")", 255.92777777777775),
    ("=CONVERT(1,\"Reau\",\"K\")", 274.4),
    ("=CONVERT(25,\"C\",\"F\")", 77.0),
    ("=CONVERT(1,\"mK\",\"K\")", 0.001),
    ("=CONVERT(1,\"mi3\",\"m3\")", 4168181825.4405794),
    ("=CONVERT(1,\"km2\",\"m2\")", 1e6),          # the prefix scales the length
    ("=CONVERT(1,\"Pang3\",\"L\")", 1e18),
    ("=CONVERT(1,\"ly^2\",\"m2\")", 8.95054210748189e31),
    ("=CONVERT(1,\"us_acre\",\"m2\")", 4046.8726098742522),
    ("=CONVERT(1,\"kibyte\",\"bit\")", 8192.0),
    ("=CONVERT(1,\"kn\",\"m/hr\")", 1852.0),
    ("=CONVERT(1,\"Emph\",\"m/hr\")", 1.609344e21),
    ("=CONVERT(1,\"uk_pt\",\"L\")", 0.56826125),
    ("=CONVERT(1,\"m\",\"g\")", NA),              # different quantities
    ("=CONVERT(1,\"kft\",\"m\")", NA),            # ft takes no prefix
    ("=CONVERT(1,\"kC\",\"K\")", NA),
    ("=CONVERT(1,\"kim\",\"m\")", NA),            # binary prefixes only for bits and bytes
    ("=CONVERT(I1,\"C\",\"F\")", 38.480000000000004),
    ("=CONVERT(H1,\"C\",\"F\")", 32.0),
    ("=CONVERT(J1,\"C\",\"F\")", VALUE),          # Analysis ToolPak: logicals are #VALUE!
    ("=CONVERT(K1,\"C\",\"F\")", DIV0),
])
def test_convert(formula, expected):
    check(formula, expected)


def test_convert_arrays():
    # A multi-cell range is #VALUE! even in an array formula; a computed array is lifted.
    assert ev("=CONVERT(C1:D1,\"m\",\"km\")", ROW, array=True) == VALUE
    assert ev("=CONVERT(C1:D1+0,\"m\",\"km\")", ROW, array=True) == Array([[0.013, 0.025]])


@pytest.mark.parametrize("formula, expected", [
    ("=DEC2BIN(511.7)", "111111111"),
    ("=DEC2BIN(-512.7)", "1000000000"),
    ("=DEC2BIN(512.7)", NUM),
    ("=DEC2BIN(100,1)", NUM),
    ("=DEC2BIN(H1,3)", "000"),
    ("=DEC2BIN(5,0)", NUM),
    ("=DEC2BIN(\"fffffffffe\")", VALUE),
    ("=DEC2HEX(549755813887.7)", "7FFFFFFFFF"),
    ("=DEC2HEX(-549755813888.7)", "8000000000"),
    ("=DEC2OCT(536870911.7)", "3777777777"),
    ("=DEC2OCT(-1)", "7777777777"),
    ("=BIN2DEC(111111111)", 511.0),
    ("=BIN2DEC(1000000000)", -512.0),
    ("=BIN2DEC(2.3)", NUM),
    ("=BIN2DEC(H1)", 0.0),
    ("=BIN2HEX(\"1111111111\")", "FFFFFFFFFF"),
    ("=BIN2HEX(11,4)", "0003"),
    ("=BIN2HEX(11,0)", NUM),
    ("=BIN2OCT(\"fffffffffe\")", NUM),
    ("=HEX2DEC(9999999999)", -439804651111.0),
    ("=HEX2DEC(\"f000000000\")", -68719476736.0),
    ("=HEX2DEC(11111111111)", NUM),
    ("=HEX2BIN(\"fffffffffe\")", "1111111110"),
    ("=HEX2BIN(9999999999)", NUM),
    ("=HEX2OCT(\"fffffffffe\")", "7777777776"),
    ("=OCT2DEC(7777777777)", -1.0),
    ("=OCT2BIN(\"a\")", NUM),
    ("=OCT2HEX(17)", "F"),
    # xlcalculator BASES workbook: a negative DEC2X with places 1..10 still gives 10 digits ...
    ("=DEC2BIN(-25,1)", "1111100111"),
    ("=DEC2HEX(-25,10)", "FFFFFFFFE7"),
    # ... but places outside 1..10 is #NUM!, checked before the number itself
    ("=DEC2BIN(-25,0)", NUM),
    ("=DEC2OCT(-25,11)", NUM),
    ("=DEC2HEX(\"E\",0)", NUM),
    ("=DEC2HEX(\"E\",11)", NUM),
    ("=DEC2HEX(\"E\",5)", VALUE),
    ("=DEC2BIN(TRUE)", VALUE),
    ("=DEC2BIN(\"\")", VALUE),
    # an empty text reads as zero in the X2Y functions
    ("=BIN2OCT(\"\")", "0"),
    ("=OCT2DEC(\"\")", 0.0),
    ("=HEX2BIN(\"\",3)", "000"),
    ("=HEX2OCT(\"E\",2)", "16"),
])
def test_number_bases(formula, expected):
    check(formula, expected)


@pytest.mark.parametrize("formula, expected", [
    ("=BITAND(13,25)", 9.0),
    ("=BITAND(2.3,99)", NUM),                   # operands must be whole numbers
    ("=BITAND(281474976710656,1)", NUM),         # 2^48 is too big
    ("=BITOR(13,25)", 29.0),
    ("=BITXOR(13,25)", 20.0),
    ("=BITLSHIFT(13,25)", 436207616.0),
    ("=BITLSHIFT(25,2.3)", 100.0),
    ("=BITLSHIFT(99,-1)", 49.0),
    ("=BITLSHIFT(436207616,100)", NUM),
    ("=BITRSHIFT(25,2.3)", 6.0),
    ("=BITRSHIFT(99,-1)", 198.0),
    ("=BITRSHIFT(-1,1)", NUM),
    ("=BITAND(J1,K1)", DIV0),
])
def test_bits(formula, expected):
    check(formula, expected)


def test_bits_lift_over_arrays():
    assert ev("=BITOR({1,2},4)", array=True) == Array([[5.0, 6.0]])


@pytest.mark.parametrize("formula, expected", [
    ("=DELTA(2.3,\"2.3\")", 1.0),
    ("=DELTA(I1)", 0.0),
    ("=DELTA(J1)", VALUE),
    ("=GESTEP(25,\"30.2\")", 0.0),
    ("=GESTEP(2.3,\"a\")", VALUE),
    ("=GESTEP(H1)", 1.0),
    ("=ERF(0,0.2)", 0.22270258921047847),
    ("=ERF(2,-0.002)", -0.9975790203441363),
    ("=ERF(H1,\"-1.2\")", -0.9103139782296353),
    ("=ERF.PRECISE(2.3)", 0.9988568234026434),
    ("=ERFC(-0.002)", 1.0022567553251835),
    ("=ERFC.PRECISE(3.2)", 6.025761151762083e-06),
    ("=BESSELI(2.3,2)", 1.0054316669125958),     # Excel's own approximation digits
    ("=BESSELI(-1,0)", 1.2660658480342601),
    ("=BESSELJ(10000000,2.3)", 8.683739567294922e-05),
    ("=BESSELJ(2.3,2)", 0.41391458970875217),
    ("=BESSELK(2.3,2)", 0.1617333633782021),
    ("=BESSELY(2.3,2)", -0.4726168566767928),
    ("=BESSELK(0,1)", NUM),
    ("=BESSELJ(1,-1)", NUM),
])
def test_special_functions(formula, expected):
    check(formula, expected)


@pytest.mark.parametrize("formula, expected", [
    ("=COMPLEX(13,25,\"j\")", "13+25j"),
    ("=COMPLEX(99,-1,\"j\")", "99-j"),
    ("=COMPLEX(-1,0)", "-1"),
    ("=COMPLEX(0,3.6)", "3.6i"),
    ("=COMPLEX(1,1,\"k\")", VALUE),
    ("=IMABS(M1)", 25.96150997149434),
    ("=IMABS(H1)", 0.0),
    ("=IMABS(L1)", NUM),
    ("=IMABS(J1)", VALUE),
    ("=IMAGINARY(O1)", 2.0),
    ("=IMREAL(\"-i\")", 0.0),
    ("=IMARGUMENT(O1)", 2.5535900500422257),
    ("=IMARGUMENT(0)", DIV0),
    ("=IMCONJUGATE(\"3+4i\")", "3-4i"),
    ("=IMPOWER(M1,2.3)", "-1768.5045629583+279.381198142491j"),
    ("=IMPOWER(O1,2.3)", "17.5176143915122-7.61220636461807i"),
    ("=IMPOWER(H1,2.3)", "0"),
    ("=IMPRODUCT(M1,N1,P1)", "-825.4+1048j"),
    ("=IMPRODUCT(P1,O1)", VALUE),                # "i" meets "j"
    ("=IMPRODUCT(H1,M1)", "0"),
    ("=IMSUM(M1:N1,P1)", "23.1+32j"),
    ("=IMSUB(P1,O1)", NUM),
    ("=IMDIV(\"-238+240i\",\"10+24i\")", "5+12i"),
    ("=IMDIV(1,0)", NUM),
    ("=IMSQRT(\"-4\")", "2i"),
    ("=IMEXP(\"-13+25j\")", "2.24044486393732E-06-2.99158552811404E-07j"),
    ("=IMTAN(O1)", "0.00988437503832249+0.965385879022133i"),
    ("=IMCOT(N1)", "0.0000692442674613868-1.00005873951153j"),
    ("=IMCSC(P1)", "0.0118908807944521+0.275445903842597j"),
    ("=IMLN(0)", NUM),
    ("=IMLOG2(8)", "3"),
])
def test_complex(formula, expected):
    check(formula, expected)
