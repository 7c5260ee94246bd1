"""Statistical aggregates: COUNT/AVERAGE/MAX families, dispersion, ranking, regression and the
conditional *IF(S) family.

Excel reads aggregate arguments in two ways, and every function here goes through
:func:`numbers_of`: values inside references and arrays count only when they are numbers (text,
booleans and blanks are skipped; errors propagate), while scalars typed as arguments are coerced
("3" counts, TRUE is 1, "abc" is #VALUE!). The A-variants (AVERAGEA, MAXA, STDEVA, ...) also count
text in ranges as 0 and booleans as 1/0. Helpers meant for other modules (SUBTOTAL, AGGREGATE):
:func:`expand_args`, :func:`numbers_of`, :func:`mean`, :func:`variance`, :func:`median`,
:func:`kth_largest`, :func:`percentile_inc`, :func:`percentile_exc`, :func:`mode_of`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from engine.errors import DIV0, NA, NULL, NUM, REF, VALUE, XLError
from engine.functions.criteria import make_predicate
from engine.functions.registry import Arr, Context, Num, RefArg, excel_function
from engine.refs import MultiRef, Ref
from engine.values import BLANK, MISSING, Array, finite, to_number

Numbers = list[float]


# --- reading arguments ------------------------------------------------------------------------

def expand_args(ctx: Context | None, args: Iterable[Any]) -> list[Any]:
    """Arguments with union references ``(A1:B2,D4)`` split into one Array per area."""
    out: list[Any] = []
    for arg in args:
        if isinstance(arg, MultiRef):
            out.extend(ctx.deref(area) for area in arg.areas)
        elif isinstance(arg, Ref):
            out.append(ctx.deref(arg))
        else:
            out.append(arg)
    return out


def _range_value(v: Any, a_style: bool) -> float | XLError | None:
    """A value met inside a reference or array: the number it counts as, or None to skip."""
    t = type(v)
    if t is float or t is int:
        return float(v)
    if t is XLError:
        return v
    if a_style:
        if t is bool:
            return 1.0 if v else 0.0
        if t is str:
            return 0.0
    return None


def numbers_of(args: Iterable[Any], a_style: bool = False,
               ctx: Context | None = None) -> Numbers | XLError:
    """The numbers an aggregate sees in its arguments, the way SUM/AVERAGE read them.

    ``a_style`` gives the A-variants' reading of ranges (text 0, TRUE 1). The first error met, in
    argument order, is returned instead of the list.
    """
    out: Numbers = []
    for arg in expand_args(ctx, args) if ctx is not None else args:
        if type(arg) is Array:
            for v in arg.flat():
                n = _range_value(v, a_style)
                if n is None:
                    continue
                if type(n) is XLError:
                    return n
                out.append(n)
        else:
            n = to_number(arg)
            if type(n) is XLError:
                return n
            out.append(n)
    return out


def _aggregate(args: Sequence[Any], fn: Callable[[Numbers], Any], a_style: bool = False) -> Any:
    nums = numbers_of(args, a_style)
    if type(nums) is XLError:
        return nums
    return fn(nums)


# --- core statistics (shared with SUBTOTAL / AGGREGATE) ---------------------------------------

def mean(nums: Numbers) -> float | XLError:
    return DIV0 if not nums else sum(nums) / len(nums)


def _devsq(nums: Numbers) -> float:
    m = sum(nums) / len(nums)
    return sum((x - m) ** 2 for x in nums)


def variance(nums: Numbers, sample: bool) -> float | XLError:
    """VAR.S (``sample``) or VAR.P; two-pass, as Excel computes it."""
    n = len(nums)
    if n < (2 if sample else 1):
        return DIV0
    return _devsq(nums) / (n - 1 if sample else n)


def stdev(nums: Numbers, sample: bool) -> float | XLError:
    v = variance(nums, sample)
    return v if type(v) is XLError else math.sqrt(v)


def median(nums: Numbers) -> float | XLError:
    if not nums:
        return NUM
    s = sorted(nums)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def mode_of(nums: Numbers) -> float | XLError:
    """The most frequent value; ties go to the one met first; #N/A when nothing repeats."""
    modes = _modes(nums)
    return modes[0] if modes else NA


def _modes(nums: Numbers) -> Numbers:
    counts: dict[float, int] = {}
    for x in nums:
        counts[x] = counts.get(x, 0) + 1
    best = max(counts.values(), default=0)
    if best < 2:
        return []
    return [x for x, c in counts.items() if c == best]


def kth_largest(nums: Numbers, k: float, largest: bool = True) -> float | XLError:
    """LARGE (``largest``) or SMALL. Excel rounds a fractional ``k`` up for LARGE and reads
    SMALL(x, k) as LARGE(x, n - k + 1), so SMALL(x, 2.2) is the 2nd smallest; k < 1 is #NUM!."""
    n = len(nums)
    if k < 1 or k > n:
        return NUM
    position = math.ceil(k) if largest else math.ceil(n - k + 1)
    return sorted(nums, reverse=True)[position - 1]


def _interpolate(s: Numbers, pos: float) -> float:
    """Value at 0-based fractional position ``pos`` of sorted ``s``."""
    lo = math.floor(pos)
    frac = pos - lo
    if lo + 1 >= len(s):
        return s[lo]
    return s[lo] + frac * (s[lo + 1] - s[lo])


def percentile_inc(nums: Numbers, k: float) -> float | XLError:
    if not nums or k < 0 or k > 1:
        return NUM
    return _interpolate(sorted(nums), k * (len(nums) - 1))


def percentile_exc(nums: Numbers, k: float) -> float | XLError:
    n = len(nums)
    pos = k * (n + 1)
    if not nums or k <= 0 or k >= 1 or pos < 1 or pos > n:
        return NUM
    return _interpolate(sorted(nums), pos - 1)


# --- COUNT family -----------------------------------------------------------------------------

@excel_function("COUNT")
def count(ctx: Context, *args: Arr) -> float:
    total = 0
    for arg in expand_args(ctx, args):
        if type(arg) is Array:
            total += sum(1 for v in arg.flat() if type(v) is float or type(v) is int)
        elif type(to_number(arg)) is not XLError:
            total += 1
    return float(total)


@excel_function("COUNTA")
def counta(ctx: Context, *args: Arr) -> float:
    total = 0
    for arg in expand_args(ctx, args):
        if type(arg) is Array:
            total += sum(1 for v in arg.flat() if v is not BLANK)
        else:
            total += 1
    return float(total)


@excel_function("COUNTBLANK")
def countblank(ctx: Context, range_: RefArg) -> float | XLError:
    values = expand_args(ctx, [range_])
    if any(type(v) is not Array for v in values):
        return VALUE
    return float(sum(1 for a in values for v in a.flat() if v is BLANK or v == ""))


# --- averages, extremes -----------------------------------------------------------------------

@excel_function("AVERAGE")
def average(ctx: Context, *args: Arr) -> Any:
    return _aggregate(expand_args(ctx, args), mean)


@excel_function("AVERAGEA")
def averagea(ctx: Context, *args: Arr) -> Any:
    return _aggregate(expand_args(ctx, args), mean, a_style=True)


def _max(nums: Numbers) -> float:
    return max(nums, default=0.0)


def _min(nums: Numbers) -> float:
    return min(nums, default=0.0)


@excel_function("MAX")
def max_(ctx: Context, *args: Arr) -> Any:
    return _aggregate(expand_args(ctx, args), _max)


@excel_function("MAXA")
def maxa(ctx: Context, *args: Arr) -> Any:
    return _aggregate(expand_args(ctx, args), _max, a_style=True)


@excel_function("MIN")
def min_(ctx: Context, *args: Arr) -> Any:
    return _aggregate(expand_args(ctx, args), _min)


@excel_function("MINA")
def mina(ctx: Context, *args: Arr) -> Any:
    return _aggregate(expand_args(ctx, args), _min, a_style=True)


@excel_function("MEDIAN")
def median_(ctx: Context, *args: Arr) -> Any:
    return _aggregate(expand_args(ctx, args), median)


def _mode_numbers(ctx: Context, args: Sequence[Any]) -> Numbers | XLError:
    """MODE reads typed text like a range does (MODE(1,1,"") is 1, not #VALUE!), yet an empty
    argument is #VALUE!."""
    out: Numbers = []
    for arg in expand_args(ctx, args):
        if arg is MISSING:
            return VALUE
        if type(arg) is not Array and type(arg) is str:
            n = to_number(arg)
            if type(n) is not XLError:
                out.append(n)
            continue
        nums = numbers_of([arg])
        if type(nums) is XLError:
            return nums
        out.extend(nums)
    return out


@excel_function("MODE", "MODE.SNGL")
def mode(ctx: Context, *args: Arr) -> Any:
    nums = _mode_numbers(ctx, args)
    return nums if type(nums) is XLError else mode_of(nums)


@excel_function("MODE.MULT")
def mode_mult(ctx: Context, *args: Arr) -> Any:
    nums = _mode_numbers(ctx, args)
    if type(nums) is XLError:
        return nums
    modes = _modes(nums)
    return Array.column(modes) if modes else NA


# --- dispersion ---------------------------------------------------------------------------------

def _register_dispersion(names: tuple[str, ...], fn: Callable[[Numbers], Any],
                         a_style: bool) -> None:
    def impl(ctx: Context, *args: Arr) -> Any:
        return _aggregate(expand_args(ctx, args), fn, a_style)

    impl.__name__ = names[0].lower().replace(".", "_")
    excel_function(*names)(impl)


for _names, _fn, _a in (
    (("VAR", "VAR.S"), lambda x: variance(x, True), False),
    (("VARP", "VAR.P"), lambda x: variance(x, False), False),
    (("VARA",), lambda x: variance(x, True), True),
    (("VARPA",), lambda x: variance(x, False), True),
    (("STDEV", "STDEV.S"), lambda x: stdev(x, True), False),
    (("STDEVP", "STDEV.P"), lambda x: stdev(x, False), False),
    (("STDEVA",), lambda x: stdev(x, True), True),
    (("STDEVPA",), lambda x: stdev(x, False), True),
):
    _register_dispersion(_names, _fn, _a)


def _avedev(nums: Numbers) -> float | XLError:
    if not nums:
        return NUM
    m = sum(nums) / len(nums)
    return sum(abs(x - m) for x in nums) / len(nums)


@excel_function("AVEDEV")
def avedev(ctx: Context, *args: Arr) -> Any:
    return _aggregate(expand_args(ctx, args), _avedev)


@excel_function("DEVSQ")
def devsq(ctx: Context, *args: Arr) -> Any:
    return _aggregate(expand_args(ctx, args), lambda x: _devsq(x) if x else NUM)


def _geomean(nums: Numbers) -> float | XLError:
    if not nums or any(x <= 0 for x in nums):
        return NUM
    return math.exp(sum(math.log(x) for x in nums) / len(nums))


def _harmean(nums: Numbers) -> float | XLError:
    if not nums or any(x <= 0 for x in nums):
        return NUM
    return len(nums) / sum(1 / x for x in nums)


@excel_function("GEOMEAN")
def geomean(ctx: Context, *args: Arr) -> Any:
    return _aggregate(expand_args(ctx, args), _geomean)


@excel_function("HARMEAN")
def harmean(ctx: Context, *args: Arr) -> Any:
    return _aggregate(expand_args(ctx, args), _harmean)


def _kurt(nums: Numbers) -> float | XLError:
    n = len(nums)
    s = stdev(nums, True) if n >= 4 else DIV0
    if type(s) is XLError or s == 0:
        return DIV0
    m = sum(nums) / n
    m4 = sum(((x - m) / s) ** 4 for x in nums)
    return (n * (n + 1) / ((n - 1) * (n - 2) * (n - 3)) * m4
            - 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))


def _skew(nums: Numbers) -> float | XLError:
    n = len(nums)
    s = stdev(nums, True) if n >= 3 else DIV0
    if type(s) is XLError or s == 0:
        return DIV0
    m = sum(nums) / n
    return n / ((n - 1) * (n - 2)) * sum(((x - m) / s) ** 3 for x in nums)


def _skew_p(nums: Numbers) -> float | XLError:
    s = stdev(nums, False)
    if type(s) is XLError or s == 0:
        return DIV0
    m = sum(nums) / len(nums)
    return sum(((x - m) / s) ** 3 for x in nums) / len(nums)


@excel_function("KURT")
def kurt(ctx: Context, *args: Arr) -> Any:
    return _aggregate(expand_args(ctx, args), _kurt)


@excel_function("SKEW")
def skew(ctx: Context, *args: Arr) -> Any:
    return _aggregate(expand_args(ctx, args), _skew)


@excel_function("SKEW.P")
def skew_p(ctx: Context, *args: Arr) -> Any:
    return _aggregate(expand_args(ctx, args), _skew_p)


# --- order statistics ---------------------------------------------------------------------------

def _with_numbers(array: Any, fn: Callable[[Numbers], Any]) -> Any:
    nums = numbers_of([array])
    return nums if type(nums) is XLError else fn(nums)


@excel_function("LARGE")
def large(array: Arr, k: Num) -> Any:
    return _with_numbers(array, lambda nums: kth_largest(nums, k, True))


@excel_function("SMALL")
def small(array: Arr, k: Num) -> Any:
    return _with_numbers(array, lambda nums: kth_largest(nums, k, False))


@excel_function("PERCENTILE", "PERCENTILE.INC")
def percentile(array: Arr, k: Num) -> Any:
    return _with_numbers(array, lambda nums: percentile_inc(nums, k))


@excel_function("PERCENTILE.EXC")
def percentile_exc_(array: Arr, k: Num) -> Any:
    return _with_numbers(array, lambda nums: percentile_exc(nums, k))


def _quartile(nums: Numbers, quart: float, exclusive: bool) -> float | XLError:
    if quart < 0:
        return NUM  # checked before truncation: QUARTILE(x, -0.1) is #NUM!
    q = math.trunc(quart)
    if exclusive:
        return percentile_exc(nums, q / 4) if 1 <= q <= 3 else NUM
    return percentile_inc(nums, q / 4) if 0 <= q <= 4 else NUM


@excel_function("QUARTILE", "QUARTILE.INC")
def quartile(array: Arr, quart: Num) -> Any:
    return _with_numbers(array, lambda nums: _quartile(nums, quart, False))


@excel_function("QUARTILE.EXC")
def quartile_exc(array: Arr, quart: Num) -> Any:
    return _with_numbers(array, lambda nums: _quartile(nums, quart, True))


def _rank(number: float, ref: Any, order: float, average_ties: bool) -> Any:
    nums = numbers_of([ref]) if type(ref) is Array else VALUE
    if type(nums) is XLError:
        return nums
    if number not in nums:
        return NA
    sign = 1 if order else -1
    before = sum(1 for x in nums if sign * x < sign * number)
    if not average_ties:
        return float(before + 1)
    ties = nums.count(number)
    return before + (ties + 1) / 2


@excel_function("RANK", "RANK.EQ")
def rank_eq(number: Num, ref: Arr, order: Num = 0.0) -> Any:
    return _rank(number, ref, order, False)


@excel_function("RANK.AVG")
def rank_avg(number: Num, ref: Arr, order: Num = 0.0) -> Any:
    return _rank(number, ref, order, True)


def _truncate_digits(x: float, digits: int) -> float:
    """Round toward zero at ``digits`` decimals, cleaning binary noise first (0.3 stays 0.3)."""
    scale = 10.0 ** digits
    return math.floor(float(f"{x * scale:.12g}")) / scale


def _percentrank(array: Any, x: float, significance: float, exclusive: bool) -> Any:
    digits = math.trunc(significance)
    if digits < 1:
        return NUM
    nums = numbers_of([array])
    if type(nums) is XLError:
        return nums
    s = sorted(nums)
    n = len(s)
    if n == 0 or x < s[0] or x > s[-1]:
        return NA

    def position(v: float) -> float:
        below = sum(1 for y in s if y < v)
        return (below + 1) / (n + 1) if exclusive else (below / (n - 1) if n > 1 else 1.0)

    if x in s:
        r = position(x)
    else:
        hi = next(y for y in s if y > x)
        lo = max(y for y in s if y < x)
        r = position(lo) + (x - lo) / (hi - lo) * (position(hi) - position(lo))
    return _truncate_digits(r, digits)


@excel_function("PERCENTRANK", "PERCENTRANK.INC")
def percentrank(array: Arr, x: Num, significance: Num = 3.0) -> Any:
    return _percentrank(array, x, significance, False)


@excel_function("PERCENTRANK.EXC")
def percentrank_exc(array: Arr, x: Num, significance: Num = 3.0) -> Any:
    return _percentrank(array, x, significance, True)


@excel_function("TRIMMEAN")
def trimmean(array: Arr, percent: Num) -> Any:
    if percent < 0 or percent >= 1:
        return NUM

    def trimmed(nums: Numbers) -> Any:
        if not nums:
            return NUM
        cut = math.floor(len(nums) * percent / 2)
        kept = sorted(nums)[cut:len(nums) - cut]
        return mean(kept)

    return _with_numbers(array, trimmed)


@excel_function("FREQUENCY")
def frequency(data: Arr, bins: Arr) -> Any:
    values = numbers_of([data])
    if type(values) is XLError:
        return values
    if type(bins) is Array and bins.shape == (1, 1):
        bins = bins.top_left()  # one cell is read as a scalar: an empty one is the bin 0
    edges = numbers_of([bins])
    if type(edges) is XLError:
        return edges
    if not edges:
        return Array.column([0.0, float(len(values))])
    order = sorted(range(len(edges)), key=lambda i: edges[i])
    counts = [0.0] * (len(edges) + 1)
    for v in values:
        slot = next((i for i in order if v <= edges[i]), len(edges))
        counts[slot] += 1
    return Array.column(counts)


# --- paired data: correlation and regression --------------------------------------------------

def _as_array(v: Any) -> Array:
    return v if type(v) is Array else Array([[v]])


def _pairs(ys: Any, xs: Any) -> tuple[Numbers, Numbers] | XLError:
    """Pairs of numbers at the same positions; a pair with a non-number is skipped.

    Excel walks both arrays together and stops at the first error, the first array's first.
    """
    a, b = list(_as_array(ys).flat()), list(_as_array(xs).flat())
    if len(a) != len(b):
        return NA
    out_a: Numbers = []
    out_b: Numbers = []
    for u, v in zip(a, b, strict=True):
        if u is NULL:
            continue  # Excel skips a pair whose first value is #NULL!, whatever the second
        if type(u) is XLError:
            return u
        if type(v) is XLError:
            return v
        if type(u) in (float, int) and type(v) in (float, int):
            out_a.append(float(u))
            out_b.append(float(v))
    return out_a, out_b


def _sums(ys: Numbers, xs: Numbers) -> tuple[float, float, float, float, float]:
    """(mean y, mean x, Sxx, Syy, Sxy) from deviations, as Excel computes them."""
    n = len(xs)
    my, mx = sum(ys) / n, sum(xs) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return my, mx, sxx, syy, sxy


def _paired(ys: Any, xs: Any, fn: Callable[[Numbers, Numbers], Any], min_n: int = 1) -> Any:
    pairs = _pairs(ys, xs)
    if type(pairs) is XLError:
        return pairs
    if len(pairs[0]) < min_n:
        return DIV0
    return fn(*pairs)


def _correl(ys: Numbers, xs: Numbers) -> float | XLError:
    _, _, sxx, syy, sxy = _sums(ys, xs)
    if sxx == 0 or syy == 0:
        return DIV0
    return sxy / math.sqrt(sxx * syy)


def _slope(ys: Numbers, xs: Numbers) -> float | XLError:
    _, _, sxx, _, sxy = _sums(ys, xs)
    return DIV0 if sxx == 0 else sxy / sxx


def _intercept(ys: Numbers, xs: Numbers) -> float | XLError:
    my, mx, sxx, _, sxy = _sums(ys, xs)
    return DIV0 if sxx == 0 else my - sxy / sxx * mx


def _steyx(ys: Numbers, xs: Numbers) -> float | XLError:
    n = len(xs)
    _, _, sxx, syy, sxy = _sums(ys, xs)
    if n < 3 or sxx == 0:
        return DIV0
    return math.sqrt(max(syy - sxy * sxy / sxx, 0.0) / (n - 2))


@excel_function("CORREL", "PEARSON")
def correl(array1: Arr, array2: Arr) -> Any:
    return _paired(array1, array2, _correl)


@excel_function("RSQ")
def rsq(known_ys: Arr, known_xs: Arr) -> Any:
    r = _paired(known_ys, known_xs, _correl)
    return r if type(r) is XLError else r * r


@excel_function("COVAR", "COVARIANCE.P")
def covariance_p(array1: Arr, array2: Arr) -> Any:
    return _paired(array1, array2, lambda a, b: _sums(a, b)[4] / len(a))


@excel_function("COVARIANCE.S")
def covariance_s(array1: Arr, array2: Arr) -> Any:
    return _paired(array1, array2, lambda a, b: _sums(a, b)[4] / (len(a) - 1), min_n=2)


@excel_function("SLOPE")
def slope(known_ys: Arr, known_xs: Arr) -> Any:
    return _paired(known_ys, known_xs, _slope)


@excel_function("INTERCEPT")
def intercept(known_ys: Arr, known_xs: Arr) -> Any:
    return _paired(known_ys, known_xs, _intercept)


@excel_function("STEYX")
def steyx(known_ys: Arr, known_xs: Arr) -> Any:
    return _paired(known_ys, known_xs, _steyx)


@excel_function("FORECAST", "FORECAST.LINEAR")
def forecast(x: Num, known_ys: Arr, known_xs: Arr) -> Any:
    def predict(ys: Numbers, xs: Numbers) -> Any:
        b = _slope(ys, xs)
        return b if type(b) is XLError else _intercept(ys, xs) + b * x

    return _paired(known_ys, known_xs, predict)


@excel_function("STANDARDIZE")
def standardize(x: Num, mean_: Num, standard_dev: Num) -> Any:
    return NUM if standard_dev <= 0 else (x - mean_) / standard_dev


@excel_function("FISHER")
def fisher(x: Num) -> Any:
    return NUM if x <= -1 or x >= 1 else math.atanh(x)


@excel_function("FISHERINV")
def fisherinv(y: Num) -> Any:
    return math.tanh(y)


# --- multiple regression: LINEST, TREND, GROWTH -----------------------------------------------

def _matrix(v: Any) -> np.ndarray | XLError:
    """A numeric matrix; anything else (text, blanks, even an error) makes LINEST #VALUE!."""
    arr = _as_array(v)
    if any(type(x) is not float and type(x) is not int for x in arr.flat()):
        return VALUE
    return np.array(arr.rows, dtype=float)


def _design(ys: np.ndarray, xs: Any) -> np.ndarray | XLError:
    """known_xs as one column per variable, observations in rows, matching known_ys' layout."""
    n = ys.size
    if xs is MISSING:
        return np.arange(1, n + 1, dtype=float).reshape(n, 1)
    x = _matrix(xs)
    if type(x) is XLError:
        return x
    if x.shape == ys.shape:
        return x.reshape(n, 1)
    if ys.shape[1] == 1 and x.shape[0] == n:
        return x
    if ys.shape[0] == 1 and x.shape[1] == n:
        return x.T
    return REF


def _new_points(new: np.ndarray, k: int, by_rows: bool) -> np.ndarray | XLError:
    """new_xs as one row per point; with several variables they must be laid out like
    known_xs (``by_rows``: observations in rows)."""
    if k == 1:
        return new.reshape(-1, 1)
    if by_rows and new.shape[1] == k:
        return new
    if not by_rows and new.shape[0] == k:
        return new.T
    return REF


def _fit(ys: np.ndarray, x: np.ndarray, const: bool) -> np.ndarray:
    """Least-squares coefficients [b1..bk, a] (a = 0 when ``const`` is FALSE)."""
    design = np.hstack([x, np.ones((x.shape[0], 1))]) if const else x
    coef, *_ = np.linalg.lstsq(design, ys.reshape(-1), rcond=None)
    return coef if const else np.append(coef, 0.0)


def _use_const(const: Any) -> bool | XLError:
    if const is MISSING:
        return True
    flag = to_number(const)
    return VALUE if type(flag) is XLError else bool(flag)


def _responses(known_ys: Any, log: bool) -> np.ndarray | XLError:
    """known_ys as a matrix, as ln(y) for the exponential fits (GROWTH, LOGEST: y > 0)."""
    ys = _matrix(known_ys)
    if type(ys) is XLError or not log:
        return ys
    return NUM if (ys <= 0).any() else np.log(ys)


def _predict(known_ys: Any, known_xs: Any, new_xs: Any, const: Any, log: bool) -> Any:
    ys = _responses(known_ys, log)
    if type(ys) is XLError:
        return ys
    x = _design(ys, known_xs)
    if type(x) is XLError:
        return x
    use_const = _use_const(const)
    if type(use_const) is XLError:
        return use_const
    if new_xs is MISSING:
        new, shape = x, ys.shape
    else:
        given = _matrix(new_xs)
        if type(given) is XLError:
            return given
        by_rows = ys.shape[1] == 1 and ys.shape[0] > 1
        new = _new_points(given, x.shape[1], by_rows)
        if type(new) is XLError:
            return new
        if x.shape[1] == 1:
            shape = given.shape
        else:
            shape = (new.shape[0], 1) if by_rows else (1, new.shape[0])
    coef = _fit(ys, x, use_const)
    fitted = new @ coef[:-1] + coef[-1]
    if log:
        fitted = np.exp(fitted)
    values = [finite(float(v)) for v in fitted]
    return Array([values[r * shape[1]:(r + 1) * shape[1]] for r in range(shape[0])])


@excel_function("TREND")
def trend(known_ys: Arr, known_xs: Arr = MISSING, new_xs: Arr = MISSING,
          const: Arr = MISSING) -> Any:
    return _predict(known_ys, known_xs, new_xs, const, log=False)


@excel_function("GROWTH")
def growth(known_ys: Arr, known_xs: Arr = MISSING, new_xs: Arr = MISSING,
           const: Arr = MISSING) -> Any:
    return _predict(known_ys, known_xs, new_xs, const, log=True)


@excel_function("LINEST")
def linest(known_ys: Arr, known_xs: Arr = MISSING, const: Arr = MISSING,
           stats: Arr = MISSING) -> Any:
    """Coefficients in Excel's order (last variable first, intercept last), plus the
    regression statistics rows when ``stats`` is TRUE."""
    return _regression(known_ys, known_xs, const, stats, log=False)


@excel_function("LOGEST")
def logest(known_ys: Arr, known_xs: Arr = MISSING, const: Arr = MISSING,
           stats: Arr = MISSING) -> Any:
    """y = b*m1^x1*...: LINEST on ln(y) with the coefficients exponentiated; the statistics
    rows are those of the linear fit of ln(y), as Excel documents."""
    return _regression(known_ys, known_xs, const, stats, log=True)


def _regression(known_ys: Any, known_xs: Any, const: Any, stats: Any, log: bool) -> Any:
    ys = _responses(known_ys, log)
    if type(ys) is XLError:
        return ys
    x = _design(ys, known_xs)
    if type(x) is XLError:
        return x
    use_const = _use_const(const)
    if type(use_const) is XLError:
        return use_const
    coef = _fit(ys, x, use_const)
    k = x.shape[1]
    top_coef = np.exp(coef) if log else coef
    top = [finite(float(c)) for c in top_coef[:-1][::-1]] + [finite(float(top_coef[-1]))]
    if stats is MISSING or not to_number(stats):
        return Array([top])
    return Array([top] + _linest_stats(ys.reshape(-1), x, coef, k, use_const))


def _linest_stats(y: np.ndarray, x: np.ndarray, coef: np.ndarray, k: int,
                  const: bool) -> list[list[Any]]:
    n = y.size
    design = np.hstack([x, np.ones((n, 1))]) if const else x
    used = coef if const else coef[:-1]
    resid = y - design @ used
    ss_resid = float(resid @ resid)
    ss_total = float(((y - y.mean()) ** 2).sum() if const else (y ** 2).sum())
    df = n - k - (1 if const else 0)
    sigma2 = ss_resid / df if df > 0 else math.nan
    try:
        cov = np.linalg.inv(design.T @ design) * sigma2
        se = [math.sqrt(v) if v >= 0 else math.nan for v in np.diag(cov)]
    except np.linalg.LinAlgError:
        se = [math.nan] * design.shape[1]
    se_row = se[:k][::-1] + ([se[k]] if const else [NA])
    ss_reg = ss_total - ss_resid
    r2 = ss_reg / ss_total if ss_total else math.nan
    f = (ss_reg / k) / (ss_resid / df) if df > 0 and ss_resid else math.nan
    width = k + 1
    pad = [NA] * (width - 2)

    def clean(v: Any) -> Any:
        return finite(v) if type(v) is float else v

    return [
        [clean(v) for v in se_row],
        [clean(r2), clean(math.sqrt(sigma2) if sigma2 == sigma2 else math.nan)] + pad,
        [clean(f), float(df)] + pad,
        [clean(ss_reg), clean(ss_resid)] + pad,
    ]


# --- conditional aggregates: COUNTIF ... MINIFS -----------------------------------------------

def _area(ctx: Context, arg: Any) -> Array | XLError:
    """A criteria or value range as an Array (a typed scalar becomes a 1x1 area)."""
    if isinstance(arg, Ref):
        return ctx.deref(arg)
    if isinstance(arg, MultiRef):
        return VALUE
    if type(arg) is Array:
        return arg
    return Array([[arg]])


def _criterion(ctx: Context, arg: Any) -> Any:
    """A criterion argument as a value, or an Array when it is an array (array result)."""
    if isinstance(arg, Ref):
        arg = ctx.deref(arg) if ctx.array_mode else ctx.intersect(arg)
    elif isinstance(arg, MultiRef):
        return VALUE
    if type(arg) is Array and arg.shape == (1, 1):
        return arg.rows[0][0]
    return BLANK if arg is MISSING else arg


def _resized(ctx: Context, value_range: Any, like: Array) -> Array | XLError:
    """SUMIF's sum_range: the area of the criteria range's shape from its top-left cell."""
    if isinstance(value_range, Ref):
        area = value_range.offset(0, 0, like.nrows, like.ncols)
        return REF if area is None else ctx.deref(area)
    return _area(ctx, value_range)


def _matching(areas: list[Array], criteria: list[Any]) -> list[tuple[int, int]] | XLError:
    """Cells (row, col) where every area meets its criterion; areas must share one shape."""
    shape = areas[0].shape
    if any(a.shape != shape for a in areas):
        return VALUE
    tests = [make_predicate(c) for c in criteria]
    return [(r, c) for r in range(shape[0]) for c in range(shape[1])
            if all(t(a.rows[r][c]) for t, a in zip(tests, areas, strict=True))]


def _lift_criteria(criteria: list[Any], fn: Callable[[list[Any]], Any]) -> Any:
    """Apply ``fn`` to scalar criteria, element-wise when some criterion is an array."""
    arrays = [c for c in criteria if type(c) is Array]
    if not arrays:
        return fn(criteria)
    nrows = max(a.nrows for a in arrays)
    ncols = max(a.ncols for a in arrays)
    return Array([[fn([c.get(r, k) if type(c) is Array else c for c in criteria])
                   for k in range(ncols)] for r in range(nrows)])


def _picked(values: Array, cells: list[tuple[int, int]]) -> Numbers | XLError:
    """The numbers among the chosen cells of ``values``; an error there is the result."""
    out: Numbers = []
    for r, c in cells:
        v = values.rows[r][c] if r < values.nrows and c < values.ncols else BLANK
        if type(v) is XLError:
            return v
        if type(v) is float or type(v) is int:
            out.append(float(v))
    return out


def _conditional(ctx: Context, values: Any, pairs: Sequence[Any],
                 reduce: Callable[[Numbers], Any], resize: bool) -> Any:
    """Shared body of SUMIF(S)/AVERAGEIF(S)/MAXIFS/MINIFS/COUNTIF(S).

    ``values`` is the range being aggregated (None for counting), ``pairs`` alternates criteria
    ranges and criteria.
    """
    if len(pairs) % 2 or not pairs:
        return VALUE
    areas = [_area(ctx, a) for a in pairs[0::2]]
    for a in areas:
        if type(a) is XLError:
            return a
    criteria = [_criterion(ctx, c) for c in pairs[1::2]]
    if values is None:
        target = None
    else:
        target = _resized(ctx, values, areas[0]) if resize else _area(ctx, values)
        if type(target) is XLError:
            return target
        if not resize and target.shape != areas[0].shape:
            return VALUE

    def one(crit: list[Any]) -> Any:
        for c in crit:
            if type(c) is Array:
                return VALUE
        cells = _matching(areas, crit)
        if type(cells) is XLError:
            return cells
        if target is None:
            return float(len(cells))
        nums = _picked(target, cells)
        return nums if type(nums) is XLError else reduce(nums)

    return _lift_criteria(criteria, one)


def _sum(nums: Numbers) -> float:
    return float(sum(nums))


@excel_function("COUNTIF")
def countif(ctx: Context, range_: RefArg, criteria: RefArg) -> Any:
    return _conditional(ctx, None, [range_, criteria], _sum, resize=False)


@excel_function("COUNTIFS")
def countifs(ctx: Context, *pairs: RefArg) -> Any:
    return _conditional(ctx, None, pairs, _sum, resize=False)


@excel_function("SUMIF")
def sumif(ctx: Context, range_: RefArg, criteria: RefArg, sum_range: RefArg = MISSING) -> Any:
    values = range_ if sum_range is MISSING else sum_range
    return _conditional(ctx, values, [range_, criteria], _sum, resize=True)


@excel_function("SUMIFS")
def sumifs(ctx: Context, sum_range: RefArg, *pairs: RefArg) -> Any:
    return _conditional(ctx, sum_range, pairs, _sum, resize=False)


@excel_function("AVERAGEIF")
def averageif(ctx: Context, range_: RefArg, criteria: RefArg,
              average_range: RefArg = MISSING) -> Any:
    values = range_ if average_range is MISSING else average_range
    return _conditional(ctx, values, [range_, criteria], mean, resize=True)


@excel_function("AVERAGEIFS")
def averageifs(ctx: Context, average_range: RefArg, *pairs: RefArg) -> Any:
    return _conditional(ctx, average_range, pairs, mean, resize=False)


@excel_function("MAXIFS")
def maxifs(ctx: Context, max_range: RefArg, *pairs: RefArg) -> Any:
    return _conditional(ctx, max_range, pairs, _max, resize=False)


@excel_function("MINIFS")
def minifs(ctx: Context, min_range: RefArg, *pairs: RefArg) -> Any:
    return _conditional(ctx, min_range, pairs, _min, resize=False)


__all__ = [
    "expand_args", "kth_largest", "mean", "median", "mode_of", "numbers_of", "percentile_exc",
    "percentile_inc", "stdev", "variance",
]
