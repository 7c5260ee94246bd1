"""Excel date serial numbers (1900 system, with its fictitious 29 February 1900).

Serial 1 is 1900-01-01, serial 60 is the non-existent 1900-02-29 that Excel keeps for Lotus
compatibility, and from serial 61 (1900-03-01) on the count matches the real calendar.
"""

from __future__ import annotations

import datetime as _dt
import re

_EPOCH = _dt.date(1899, 12, 31)
MAX_SERIAL = 2958465  # 9999-12-31


def date_to_serial(year: int, month: int, day: int) -> int:
    """Serial of a (real) calendar date."""
    serial = (_dt.date(year, month, day) - _EPOCH).days
    return serial + 1 if serial >= 60 else serial


def serial_to_date(serial: float) -> tuple[int, int, int]:
    """(year, month, day) of a serial; serial 60 is (1900, 2, 29) and 0 is (1900, 1, 0)."""
    n = int(serial)
    if n == 60:
        return 1900, 2, 29
    if n == 0:
        return 1900, 1, 0
    if n > 60:
        n -= 1
    d = _EPOCH + _dt.timedelta(days=n)
    return d.year, d.month, d.day


def serial_to_pydate(serial: float) -> _dt.date:
    """A real date for calendar arithmetic; serial 60 maps to 1900-02-28 and 0 to 1899-12-31."""
    n = int(serial)
    if n > 60:
        n -= 1
    elif n == 60:
        n = 59
    return _EPOCH + _dt.timedelta(days=n)


def pydate_to_serial(d: _dt.date) -> int:
    return date_to_serial(d.year, d.month, d.day)


def datetime_to_serial(value: _dt.datetime | _dt.date | _dt.time | _dt.timedelta) -> float:
    """Serial of a value openpyxl returns for a date-formatted cell."""
    if isinstance(value, _dt.datetime):
        day = date_to_serial(value.year, value.month, value.day)
        secs = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
        return day + secs / 86400.0
    if isinstance(value, _dt.date):
        return float(date_to_serial(value.year, value.month, value.day))
    if isinstance(value, _dt.time):
        return (value.hour * 3600 + value.minute * 60 + value.second
                + value.microsecond / 1e6) / 86400.0
    if isinstance(value, _dt.timedelta):
        return value.total_seconds() / 86400.0
    raise TypeError(f"not a date or time: {value!r}")


def valid_serial(serial: float) -> bool:
    return 0 <= serial <= MAX_SERIAL + 0.99999999


_MONTHS = {m.lower(): i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"], start=1)}
_MONTHS.update({k[:3]: v for k, v in list(_MONTHS.items())})
_MONTHS["sept"] = 9

_TIME_RE = re.compile(
    r"^\s*(\d{1,2}):(\d{1,2})(?::(\d{1,2}(?:\.\d+)?))?\s*([ap]m?)?\s*$", re.IGNORECASE)
_TIME_AMPM_RE = re.compile(r"^\s*(\d{1,2})\s*([ap]m?)\s*$", re.IGNORECASE)
_ISO_RE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
_MDY_RE = re.compile(r"^(\d{1,2})[-/](\d{1,2})(?:[-/](\d{1,4}))?$")
_DMONY_RE = re.compile(r"^(\d{1,2})[-/ ]([a-z]+)\.?(?:[-/ ,]+(\d{1,4}))?$", re.IGNORECASE)
_MONDY_RE = re.compile(r"^([a-z]+)\.?[-/ ](\d{1,2})(?:(?:,\s*|[-/ ])(\d{1,4}))?$", re.IGNORECASE)
_MONY_RE = re.compile(r"^([a-z]+)\.?[-/ ](\d{3,4})$", re.IGNORECASE)


def _year(y: str | None, today_year: int) -> int | None:
    if y is None:
        return today_year
    n = int(y)
    if len(y) <= 2:
        return 2000 + n if n < 30 else 1900 + n
    return n if 1900 <= n <= 9999 else None


def _serial_or_none(y: int | None, m: int, d: int) -> int | None:
    if y is None or not 1 <= m <= 12:
        return None
    if y == 1900 and m == 2 and d == 29:
        return 60
    try:
        return date_to_serial(y, m, d)
    except ValueError:
        return None


def parse_time_text(text: str) -> float | None:
    m = _TIME_RE.match(text)
    if m:
        h, mi = int(m.group(1)), int(m.group(2))
        s = float(m.group(3) or 0)
        ampm = (m.group(4) or "").lower()
    else:
        m = _TIME_AMPM_RE.match(text)
        if not m:
            return None
        h, mi, s, ampm = int(m.group(1)), 0, 0.0, m.group(2).lower()
    if ampm:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if ampm.startswith("p") else 0)
    if mi >= 60 or s >= 60:
        return None
    return (h * 3600 + mi * 60 + s) / 86400.0


def parse_date_text(text: str, today_year: int | None = None) -> int | None:
    """Serial of a date typed as text, in the forms Excel (en-US) accepts, or None."""
    s = text.strip().replace(",", ", ").replace("  ", " ")
    s = re.sub(r"\s+", " ", s).strip()
    year_now = today_year or _dt.date.today().year
    m = _ISO_RE.match(s)
    if m:
        return _serial_or_none(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = _MDY_RE.match(s)
    if m:
        a, b, y = int(m.group(1)), int(m.group(2)), m.group(3)
        if a > 12 >= b:  # not month-first: read it day-first, as a d/m locale's Excel does
            a, b = b, a
        year = year_now if y is None else _year(y, year_now)
        return _serial_or_none(year, a, b)
    m = _DMONY_RE.match(s)
    if m and m.group(2).lower() in _MONTHS:
        return _serial_or_none(_year(m.group(3), year_now), _MONTHS[m.group(2).lower()],
                               int(m.group(1)))
    m = _MONDY_RE.match(s)
    if m and m.group(1).lower() in _MONTHS:
        mon = _MONTHS[m.group(1).lower()]
        if m.group(3) is None and len(m.group(2)) <= 2 and int(m.group(2)) > 31:
            return _serial_or_none(_year(m.group(2), year_now), mon, 1)
        return _serial_or_none(_year(m.group(3), year_now), mon, int(m.group(2)))
    m = _MONY_RE.match(s)
    if m and m.group(1).lower() in _MONTHS:
        return _serial_or_none(_year(m.group(2), year_now), _MONTHS[m.group(1).lower()], 1)
    return None


def parse_datetime_text(text: str) -> float | None:
    """Serial (with fraction for the time) of date and/or time text, or None."""
    s = text.strip()
    if not s:
        return None
    t = parse_time_text(s)
    if t is not None:
        return t
    d = parse_date_text(s)
    if d is not None:
        return float(d)
    # date followed by a time
    parts = s.rsplit(" ", 2)
    for k in (1, 2):
        if len(parts) > k:
            date_part = " ".join(parts[:-k])
            time_part = " ".join(parts[-k:])
            t = parse_time_text(time_part)
            d = parse_date_text(date_part) if t is not None else None
            if d is not None:
                return d + t
    return None
