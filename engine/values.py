"""Excel's value model: blanks, arrays, coercions and comparison order.

Scalars are Python ``float`` (numbers), ``str`` (text), ``bool``, :data:`BLANK` and
:class:`~engine.errors.XLError`. ``bool`` is a subclass of ``int`` in Python, so every type test
here checks booleans first; nothing outside this module should need to.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from engine import datetimes
from engine.errors import DIV0, NA, NUM, VALUE, XLError


class _Blank:
    """An empty cell: 0 for arithmetic, "" for text, FALSE for logic."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "BLANK"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self):
        return "BLANK"


class _Missing:
    """An argument left empty in a call, as in ``ROUND(1.5,)``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self):
        return "MISSING"


BLANK = _Blank()
MISSING = _Missing()


class Array:
    """A rectangular block of scalars (an array constant, a dereferenced range, a result)."""

    __slots__ = ("rows", "_memo")

    def __init__(self, rows: list[list[Any]]):
        self.rows = rows
        self._memo: dict[Any, Any] | None = None

    def memoized(self, key: Any, build: Callable[[], Any]) -> Any:
        """Data derived from this array (a lookup column, an index), built once. Arrays are
        never changed in place, and a range read once is shared by every formula reading it."""
        memo = self._memo
        if memo is None:
            memo = self._memo = {}
        if key not in memo:
            memo[key] = build()
        return memo[key]

    @classmethod
    def column(cls, values: list[Any]) -> Array:
        return cls([[v] for v in values])

    @classmethod
    def row(cls, values: list[Any]) -> Array:
        return cls([list(values)])

    @classmethod
    def filled(cls, nrows: int, ncols: int, value: Any) -> Array:
        return cls([[value] * ncols for _ in range(nrows)])

    @property
    def nrows(self) -> int:
        return len(self.rows)

    @property
    def ncols(self) -> int:
        return len(self.rows[0]) if self.rows else 0

    @property
    def shape(self) -> tuple[int, int]:
        return self.nrows, self.ncols

    def flat(self) -> Iterator[Any]:
        """Values row by row, as Excel walks a range."""
        for row in self.rows:
            yield from row

    def columns(self) -> list[list[Any]]:
        return [list(col) for col in zip(*self.rows)] if self.rows else []

    def transpose(self) -> Array:
        return Array([list(col) for col in zip(*self.rows)])

    def map(self, fn: Callable[[Any], Any]) -> Array:
        return Array([[fn(v) for v in row] for row in self.rows])

    def top_left(self) -> Any:
        return self.rows[0][0] if self.rows and self.rows[0] else BLANK

    def get(self, r: int, c: int) -> Any:
        """Element (r, c), 0-based, broadcasting a single row or column as Excel does."""
        nr, nc = self.shape
        if nr == 1:
            r = 0
        if nc == 1:
            c = 0
        if r < nr and c < nc:
            return self.rows[r][c]
        return NA

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Array) and self.rows == other.rows

    def __repr__(self) -> str:
        return f"Array({self.rows!r})"


def broadcast_shape(*shapes: tuple[int, int]) -> tuple[int, int]:
    """The result shape of an element-wise operation: a 1-row or 1-column side stretches."""
    rows = max(s[0] for s in shapes)
    cols = max(s[1] for s in shapes)
    return rows, cols


# --- type tests -------------------------------------------------------------------------------

def is_number(v: Any) -> bool:
    return (type(v) is float or type(v) is int)


def is_error(v: Any) -> bool:
    return type(v) is XLError


# --- coercions --------------------------------------------------------------------------------

def parse_number(text: str) -> float | None:
    """Excel's reading of text as a number ("1,000", "50%", "$3", "1e3", "2020-01-31", "1:30")."""
    s = text.strip()
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        pass
    neg = False
    if s.startswith("(") and s.endswith(")"):
        neg, s = True, s[1:-1].strip()
    sign = 1.0
    if s[:1] in "+-":
        sign, s = (-1.0 if s[0] == "-" else 1.0), s[1:].strip()
    if s.startswith("$"):
        s = s[1:].strip()
        if s[:1] == "-":
            sign, s = -sign, s[1:]
    percent = 0
    while s.endswith("%"):
        percent += 1
        s = s[:-1].rstrip()
    body = s
    if "," in body:
        head, _, tail = body.partition(".")
        groups = head.split(",")
        if not groups[0] or any(len(g) != 3 or not g.isdigit() for g in groups[1:]):
            body = None
        else:
            body = "".join(groups) + ("." + tail if tail or "." in s else "")
    if body is not None:
        try:
            value = float(body)
        except ValueError:
            value = None
        if value is not None and "inf" not in body.lower() and "nan" not in body.lower():
            value = value * sign / (100.0 ** percent)
            return -value if neg else value
    if neg or percent or sign < 0:
        return None
    return datetimes.parse_datetime_text(text)


def to_number(v: Any) -> float | XLError:
    """Coerce a scalar for arithmetic: TRUE is 1, blank is 0, numeric text is read, else #VALUE!."""
    t = type(v)
    if t is float:
        return v
    if t is bool:
        return 1.0 if v else 0.0
    if t is int:
        return float(v)
    if t is str:
        n = parse_number(v)
        return VALUE if n is None else n
    if v is BLANK or v is MISSING:
        return 0.0
    if t is XLError:
        return v
    if t is Array:
        return to_number(v.top_left())
    return VALUE


def to_text(v: Any) -> str | XLError:
    """Coerce a scalar to text as ``&`` does: numbers in Excel's general format, TRUE as "TRUE"."""
    t = type(v)
    if t is str:
        return v
    if t is float or t is int:
        return format_general(v)
    if t is bool:
        return "TRUE" if v else "FALSE"
    if v is BLANK or v is MISSING:
        return ""
    if t is XLError:
        return v
    if t is Array:
        return to_text(v.top_left())
    return VALUE


def to_bool(v: Any) -> bool | XLError:
    """Coerce a scalar to a logical: numbers are TRUE unless 0, "TRUE"/"FALSE" text is read."""
    t = type(v)
    if t is bool:
        return v
    if t is float or t is int:
        return v != 0
    if t is str:
        u = v.strip().upper()
        if u == "TRUE":
            return True
        if u == "FALSE":
            return False
        return VALUE
    if v is BLANK or v is MISSING:
        return False
    if t is XLError:
        return v
    if t is Array:
        return to_bool(v.top_left())
    return VALUE


def format_general(x: float) -> str:
    """A number as Excel converts it to text: up to 15 significant digits, scientific when huge
    or tiny (1E+15, 1E-10)."""
    if x == 0:
        return "0"
    if x != x or x in (math.inf, -math.inf):
        return "#NUM!"
    mant, exp = f"{x:.14e}".split("e")
    e = int(exp)
    if e >= 15 or e < -9:
        mant = mant.rstrip("0").rstrip(".")
        return f"{mant}E{'+' if e >= 0 else '-'}{abs(e):02d}"
    digits = mant.replace("-", "").replace(".", "").rstrip("0") or "0"
    sign = "-" if x < 0 else ""
    if e >= 0:
        if len(digits) <= e + 1:
            return sign + digits + "0" * (e + 1 - len(digits))
        return f"{sign}{digits[:e + 1]}.{digits[e + 1:]}"
    return f"{sign}0.{'0' * (-e - 1)}{digits}"


# --- results and comparison -------------------------------------------------------------------

def finite(x: float) -> float | XLError:
    """Excel has no inf or NaN: both become #NUM!."""
    if x != x or x == math.inf or x == -math.inf:
        return NUM
    return x


def _rank(v: Any) -> int:
    t = type(v)
    if t is bool:
        return 2
    if t is str:
        return 1
    return 0


def compare(a: Any, b: Any) -> int | XLError:
    """Excel's ordering for ``<`` and friends: numbers < text < FALSE < TRUE; text ignores case.

    A blank takes the type of the other side (0, "" or FALSE).
    """
    if type(a) is XLError:
        return a
    if type(b) is XLError:
        return b
    if a is BLANK or a is MISSING:
        a = _blank_like(b)
    if b is BLANK or b is MISSING:
        b = _blank_like(a)
    ra, rb = _rank(a), _rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == 1:
        a, b = a.lower(), b.lower()
    elif ra == 0:
        a, b = float(a), float(b)
    return (a > b) - (a < b)


def _blank_like(other: Any) -> Any:
    t = type(other)
    if t is str:
        return ""
    if t is bool:
        return False
    return 0.0


def divide(a: float, b: float) -> float | XLError:
    return DIV0 if b == 0 else finite(a / b)


def excel_round(x: float, digits: int = 0) -> float:
    """Round half away from zero on the decimal digits Excel shows (ROUND(0.125, 2) is 0.13)."""
    if x != x or x in (math.inf, -math.inf):
        return x
    scaled = repr_round(x * 10.0 ** digits if digits >= 0 else x / 10.0 ** (-digits))
    r = math.floor(abs(scaled) + 0.5)
    r = math.copysign(r, x)
    return r / 10.0 ** digits if digits >= 0 else r * 10.0 ** (-digits)


def repr_round(x: float) -> float:
    """``x`` cleaned to 15 significant digits, removing binary noise such as 12.4999999999."""
    if x == 0 or x != x or x in (math.inf, -math.inf):
        return x
    return float(f"{x:.15g}")


def first_error(values: Any) -> XLError | None:
    for v in values:
        if type(v) is XLError:
            return v
    return None


__all__ = [
    "Array", "BLANK", "MISSING", "DIV0", "NA", "NUM", "VALUE", "XLError", "broadcast_shape",
    "compare", "divide", "excel_round", "finite", "first_error", "format_general", "is_error",
    "is_number", "parse_number", "repr_round", "to_bool", "to_number", "to_text",
]
