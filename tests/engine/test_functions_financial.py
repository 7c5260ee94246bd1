"""Financial functions against values Excel computed (oracle workbooks, Excel's documentation)."""

from __future__ import annotations

import math

import pytest

from engine.datetimes import date_to_serial as D
from engine.errors import DIV0, NA, NUM, REF, VALUE
from engine.functions import FUNCTIONS
from engine.functions.financial import irr_solve, rate_solve, xirr_solve
from engine.functions.registry import call
from engine.refs import Ref
from engine.values import BLANK, MISSING, Array


class Ctx:
    """A one-sheet context: ``cells`` maps (row, col) to values."""

    sheet = "Sheet1"

    def __init__(self, cells=None, row=1, col=1, array_mode=False):
        self.cells, self.row, self.col, self.array_mode = cells or {}, row, col, array_mode

    def deref(self, ref):
        return Array([[self.cells.get((r, c), BLANK) for c in range(ref.c1, ref.c2 + 1)]
                      for r in range(ref.r1, ref.r2 + 1)])

    def intersect(self, ref):
        if ref.r1 == ref.r2 and ref.c1 <= self.col <= ref.c2:
            return self.cells.get((ref.r1, self.col), BLANK)
        if ref.c1 == ref.c2 and ref.r1 <= self.row <= ref.r2:
            return self.cells.get((self.row, ref.c1), BLANK)
        return VALUE


def xl(name, *args, ctx=None):
    return call(FUNCTIONS[name], list(args), ctx or Ctx())


def row(*values):
    return Array([list(values)])


def approx(expected, rel=1e-9):
    return pytest.approx(expected, rel=rel, abs=1e-12)


# (function, arguments, Excel's value); floats compared to 1e-9 relative.
EXCEL_VALUES = [
    # formulas/test.xlsx, FINANCIAL sheet
    ("CUMIPMT", (3.2, 5.5, 125000.0, 3.0, 5.0, 1.0), -271489.3412240473),
    ("CUMIPMT", (9.0, 5.5, 125000.0, 3.0, 5.0, 1.0), -333552.16055641056),
    ("FV", (3.2, -6.0, 7.0), 2.1871014779833633),
    ("FV", (7.0, -4.0, 9.0), 1.285400390625),
    ("IPMT", (7 / 12, 1.0, 36.0, 8000.0), -4666.666666666667),
    ("IPMT", (0.0, 1.0, 36.0, 8000.0), 0.0),
    ("NPER", (-0.1 / 12, 2.0, 0.0, 10000.0, 1.0), -449.5074885969371),
    ("NPER", (0.0, 4000.0, 5.0), -0.00125),
    ("NPER", (4 / 12, 0.0, -0.1, 10000.0, 1.0), 40.01961389825548),
    ("NPER", (2 / 12, 0.0, 4.0, 10000.0, 1.0), NUM),
    ("PMT", (-0.1 / 12, 2.0, 0.0, 10000.0, 1.0), -5063.113111353327),
    ("PMT", (0.0, 4.0, 5.0, 10000.0, 1.0), -2501.25),
    ("PMT", (2 / 12, 0.0, 4.0, 10000.0, 1.0), NUM),
    ("PPMT", (-0.1, "3", "33", "10000", "1"), -835.9133596022948),
    ("PPMT", (2.0, "3", "33", "10000", "1"), -3.238280962129199e-11),
    ("PPMT", (4.0, "3", "33", "10000", "1"), -8.590793585459249e-18),
    ("PPMT", (5.0, "3", "33", "10000", "1"), -3.7698552037230904e-20),
    ("PPMT", (True, "3", "33", "10000", "1"), -4.657078534906851e-06),
    ("PPMT", (-0.1 / 12, 2.0, 1.0, 4.0, 1.0), NUM),
    ("PV", (-0.1, 3.0, 22.0), -81.78326474622767),
    ("PV", (BLANK, 3.0, 22.0), -66.0),
    ("PV", (True, 3.0, 22.0), -19.25),
    ("PV", ("ciao", 3.0, 22.0), VALUE),
    ("RATE", (2.0, -388.0, 22000.0), -0.8580874006920445),
    ("RATE", (4.0, -388.0, 22000.0), -0.5866802847891364),
    ("RATE", (5.0, -388.0, 22000.0), -0.4891154831148691),
    ("RATE", (True, -388.0, 22000.0), -0.9823636363636363),
    ("RATE", (0.0, -388.0, 22000.0), NUM),
    ("RATE", (-0.1, -388.0, 22000.0), NUM),
    ("IRR", (Array([[-7.0, 2.0, -1.0, 4.0, -3.0], [7.0, 2.0, -1.0, 4.0, 4.0]]),),
     0.19086464188385688),
    ("IRR", (Array([[-7.0, 2.0, 1.0, 4.0, -3.0], [-7.0, 2.0, -1.0, 4.0, 4.0]]), 7.0),
     -0.021126011550541612),
    ("IRR", (Array([[7.0, 2.0, -1.0, 4.0, -3.0], [7.0, 2.0, -1.0, 4.0, 4.0]]), 3.0), NUM),
    ("IRR", (row(-0.1, 2.0, 0.0, 4.0, 5.0, BLANK, "ciao", True),), 19.105109618587242),
    ("IRR", (row(-0.1, 2.0, 0.0), 9.0), 18.999999999999982),
    ("IRR", (row(2.0, 0.0, 4.0, 5.0),), NUM),
    ("IRR", (row(-7.0, 2.0, NA),), VALUE),
    ("IRR", (row(-7.0, 2.0, 4.0), NA), NA),
    ("NPV", (-0.1, row(-0.1, 2.0, 0.0, 4.0, 5.0)), 16.922200206608068),
    ("NPV", (4.0, row(4.0, 5.0, BLANK, "ciao", True)), 1.0),
    ("NPV", (5.0, row(5.0, BLANK, "ciao", True, NA)), NA),
    ("NPV", (True, row(-0.1, 2.0, 0.0, 4.0, 5.0)), 0.85625),
    # xlcalculator workbooks
    ("NPV", (0.1, -10000.0, 3000.0, 4200.0, 6800.0), 1188.4434123352207),
    ("PMT", (0.08 / 12, 10.0, 10000.0), -1037.0320893591522),
    ("PMT", (0.06 / 12, 216.0, 0.0, 50000.0), -129.08116086799092),
    ("SLN", (30000.0, 7500.0, 10.0), 2250.0),
    ("DB", (575000.0, 5000.0, 10.0, 1.0), 217350.0),
    ("DB", (575000.0, 5000.0, 10.0, 5.0), 32532.7805222616),
    ("DB", (575000.0, 5000.0, 10.0, 10.0), 3028.8175058339007),
    ("VDB", (575000.0, 5000.0, 10.0, 4.0, 5.0, 1.5), 49192.265625),
    ("VDB", (575000.0, 5000.0, 10.0, 3.0, 5.0, 1.5, False), 102160.546875),
    ("VDB", (1.0, 0.0, 14.0, 0.0, 0.5, 1.25, False), 0.044642857142857144),
    ("VDB", (1.0, 0.0, 14.0, 2.5, 3.5, 1.25, False), 0.07074765193864536),
    ("VDB", (1.0, 0.0, 14.0, 11.5, 12.5, 1.25, False), 0.06872629045468406),
    ("VDB", (1.0, 0.0, 14.0, 13.0, 14.0, 1.25, False), 0.06866789938377948),
    ("VDB", (1.0, 0.0, 14.0, 13.5, 14.0, 1.25, False), 0.03436314522734203),
]


@pytest.mark.parametrize(("name", "args", "expected"), EXCEL_VALUES)
def test_excel_values(name, args, expected):
    result = xl(name, *args)
    if isinstance(expected, float):
        assert result == approx(expected)
    else:
        assert result is expected


# Excel's documentation examples (rounded there, so compared to the digits shown).
DOC_VALUES = [
    ("COUPDAYBS", (D(2011, 1, 25), D(2011, 11, 15), 2.0, 1.0), 71.0),
    ("COUPDAYS", (D(2011, 1, 25), D(2011, 11, 15), 2.0, 1.0), 181.0),
    ("COUPDAYSNC", (D(2011, 1, 25), D(2011, 11, 15), 2.0, 1.0), 110.0),
    ("COUPNCD", (D(2011, 1, 25), D(2011, 11, 15), 2.0, 1.0), float(D(2011, 5, 15))),
    ("COUPPCD", (D(2011, 1, 25), D(2011, 11, 15), 2.0, 1.0), float(D(2010, 11, 15))),
    ("COUPNUM", (D(2007, 1, 25), D(2008, 11, 15), 2.0, 1.0), 4.0),
    ("PRICE", (D(2008, 2, 15), D(2017, 11, 15), 0.0575, 0.065, 100.0, 2.0, 0.0), 94.63436),
    ("YIELD", (D(2008, 2, 15), D(2016, 11, 15), 0.0575, 95.04287, 100.0, 2.0, 0.0), 0.065),
    ("DURATION", (D(2018, 7, 1), D(2048, 1, 1), 0.08, 0.09, 2.0, 1.0), 10.9191453),
    ("MDURATION", (D(2008, 1, 1), D(2016, 1, 1), 0.08, 0.09, 2.0, 1.0), 5.73567),
    ("INTRATE", (D(2008, 2, 15), D(2008, 5, 15), 1e6, 1014420.0, 2.0), 0.05768),
    ("RECEIVED", (D(2008, 2, 15), D(2008, 5, 15), 1e6, 0.0575, 2.0), 1014584.65),
    ("PRICEDISC", (D(2008, 2, 16), D(2008, 3, 1), 0.0525, 100.0, 2.0), 99.79583),
    ("YIELDDISC", (D(2008, 2, 16), D(2008, 3, 1), 99.795, 100.0, 2.0), 0.052823),
    ("PRICEMAT", (D(2008, 2, 15), D(2008, 4, 13), D(2007, 11, 11), 0.061, 0.061, 0.0),
     99.98449888),
    ("YIELDMAT", (D(2008, 3, 15), D(2008, 11, 3), D(2007, 11, 8), 0.0625, 100.0123, 0.0),
     0.060954334),
    ("ACCRINTM", (D(2008, 4, 1), D(2008, 6, 15), 0.1, 1000.0, 3.0), 20.54794521),
    ("TBILLEQ", (D(2008, 3, 31), D(2008, 6, 1), 0.0914), 0.094151494),
    ("TBILLPRICE", (D(2008, 3, 31), D(2008, 6, 1), 0.09), 98.45),
    ("TBILLYIELD", (D(2008, 3, 31), D(2008, 6, 1), 98.45), 0.091417),
    ("EFFECT", (0.0525, 4.0), 0.053542667),
    ("NOMINAL", (0.053543, 4.0), 0.05250032),
    ("DOLLARDE", (1.02, 16.0), 1.125),
    ("DOLLARDE", (-1.02, 16.0), -1.125),
    ("DOLLARFR", (1.125, 32.0), 1.04),
    ("FVSCHEDULE", (1.0, row(0.09, 0.11, 0.1)), 1.33089),
    ("MIRR", (row(-120000.0, 39000.0, 30000.0, 21000.0, 37000.0, 46000.0), 0.1, 0.12),
     0.126094),
    ("DB", (1e6, 1e5, 6.0, 1.0, 7.0), 186083.33),
    ("DB", (1e6, 1e5, 6.0, 7.0, 7.0), 15845.10),
    ("DDB", (2400.0, 300.0, 3650.0, 1.0), 1.32),
    ("DDB", (2400.0, 300.0, 10.0, 10.0), 22.12),
    ("SYD", (30000.0, 7500.0, 10.0, 10.0), 409.09),
    ("ISPMT", (0.1 / 12, 1.0, 36.0, 8e6), -64814.81),
    ("PDURATION", (0.025, 2000.0, 2200.0), 3.86),
    ("RRI", (96.0, 10000.0, 11000.0), 0.0009933),
    ("CUMIPMT", (0.0075, 360.0, 125000.0, 13.0, 24.0, 0.0), -11135.23),
    ("CUMPRINC", (0.0075, 360.0, 125000.0, 13.0, 24.0, 0.0), -934.1071234),
    ("CUMPRINC", (0.0075, 360.0, 125000.0, 1.0, 1.0, 0.0), -68.27827118),
    ("RATE", (48.0, -200.0, 8000.0), 0.00770147),
    ("NPER", (0.01, -100.0, -1000.0, 10000.0, 1.0), 59.6738657),
    ("IRR", (row(-70000.0, 12000.0, 15000.0), -0.1), -0.443506941),
    ("VDB", (2400.0, 300.0, 120.0, 6.0, 18.0, 1.5), 311.81),
    ("VDB", (2400.0, 300.0, 10.0, 0.0, 0.875, 1.5), 315.0),
    ("FV", (0.005, 10.0, -200.0, -500.0, 1.0), 2581.40),
    ("PV", (0.08 / 12, 240.0, 500.0, MISSING, 0.0), -59777.15),
]


@pytest.mark.parametrize(("name", "args", "expected"), DOC_VALUES)
def test_documented_examples(name, args, expected):
    digits = len(repr(expected).split(".")[1]) if "." in repr(expected) else 0
    assert xl(name, *args) == pytest.approx(expected, abs=0.6 * 10.0 ** -digits)


XIRR_VALUES = Array([[-10.0, 1.0, 5.0, 0.0001, 4.5]])
XIRR_DATES = Array([[1.0, 99.0, 55.0, 4.0, 9.0]])


@pytest.mark.parametrize(("guess", "expected"), [
    (MISSING, 0.599319755859375),  # an empty guess is 0: Newton from 0 (Excel: within 2e-10)
    (1.0, 0.5993197485804558),
    (4.0, 0.5993197485804558),
    ("1", 0.5993197485804558),
    (-0.1, NUM),
    (True, VALUE),
    ("ciao", VALUE),
    (NA, NA),
])
def test_xirr_follows_excels_bracketing(guess, expected):
    result = xl("XIRR", XIRR_VALUES, XIRR_DATES, guess)
    assert result == approx(expected) if isinstance(expected, float) else result is expected


def test_xirr_default_guess_and_xnpv_at_it():
    rate = xl("XIRR", XIRR_VALUES, XIRR_DATES)
    assert rate == approx(0.5993197500705721)
    assert xl("XNPV", 2.0, XIRR_VALUES, XIRR_DATES) == approx(-0.6124748432976563)
    assert xl("XNPV", 0.5993197485804558, XIRR_VALUES, XIRR_DATES) == pytest.approx(
        4.594164160209857e-09, rel=1e-6)


def test_xnpv_xirr_edge_cases():
    assert xl("XNPV", 0.0, XIRR_VALUES, XIRR_DATES) is NUM
    assert xl("XNPV", True, XIRR_VALUES, XIRR_DATES) is VALUE
    # a pair blank on both sides is skipped, a logical is #VALUE!
    values = Array([[-10.0, 1.0, 5.0, 0.0001, 4.5, BLANK]])
    dates = Array([[1.0, 99.0, 55.0, 4.0, 9.0, BLANK]])
    assert xl("XIRR", values, dates) == approx(0.5993197500705721)
    assert xl("XIRR", row(-10.0, True), row(1.0, True)) is VALUE
    assert xl("XIRR", row(-10.0, 1.0), row(3.0, REF)) is REF
    assert xl("XIRR", row(1.0, 5.0), row(1.0, 9.0)) is NUM  # no sign change
    assert xl("XIRR", row(-1.0, 5.0), row(9.0, 1.0)) is NUM  # a date before the first one
    assert xl("XIRR", row(-1.0, 5.0), row(1.0, 9.0, 10.0)) is NUM  # lengths differ
    doc = xl("XIRR", row(-10000.0, 2750.0, 4250.0, 3250.0, 2750.0),
             row(39448.0, 39508.0, 39751.0, 39859.0, 39904.0))
    assert doc == pytest.approx(0.373362535, abs=1e-8)


def test_analysis_toolpak_functions_refuse_arrays_and_logicals():
    # Excel gives #VALUE! for a multi-cell rate in an array formula: these are never lifted.
    cells = {(13, c): float(c) for c in range(3, 8)}
    ctx = Ctx(cells, row=13, col=34, array_mode=True)
    rates = Ref("Sheet1", 13, 3, 13, 7)
    assert xl("CUMIPMT", rates, 5.5, 125000.0, 3.0, 5.0, 1.0, ctx=ctx) is VALUE
    one = Ref("Sheet1", 13, 3, 13, 3)
    assert xl("CUMIPMT", one, 5.5, 125000.0, 3.0, 5.0, 1.0, ctx=ctx) == approx(
        xl("CUMIPMT", 3.0, 5.5, 125000.0, 3.0, 5.0, 1.0))
    # implicit intersection outside an array formula
    assert xl("EFFECT", rates, 4.0, ctx=Ctx(cells, row=20, col=4)) == approx(
        (1 + 4 / 4) ** 4 - 1)
    assert xl("CUMIPMT", True, 5.5, 125000.0, 3.0, 5.0, 1.0) is VALUE
    assert xl("CUMIPMT", BLANK, 5.5, 125000.0, 3.0, 5.0, 1.0) is NUM
    assert xl("CUMIPMT", NA, 5.5, 125000.0, 3.0, 5.0, 1.0) is NA
    assert xl("CUMIPMT", 0.1, 10.0, 100.0, 3.0, 11.0, 0.0) is NUM  # end beyond nper


def test_built_in_functions_lift_over_arrays():
    result = xl("FV", row(3.2, 6.0, 7.0, 4.0, 9.0), 3.0, 2.0)
    assert [round(v, 6) for v in result.rows[0]] == [-45.68, -114.0, -146.0, -62.0, -222.0]
    npv = xl("NPV", row(2.0, BLANK, "ciao"), row(-0.1, 2.0, 0.0, 4.0, 5.0))
    assert npv.rows[0][0] == approx(0.2588477366255144)
    assert npv.rows[0][1] == approx(10.9)
    assert npv.rows[0][2] is VALUE


def test_depreciation_errors():
    assert xl("SLN", 100.0, 10.0, 0.0) is DIV0
    assert xl("DB", 100.0, 10.0, 5.0, 7.0) is NUM  # beyond life with a full first year
    assert xl("DB", 100.0, 10.0, 5.0, 6.0, 7.0) == approx(
        (100 - sum(xl("DB", 100.0, 10.0, 5.0, p, 7.0) for p in range(1, 6)))
        * 0.369 * 5 / 12)
    assert xl("DDB", 100.0, 10.0, 5.0, 6.0) is NUM
    assert xl("SYD", 100.0, 10.0, 5.0, 0.0) is NUM
    assert xl("VDB", 100.0, 10.0, 5.0, 3.0, 2.0) is NUM  # end before start
    assert xl("VDB", 2400.0, 300.0, 10.0, 0.0, 10.0) == approx(2100.0)


def test_other_errors():
    assert xl("EFFECT", 0.0, 4.0) is NUM
    assert xl("NOMINAL", 0.05, 0.5) is NUM
    assert xl("DOLLARDE", 1.02, 0.5) is DIV0
    assert xl("DOLLARDE", 1.02, -1.0) is NUM
    assert xl("FVSCHEDULE", 1.0, row(0.1, BLANK)) == approx(1.1)
    assert xl("FVSCHEDULE", 1.0, row(0.1, "x")) is VALUE
    assert xl("MIRR", row(1.0, 2.0), 0.1, 0.1) is DIV0
    assert xl("PDURATION", 0.0, 1.0, 2.0) is NUM
    assert xl("PRICE", D(2010, 1, 1), D(2009, 1, 1), 0.05, 0.05, 100.0, 2.0) is NUM
    assert xl("PRICE", D(2009, 1, 1), D(2010, 1, 1), 0.05, 0.05, 100.0, 3.0) is NUM
    assert xl("PRICE", D(2009, 1, 1), D(2010, 1, 1), 0.05, 0.05, 100.0, 2.0, 5.0) is NUM
    assert xl("TBILLPRICE", D(2008, 1, 1), D(2009, 6, 1), 0.05) is NUM  # over a year


def test_price_and_yield_invert_each_other():
    args = (D(2008, 2, 15), D(2017, 11, 15), 0.0575)
    for basis in range(5):
        p = xl("PRICE", *args, 0.065, 100.0, 2.0, float(basis))
        assert xl("YIELD", *args, p, 100.0, 2.0, float(basis)) == approx(0.065)


def test_pure_solvers():
    assert irr_solve([-100.0, 110.0]) == approx(0.1)
    assert irr_solve([100.0, 110.0]) is None
    assert rate_solve(10.0, 0.0, -100.0, 200.0) == approx(2 ** 0.1 - 1)
    assert xirr_solve([-100.0, 110.0], [0.0, 365.0], 0.0) == approx(0.1)
    assert math.isclose(xirr_solve([-100.0, 110.0], [0.0, 365.0]), 0.1, abs_tol=1e-8)
