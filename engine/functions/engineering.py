"""Excel's engineering functions: CONVERT, number bases, bit operations, Bessel and error
functions, and complex numbers written as text ("3+4i").

Almost all of them come from the Analysis ToolPak and keep its argument rules (see
:func:`engine.functions.math.atp_function`); the BIT* functions are native and lift over arrays.
"""

from __future__ import annotations

import cmath
import math
import re
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from engine.errors import DIV0, NA, NUM, VALUE, XLError
from engine.functions.math import atp_function
from engine.functions.registry import Arr, Num, Scalar, Text, excel_function
from engine.values import BLANK, MISSING, Array, format_general, to_number

# --- CONVERT ----------------------------------------------------------------------------------

_PREFIXES = {
    "Y": 1e24, "Z": 1e21, "E": 1e18, "P": 1e15, "T": 1e12, "G": 1e9, "M": 1e6, "k": 1e3,
    "h": 1e2, "da": 1e1, "e": 1e1, "d": 1e-1, "c": 1e-2, "m": 1e-3, "u": 1e-6, "n": 1e-9,
    "p": 1e-12, "f": 1e-15, "a": 1e-18, "z": 1e-21, "y": 1e-24,
}
_BINARY_PREFIXES = {
    "ki": 2.0 ** 10, "Mi": 2.0 ** 20, "Gi": 2.0 ** 30, "Ti": 2.0 ** 40, "Pi": 2.0 ** 50,
    "Ei": 2.0 ** 60, "Zi": 2.0 ** 70, "Yi": 2.0 ** 80,
}

_INCH = 0.0254
_PICA_POINT = _INCH / 72
_LIGHT_YEAR = 9460730472580800.0
_MILE = 1609.344
_NAUTICAL_MILE = 1852.0


class _Unit:
    """A unit: its quantity, its size in the quantity's base unit, whether metric prefixes
    apply, and the power of length it is made of (2 for areas, 3 for volumes: a prefix scales
    the length, so "km2" is a million square metres)."""

    __slots__ = ("quantity", "factor", "prefixed", "power")

    def __init__(self, quantity: str, factor: float, prefixed: bool = False, power: int = 1):
        self.quantity, self.factor, self.prefixed, self.power = quantity, factor, prefixed, power


def _units(quantity: str, factor: float, names: str, prefixed: bool = False,
           power: int = 1) -> dict[str, _Unit]:
    unit = _Unit(quantity, factor, prefixed, power)
    return {name: unit for name in names.split()}


def _powered(quantity: str, power: int, lengths: dict[str, tuple[float, bool]],
             extra: dict[str, tuple[float, bool]]) -> dict[str, _Unit]:
    """Areas and volumes named after a length ("ft2", "ft^2") plus the named ones."""
    table = {}
    for name, (size, prefixed) in lengths.items():
        unit = _Unit(quantity, size ** power, prefixed, power)
        table[f"{name}{power}"] = table[f"{name}^{power}"] = unit
    for names, (size, prefixed) in extra.items():
        table.update(_units(quantity, size, names, prefixed))
    return table


_LENGTHS = {
    "m": (1.0, True), "ang": (1e-10, True), "ft": (0.3048, False), "in": (_INCH, False),
    "ly": (_LIGHT_YEAR, False), "mi": (_MILE, False), "Nmi": (_NAUTICAL_MILE, False),
    "yd": (0.9144, False), "Picapt": (_PICA_POINT, False), "Pica": (_PICA_POINT, False),
}

_UNITS: dict[str, _Unit] = {
    **_units("mass", 1.0, "g", True),
    **_units("mass", 14593.902937206363, "sg"),
    **_units("mass", 453.59237, "lbm"),
    **_units("mass", 1.660538782e-24, "u", True),
    **_units("mass", 28.349523125, "ozm"),
    **_units("mass", 0.06479891, "grain"),
    **_units("mass", 45359.237, "cwt shweight"),
    **_units("mass", 50802.34544, "uk_cwt lcwt hweight"),
    **_units("mass", 6350.29318, "stone"),
    **_units("mass", 907184.74, "ton"),
    **_units("mass", 1016046.9088, "uk_ton LTON brton"),
    **_units("length", 1.0, "m", True),
    **_units("length", _MILE, "mi"),
    **_units("length", _NAUTICAL_MILE, "Nmi"),
    **_units("length", _INCH, "in"),
    **_units("length", 0.3048, "ft"),
    **_units("length", 0.9144, "yd"),
    **_units("length", 1e-10, "ang", True),
    **_units("length", 1.143, "ell"),
    **_units("length", _LIGHT_YEAR, "ly", True),
    **_units("length", 3.0856775812815532e16, "parsec pc", True),
    **_units("length", _PICA_POINT, "Picapt Pica"),
    **_units("length", _INCH / 6, "pica"),
    **_units("length", 5280 * 1200 / 3937, "survey_mi"),
    **_units("time", 31557600.0, "yr"),
    **_units("time", 86400.0, "day d"),
    **_units("time", 3600.0, "hr"),
    **_units("time", 60.0, "mn min"),
    **_units("time", 1.0, "sec s", True),
    **_units("pressure", 1.0, "Pa p", True),
    **_units("pressure", 101325.0, "atm at", True),
    **_units("pressure", 133.322, "mmHg", True),
    **_units("pressure", 6894.757293168362, "psi"),
    **_units("pressure", 101325.0 / 760, "Torr"),
    **_units("force", 1.0, "N", True),
    **_units("force", 1e-5, "dyn dy", True),
    **_units("force", 4.4482216152605, "lbf"),
    **_units("force", 9.80665e-3, "pond", True),
    **_units("energy", 1.0, "J", True),
    **_units("energy", 1e-7, "e", True),
    **_units("energy", 4.184, "c", True),
    **_units("energy", 4.1868, "cal", True),
    **_units("energy", 1.602176487e-19, "eV ev", True),
    **_units("energy", 2684519.537696173, "HPh hh"),
    **_units("energy", 3600.0, "Wh wh", True),
    **_units("energy", 0.3048 * 4.4482216152605, "flb"),
    **_units("energy", 1055.05585262, "BTU btu"),
    **_units("power", 745.6998715822702, "HP h"),
    **_units("power", 735.49875, "PS"),
    **_units("power", 1.0, "W w", True),
    **_units("magnetism", 1.0, "T", True),
    **_units("magnetism", 1e-4, "ga", True),
    **_units("temperature", 1.0, "C cel"),
    **_units("temperature", 1.0, "F fah"),
    **_units("temperature", 1.0, "K kel", True),
    **_units("temperature", 1.0, "Rank"),
    **_units("temperature", 1.0, "Reau"),
    **_powered("volume", 3, _LENGTHS, {
        "tsp": (4.92892159375e-06, False), "tspm": (5e-06, False),
        "tbs": (1.478676478125e-05, False), "oz": (2.95735295625e-05, False),
        "cup": (2.365882365e-04, False), "pt us_pt": (4.73176473e-04, False),
        "uk_pt": (5.6826125e-04, True), "qt": (9.46352946e-04, False),
        "uk_qt": (1.1365225e-03, False), "gal": (3.785411784e-03, False),
        "uk_gal": (4.54609e-03, False), "l L lt": (1e-3, True),
        "barrel": (0.158987294928, False), "bushel": (0.03523907016688, False),
        "GRT regton": (2.8316846592, False), "MTON": (1.13267386368, False),
    }),
    **_powered("area", 2, _LENGTHS, {
        "uk_acre": (4046.8564224, False), "us_acre": (4046.8726098742522, False),
        "ar": (100.0, True), "ha": (10000.0, False), "Morgen": (2500.0, False),
    }),
    **_units("information", 1.0, "bit", True),
    **_units("information", 8.0, "byte", True),
    **_units("speed", 1853.184, "admkn"),
    **_units("speed", _NAUTICAL_MILE, "kn"),
    **_units("speed", 1.0, "m/h m/hr", True),
    **_units("speed", 3600.0, "m/s m/sec", True),
    **_units("speed", _MILE, "mph", True),
}

# Kelvin from each temperature scale: (offset, scale) with K = (x + offset) * scale.
_TEMPERATURE = {
    "C": (273.15, 1.0), "cel": (273.15, 1.0), "F": (459.67, 5 / 9), "fah": (459.67, 5 / 9),
    "K": (0.0, 1.0), "kel": (0.0, 1.0), "Rank": (0.0, 5 / 9), "Reau": (218.52, 1.25),
}


def _readings(name: str) -> list[tuple[_Unit, str, float]]:
    """Every way to read ``name`` as (unit, base name, prefix multiplier): "km" as kilo-metre,
    "pc" as parsec and as pico-calorie. CONVERT takes the first pair of readings that measure
    the same quantity, an exact unit name first."""
    found = []
    unit = _UNITS.get(name)
    if unit is not None:
        found.append((unit, name, 1.0))
    for table, size in ((_BINARY_PREFIXES, 2), (_PREFIXES, 2), (_PREFIXES, 1)):
        prefix, base = name[:size], name[size:]
        unit = _UNITS.get(base)
        if prefix not in table or unit is None or not unit.prefixed:
            continue
        if table is _BINARY_PREFIXES and unit.quantity != "information":
            continue
        found.append((unit, base, table[prefix] ** unit.power))
    return found


@atp_function("CONVERT")
def convert(number: Num, from_unit: Text, to_unit: Text):
    pairs = [(a, b) for a in _readings(from_unit) for b in _readings(to_unit)
             if a[0].quantity == b[0].quantity]
    if not pairs:
        return NA
    (unit_a, name_a, scale_a), (unit_b, name_b, scale_b) = pairs[0]
    if unit_a.quantity == "temperature":
        offset_a, factor_a = _TEMPERATURE[name_a]
        offset_b, factor_b = _TEMPERATURE[name_b]
        kelvin = (number * scale_a + offset_a) * factor_a
        return (kelvin / factor_b - offset_b) / scale_b
    return number * (unit_a.factor * scale_a) / (unit_b.factor * scale_b)


# --- number bases -----------------------------------------------------------------------------

# Each base's digits and the bits of its 10-character two's complement form.
_BASES = {2: 10, 8: 30, 16: 40}


def _parse_based(value: Any, radix: int) -> int | XLError:
    """A BIN/OCT/HEX argument: up to 10 digits, the top bit of 10 digits meaning negative."""
    if value is BLANK or value is MISSING:
        return 0
    if type(value) is XLError:
        return value
    if type(value) is bool:
        return VALUE
    text = format_general(value) if type(value) is float else value
    if not text:
        return 0  # an empty text (="") reads as zero, like a blank cell
    if len(text) > 10:
        return NUM
    try:
        n = int(text, radix)
    except ValueError:
        return NUM
    if text.strip() != text or not text.isalnum():
        return NUM
    bits = _BASES[radix]
    return n - (1 << bits) if n >= 1 << (bits - 1) else n


def _places(places: Any) -> int | None | XLError:
    """The optional digit count, checked before the number itself: outside 1..10 it is #NUM!
    even when the number is invalid or negative (``DEC2BIN("E",0)``, ``DEC2BIN(-1,0)``)."""
    if places is MISSING or places is None:
        return None
    width = int(places)
    return width if 1 <= width <= 10 else NUM


def _format_based(n: int, radix: int, width: int | None) -> str | XLError:
    """``n`` in ``radix``: negative numbers as 10 two's-complement digits (whatever the width),
    others padded to ``width`` digits (#NUM! when they do not fit)."""
    bits = _BASES[radix]
    if not -(1 << (bits - 1)) <= n < 1 << (bits - 1):
        return NUM
    digits = {2: "b", 8: "o", 16: "X"}[radix]
    if n < 0:
        return format(n + (1 << bits), digits)
    text = format(n, digits)
    if width is None:
        return text
    return NUM if width < len(text) else text.rjust(width, "0")


def _decimal(number: Any) -> int | XLError:
    """A DEC2X number: coerced as a number, a logical is #VALUE! (as with every ATP function)."""
    n = VALUE if type(number) is bool else to_number(number)
    return n if type(n) is XLError else int(n)


def _base_function(name: str, source: int | None, target: int | None) -> None:
    """Register one of the twelve X2Y functions (None meaning decimal)."""
    if target is None:
        def impl(number: Scalar):
            n = _parse_based(number, source)
            return n if type(n) is XLError else float(n)
    else:
        read = _decimal if source is None else partial(_parse_based, radix=source)

        def impl(number: Scalar, places: Num = None):  # type: ignore[misc]
            width = _places(places)
            if type(width) is XLError:
                return width
            n = read(number)
            return n if type(n) is XLError else _format_based(n, target, width)
    impl.__name__ = impl.__qualname__ = name.lower()
    atp_function(name)(impl)


for _name, _source, _target in (
    ("BIN2DEC", 2, None), ("BIN2OCT", 2, 8), ("BIN2HEX", 2, 16),
    ("OCT2DEC", 8, None), ("OCT2BIN", 8, 2), ("OCT2HEX", 8, 16),
    ("HEX2DEC", 16, None), ("HEX2BIN", 16, 2), ("HEX2OCT", 16, 8),
    ("DEC2BIN", None, 2), ("DEC2OCT", None, 8), ("DEC2HEX", None, 16),
):
    _base_function(_name, _source, _target)


# --- bit operations ---------------------------------------------------------------------------

_BIT_LIMIT = 2 ** 48


def _bit_operand(x: float) -> int | None:
    """BIT* operands are whole numbers from 0 to 2**48 - 1."""
    if x < 0 or x != int(x) or x >= _BIT_LIMIT:
        return None
    return int(x)


def _bitwise(a: float, b: float, op: Callable[[int, int], int]) -> float | XLError:
    x, y = _bit_operand(a), _bit_operand(b)
    return NUM if x is None or y is None else float(op(x, y))


@excel_function("BITAND")
def bitand(number1: Num, number2: Num):
    return _bitwise(number1, number2, lambda x, y: x & y)


@excel_function("BITOR")
def bitor(number1: Num, number2: Num):
    return _bitwise(number1, number2, lambda x, y: x | y)


@excel_function("BITXOR")
def bitxor(number1: Num, number2: Num):
    return _bitwise(number1, number2, lambda x, y: x ^ y)


def _shift(number: float, amount: float) -> float | XLError:
    x, k = _bit_operand(number), int(amount)
    if x is None or abs(k) > 53:
        return NUM
    result = x << k if k >= 0 else x >> -k
    return NUM if result >= _BIT_LIMIT else float(result)


@excel_function("BITLSHIFT")
def bitlshift(number: Num, shift_amount: Num):
    return _shift(number, shift_amount)


@excel_function("BITRSHIFT")
def bitrshift(number: Num, shift_amount: Num):
    return _shift(number, -shift_amount)


# --- DELTA, GESTEP, ERF, Bessel ---------------------------------------------------------------

@atp_function("DELTA")
def delta(number1: Num, number2: Num = 0.0):
    return 1.0 if number1 == number2 else 0.0


@atp_function("GESTEP")
def gestep(number: Num, step: Num = 0.0):
    return 1.0 if number >= step else 0.0


@atp_function("ERF")
def erf(lower_limit: Num, upper_limit: Num = None):
    if upper_limit is None or upper_limit is MISSING:
        return math.erf(lower_limit)
    return math.erf(upper_limit) - math.erf(lower_limit)


@atp_function("ERF.PRECISE")
def erf_precise(x: Num):
    return math.erf(x)


@atp_function("ERFC", "ERFC.PRECISE")
def erfc(x: Num):
    return math.erfc(x)


# Excel computes Bessel functions with the polynomial approximations of Numerical Recipes
# (accurate to about 1e-8); they are reproduced here so results match Excel's digits.

def _poly(y: float, coeffs: tuple[float, ...]) -> float:
    """coeffs[0] + coeffs[1]*y + coeffs[2]*y**2 + ..., by Horner's rule."""
    total = 0.0
    for c in reversed(coeffs):
        total = total * y + c
    return total


def _i0(x: float) -> float:
    ax = abs(x)
    if ax < 3.75:
        return _poly((x / 3.75) ** 2, (1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732,
                                       0.360768e-1, 0.45813e-2))
    return math.exp(ax) / math.sqrt(ax) * _poly(3.75 / ax, (
        0.39894228, 0.1328592e-1, 0.225319e-2, -0.157565e-2, 0.916281e-2, -0.2057706e-1,
        0.2635537e-1, -0.1647633e-1, 0.392377e-2))


def _i1(x: float) -> float:
    ax = abs(x)
    if ax < 3.75:
        ans = ax * _poly((x / 3.75) ** 2, (0.5, 0.87890594, 0.51498869, 0.15084934,
                                           0.2658733e-1, 0.301532e-2, 0.32411e-3))
    else:
        ans = math.exp(ax) / math.sqrt(ax) * _poly(3.75 / ax, (
            0.39894228, -0.3988024e-1, -0.362018e-2, 0.163801e-2, -0.1031555e-1,
            0.2282967e-1, -0.2895312e-1, 0.1787654e-1, -0.420059e-2))
    return -ans if x < 0 else ans


def _j_asymptotic(ax: float, shift: float, p: tuple[float, ...], q: tuple[float, ...],
                  sine: bool = False) -> float:
    z = 8.0 / ax
    y = z * z
    xx = ax - shift
    a, b = _poly(y, p), _poly(y, q)
    if sine:
        return math.sqrt(0.636619772 / ax) * (math.sin(xx) * a + z * math.cos(xx) * b)
    return math.sqrt(0.636619772 / ax) * (math.cos(xx) * a - z * math.sin(xx) * b)


_P0 = (1.0, -0.1098628627e-2, 0.2734510407e-4, -0.2073370639e-5, 0.2093887211e-6)
_Q0 = (-0.1562499995e-1, 0.1430488765e-3, -0.6911147651e-5, 0.7621095161e-6, -0.934935152e-7)
_P1 = (1.0, 0.183105e-2, -0.3516396496e-4, 0.2457520174e-5, -0.240337019e-6)
_Q1 = (0.04687499995, -0.2002690873e-3, 0.8449199096e-5, -0.88228987e-6, 0.105787412e-6)


def _j0(x: float) -> float:
    ax = abs(x)
    if ax < 8.0:
        y = x * x
        return (_poly(y, (57568490574.0, -13362590354.0, 651619640.7, -11214424.18,
                          77392.33017, -184.9052456))
                / _poly(y, (57568490411.0, 1029532985.0, 9494680.718, 59272.64853,
                            267.8532712, 1.0)))
    return _j_asymptotic(ax, 0.785398164, _P0, _Q0)


def _j1(x: float) -> float:
    ax = abs(x)
    if ax < 8.0:
        y = x * x
        return (x * _poly(y, (72362614232.0, -7895059235.0, 242396853.1, -2972611.439,
                              15704.48260, -30.16036606))
                / _poly(y, (144725228442.0, 2300535178.0, 18583304.74, 99447.43394,
                            376.9991397, 1.0)))
    ans = _j_asymptotic(ax, 2.356194491, _P1, _Q1)
    return -ans if x < 0 else ans


def _y0(x: float) -> float:
    if x < 8.0:
        y = x * x
        return (_poly(y, (-2957821389.0, 7062834065.0, -512359803.6, 10879881.29,
                          -86327.92757, 228.4622733))
                / _poly(y, (40076544269.0, 745249964.8, 7189466.438, 47447.26470,
                            226.1030244, 1.0))
                + 0.636619772 * _j0(x) * math.log(x))
    return _j_asymptotic(x, 0.785398164, _P0, _Q0[:4] + (-0.934945152e-7,), sine=True)


def _y1(x: float) -> float:
    if x < 8.0:
        y = x * x
        return (x * _poly(y, (-0.4900604943e13, 0.1275274390e13, -0.5153438139e11,
                              0.7349264551e9, -0.4237922726e7, 0.8511937935e4))
                / _poly(y, (0.2499580570e14, 0.4244419664e12, 0.3733650367e10,
                            0.2245904002e8, 0.1020426050e6, 0.3549632885e3, 1.0))
                + 0.636619772 * (_j1(x) * math.log(x) - 1.0 / x))
    return _j_asymptotic(x, 2.356194491, _P1, _Q1, sine=True)


def _k0(x: float) -> float:
    if x <= 2.0:
        return (-math.log(x / 2.0) * _i0(x)
                + _poly(x * x / 4.0, (-0.57721566, 0.42278420, 0.23069756, 0.3488590e-1,
                                      0.262698e-2, 0.10750e-3, 0.74e-5)))
    return math.exp(-x) / math.sqrt(x) * _poly(2.0 / x, (
        1.25331414, -0.7832358e-1, 0.2189568e-1, -0.1062446e-1, 0.587872e-2, -0.251540e-2,
        0.53208e-3))


def _k1(x: float) -> float:
    if x <= 2.0:
        return (math.log(x / 2.0) * _i1(x)
                + (1.0 / x) * _poly(x * x / 4.0, (1.0, 0.15443144, -0.67278579, -0.18156897,
                                                  -0.1919402e-1, -0.110404e-2, -0.4686e-4)))
    return math.exp(-x) / math.sqrt(x) * _poly(2.0 / x, (
        1.25331414, 0.23498619, -0.3655620e-1, 0.1504268e-1, -0.780353e-2, 0.325614e-2,
        -0.68245e-3))


def _upward(n: int, x: float, first: float, second: float, sign: float) -> float:
    """Orders 2..n from orders 0 and 1: f(j+1) = sign * f(j-1) + (2j/x) f(j)."""
    before, current = first, second
    for j in range(1, n):
        before, current = current, 2.0 * j / x * current + sign * before
    return current


def _miller(n: int, x: float, modified: bool) -> float:
    """Order n >= 2 of I (``modified``) or J by downward recurrence (Miller's algorithm),
    normalised by I0 for I and by the sum rule J0 + 2(J2 + J4 + ...) = 1 for J."""
    tox = 2.0 / abs(x)
    ans, total, after, current = 0.0, 0.0, 0.0, 1.0
    for j in range(2 * ((n + int(math.sqrt(40.0 * n))) // 2), 0, -1):
        before = after + j * tox * current if modified else j * tox * current - after
        after, current = current, before
        if abs(current) > 1e10:
            current, after, ans, total = current * 1e-10, after * 1e-10, ans * 1e-10, total * 1e-10
        if j % 2 == 1:
            total += current
        if j == n:
            ans = after
    result = ans * (_i0(x) / current if modified else 1.0 / (2.0 * total - current))
    return -result if x < 0 and n % 2 == 1 else result


def _bessel_i(n: int, x: float) -> float:
    if n < 2:
        return _i0(x) if n == 0 else _i1(x)
    if x == 0:
        return 0.0
    return _miller(n, x, modified=True)


def _bessel_j(n: int, x: float) -> float:
    if n < 2:
        return _j0(x) if n == 0 else _j1(x)
    ax = abs(x)
    if ax == 0:
        return 0.0
    if ax > n:
        ans = _upward(n, ax, _j0(ax), _j1(ax), -1.0)
        return -ans if x < 0 and n % 2 == 1 else ans
    return _miller(n, x, modified=False)


def _bessel_k(n: int, x: float) -> float:
    return _upward(n, x, _k0(x), _k1(x), 1.0) if n >= 2 else (_k0(x) if n == 0 else _k1(x))


def _bessel_y(n: int, x: float) -> float:
    return _upward(n, x, _y0(x), _y1(x), -1.0) if n >= 2 else (_y0(x) if n == 0 else _y1(x))


def _bessel(fn: Callable[[int, float], float], x: float, n: float,
            positive_x: bool = False) -> float | XLError:
    order = int(n)
    if order < 0 or (positive_x and x <= 0):
        return NUM
    return fn(order, x)


@atp_function("BESSELI")
def besseli(x: Num, n: Num):
    return _bessel(_bessel_i, x, n)


@atp_function("BESSELJ")
def besselj(x: Num, n: Num):
    return _bessel(_bessel_j, x, n)


@atp_function("BESSELK")
def besselk(x: Num, n: Num):
    return _bessel(_bessel_k, x, n, positive_x=True)


@atp_function("BESSELY")
def bessely(x: Num, n: Num):
    return _bessel(_bessel_y, x, n, positive_x=True)


# --- complex numbers --------------------------------------------------------------------------

_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_REAL_RE = re.compile(rf"[+-]?{_NUMBER}")
_IMAG_RE = re.compile(rf"(?P<im>[+-]?(?:{_NUMBER})?)(?P<suffix>[ij])")
_FULL_RE = re.compile(rf"(?P<re>[+-]?{_NUMBER})(?P<im>[+-](?:{_NUMBER})?)(?P<suffix>[ij])")


class _Complex:
    """A parsed complex argument: its value and the suffix it was written with (None for a
    plain real number, which mixes with either)."""

    __slots__ = ("value", "suffix")

    def __init__(self, value: complex, suffix: str | None):
        self.value, self.suffix = value, suffix


def _parse_complex(arg: Any) -> _Complex | XLError:
    if type(arg) is XLError:
        return arg
    if type(arg) is bool:
        return VALUE
    if arg is BLANK or arg is MISSING:
        return _Complex(0j, None)
    if type(arg) is float:
        return _Complex(complex(arg, 0.0), None)
    if _REAL_RE.fullmatch(arg):
        return _Complex(complex(float(arg), 0.0), None)
    m = _IMAG_RE.fullmatch(arg) or _FULL_RE.fullmatch(arg)
    if m is None:
        return NUM
    real = float(m.group("re")) if "re" in m.groupdict() else 0.0
    im_text = m.group("im")
    imag = float(im_text + "1") if im_text in ("", "+", "-") else float(im_text)
    return _Complex(complex(real, imag), m.group("suffix"))


def _parse_all(args: Iterable[Any], mixed: XLError = NUM) -> tuple[list[complex], str] | XLError:
    """Parse arguments that must agree on their suffix: ``mixed`` when "i" meets "j" (#VALUE!
    for IMSUM and IMPRODUCT, #NUM! for IMSUB and IMDIV)."""
    values, suffixes = [], set()
    for a in args:
        c = _parse_complex(a)
        if type(c) is XLError:
            return c
        values.append(c.value)
        if c.suffix:
            suffixes.add(c.suffix)
    if len(suffixes) > 1:
        return mixed
    return values, suffixes.pop() if suffixes else "i"


def _format_part(x: float) -> str:
    """15 significant digits; scientific below 1e-5 or from 1e15 ("1.5E-06")."""
    if x == 0:
        return "0"
    exponent = math.floor(math.log10(abs(x)))
    if -5 <= exponent < 15:
        return f"{x:.15G}" if exponent >= -4 else f"{x:.{14 - exponent}f}".rstrip("0")
    return f"{x:.15G}"


def _format_complex(z: complex, suffix: str) -> str | XLError:
    """Complex text as Excel writes it: 15 significant digits, "i" alone for a unit part."""
    real, imag = float(_format_part(z.real)), float(_format_part(z.imag))
    if not (math.isfinite(real) and math.isfinite(imag)):
        return NUM
    if imag == 0:
        return _format_part(real)
    im = {1.0: "", -1.0: "-"}.get(imag, _format_part(imag)) + suffix
    if real == 0:
        return im
    return _format_part(real) + ("" if im.startswith("-") else "+") + im


@atp_function("COMPLEX")
def complex_(real_num: Num, i_num: Num, suffix: Text = "i"):
    if suffix not in ("i", "j", ""):
        return VALUE
    return _format_complex(complex(real_num, i_num), suffix or "i")


def _unary(fn: Callable[[complex], Any], arg: Any, text_result: bool = True) -> Any:
    parsed = _parse_all([arg])
    if type(parsed) is XLError:
        return parsed
    (z,), suffix = parsed
    try:
        result = fn(z)
    except (ZeroDivisionError, ValueError, OverflowError):
        return NUM
    if type(result) is XLError or not text_result:
        return result
    return _format_complex(result, suffix)


@atp_function("IMREAL")
def imreal(inumber: Scalar):
    return _unary(lambda z: z.real, inumber, text_result=False)


@atp_function("IMAGINARY")
def imaginary(inumber: Scalar):
    return _unary(lambda z: z.imag, inumber, text_result=False)


@atp_function("IMABS")
def imabs(inumber: Scalar):
    return _unary(abs, inumber, text_result=False)


@atp_function("IMARGUMENT")
def imargument(inumber: Scalar):
    return _unary(lambda z: DIV0 if z == 0 else cmath.phase(z), inumber, text_result=False)


@atp_function("IMCONJUGATE")
def imconjugate(inumber: Scalar):
    return _unary(lambda z: z.conjugate(), inumber)


def _tan(z: complex) -> complex:
    a, b = 2 * z.real, 2 * z.imag
    return complex(math.sin(a), math.sinh(b)) / (math.cos(a) + math.cosh(b))


def _cot(z: complex) -> complex:
    a, b = 2 * z.real, 2 * z.imag
    return complex(math.sin(a), -math.sinh(b)) / (math.cosh(b) - math.cos(a))


def _csc(z: complex) -> complex:
    a, b = z.real, z.imag
    d = math.cosh(2 * b) - math.cos(2 * a)
    return complex(2 * math.sin(a) * math.cosh(b) / d, -2 * math.cos(a) * math.sinh(b) / d)


def _sec(z: complex) -> complex:
    a, b = z.real, z.imag
    d = math.cosh(2 * b) + math.cos(2 * a)
    return complex(2 * math.cos(a) * math.cosh(b) / d, 2 * math.sin(a) * math.sinh(b) / d)


def _nonzero(fn: Callable[[complex], complex]) -> Callable[[complex], complex | XLError]:
    return lambda z: NUM if z == 0 else fn(z)


_UNARY: dict[str, Callable[[complex], Any]] = {
    "IMCOS": cmath.cos,
    "IMCOSH": cmath.cosh,
    "IMSIN": cmath.sin,
    "IMSINH": cmath.sinh,
    # Excel's closed forms for these four, which round differently from cmath's.
    "IMTAN": _tan,
    "IMCOT": _nonzero(_cot),
    "IMCSC": _nonzero(_csc),
    "IMCSCH": _nonzero(lambda z: 1 / cmath.sinh(z)),
    "IMSEC": _sec,
    "IMSECH": lambda z: 1 / cmath.cosh(z),
    "IMEXP": cmath.exp,
    "IMLN": _nonzero(cmath.log),
    "IMLOG10": _nonzero(cmath.log10),
    "IMLOG2": _nonzero(lambda z: cmath.log(z) / math.log(2)),
    "IMSQRT": cmath.sqrt,
}


def _register_unary(name: str, fn: Callable[[complex], Any]) -> None:
    def impl(inumber: Scalar):
        return _unary(fn, inumber)

    impl.__name__ = impl.__qualname__ = name.lower()
    atp_function(name)(impl)


for _name, _fn in _UNARY.items():
    _register_unary(_name, _fn)


def _binary(a: Any, b: Any, fn: Callable[[complex, complex], complex | XLError]) -> Any:
    parsed = _parse_all([a, b])
    if type(parsed) is XLError:
        return parsed
    (x, y), suffix = parsed
    result = fn(x, y)
    return result if type(result) is XLError else _format_complex(result, suffix)


@atp_function("IMSUB")
def imsub(inumber1: Scalar, inumber2: Scalar):
    return _binary(inumber1, inumber2, lambda x, y: x - y)


@atp_function("IMDIV")
def imdiv(inumber1: Scalar, inumber2: Scalar):
    return _binary(inumber1, inumber2, lambda x, y: NUM if y == 0 else x / y)


@atp_function("IMPOWER")
def impower(inumber: Scalar, number: Num):
    """Computed in polar form, as Excel does (0 to any power is 0)."""
    def power(z: complex) -> complex:
        if z == 0:
            return 0j
        r, theta = abs(z) ** number, cmath.phase(z) * number
        return complex(r * math.cos(theta), r * math.sin(theta))

    return _unary(power, inumber)


def _flatten(args: Iterable[Any]) -> list[Any]:
    return [v for a in args for v in (a.flat() if type(a) is Array else [a])]


def _fold(args: Iterable[Any], start: complex,
          op: Callable[[complex, complex], complex]) -> str | XLError:
    parsed = _parse_all(_flatten(args), mixed=VALUE)
    if type(parsed) is XLError:
        return parsed
    values, suffix = parsed
    total = start
    for z in values:
        total = op(total, z)
    return _format_complex(total, suffix)


@excel_function("IMSUM")
def imsum(*inumbers: Arr):
    return _fold(inumbers, 0j, lambda x, y: x + y)


@excel_function("IMPRODUCT")
def improduct(*inumbers: Arr):
    return _fold(inumbers, 1 + 0j, lambda x, y: x * y)

