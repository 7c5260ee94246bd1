"""Excel's date and time functions over serial numbers (1900 system, with its 29 February 1900).

Calendar arithmetic is done on serials so the fictitious 1900-02-29 (serial 60) behaves as in
Excel: it is the last day of February 1900, and weekdays before March 1900 follow Excel's
calendar (serial 1 is a Sunday). Functions that came from the Analysis ToolPak (EDATE, EOMONTH,
WEEKNUM, YEARFRAC, NETWORKDAYS, WORKDAY) reject logical arguments with #VALUE!.
"""

from __future__ import annotations

import math
from typing import Any

from engine import datetimes
from engine.errors import NUM, VALUE, XLError
from engine.functions.registry import Arr, Context, Num, Scalar, excel_function
from engine.values import BLANK, MISSING, Array, to_number, to_text

MAX_SERIAL = datetimes.MAX_SERIAL


# --- helpers ----------------------------------------------------------------------------------

def _day(serial: float) -> int | XLError:
    """A date argument as a whole serial; outside 0..9999-12-31 is #NUM!."""
    if serial < 0 or serial >= MAX_SERIAL + 1:
        return NUM
    return math.floor(serial)


def _atp_number(v: Any) -> float | XLError:
    """Analysis ToolPak coercion: numbers and numeric text, but not TRUE/FALSE, and no arrays
    (these functions are not lifted over arrays: a range of several cells is #VALUE!)."""
    if type(v) is Array:
        if v.shape != (1, 1):
            return VALUE
        v = v.rows[0][0]
    return VALUE if type(v) is bool else to_number(v)


def _atp_day(v: Any) -> int | XLError:
    n = _atp_number(v)
    return n if type(n) is XLError else _day(n)


def days_in_month(year: int, month: int) -> int:
    """Days in a month of Excel's calendar, where February 1900 has 29."""
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0 or year == 1900)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _serial(year: int, month: int, day: int) -> int | XLError:
    """Serial of a possibly overflowing date: month and day roll over as in DATE."""
    total = year * 12 + month - 1
    y, m = divmod(total, 12)
    if not 1 <= y <= 9999:
        return NUM
    serial = datetimes.date_to_serial(y, m + 1, 1) + day - 1
    return serial if 0 <= serial <= MAX_SERIAL else NUM


def _weekday0(serial: int) -> int:
    """0 for Sunday ... 6 for Saturday, in Excel's calendar."""
    return (serial + 6) % 7


def _ymd(serial: int) -> tuple[int, int, int]:
    return datetimes.serial_to_date(serial)


def _result(serial: float) -> float | XLError:
    return float(serial) if 0 <= serial <= MAX_SERIAL else NUM


# --- building and reading dates ---------------------------------------------------------------

@excel_function("DATE")
def date(year: Num, month: Num, day: Num):
    y = int(year)
    if not 0 <= y <= 9999:
        return NUM
    if y < 1900:
        y += 1900
    return _serial(y, int(month), int(day))


@excel_function("TIME")
def time(hour: Num, minute: Num, second: Num):
    h, m, s = int(hour), int(minute), int(second)
    if h > 32767:
        return NUM
    total = (h * 3600 + m * 60 + s) / 86400
    if total < 0:
        return NUM
    return total - math.floor(total)


def _date_text(v: Any) -> float | XLError:
    """DATEVALUE and TIMEVALUE take text only: numbers, logicals and blanks are #VALUE!."""
    if type(v) is not str:
        return VALUE
    serial = datetimes.parse_datetime_text(v)
    if serial is None or serial >= MAX_SERIAL + 1:
        return VALUE
    return serial


@excel_function("DATEVALUE")
def datevalue(date_text: Scalar):
    serial = _date_text(date_text)
    return serial if type(serial) is XLError else float(math.floor(serial))


@excel_function("TIMEVALUE")
def timevalue(time_text: Scalar):
    serial = _date_text(time_text)
    return serial if type(serial) is XLError else serial - math.floor(serial)


def _date_part(serial: float, index: int) -> float | XLError:
    d = _day(serial)
    return d if type(d) is XLError else float(_ymd(d)[index])


@excel_function("YEAR")
def year(serial_number: Num):
    return _date_part(serial_number, 0)


@excel_function("MONTH")
def month(serial_number: Num):
    return _date_part(serial_number, 1)


@excel_function("DAY")
def day(serial_number: Num):
    return _date_part(serial_number, 2)


def _clock(serial: float) -> int | XLError:
    """Seconds since midnight, rounded to the nearest second as Excel does."""
    d = _day(serial)
    if type(d) is XLError:
        return d
    return math.floor((serial - d) * 86400 + 0.5) % 86400


@excel_function("HOUR")
def hour(serial_number: Num):
    s = _clock(serial_number)
    return s if type(s) is XLError else float(s // 3600)


@excel_function("MINUTE")
def minute(serial_number: Num):
    s = _clock(serial_number)
    return s if type(s) is XLError else float(s // 60 % 60)


@excel_function("SECOND")
def second(serial_number: Num):
    s = _clock(serial_number)
    return s if type(s) is XLError else float(s % 60)


@excel_function("TODAY", volatile=True)
def today(ctx: Context):
    return float(math.floor(ctx.now()))


@excel_function("NOW", volatile=True)
def now(ctx: Context):
    return ctx.now()


# --- weeks ------------------------------------------------------------------------------------

# WEEKDAY return_type -> the Sunday-based weekday numbered 1 (or 0 for type 3)
_WEEK_START = {1: (0, 1), 2: (1, 1), 3: (1, 0), 11: (1, 1), 12: (2, 1), 13: (3, 1), 14: (4, 1),
               15: (5, 1), 16: (6, 1), 17: (0, 1)}


@excel_function("WEEKDAY")
def weekday(serial_number: Num, return_type: Num = 1.0):
    d = _day(serial_number)
    if type(d) is XLError:
        return d
    rule = _WEEK_START.get(int(return_type))
    if rule is None:
        return NUM
    start, base = rule
    return float((_weekday0(d) - start) % 7 + base)


_WEEKNUM_START = {1: 0, 2: 1, 11: 1, 12: 2, 13: 3, 14: 4, 15: 5, 16: 6, 17: 0}


@excel_function("WEEKNUM")
def weeknum(serial_number: Arr, return_type: Arr = 1.0):
    d = _atp_day(serial_number)
    kind = _atp_number(return_type)
    for v in (d, kind):
        if type(v) is XLError:
            return v
    if int(kind) == 21:
        return _iso_week(d)
    start = _WEEKNUM_START.get(int(kind))
    if start is None:
        return NUM
    jan1 = _jan1(_ymd(d)[0])
    offset = (_weekday0(jan1) - start) % 7
    return float((d - jan1 + offset) // 7 + 1)


def _jan1(year: int) -> int:
    """Serial of 1 January; 1899's is negative, which the ISO week of early 1900 needs."""
    return datetimes.date_to_serial(year, 1, 1) if year >= 1900 else 1 - 365


def _iso_week(d: int) -> float:
    thursday = d - (_weekday0(d) + 6) % 7 + 3
    year_ = _ymd(thursday)[0] if thursday >= 1 else 1899
    return float((thursday - _jan1(year_)) // 7 + 1)


@excel_function("ISOWEEKNUM")
def isoweeknum(date_: Num):
    d = _day(date_)
    return d if type(d) is XLError else _iso_week(d)


# --- month arithmetic -------------------------------------------------------------------------

def _shift_months(start: Any, months: Any, end_of_month: bool) -> float | XLError:
    d = _atp_day(start)
    n = _atp_number(months)
    for v in (d, n):
        if type(v) is XLError:
            return v
    y, m, dd = _ymd(d)
    total = y * 12 + m - 1 + int(n)
    ty, tm = divmod(total, 12)
    if not 1900 <= ty <= 9999:
        return NUM
    last = days_in_month(ty, tm + 1)
    target = last if end_of_month else min(dd, last)
    return _result(_serial(ty, tm + 1, target))


@excel_function("EDATE")
def edate(start_date: Arr, months: Arr):
    return _shift_months(start_date, months, end_of_month=False)


@excel_function("EOMONTH")
def eomonth(start_date: Arr, months: Arr):
    return _shift_months(start_date, months, end_of_month=True)


# --- differences ------------------------------------------------------------------------------

@excel_function("DAYS")
def days(end_date: Num, start_date: Num):
    e, s = _day(end_date), _day(start_date)
    for v in (e, s):
        if type(v) is XLError:
            return v
    return float(e - s)


def _is_last_of_february(y: int, m: int, d: int) -> bool:
    return m == 2 and d == days_in_month(y, 2)


@excel_function("DAYS360")
def days360(start_date: Num, end_date: Num, method: Scalar = False):
    """US (NASD) method by default: a start on the 31st or the last day of February counts as
    the 30th, an end on the 31st counts as the 30th only when the start became the 30th."""
    s, e = _day(start_date), _day(end_date)
    eu = method if type(method) is bool else to_number(method)
    for v in (s, e, eu):
        if type(v) is XLError:
            return v
    (y1, m1, d1), (y2, m2, d2) = _ymd(s), _ymd(e)
    if eu:
        d1, d2 = min(d1, 30), min(d2, 30)
    else:
        if d1 == 31 or _is_last_of_february(y1, m1, d1):
            d1 = 30
        if d2 == 31 and d1 == 30:
            d2 = 30
    return float((y2 - y1) * 360 + (m2 - m1) * 30 + d2 - d1)


def _datedif_md(y2: int, m2: int, d1: int, d2: int) -> int:
    """Excel's MD: may be negative when the start day exceeds the previous month's length."""
    if d2 >= d1:
        return d2 - d1
    py, pm = (y2, m2 - 1) if m2 > 1 else (y2 - 1, 12)
    return days_in_month(py, pm) - d1 + d2


def _datedif_yd(s: int, e: int) -> int:
    """The end moved into the start's year (or the next): Excel counts 1900-02-29 here."""
    (y1, _, _), (_, m2, d2) = _ymd(s), _ymd(e)
    for y in (y1, y1 + 1):
        shifted = _serial(y, m2, min(d2, days_in_month(y, m2)))
        if type(shifted) is int and shifted >= s:
            return shifted - s
    return e - s


@excel_function("DATEDIF")
def datedif(start_date: Num, end_date: Num, unit: Scalar):
    s, e = _day(start_date), _day(end_date)
    for v in (s, e):
        if type(v) is XLError:
            return v
    code = to_text(unit)
    if type(code) is XLError:
        return code
    if s > e:
        return NUM
    (y1, m1, d1), (y2, m2, d2) = _ymd(s), _ymd(e)
    months = (y2 - y1) * 12 + m2 - m1 - (1 if d2 < d1 else 0)
    result = {
        "Y": lambda: months // 12,
        "M": lambda: months,
        "D": lambda: e - s,
        "MD": lambda: _datedif_md(y2, m2, d1, d2),
        "YM": lambda: months % 12,
        "YD": lambda: _datedif_yd(s, e),
    }.get(code.upper())
    return NUM if result is None else float(result())


# --- YEARFRAC ---------------------------------------------------------------------------------

def _is_leap(y: int) -> bool:
    """The real rule: YEARFRAC's actual/actual basis does not count Excel's 1900-02-29."""
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _basis0(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """US 30/360 as YEARFRAC does it (which differs from DAYS360 for February ends)."""
    (y1, m1, d1), (y2, m2, d2) = a, b
    feb1, feb2 = _is_last_of_february(*a), _is_last_of_february(*b)
    if d1 == 31 and d2 == 31:
        d1 = d2 = 30
    elif d1 == 31:
        d1 = 30
    elif d1 == 30 and d2 == 31:
        d2 = 30
    elif feb1 and feb2:
        d1 = d2 = 30
    elif feb1:
        d1 = 30
    return ((y2 - y1) * 360 + (m2 - m1) * 30 + d2 - d1) / 360


def _feb29_between(s: int, e: int, y1: int, y2: int) -> bool:
    for y in {y1, y2}:
        if _is_leap(y):
            mar1 = datetimes.date_to_serial(y, 3, 1)  # a real 29 February precedes it
            if s < mar1 <= e:
                return True
    return False


def _basis1(s: int, e: int) -> float:
    """Actual/actual: one year's length when the dates are at most a year apart, else the
    average length of the calendar years spanned (Excel's rule, not ISDA's)."""
    (y1, m1, d1), (y2, m2, d2) = _ymd(s), _ymd(e)
    within_year = y1 == y2 or (y2 == y1 + 1 and (m1, d1) >= (m2, d2))
    if within_year:
        leap = (y1 == y2 and _is_leap(y1) or _feb29_between(s, e, y1, y2)
                or (m2 == 2 and d2 == 29))
        return (e - s) / (366 if leap else 365)
    span = sum(366 if _is_leap(y) else 365 for y in range(y1, y2 + 1))
    return (e - s) / (span / (y2 - y1 + 1))


@excel_function("YEARFRAC")
def yearfrac(start_date: Arr, end_date: Arr, basis: Arr = 0.0):
    s, e, b = _atp_day(start_date), _atp_day(end_date), _atp_number(basis)
    for v in (b, s, e):  # Excel reports an error in the basis first
        if type(v) is XLError:
            return v
    b = int(b)
    if not 0 <= b <= 4:
        return NUM
    if s > e:
        s, e = e, s
    if b == 0:
        return _basis0(_ymd(s), _ymd(e))
    if b == 1:
        return _basis1(s, e)
    if b == 4:
        (y1, m1, d1), (y2, m2, d2) = _ymd(s), _ymd(e)
        return ((y2 - y1) * 360 + (m2 - m1) * 30 + min(d2, 30) - min(d1, 30)) / 360
    return (e - s) / (360 if b == 2 else 365)


# --- working days -----------------------------------------------------------------------------

def _weekend_mask(weekend: Any) -> tuple[bool, ...] | XLError:
    """Seven flags, Monday first, from a weekend code (1-7, 11-17) or a "0000011" string."""
    if weekend is MISSING or weekend is BLANK:
        weekend = 1.0
    if type(weekend) is Array and weekend.shape == (1, 1):
        weekend = weekend.rows[0][0]
    if type(weekend) is str:
        if len(weekend) != 7 or set(weekend) - {"0", "1"} or weekend == "1111111":
            return VALUE
        return tuple(ch == "1" for ch in weekend)
    code = _atp_number(weekend)
    if type(code) is XLError:
        return code
    code = int(code)
    if 1 <= code <= 7:
        days_off = {(code + 4) % 7, (code + 5) % 7}
    elif 11 <= code <= 17:
        days_off = {(code - 5) % 7}
    else:
        return NUM
    return tuple(i in days_off for i in range(7))


def _holidays(holidays: Any) -> set[int] | XLError:
    if holidays is MISSING:
        return set()
    values = holidays.flat() if type(holidays) is Array else (holidays,)
    out = set()
    for v in values:
        if v is BLANK or v is MISSING:
            continue
        d = _atp_day(v)
        if type(d) is XLError:
            return d
        out.add(d)
    return out


def _is_workday(serial: int, mask: tuple[bool, ...], holidays: set[int]) -> bool:
    return not mask[(_weekday0(serial) + 6) % 7] and serial not in holidays


def _networkdays(start: Any, end: Any, weekend: Any, holidays: Any) -> float | XLError:
    s, e = _atp_day(start), _atp_day(end)
    mask, hols = _weekend_mask(weekend), _holidays(holidays)
    for v in (s, e, mask, hols):
        if type(v) is XLError:
            return v
    sign = 1
    if s > e:
        s, e, sign = e, s, -1
    weeks, rest = divmod(e - s + 1, 7)
    count = weeks * mask.count(False)
    count += sum(1 for k in range(rest) if not mask[(_weekday0(s + k) + 6) % 7])
    count -= sum(1 for h in hols if s <= h <= e and not mask[(_weekday0(h) + 6) % 7])
    return float(sign * count)


@excel_function("NETWORKDAYS")
def networkdays(start_date: Arr, end_date: Arr, holidays: Arr = MISSING):
    return _networkdays(start_date, end_date, 1.0, holidays)


@excel_function("NETWORKDAYS.INTL")
def networkdays_intl(start_date: Arr, end_date: Arr, weekend: Arr = MISSING,
                     holidays: Arr = MISSING):
    return _networkdays(start_date, end_date, weekend, holidays)


def _workday(start: Any, days_: Any, weekend: Any, holidays: Any) -> float | XLError:
    s, n = _atp_day(start), _atp_number(days_)
    mask, hols = _weekend_mask(weekend), _holidays(holidays)
    for v in (s, n, mask, hols):
        if type(v) is XLError:
            return v
    n = int(n)
    step = 1 if n >= 0 else -1
    d = s
    for _ in range(abs(n)):
        d += step
        while not _is_workday(d, mask, hols):
            d += step
            if not 0 <= d <= MAX_SERIAL:
                return NUM
    return _result(d)


@excel_function("WORKDAY")
def workday(start_date: Arr, days: Arr, holidays: Arr = MISSING):
    return _workday(start_date, days, 1.0, holidays)


@excel_function("WORKDAY.INTL")
def workday_intl(start_date: Arr, days: Arr, weekend: Arr = MISSING,
                 holidays: Arr = MISSING):
    return _workday(start_date, days, weekend, holidays)
