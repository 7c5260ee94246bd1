"""Excel's date and time functions, checked through formulas against values Excel returns."""

import pytest

from engine.api import evaluate_formula
from engine.values import Array

CELLS = {"A1": 1987, "A2": 8, "A3": 1, "A4": 0.7, "A5": 0, "A7": "-1", "A8": True,
         "A9": "1/1/1987 05:00 AM", "B1": 32767.99, "B2": -1, "B3": 67, "C1": "=1/0",
         "H1": "2024-01-01", "H2": "2024-01-15", "H3": None}


def ev(formula, array=False):
    return evaluate_formula(formula, {k: v for k, v in CELLS.items() if v is not None},
                            array=array, now=lambda: 45000.75)


@pytest.mark.parametrize("formula, expected", [
    ("=DATE(A1,A2,A3)", 31990.0),
    ("=DATE(A1,A2,A4)", 31989.0),
    ("=DATE(0.9,0.9,0.9)", "#NUM!"),
    ("=DATE(0,1,0)", 0.0),
    ("=DATE(1,0,0)", 335.0),
    ("=DATE(A2,A3,A7)", 2921.0),
    ("=DATE(A3,A4,A8)", 336.0),
    ("=DATE(1900,2,29)", 60.0),
    ("=DATE(1900,3,0)", 60.0),
    ("=DATE(2023,14,1)", 45323.0),
    ("=DATE(10000,1,1)", "#NUM!"),
    ("=DATE(2020,1,C1)", "#DIV/0!"),
    ("=TIME(B1,B2,B3)", pytest.approx(0.29174768518510064, rel=1e-9)),
    ("=TIME(B3,A4,A8)", pytest.approx(0.7916782407407408, rel=1e-12)),
    ("=TIME(0,1,0)", pytest.approx(1 / 1440)),
    ("=TIME(0.9,0.9,0.9)", 0.0),
    ("=TIME(-1,0,0)", "#NUM!"),
    ("=TIME(32768,0,0)", "#NUM!"),
    ("=DATEVALUE(A9)", 31778.0),
    ("=DATEVALUE(A1)", "#VALUE!"),
    ("=DATEVALUE(A6)", "#VALUE!"),
    ("=DATEVALUE(\"2020-02-30\")", "#VALUE!"),
    ("=TIMEVALUE(A9)", pytest.approx(0.20833333333212067, rel=1e-12)),
    ("=TIMEVALUE(\"6:30 PM\")", pytest.approx(18.5 / 24)),
    ("=TIMEVALUE(A8)", "#VALUE!"),
    ("=YEAR(A1)", 1905.0),
    ("=YEAR(A8)", 1900.0),
    ("=MONTH(A1)", 6.0),
    ("=DAY(A1)", 9.0),
    ("=DAY(0)", 0.0),
    ("=DAY(60)", 29.0),
    ("=DAY(-1)", "#NUM!"),
    ("=DAY(2958466)", "#NUM!"),
    ("=YEAR(\"600\")", 1901.0),
    ("=HOUR(0.44)", 10.0),
    ("=HOUR(1.4)", 9.0),
    ("=HOUR(-1)", "#NUM!"),
    ("=MINUTE(0.44)", 33.0),
    ("=SECOND(0.44)", 36.0),
    ("=SECOND(0.99999999)", 0.0),
    ("=WEEKDAY(A1)", 6.0),
    ("=WEEKDAY(0)", 7.0),
    ("=WEEKDAY(1)", 1.0),
    ("=WEEKDAY(45000,2)", 3.0),
    ("=WEEKDAY(45000,3)", 2.0),
    ("=WEEKDAY(45000,11)", 3.0),
    ("=WEEKDAY(45000,17)", 4.0),
    ("=WEEKDAY(45000,4)", "#NUM!"),
    ("=WEEKNUM(A1,2)", 24.0),
    ("=WEEKNUM(A2,1)", 2.0),
    ("=WEEKNUM(0,1)", 0.0),
    ("=WEEKNUM(A9,1)", 1.0),
    ("=WEEKNUM(A8,1)", "#VALUE!"),
    ("=WEEKNUM(45000,21)", 11.0),
    ("=WEEKNUM(45000,3)", "#NUM!"),
    ("=ISOWEEKNUM(A1)", 23.0),
    ("=ISOWEEKNUM(A8)", 52.0),
    ("=ISOWEEKNUM(DATE(2021,1,3))", 53.0),
    ("=EDATE(A1,A2)", 2232.0),
    ("=EDATE(A2,\"2\")", 68.0),
    ("=EDATE(A3,\".55\")", 1.0),
    ("=EDATE(A8,0)", "#VALUE!"),
    ("=EDATE(DATE(2023,1,31),1)", 44985.0),
    ("=EDATE(DATE(1900,1,31),1)", 60.0),
    ("=EDATE(1,-1)", "#NUM!"),
    ("=EOMONTH(A1,A2)", 2251.0),
    ("=EOMONTH(0,0)", 31.0),
    ("=EOMONTH(DATE(1900,2,1),0)", 60.0),
    ("=EOMONTH(DATE(2024,1,15),1)", 45351.0),
    ("=DAYS(\"2021-03-15\",\"2021-02-01\")", 42.0),
    ("=DAYS(A1,C1)", "#DIV/0!"),
    ("=DAYS360(DATE(2011,1,30),DATE(2011,12,31))", 330.0),
    ("=DAYS360(DATE(2011,1,31),DATE(2011,12,31),TRUE)", 330.0),
    ("=DAYS360(DATE(2011,2,28),DATE(2011,3,31))", 30.0),
    ("=DAYS360(DATE(2011,1,15),DATE(2011,3,31))", 76.0),
    ("=DATEDIF(A2,A1,\"YD\")", 153.0),
    ("=DATEDIF(A3,A1,\"D\")", 1986.0),
    ("=DATEDIF(DATE(2001,1,1),DATE(2003,1,1),\"Y\")", 2.0),
    ("=DATEDIF(DATE(2001,6,1),DATE(2002,8,15),\"M\")", 14.0),
    ("=DATEDIF(DATE(2001,6,1),DATE(2002,8,15),\"YM\")", 2.0),
    ("=DATEDIF(DATE(2001,6,1),DATE(2002,8,15),\"md\")", 14.0),
    ("=DATEDIF(DATE(2015,1,31),DATE(2015,3,1),\"MD\")", -2.0),
    ("=DATEDIF(DATE(2001,6,1),DATE(2002,8,15),\"YD\")", 75.0),
    ("=DATEDIF(A8,A7,\"YD\")", "#NUM!"),
    ("=DATEDIF(A2,A1,\"a\")", "#NUM!"),
    ("=DATEDIF(A1,A2,\"D\")", "#NUM!"),
    ("=YEARFRAC(A1,345,1)", pytest.approx(4.496576905522592, rel=1e-12)),
    ("=YEARFRAC(1,345,2.9)", pytest.approx(0.9555555555555556, rel=1e-12)),
    ("=YEARFRAC(2.3,345,\"3\")", pytest.approx(0.9397260273972603, rel=1e-12)),
    ("=YEARFRAC(4,345,A6)", pytest.approx(0.9333333333333333, rel=1e-12)),
    ("=YEARFRAC(A9,345,4)", pytest.approx(86.05833333333334, rel=1e-12)),
    ("=YEARFRAC(DATE(2012,1,1),DATE(2012,7,30))", pytest.approx(0.58055555555556, rel=1e-12)),
    ("=YEARFRAC(DATE(2012,1,1),DATE(2012,7,30),1)", pytest.approx(0.57650273224044, rel=1e-12)),
    ("=YEARFRAC(DATE(2012,1,1),DATE(2012,7,30),3)", pytest.approx(0.57808219178082, rel=1e-12)),
    ("=YEARFRAC(DATE(2011,2,28),DATE(2012,2,29),0)", 1.0),
    ("=YEARFRAC(3,345,A8)", "#VALUE!"),
    ("=YEARFRAC(0,345,A9)", "#NUM!"),
    ("=YEARFRAC(#VALUE!,345,#N/A)", "#N/A"),
    ("=NETWORKDAYS(DATE(2012,10,1),DATE(2013,3,1))", 110.0),
    ("=NETWORKDAYS(DATE(2012,10,1),DATE(2013,3,1),{41235,41247,41295})", 107.0),
    ("=NETWORKDAYS(DATE(2013,3,1),DATE(2012,10,1))", -110.0),
    ("=NETWORKDAYS(H1,H2,H1)", 10.0),
    ("=NETWORKDAYS.INTL(DATE(2006,1,1),DATE(2006,1,31))", 22.0),
    ("=NETWORKDAYS.INTL(DATE(2006,1,1),DATE(2006,2,1),7,{\"2006/1/2\",\"2006/1/16\"})", 22.0),
    ("=NETWORKDAYS.INTL(DATE(2006,1,1),DATE(2006,2,1),\"0010001\")", 22.0),
    ("=NETWORKDAYS.INTL(DATE(2006,1,1),DATE(2006,2,1),\"1111111\")", "#VALUE!"),
    ("=NETWORKDAYS.INTL(DATE(2006,1,1),DATE(2006,2,1),8)", "#NUM!"),
    ("=NETWORKDAYS.INTL(DATE(2006,1,1),DATE(2006,1,31),11)", 26.0),
    ("=WORKDAY(DATE(2008,10,1),151)", 39933.0),
    ("=WORKDAY(DATE(2008,10,1),151,{39773,39804,39825})", 39938.0),
    ("=WORKDAY(DATE(2008,10,1),-5)", 39715.0),
    ("=WORKDAY(DATE(2008,10,1),0)", 39722.0),
    ("=WORKDAY.INTL(DATE(2012,1,1),30,0)", "#NUM!"),
    ("=WORKDAY.INTL(DATE(2012,1,1),90,11)", 41013.0),
    ("=WORKDAY.INTL(DATE(2012,1,1),30,17)", 40944.0),
    ("=WORKDAY.INTL(DATE(2012,1,1),1,\"0000011\")", 40910.0),
    ("=TODAY()", 45000.0),
    ("=NOW()", 45000.75),
])
def test_formula(formula, expected):
    result = ev(formula)
    if isinstance(expected, str):
        assert getattr(result, "code", None) == expected
    else:
        assert type(result) is float
        assert result == expected


def test_analysis_toolpak_functions_reject_arrays():
    assert ev("=EDATE(A9,A1:A5)", array=True).code == "#VALUE!"
    assert ev("=DATE(A1,A2,A3:A4)", array=True) == Array([[31990.0], [31989.0]])


def test_volatile_registration():
    from engine.functions.registry import lookup
    assert lookup("TODAY").volatile and lookup("NOW").volatile
    assert not lookup("DATE").volatile
