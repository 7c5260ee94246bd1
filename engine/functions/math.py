"""Excel's math and trigonometry functions.

Aggregates (SUM, PRODUCT, ...) read ranges and arrays the way Excel does: only their numbers count,
while a value typed directly as an argument is coerced ("3" and TRUE are numbers there). Functions
that came from the old Analysis ToolPak add-in (MROUND, GCD, QUOTIENT, ... and most engineering
functions) keep that add-in's stricter argument rules; :func:`atp_function` registers them.
"""

from __future__ import annotations

import inspect
import math
import random
import statistics
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from engine.errors import CALC, DIV0, NA, NUM, VALUE, XLError
from engine.functions.registry import (
    Arr,
    Bool,
    Context,
    FunctionSpec,
    Num,
    RefArg,
    Scalar,
    Text,
    Value,
    call,
    excel_function,
)
from engine.refs import MultiRef, Ref
from engine.values import (
    BLANK,
    MISSING,
    Array,
    excel_round,
    is_number,
    repr_round,
    to_number,
)

# Trigonometric functions refuse arguments of 2**27 or more (Excel returns #NUM!).
_TRIG_LIMIT = 134217728.0
_MAX_INT = 2.0 ** 53


# --- Analysis ToolPak calling convention ------------------------------------------------------

_KIND_BY_NAME = {c.__name__: c for c in (Num, Text, Bool, Scalar, Value, Arr)}


def atp_function(*names: str, volatile: bool = False) -> Callable[[Callable], Callable]:
    """Register an Analysis ToolPak function.

    Those functions take one value per argument: a multi-cell range is #VALUE! even in an array
    formula (only computed arrays, such as ``A1:A3+0``, are evaluated element by element), and a
    logical is #VALUE! where a number is expected. ``impl`` is written with the usual annotations.
    """

    def register(impl: Callable) -> Callable:
        sig = inspect.signature(impl)
        kinds, defaults = [], []
        for p in sig.parameters.values():
            ann = p.annotation
            kinds.append(_KIND_BY_NAME[ann] if isinstance(ann, str) else ann)
            defaults.append(p.default)
        inner = FunctionSpec(names[0], impl, kinds, defaults, None, False)

        def wrapper(ctx: Context, *args: RefArg) -> Any:
            values = [_atp_value(inner.kind_of(i), a, ctx) for i, a in enumerate(args)]
            return call(inner, values, ctx)

        excel_function(*names, volatile=volatile)(wrapper)
        return impl

    return register


def _atp_value(kind: type, arg: Any, ctx: Context) -> Any:
    if isinstance(arg, MultiRef):
        return VALUE
    if isinstance(arg, Ref):
        if not arg.is_cell:
            return VALUE
        arg = ctx.deref(arg).top_left()
    if kind is Num or kind is Text:
        if type(arg) is bool:
            return VALUE
        if type(arg) is Array:
            return arg.map(lambda v: VALUE if type(v) is bool else v)
    return arg


# --- shared helpers ---------------------------------------------------------------------------

def _trunc(x: float) -> int:
    """An integer argument as Excel reads it: truncated toward zero."""
    return int(x)


def _numbers(args: Iterable[Any]) -> list[float] | XLError:
    """The numbers SUM sees: a range or array contributes only its numbers, a value typed
    directly is coerced; the first error met is the result."""
    out: list[float] = []
    for a in args:
        if type(a) is Array:
            for v in a.flat():
                if is_number(v):
                    out.append(float(v))
                elif type(v) is XLError:
                    return v
        elif a is not MISSING:
            n = to_number(a)
            if type(n) is XLError:
                return n
            out.append(n)
    return out


def _as_array(a: Any) -> Array:
    return a if type(a) is Array else Array([[a]])


def _integers(args: Iterable[Any]) -> list[int] | XLError:
    """GCD/LCM/MULTINOMIAL arguments, truncated. Every value is checked for type first (errors,
    text, logicals and blank cells: the first one met is the result, #VALUE! for all but errors),
    and only then for range (negative or 2**53 and above: #NUM!)."""
    values = [v for a in args for v in (a.flat() if type(a) is Array else [a])]
    nums = []
    for v in values:
        if type(v) is XLError:
            return v
        n = VALUE if type(v) is bool or v is BLANK or v is MISSING else to_number(v)
        if type(n) is XLError:
            return n
        nums.append(n)
    if any(n < 0 or n >= _MAX_INT for n in nums):
        return NUM
    return [_trunc(n) for n in nums]


# --- aggregates -------------------------------------------------------------------------------

@excel_function("SUM")
def sum_(*values: Arr):
    nums = _numbers(values)
    return nums if type(nums) is XLError else math.fsum(nums)


@excel_function("SUMSQ")
def sumsq(*values: Arr):
    nums = _numbers(values)
    return nums if type(nums) is XLError else math.fsum(x * x for x in nums)


@excel_function("PRODUCT")
def product(*values: Arr):
    nums = _numbers(values)
    if type(nums) is XLError:
        return nums
    return math.prod(nums) if nums else 0.0


@excel_function("PERCENTOF")
def percentof(subset: Arr, everything: Arr):
    """Any error in either range is #NUM!, as Excel returns."""
    part, whole = _numbers([subset]), _numbers([everything])
    if type(part) is XLError or type(whole) is XLError:
        return NUM
    total = math.fsum(whole)
    return DIV0 if total == 0 else math.fsum(part) / total


@excel_function("SUMPRODUCT")
def sumproduct(*arrays: Arr):
    """Errors anywhere win over mismatched shapes; text and logicals count as 0."""
    grids = [_as_array(a) for a in arrays]
    for g in grids:
        for v in g.flat():
            if type(v) is XLError:
                return v
    if any(g.shape != grids[0].shape for g in grids):
        return VALUE
    total = []
    for cells in zip(*(g.flat() for g in grids), strict=True):
        total.append(math.prod(float(v) if is_number(v) else 0.0 for v in cells))
    return math.fsum(total)


def _paired(xs: Any, ys: Any, term: Callable[[float, float], float]):
    """SUMX2MY2 and friends: pairs where either side is not a number are skipped."""
    a, b = list(_as_array(xs).flat()), list(_as_array(ys).flat())
    for v in a + b:
        if type(v) is XLError:
            return v
    if len(a) != len(b):
        return NA
    return math.fsum(term(float(x), float(y)) for x, y in zip(a, b, strict=True)
                     if is_number(x) and is_number(y))


@excel_function("SUMX2MY2")
def sumx2my2(array_x: Arr, array_y: Arr):
    return _paired(array_x, array_y, lambda x, y: x * x - y * y)


@excel_function("SUMX2PY2")
def sumx2py2(array_x: Arr, array_y: Arr):
    return _paired(array_x, array_y, lambda x, y: x * x + y * y)


@excel_function("SUMXMY2")
def sumxmy2(array_x: Arr, array_y: Arr):
    return _paired(array_x, array_y, lambda x, y: (x - y) ** 2)


# --- rounding ---------------------------------------------------------------------------------

def _round_with(x: float, digits: float, step: Callable[[float], float]) -> float:
    """Round ``x`` at ``digits`` decimals with ``step`` applied to the scaled magnitude.

    The scaled value is first cleaned to 15 significant digits so that binary noise (2.55 being
    2.54999...) does not move the result, as in Excel.
    """
    d = _trunc(digits)
    if x == 0 or d > 300:
        return x
    if d < -300:
        return 0.0
    scaled = repr_round(x * 10.0 ** d if d >= 0 else x / 10.0 ** (-d))
    r = math.copysign(step(abs(scaled)), x)
    return r / 10.0 ** d if d >= 0 else r * 10.0 ** (-d)


@excel_function("ROUND")
def round_(number: Num, num_digits: Num = 0.0):
    d = _trunc(num_digits)
    if d > 300:
        return number
    return 0.0 if d < -300 else excel_round(number, d)


@excel_function("ROUNDUP")
def roundup(number: Num, num_digits: Num = 0.0):
    return _round_with(number, num_digits, math.ceil)


@excel_function("ROUNDDOWN")
def rounddown(number: Num, num_digits: Num = 0.0):
    return _round_with(number, num_digits, math.floor)


@excel_function("TRUNC")
def trunc(number: Num, num_digits: Num = 0.0):
    return _round_with(number, num_digits, math.floor)


@excel_function("INT")
def int_(number: Num):
    return float(math.floor(number))


def _multiple(x: float, significance: float, step: Callable[[float], float]) -> float:
    """``step(x / significance) * significance``, the quotient cleaned of binary noise."""
    return step(repr_round(x / significance)) * significance


@atp_function("MROUND")
def mround(number: Num, multiple: Num):
    if multiple == 0:
        return 0.0
    if (number > 0 > multiple) or (number < 0 < multiple):
        return NUM
    return excel_round(number / multiple, 0) * multiple


@excel_function("CEILING")
def ceiling(number: Num, significance: Num = 1.0):
    if significance == 0:
        return 0.0
    if number > 0 > significance:
        return NUM
    return _multiple(number, significance, math.ceil)


@excel_function("FLOOR")
def floor(number: Num, significance: Num = 1.0):
    if significance == 0:
        return 0.0 if number == 0 else DIV0
    if number > 0 > significance:
        return NUM
    return _multiple(number, significance, math.floor)


@excel_function("CEILING.PRECISE", "ISO.CEILING")
def ceiling_precise(number: Num, significance: Num = 1.0):
    if significance == 0:
        return 0.0
    return _multiple(number, abs(significance), math.ceil)


@excel_function("FLOOR.PRECISE")
def floor_precise(number: Num, significance: Num = 1.0):
    if significance == 0:
        return 0.0
    return _multiple(number, abs(significance), math.floor)


@excel_function("CEILING.MATH")
def ceiling_math(number: Num, significance: Num = 1.0, mode: Num = 0.0):
    """A non-zero ``mode`` rounds negative numbers away from zero."""
    if significance == 0:
        return 0.0
    step = math.floor if number < 0 and mode != 0 else math.ceil
    return _multiple(number, abs(significance), step)


@excel_function("FLOOR.MATH")
def floor_math(number: Num, significance: Num = 1.0, mode: Num = 0.0):
    """A non-zero ``mode`` rounds negative numbers toward zero."""
    if significance == 0:
        return 0.0
    step = math.ceil if number < 0 and mode != 0 else math.floor
    return _multiple(number, abs(significance), step)


def _away_to_parity(number: float, odd: bool) -> float:
    n = math.ceil(repr_round(abs(number)))
    if (n % 2 == 1) != odd:
        n += 1
    return math.copysign(n, number) if number != 0 or odd else 0.0


@excel_function("EVEN")
def even(number: Num):
    return _away_to_parity(number, odd=False)


@excel_function("ODD")
def odd(number: Num):
    return _away_to_parity(number, odd=True)


# --- arithmetic -------------------------------------------------------------------------------

@excel_function("ABS")
def abs_(number: Num):
    return abs(number)


@excel_function("SIGN")
def sign(number: Num):
    return float((number > 0) - (number < 0))


@excel_function("MOD")
def mod(number: Num, divisor: Num):
    """The result takes the divisor's sign (MOD(-3, 2) is 1)."""
    if divisor == 0:
        return DIV0
    return number - divisor * math.floor(number / divisor)


@atp_function("QUOTIENT")
def quotient(numerator: Num, denominator: Num):
    if denominator == 0:
        return DIV0
    return float(_trunc(numerator / denominator))


@excel_function("POWER")
def power(number: Num, power_: Num):
    if number == 0:
        if power_ == 0:
            return NUM
        if power_ < 0:
            return DIV0
    if number < 0 and power_ != int(power_):
        return NUM
    return math.pow(number, power_)


@excel_function("SQRT")
def sqrt(number: Num):
    return NUM if number < 0 else math.sqrt(number)


@atp_function("SQRTPI")
def sqrtpi(number: Num):
    return NUM if number < 0 else math.sqrt(number * math.pi)


@excel_function("EXP")
def exp(number: Num):
    return math.exp(number)


@excel_function("LN")
def ln(number: Num):
    return NUM if number <= 0 else math.log(number)


@excel_function("LOG")
def log(number: Num, base: Num = 10.0):
    if number <= 0 or base <= 0:
        return NUM
    if base == 1:
        return DIV0
    return math.log(number) / math.log(base)


@excel_function("LOG10")
def log10(number: Num):
    return NUM if number <= 0 else math.log10(number)


@excel_function("PI")
def pi():
    return math.pi


@excel_function("RADIANS")
def radians(angle: Num):
    return math.radians(angle)


@excel_function("DEGREES")
def degrees(angle: Num):
    return math.degrees(angle)


# --- trigonometry -----------------------------------------------------------------------------

def _trig(fn: Callable[[float], float], x: float) -> float | XLError:
    return NUM if abs(x) >= _TRIG_LIMIT else fn(x)


def _reciprocal(value: float) -> float | XLError:
    return DIV0 if value == 0 else 1.0 / value


@excel_function("SIN")
def sin(number: Num):
    return _trig(math.sin, number)


@excel_function("COS")
def cos(number: Num):
    return _trig(math.cos, number)


@excel_function("TAN")
def tan(number: Num):
    return _trig(math.tan, number)


@excel_function("COT")
def cot(number: Num):
    if number == 0:
        return DIV0
    return _trig(lambda x: 1.0 / math.tan(x), number)


@excel_function("CSC")
def csc(number: Num):
    if number == 0:
        return DIV0
    return _trig(lambda x: 1.0 / math.sin(x), number)


@excel_function("SEC")
def sec(number: Num):
    return _trig(lambda x: 1.0 / math.cos(x), number)


@excel_function("ASIN")
def asin(number: Num):
    return NUM if abs(number) > 1 else math.asin(number)


@excel_function("ACOS")
def acos(number: Num):
    return NUM if abs(number) > 1 else math.acos(number)


@excel_function("ATAN")
def atan(number: Num):
    return math.atan(number)


@excel_function("ATAN2")
def atan2(x_num: Num, y_num: Num):
    """Excel takes x first, unlike math.atan2."""
    if x_num == 0 and y_num == 0:
        return DIV0
    return math.atan2(y_num, x_num)


@excel_function("ACOT")
def acot(number: Num):
    return math.pi / 2 - math.atan(number)


@excel_function("SINH")
def sinh(number: Num):
    return math.sinh(number)


@excel_function("COSH")
def cosh(number: Num):
    return math.cosh(number)


@excel_function("TANH")
def tanh(number: Num):
    return math.tanh(number)


@excel_function("COTH")
def coth(number: Num):
    return _reciprocal(math.tanh(number))


@excel_function("CSCH")
def csch(number: Num):
    return _reciprocal(math.sinh(number))


@excel_function("SECH")
def sech(number: Num):
    return 1.0 / math.cosh(number) if abs(number) < 710 else 0.0


@excel_function("ASINH")
def asinh(number: Num):
    return math.asinh(number)


@excel_function("ACOSH")
def acosh(number: Num):
    return NUM if number < 1 else math.acosh(number)


@excel_function("ATANH")
def atanh(number: Num):
    return NUM if abs(number) >= 1 else math.atanh(number)


@excel_function("ACOTH")
def acoth(number: Num):
    return NUM if abs(number) <= 1 else math.atanh(1.0 / number)


# --- combinatorics ----------------------------------------------------------------------------

@excel_function("FACT")
def fact(number: Num):
    if number < 0:
        return NUM
    n = _trunc(number)
    return NUM if n > 170 else float(math.factorial(n))


@atp_function("FACTDOUBLE")
def factdouble(number: Num):
    if number < -1 or number > 300:
        return NUM
    return float(math.prod(range(_trunc(number), 0, -2)))


def _combinations(n: int, k: int) -> float | XLError:
    if k > n:
        return 0.0
    m = min(k, n - k)
    if m > 1100:  # C(2m, m) overflows a double long before this
        return NUM
    return float(math.comb(n, m))


@excel_function("COMBIN")
def combin(number: Num, number_chosen: Num):
    n, k = _trunc(number), _trunc(number_chosen)
    if n < 0 or k < 0 or n < k:
        return NUM
    return _combinations(n, k)


@excel_function("COMBINA")
def combina(number: Num, number_chosen: Num):
    n, k = _trunc(number), _trunc(number_chosen)
    if n < 0 or k < 0:
        return NUM
    if n == 0 and k == 0:
        return 1.0
    return _combinations(n + k - 1, k)


@excel_function("PERMUT")
def permut(number: Num, number_chosen: Num):
    n, k = _trunc(number), _trunc(number_chosen)
    if n < 0 or k < 0 or n < k:
        return NUM
    return NUM if k > 170 else float(math.perm(n, k))


@excel_function("PERMUTATIONA")
def permutationa(number: Num, number_chosen: Num):
    n, k = _trunc(number), _trunc(number_chosen)
    if n < 0 or k < 0:
        return NUM
    return math.pow(n, k)


@excel_function("GCD")
def gcd(*numbers: Arr):
    ints = _integers(numbers)
    return ints if type(ints) is XLError else float(math.gcd(*ints))


@excel_function("LCM")
def lcm(*numbers: Arr):
    ints = _integers(numbers)
    return ints if type(ints) is XLError else float(math.lcm(*ints))


@excel_function("MULTINOMIAL")
def multinomial(*numbers: Arr):
    ints = _integers(numbers)
    if type(ints) is XLError:
        return ints
    if sum(ints) > 170:
        return NUM
    return float(math.factorial(sum(ints)) // math.prod(math.factorial(i) for i in ints))


@excel_function("SERIESSUM")
def seriessum(x: Num, n: Num, m: Num, coefficients: Arr):
    coeffs = list(_as_array(coefficients).flat())
    total = []
    for i, a in enumerate(coeffs):
        if type(a) is XLError:
            return a
        if not is_number(a):
            return VALUE
        total.append(a * math.pow(x, n + i * m))
    return math.fsum(total)


# --- random numbers ---------------------------------------------------------------------------

@excel_function("RAND", volatile=True)
def rand():
    return random.random()


@atp_function("RANDBETWEEN", volatile=True)
def randbetween(bottom: Num, top: Num):
    low, high = math.ceil(bottom), math.floor(top)
    if low > high:
        return NUM
    return float(random.randint(low, high))


def _shape(rows: float, columns: float) -> tuple[int, int] | XLError:
    r, c = _trunc(rows), _trunc(columns)
    if r < 0 or c < 0:
        return VALUE
    if r == 0 or c == 0:
        return CALC
    return r, c


@excel_function("RANDARRAY", volatile=True)
def randarray(rows: Num = 1.0, columns: Num = 1.0, min_: Num = 0.0, max_: Num = 1.0,
              whole_number: Bool = False):
    shape = _shape(rows, columns)
    if type(shape) is XLError:
        return shape
    if min_ > max_:
        return VALUE
    if whole_number:
        if min_ != int(min_) or max_ != int(max_):
            return VALUE
        draw = lambda: float(random.randint(int(min_), int(max_)))  # noqa: E731
    else:
        draw = lambda: min_ + (max_ - min_) * random.random()  # noqa: E731
    return Array([[draw() for _ in range(shape[1])] for _ in range(shape[0])])


@excel_function("SEQUENCE")
def sequence(rows: Num, columns: Num = 1.0, start: Num = 1.0, step: Num = 1.0):
    shape = _shape(rows, columns)
    if type(shape) is XLError:
        return shape
    r, c = shape
    return Array([[start + (i * c + j) * step for j in range(c)] for i in range(r)])


# --- matrices ---------------------------------------------------------------------------------

def _matrix(a: Any) -> np.ndarray | XLError:
    """A numeric matrix; the first error in it wins, then any non-number is #VALUE!."""
    grid = _as_array(a)
    for v in grid.flat():
        if type(v) is XLError:
            return v
    if not all(is_number(v) for v in grid.flat()):
        return VALUE
    return np.array(grid.rows, dtype=float)


def _to_array(m: np.ndarray) -> Array:
    return Array([[float(v) for v in row] for row in m])


@excel_function("MUNIT")
def munit(dimension: Num):
    n = _trunc(dimension)
    return VALUE if n < 1 else _to_array(np.eye(n))


@excel_function("MMULT")
def mmult(array1: Arr, array2: Arr):
    a, b = _matrix(array1), _matrix(array2)
    for m in (a, b):
        if type(m) is XLError:
            return m
    if a.shape[1] != b.shape[0]:
        return VALUE
    return _to_array(a @ b)


@excel_function("MDETERM")
def mdeterm(array: Arr):
    m = _matrix(array)
    if type(m) is XLError:
        return m
    if m.shape[0] != m.shape[1]:
        return VALUE
    return float(np.linalg.det(m))


@excel_function("MINVERSE")
def minverse(array: Arr):
    m = _matrix(array)
    if type(m) is XLError:
        return m
    if m.shape[0] != m.shape[1]:
        return VALUE
    det = np.linalg.det(m)
    if abs(det) < 1e-300 or not math.isfinite(det) or abs(det) < 1e-15 * np.abs(m).max() ** len(m):
        return NUM
    return _to_array(np.linalg.inv(m))


# --- SUBTOTAL and AGGREGATE -------------------------------------------------------------------

def _stdev(xs: list[float], sample: bool) -> float | XLError:
    v = _variance(xs, sample)
    return v if type(v) is XLError else math.sqrt(v)


def _variance(xs: list[float], sample: bool) -> float | XLError:
    if len(xs) < (2 if sample else 1):
        return DIV0
    mean = math.fsum(xs) / len(xs)
    return math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - (1 if sample else 0))


def _average(xs: list[float]) -> float | XLError:
    return DIV0 if not xs else math.fsum(xs) / len(xs)


def _mode(xs: list[float]) -> float | XLError:
    counts: dict[float, int] = {}
    for x in xs:
        counts[x] = counts.get(x, 0) + 1
    best = max(counts.values(), default=0)
    if best < 2:
        return NA
    return next(x for x in xs if counts[x] == best)


_BASIC: dict[int, Callable[[list[float]], Any]] = {
    1: _average,
    2: lambda xs: float(len(xs)),
    4: lambda xs: max(xs, default=0.0),
    5: lambda xs: min(xs, default=0.0),
    6: lambda xs: math.prod(xs) if xs else 0.0,
    7: lambda xs: _stdev(xs, True),
    8: lambda xs: _stdev(xs, False),
    9: math.fsum,
    10: lambda xs: _variance(xs, True),
    11: lambda xs: _variance(xs, False),
    12: lambda xs: statistics.median(xs) if xs else NUM,
    13: _mode,
}


def _counta(refs: Iterable[Any]) -> float:
    return float(sum(1 for a in refs for v in _as_array(a).flat() if v is not BLANK))


@excel_function("SUBTOTAL")
def subtotal(function_num: Num, *refs: Arr):
    """Hidden rows (101-111) and nested subtotals cannot be seen here: both are counted."""
    fn = _trunc(function_num) % 100
    if not 1 <= fn <= 11 or _trunc(function_num) not in (fn, fn + 100):
        return VALUE
    if fn == 3:
        return _counta(refs)
    nums = _numbers(_as_array(r) for r in refs)
    return nums if type(nums) is XLError else _BASIC[fn](nums)


def _kth(xs: list[float], k: float, largest: bool) -> float | XLError:
    i = math.ceil(k)
    if not xs or i < 1 or i > len(xs):
        return NUM
    return sorted(xs, reverse=largest)[i - 1]


def _percentile(xs: list[float], p: float, exclusive: bool) -> float | XLError:
    xs = sorted(xs)
    n = len(xs)
    if not xs or p < 0 or p > 1:
        return NUM
    if exclusive:
        rank = p * (n + 1) - 1
        if rank < 0 or rank > n - 1:
            return NUM
    else:
        rank = p * (n - 1)
    lo = math.floor(rank)
    frac = rank - lo
    return xs[lo] if frac == 0 else xs[lo] + frac * (xs[lo + 1] - xs[lo])


def _quartile(xs: list[float], q: float, exclusive: bool) -> float | XLError:
    qi = _trunc(q)
    if not (1 if exclusive else 0) <= qi <= (3 if exclusive else 4):
        return NUM
    return _percentile(xs, qi / 4, exclusive)


_WITH_K: dict[int, Callable[[list[float], float], Any]] = {
    14: lambda xs, k: _kth(xs, k, True),
    15: lambda xs, k: _kth(xs, k, False),
    16: lambda xs, k: _percentile(xs, k, False),
    17: lambda xs, k: _quartile(xs, k, False),
    18: lambda xs, k: _percentile(xs, k, True),
    19: lambda xs, k: _quartile(xs, k, True),
}


def _aggregate_numbers(refs: Iterable[Any], skip_errors: bool) -> list[float] | XLError:
    out: list[float] = []
    for a in refs:
        for v in _as_array(a).flat():
            if type(v) is XLError:
                if not skip_errors:
                    return v
            elif is_number(v):
                out.append(float(v))
    return out


@excel_function("AGGREGATE")
def aggregate(function_num: Num, options: Num, ref1: Arr, *rest: Arr):
    """Options 2, 3, 6 and 7 skip error values; hidden rows cannot be seen here."""
    fn, opt = _trunc(function_num), _trunc(options)
    if not 0 <= opt <= 7 or not 1 <= fn <= 19:
        return VALUE
    skip_errors = opt in (2, 3, 6, 7)
    if fn in _WITH_K:
        if len(rest) != 1:
            return VALUE
        k = to_number(_as_array(rest[0]).top_left())
        if type(k) is XLError:
            return k
        nums = _aggregate_numbers([ref1], skip_errors)
        return nums if type(nums) is XLError else _WITH_K[fn](nums, k)
    refs = [ref1, *rest]
    if fn == 3:
        return _counta(refs)
    nums = _aggregate_numbers(refs, skip_errors)
    return nums if type(nums) is XLError else _BASIC[fn](nums)


# --- number systems ---------------------------------------------------------------------------

_ROMAN_CHARS = "MDCLXVI"
_ROMAN_VALUES = (1000, 500, 100, 50, 10, 5, 1)


def _roman(value: int, form: int) -> str:
    """Excel's ROMAN, forms 0 (classic) to 4 (most concise), after LibreOffice's ScRoman."""
    out = []
    for i in range(0, 7, 2):
        digit = value // _ROMAN_VALUES[i]
        if digit % 5 == 4:
            index = i
            index2 = i - 1 if digit == 4 else i - 2
            steps = 0
            while steps < form and index < 6:
                steps += 1
                if _ROMAN_VALUES[index2] - _ROMAN_VALUES[index + 1] <= value:
                    index += 1
                else:
                    steps = form
            out.append(_ROMAN_CHARS[index] + _ROMAN_CHARS[index2])
            value += _ROMAN_VALUES[index] - _ROMAN_VALUES[index2]
        else:
            if digit > 4:
                out.append(_ROMAN_CHARS[i - 1])
            out.append(_ROMAN_CHARS[i] * (digit % 5))
            value %= _ROMAN_VALUES[i]
    return "".join(out)


@excel_function("ROMAN")
def roman(number: Num, form: Scalar = 0.0):
    if type(form) is bool:
        f = 0 if form else 4
    else:
        n = to_number(form)
        if type(n) is XLError:
            return n
        f = _trunc(n)
    value = _trunc(number)
    if not 0 <= value <= 3999 or not 0 <= f <= 4:
        return VALUE
    return _roman(value, f)


_ARABIC_VALUES = dict(zip(_ROMAN_CHARS, _ROMAN_VALUES, strict=True))


@excel_function("ARABIC")
def arabic(text: Text):
    s = text.strip().upper()
    sign = 1.0
    if s.startswith("-"):
        sign, s = -1.0, s[1:]
    if len(s) > 255 or any(ch not in _ARABIC_VALUES for ch in s):
        return VALUE
    # Read from the right: a numeral smaller than the largest one to its right is subtracted,
    # which is how Excel accepts non-canonical text such as "IIIIIIV" (-1).
    total, largest = 0, 0
    for ch in reversed(s):
        v = _ARABIC_VALUES[ch]
        largest = max(largest, v)
        total += v if v >= largest else -v
    return sign * total


_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@excel_function("BASE")
def base(number: Num, radix: Num, min_length: Num = 0.0):
    n, r, width = _trunc(number), _trunc(radix), _trunc(min_length)
    if number < 0 or number >= _MAX_INT or not 2 <= r <= 36 or not 0 <= width <= 255:
        return NUM
    digits = []
    while n:
        n, d = divmod(n, r)
        digits.append(_DIGITS[d])
    return "".join(reversed(digits)).rjust(max(width, 1), "0")


@excel_function("DECIMAL")
def decimal(text: Text, radix: Num):
    r = _trunc(radix)
    if not 2 <= r <= 36:
        return NUM
    s = text.strip().upper()
    if len(s) > 255:
        return VALUE
    total = 0
    for ch in s:
        d = _DIGITS.find(ch)
        if d < 0 or d >= r:
            return NUM
        total = total * r + d
    return NUM if total >= _MAX_INT else float(total)
