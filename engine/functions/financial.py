"""Excel's financial functions: time value of money, cash-flow yields, depreciation, securities.

Sign convention (Excel's): money paid out is negative, money received positive; ``type`` 0 means
payments at the end of each period, 1 at the beginning.

Two families follow different argument rules in Excel, and the oracle workbooks confirm both:

* the built-in functions (PMT, NPV, IRR, RATE, DB, ...) take ordinary number arguments, so they
  are lifted over arrays and accept TRUE as 1;
* the former Analysis ToolPak functions (XIRR, XNPV, CUMIPMT, EFFECT, the bond functions, ...)
  take one number per argument: an array or multi-cell range there is #VALUE! (never lifted)
  and so is a logical. :func:`_atp_numbers` implements that rule.

The solvers behind IRR, XIRR and RATE (:func:`irr_solve`, :func:`xirr_solve`, :func:`rate_solve`)
work on plain floats and lists so the Monte Carlo engine can reuse them.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from engine import cashflows, datetimes
from engine.errors import DIV0, NUM, VALUE, XLError
from engine.functions.registry import Arr, Context, Num, RefArg, excel_function
from engine.refs import MultiRef, Ref
from engine.values import BLANK, Array, excel_round, to_number

# --- argument helpers ------------------------------------------------------------------------


def _atp_scalar(ctx: Context, value: Any) -> float | XLError:
    """One Analysis ToolPak number: no array lifting, logicals refused, text read as a number."""
    if isinstance(value, MultiRef):
        return VALUE
    if isinstance(value, Ref):
        value = ctx.deref(value) if ctx.array_mode else ctx.intersect(value)
    if type(value) is Array:
        if value.shape != (1, 1):
            return VALUE
        value = value.rows[0][0]
    if type(value) is bool:
        return VALUE
    return to_number(value)


def _atp_numbers(ctx: Context, *args: Any) -> list[float] | XLError:
    """Every argument through :func:`_atp_scalar`; the first error, left to right, wins."""
    out = []
    for a in args:
        n = _atp_scalar(ctx, a)
        if type(n) is XLError:
            return n
        out.append(n)
    return out


def _numbers(arg: Any) -> list[float] | XLError:
    """Cash flows of one argument: a range or array gives only its numbers (text, logicals and
    blanks are skipped, an error is returned); a value typed directly is coerced."""
    if type(arg) is Array:
        out = []
        for v in arg.flat():
            t = type(v)
            if t is XLError:
                return v
            if t is float or t is int:
                out.append(float(v))
        return out
    n = to_number(arg)
    return n if type(n) is XLError else [n]


def _pairs(arg: Any) -> list[Any]:
    """The cells of a values or dates argument of XNPV/XIRR, in Excel's reading order."""
    return list(arg.flat()) if type(arg) is Array else [arg]


def _dated_flows(values: Any, dates: Any) -> tuple[list[float], list[float]] | XLError:
    """(values, dates) of XNPV/XIRR. Dates are validated first (an error or a bad date there
    wins, as in Excel); a pair blank on both sides is skipped; logicals are #VALUE!; dates are
    truncated to whole days; different lengths, a date out of Excel's calendar or before the
    first one, are #NUM!."""
    vs, ds = _pairs(values), _pairs(dates)
    if len(vs) == len(ds):
        kept = [(v, d) for v, d in zip(vs, ds, strict=False) if not (v is BLANK and d is BLANK)]
        vs, ds = [v for v, _ in kept], [d for _, d in kept]
    day_list = []
    for d in ds:
        n = VALUE if type(d) is bool else to_number(d)
        if type(n) is XLError:
            return n
        if not datetimes.valid_serial(n):
            return NUM
        day_list.append(float(math.floor(n)))
    value_list = []
    for v in vs:
        n = VALUE if type(v) is bool else to_number(v)
        if type(n) is XLError:
            return n
        value_list.append(n)
    if len(value_list) != len(day_list) or not value_list:
        return NUM
    if any(d < day_list[0] for d in day_list):
        return NUM
    return value_list, day_list


def _payment_type(type_: float) -> int:
    """Payment timing: Excel reads any non-zero ``type`` as 1 (beginning of period)."""
    return 0 if type_ == 0 else 1


# --- time value of money (pure) --------------------------------------------------------------


def fv_value(rate: float, nper: float, pmt: float, pv: float = 0.0, type_: int = 0) -> float:
    """Future value of an annuity; Excel's equation with rate 0 as the limit case."""
    if rate == 0:
        return -(pv + pmt * nper)
    growth = (1 + rate) ** nper
    return -(pv * growth + pmt * (1 + rate * type_) * (growth - 1) / rate)


def pv_value(rate: float, nper: float, pmt: float, fv: float = 0.0, type_: int = 0) -> float:
    if rate == 0:
        return -(fv + pmt * nper)
    growth = (1 + rate) ** nper
    return -(fv + pmt * (1 + rate * type_) * (growth - 1) / rate) / growth


def pmt_value(rate: float, nper: float, pv: float, fv: float = 0.0, type_: int = 0) -> float:
    """PMT, shared with the simulation (engine.cashflows)."""
    return cashflows.pmt(rate, nper, pv, fv, float(type_))


def ipmt_value(rate: float, per: float, nper: float, pv: float, fv: float = 0.0,
               type_: int = 0) -> float:
    """Interest part of payment ``per``: the rate applied to the balance after ``per - 1``
    payments (none in the first period of an annuity due)."""
    pmt = pmt_value(rate, nper, pv, fv, type_)
    if type_ == 1 and per == 1:
        return 0.0
    interest = fv_value(rate, per - 1, pmt, pv, type_) * rate
    return interest / (1 + rate) if type_ == 1 else interest


def ppmt_value(rate: float, per: float, nper: float, pv: float, fv: float = 0.0,
               type_: int = 0) -> float:
    """Principal part of payment ``per``, in the closed form Excel's results follow: principal
    grows by (1 + rate) each period, so no cancellation of payment against interest (PPMT at
    high rates is tiny yet exact in Excel)."""
    if rate == 0 or (type_ == 1 and per == 1):
        return pmt_value(rate, nper, pv, fv, type_)
    return -rate * (fv + pv) * (1 + rate) ** (per - 1 - type_) / ((1 + rate) ** nper - 1)


def _tvm_equation(rate: float, nper: float, pmt: float, pv: float, fv: float,
                  type_: int) -> tuple[float, float]:
    """Excel's annuity equation (zero at the right rate) and its derivative in ``rate``."""
    if abs(rate) < 1e-10:
        value = pv + pmt * nper + fv
        deriv = pv * nper + pmt * nper * (nper - 1 + 2 * type_) / 2
        return value, deriv
    growth = (1 + rate) ** nper
    annuity = (growth - 1) / rate
    d_growth = nper * (1 + rate) ** (nper - 1)
    d_annuity = (d_growth * rate - (growth - 1)) / rate ** 2
    value = pv * growth + pmt * (1 + rate * type_) * annuity + fv
    deriv = pv * d_growth + pmt * (type_ * annuity + (1 + rate * type_) * d_annuity)
    return value, deriv


def _newton(fn: Callable[[float], tuple[float, float]], guess: float, max_iter: int,
            tol: float) -> float | None:
    """Newton's method as Excel runs it for IRR and RATE: stop when a step is below ``tol``;
    None when it leaves the domain (rate <= -1) or fails to settle in ``max_iter`` steps."""
    x = guess
    for _ in range(max_iter):
        try:
            value, deriv = fn(x)
        except (OverflowError, ZeroDivisionError, ValueError):
            return None
        if value == 0:
            return x
        if deriv == 0 or not math.isfinite(value) or not math.isfinite(deriv):
            return None
        step = value / deriv
        x -= step
        if not math.isfinite(x) or x <= -1:
            return None
        if abs(step) < tol:
            return x
    return None


def rate_solve(nper: float, pmt: float, pv: float, fv: float = 0.0, type_: int = 0,
               guess: float = 0.1) -> float | None:
    """RATE: Newton's method from ``guess``, at most 20 steps, converged within 1e-7 (Excel's
    documented limits); None when it does not converge (Excel's #NUM!)."""
    return _newton(lambda r: _tvm_equation(r, nper, pmt, pv, fv, type_), guess, 20, 1e-7)


def nper_value(rate: float, pmt: float, pv: float, fv: float = 0.0,
               type_: int = 0) -> float | XLError:
    if rate == 0:
        return DIV0 if pmt == 0 else -(pv + fv) / pmt
    due = pmt * (1 + rate * type_)
    ratio_num, ratio_den = due - fv * rate, due + pv * rate
    if ratio_den == 0:
        return DIV0 if ratio_num else NUM
    ratio = ratio_num / ratio_den
    if ratio <= 0 or rate <= -1:
        return NUM
    return math.log(ratio) / math.log(1 + rate)


# --- cash flows (pure) -----------------------------------------------------------------------


def npv_value(rate: float, values: Sequence[float]) -> float:
    """NPV: the first value is discounted one full period (engine.cashflows, shared with the
    simulation)."""
    return cashflows.npv(rate, np.asarray(values, dtype=np.float64))


def _bisect(fn: Callable[[float], float], lo: float, hi: float, width: float,
            max_iter: int = 200) -> float:
    """Bisection on a sign-changing bracket until it is narrower than ``width``."""
    f_lo = fn(lo)
    mid = (lo + hi) / 2
    for _ in range(max_iter):
        mid = (lo + hi) / 2
        f_mid = fn(mid)
        if f_mid == 0:
            return mid
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
        if abs(hi - lo) < width:
            return mid
    return mid


def irr_solve(values: Sequence[float], guess: float = 0.1) -> float | None:
    """IRR as Excel finds it (engine.cashflows, shared with the simulation so a simulated IRR
    is this one); None for Excel's #NUM!."""
    root = cashflows.irr(np.asarray(values, dtype=np.float64), float(guess))
    return None if math.isnan(root) else root


def xnpv_value(rate: float, values: Sequence[float], dates: Sequence[float]) -> float:
    """XNPV: each flow discounted by actual days / 365 from the first date."""
    start = dates[0]
    return sum(v / (1 + rate) ** ((d - start) / 365.0) for v, d in zip(values, dates, strict=False))


def _xnpv_deriv(rate: float, values: Sequence[float], dates: Sequence[float]) -> float:
    start = dates[0]
    return sum(-(d - start) / 365.0 * v / (1 + rate) ** ((d - start) / 365.0 + 1)
               for v, d in zip(values, dates, strict=False))


def xirr_solve(values: Sequence[float], dates: Sequence[float],
               guess: float = 0.1) -> float | None:
    """XIRR as Excel computes it (reverse-engineered from Excel's results): from ``guess`` the
    rate is doubled or halved, toward the root, until XNPV changes sign, then the bracket is
    bisected until narrower than 1e-8. A guess of 0 cannot be scaled: Newton's method then.
    None when no positive and negative flows exist or no rate is found (#NUM!)."""
    if not (any(v > 0 for v in values) and any(v < 0 for v in values)):
        return None

    def fn(r: float) -> float:
        return xnpv_value(r, values, dates)

    if guess == 0:
        return _newton(lambda r: (fn(r), _xnpv_deriv(r, values, dates)), 0.0, 100, 1e-12)
    bracket = _scaled_bracket(fn, lambda r: _xnpv_deriv(r, values, dates), guess)
    if bracket is None:
        return None
    return _bisect(fn, bracket[0], bracket[1], 1e-8)


def _scaled_bracket(fn: Callable[[float], float], deriv: Callable[[float], float],
                    guess: float, max_iter: int = 100) -> tuple[float, float] | None:
    """Scale ``guess`` by 2 (away from 0) or 1/2 (toward 0), whichever moves toward the root
    the slope points to, until ``fn`` changes sign; the pair of the last two rates."""
    try:
        f0 = fn(guess)
        upward = (f0 > 0) != (deriv(guess) > 0)
    except (OverflowError, ZeroDivisionError):
        return None
    if f0 == 0:
        return guess, guess
    factor = 2.0 if upward == (guess > 0) else 0.5
    x = guess
    for _ in range(max_iter):
        nxt = x * factor
        if nxt <= -1:
            return None
        try:
            f1 = fn(nxt)
        except (OverflowError, ZeroDivisionError):
            return None
        if (f1 > 0) != (f0 > 0) or f1 == 0:
            return (x, nxt) if x < nxt else (nxt, x)
        x = nxt
    return None


# --- Excel functions: time value of money ----------------------------------------------------


@excel_function("PV")
def pv(rate: Num, nper: Num, pmt: Num, fv: Num = 0.0, type: Num = 0.0):
    return pv_value(rate, nper, pmt, fv, _payment_type(type))


@excel_function("FV")
def fv(rate: Num, nper: Num, pmt: Num, pv: Num = 0.0, type: Num = 0.0):
    return fv_value(rate, nper, pmt, pv, _payment_type(type))


@excel_function("PMT")
def pmt(rate: Num, nper: Num, pv: Num, fv: Num = 0.0, type: Num = 0.0):
    if nper == 0:
        return NUM
    return pmt_value(rate, nper, pv, fv, _payment_type(type))


def _period_payment(rate: float, per: float, nper: float, pv: float, fv: float, type_: float,
                    principal: bool) -> float | XLError:
    """IPMT, or PPMT (the payment less its interest); ``per`` must lie in 1..nper."""
    if per < 1 or per > nper or nper == 0:
        return NUM
    t = _payment_type(type_)
    if principal:
        return ppmt_value(rate, per, nper, pv, fv, t)
    return ipmt_value(rate, per, nper, pv, fv, t)


@excel_function("IPMT")
def ipmt(rate: Num, per: Num, nper: Num, pv: Num, fv: Num = 0.0, type: Num = 0.0):
    return _period_payment(rate, per, nper, pv, fv, type, principal=False)


@excel_function("PPMT")
def ppmt(rate: Num, per: Num, nper: Num, pv: Num, fv: Num = 0.0, type: Num = 0.0):
    return _period_payment(rate, per, nper, pv, fv, type, principal=True)


@excel_function("NPER")
def nper(rate: Num, pmt: Num, pv: Num, fv: Num = 0.0, type: Num = 0.0):
    return nper_value(rate, pmt, pv, fv, _payment_type(type))


@excel_function("RATE")
def rate(nper: Num, pmt: Num, pv: Num, fv: Num = 0.0, type: Num = 0.0, guess: Num = 0.1):
    if nper <= 0:
        return NUM
    root = rate_solve(nper, pmt, pv, fv, _payment_type(type), guess)
    return NUM if root is None else root


def _cumulative(ctx: Context, args: tuple[Any, ...], principal: bool) -> float | XLError:
    """CUMIPMT / CUMPRINC: the sum of IPMT or PPMT over whole periods start..end."""
    nums = _atp_numbers(ctx, *args)
    if type(nums) is XLError:
        return nums
    rate_, nper_, pv_, start, end, type_ = nums
    start, end = math.trunc(start), math.trunc(end)
    if (rate_ <= 0 or nper_ <= 0 or pv_ <= 0 or start < 1 or end < start or end > nper_
            or type_ not in (0, 1)):
        return NUM
    t = int(type_)
    part = ppmt_value if principal else ipmt_value
    return sum(part(rate_, per, nper_, pv_, 0.0, t) for per in range(start, end + 1))


@excel_function("CUMIPMT")
def cumipmt(ctx: Context, rate: RefArg, nper: RefArg, pv: RefArg, start_period: RefArg,
            end_period: RefArg, type: RefArg):
    return _cumulative(ctx, (rate, nper, pv, start_period, end_period, type), principal=False)


@excel_function("CUMPRINC")
def cumprinc(ctx: Context, rate: RefArg, nper: RefArg, pv: RefArg, start_period: RefArg,
             end_period: RefArg, type: RefArg):
    return _cumulative(ctx, (rate, nper, pv, start_period, end_period, type), principal=True)


@excel_function("ISPMT")
def ispmt(rate: Num, per: Num, nper: Num, pv: Num):
    if nper == 0:
        return DIV0
    return pv * rate * (per / nper - 1)


@excel_function("PDURATION")
def pduration(rate: Num, pv: Num, fv: Num):
    if rate <= 0 or pv <= 0 or fv <= 0:
        return NUM
    return (math.log(fv) - math.log(pv)) / math.log1p(rate)


@excel_function("RRI")
def rri(nper: Num, pv: Num, fv: Num):
    if nper <= 0:
        return NUM
    if pv == 0:
        return NUM
    ratio = fv / pv
    if ratio < 0:
        return NUM
    return ratio ** (1 / nper) - 1


@excel_function("EFFECT")
def effect(ctx: Context, nominal_rate: RefArg, npery: RefArg):
    nums = _atp_numbers(ctx, nominal_rate, npery)
    if type(nums) is XLError:
        return nums
    nominal, periods = nums[0], math.trunc(nums[1])
    if nominal <= 0 or periods < 1:
        return NUM
    return (1 + nominal / periods) ** periods - 1


@excel_function("NOMINAL")
def nominal(ctx: Context, effect_rate: RefArg, npery: RefArg):
    nums = _atp_numbers(ctx, effect_rate, npery)
    if type(nums) is XLError:
        return nums
    effective, periods = nums[0], math.trunc(nums[1])
    if effective <= 0 or periods < 1:
        return NUM
    return periods * ((1 + effective) ** (1 / periods) - 1)


@excel_function("FVSCHEDULE")
def fvschedule(ctx: Context, principal: RefArg, schedule: Arr):
    """Blank cells in the schedule are 0 % (Excel's documented rule); text is #VALUE!."""
    start = _atp_scalar(ctx, principal)
    if type(start) is XLError:
        return start
    result = start
    for r in _pairs(schedule):
        n = VALUE if type(r) is bool else to_number(r)
        if type(n) is XLError:
            return n
        result *= 1 + n
    return result


def _dollar_digits(fraction: float) -> float | XLError:
    """The power of ten that holds the fraction's denominator (16 -> 100)."""
    if fraction < 0:
        return NUM
    if fraction < 1:
        return DIV0
    return 10.0 ** math.ceil(math.log10(fraction))


def _dollar_convert(ctx: Context, value: Any, fraction: Any, to_decimal: bool) -> Any:
    """DOLLARDE (fractional price to decimal) and DOLLARFR (the reverse)."""
    nums = _atp_numbers(ctx, value, fraction)
    if type(nums) is XLError:
        return nums
    x, frac = nums[0], math.trunc(nums[1])
    scale = _dollar_digits(frac)
    if type(scale) is XLError:
        return scale
    whole = math.trunc(x)
    return whole + (x - whole) * (scale / frac if to_decimal else frac / scale)


@excel_function("DOLLARDE")
def dollarde(ctx: Context, fractional_dollar: RefArg, fraction: RefArg):
    return _dollar_convert(ctx, fractional_dollar, fraction, to_decimal=True)


@excel_function("DOLLARFR")
def dollarfr(ctx: Context, decimal_dollar: RefArg, fraction: RefArg):
    return _dollar_convert(ctx, decimal_dollar, fraction, to_decimal=False)


# --- Excel functions: cash flows -------------------------------------------------------------


@excel_function("NPV")
def npv(rate: Num, *values: Arr):
    if rate == -1:
        return DIV0
    flows: list[float] = []
    for arg in values:
        part = _numbers(arg)
        if type(part) is XLError:
            return part
        flows.extend(part)
    return npv_value(rate, flows)


@excel_function("IRR")
def irr(values: Arr, guess: Num = 0.1):
    """Any error among the values is #VALUE! in Excel, whatever the error."""
    flows = _numbers(values)
    if type(flows) is XLError:
        return VALUE
    root = irr_solve(flows, guess)
    return NUM if root is None else root


@excel_function("MIRR")
def mirr(values: Arr, finance_rate: Num, reinvest_rate: Num):
    flows = _numbers(values)
    if type(flows) is XLError:
        return flows
    n = len(flows)
    if finance_rate == -1 or reinvest_rate == -1:
        return DIV0
    negatives = sum(v / (1 + finance_rate) ** i for i, v in enumerate(flows) if v < 0)
    positives = sum(v * (1 + reinvest_rate) ** (n - 1 - i) for i, v in enumerate(flows) if v > 0)
    if negatives == 0 or positives == 0 or n < 2:
        return DIV0
    return (-positives / negatives) ** (1 / (n - 1)) - 1


@excel_function("XNPV")
def xnpv(ctx: Context, rate: RefArg, values: Arr, dates: Arr):
    r = _atp_scalar(ctx, rate)
    if type(r) is XLError:
        return r
    flows = _dated_flows(values, dates)
    if type(flows) is XLError:
        return flows
    if r <= 0:
        return NUM
    return xnpv_value(r, *flows)


@excel_function("XIRR")
def xirr(ctx: Context, values: Arr, dates: Arr, guess: RefArg = 0.1):
    g = _atp_scalar(ctx, guess)
    if type(g) is XLError:
        return g
    flows = _dated_flows(values, dates)
    if type(flows) is XLError:
        return flows
    if g <= -1:
        return NUM
    root = xirr_solve(flows[0], flows[1], g)
    return NUM if root is None else root


# --- Excel functions: depreciation -----------------------------------------------------------


@excel_function("SLN")
def sln(cost: Num, salvage: Num, life: Num):
    if life == 0:
        return DIV0
    return (cost - salvage) / life


@excel_function("SYD")
def syd(cost: Num, salvage: Num, life: Num, per: Num):
    if life <= 0 or per <= 0 or per > life:
        return NUM
    return (cost - salvage) * (life - per + 1) * 2 / (life * (life + 1))


@excel_function("DB")
def db(cost: Num, salvage: Num, life: Num, period: Num, month: Num = 12.0):
    """Excel rounds the fixed rate to three decimals; period and month are truncated."""
    period, month = math.trunc(period), math.trunc(month)
    if cost < 0 or salvage < 0 or life <= 0 or period <= 0 or not 1 <= month <= 12:
        return NUM
    if period > life + (1 if month < 12 else 0):
        return NUM
    if cost == 0:
        return 0.0
    rate_ = excel_round(1 - (salvage / cost) ** (1 / life), 3)
    total = cost * rate_ * month / 12
    if period == 1:
        return total
    for p in range(2, period + 1):
        if p == life + 1:
            current = (cost - total) * rate_ * (12 - month) / 12
        else:
            current = (cost - total) * rate_
        if p == period:
            return current
        total += current
    return NUM


def _ddb_period(cost: float, salvage: float, life: float, period: float, factor: float) -> float:
    """Declining-balance depreciation of one (possibly fractional) period, never taking the
    value below salvage; Excel's closed form."""
    rate_ = factor / life
    if rate_ >= 1:
        rate_ = 1.0
        old = cost if period == 1 else 0.0
    else:
        old = cost * (1 - rate_) ** (period - 1)
    new = cost * (1 - rate_) ** period
    amount = old - salvage if new < salvage else old - new
    return max(amount, 0.0)


@excel_function("DDB")
def ddb(cost: Num, salvage: Num, life: Num, period: Num, factor: Num = 2.0):
    if cost < 0 or salvage < 0 or life <= 0 or period <= 0 or factor <= 0 or period > life:
        return NUM
    return _ddb_period(cost, salvage, life, period, factor)


def vdb_value(cost: float, salvage: float, life: float, start: float, end: float,
              factor: float = 2.0, no_switch: bool = False) -> float:
    """VDB as Excel computes it (checked against Excel on fractional periods): the periods are
    laid out from ``start``'s fractional offset, after a leading partial period; each whole
    period takes declining balance on the book value, or straight line over the remaining life
    once that is larger (unless ``no_switch``); a partial period takes its share of the whole."""
    rate_ = min(factor / life, 1.0)
    offset = start - math.floor(start)
    book, total, t = cost, 0.0, 0.0
    switched = False
    while t < end:
        period_end = offset if offset > 0 and t == 0 else t + 1
        amount = min(book * rate_, book - salvage)
        if not no_switch:
            straight = (book - salvage) / (life - t)
            if switched or straight > amount:
                amount, switched = straight, True
        amount = max(amount, 0.0)
        overlap = min(period_end, end) - max(t, start)
        if overlap > 0:
            total += amount * overlap
        book -= amount * (min(period_end, end) - t)
        t = period_end
    return total


@excel_function("VDB")
def vdb(cost: Num, salvage: Num, life: Num, start_period: Num, end_period: Num,
        factor: Num = 2.0, no_switch: Num = 0.0):
    if (cost < 0 or salvage < 0 or life <= 0 or factor <= 0 or start_period < 0
            or end_period < start_period or end_period > life or salvage > cost):
        return NUM
    return vdb_value(cost, salvage, life, start_period, end_period, factor, no_switch != 0)


# --- securities: day counts and coupon schedules ---------------------------------------------

_FREQUENCIES = (1, 2, 4)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _month_end(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _days360(start: int, end: int, european: bool) -> int:
    """30/360 day count: US (NASD) rules for basis 0, European for basis 4."""
    y1, m1, d1 = datetimes.serial_to_date(start)
    y2, m2, d2 = datetimes.serial_to_date(end)
    if european:
        d1, d2 = min(d1, 30), min(d2, 30)
    else:
        feb_end1 = m1 == 2 and d1 >= _month_end(y1, 2)
        feb_end2 = m2 == 2 and d2 >= _month_end(y2, 2)
        if feb_end1 and feb_end2:
            d2 = 30
        if feb_end1:
            d1 = 30
        if d2 == 31 and d1 >= 30:
            d2 = 30
        if d1 == 31:
            d1 = 30
    return (y2 - y1) * 360 + (m2 - m1) * 30 + (d2 - d1)


def _day_count(start: int, end: int, basis: int) -> float:
    """Days from ``start`` to ``end`` as the basis counts them (30/360 or actual)."""
    if basis in (0, 4):
        return float(_days360(start, end, basis == 4))
    return float(end - start)


def _year_days(basis: int) -> float:
    return 365.0 if basis == 3 else 360.0


def _year_fraction(start: int, end: int, basis: int) -> float:
    """Fraction of a year between two dates (Excel's YEARFRAC rules, kept here so this module
    stands alone); actual/actual uses the length of the year(s) spanned."""
    if basis != 1:
        return _day_count(start, end, basis) / _year_days(basis)
    y1, m1, d1 = datetimes.serial_to_date(start)
    y2, m2, d2 = datetimes.serial_to_date(end)
    if y1 == y2:
        year_len = 366.0 if _is_leap(y1) else 365.0
    elif (y2 - y1 == 1) and (m2, d2) <= (m1, d1):
        spans_leap_day = ((_is_leap(y1) and (m1, d1) <= (2, 29))
                          or (_is_leap(y2) and (m2, d2) >= (2, 29)))
        year_len = 366.0 if spans_leap_day else 365.0
    else:
        total = datetimes.date_to_serial(y2 + 1, 1, 1) - datetimes.date_to_serial(y1, 1, 1)
        year_len = total / (y2 - y1 + 1)
    return (end - start) / year_len


def _add_months(serial: int, months: int, month_end: bool) -> int:
    """EDATE-style shift; ``month_end`` keeps coupon dates on the last day of the month."""
    y, m, d = datetimes.serial_to_date(serial)
    index = y * 12 + (m - 1) + months
    y, m = divmod(index, 12)
    m += 1
    last = _month_end(y, m)
    return datetimes.date_to_serial(y, m, last if month_end else min(d, last))


def _coupon_dates(settlement: int, maturity: int, frequency: int) -> tuple[int, int, int]:
    """(previous coupon date, next coupon date, coupons left) counted back from maturity."""
    step = 12 // frequency
    y, m, d = datetimes.serial_to_date(maturity)
    month_end = d == _month_end(y, m)
    k = 1
    while _add_months(maturity, -k * step, month_end) > settlement:
        k += 1
    return (_add_months(maturity, -k * step, month_end),
            _add_months(maturity, -(k - 1) * step, month_end), k)


def _coupon_days(settlement: int, maturity: int, frequency: int, basis: int) -> float:
    """Days in the coupon period holding the settlement date."""
    if basis == 1:
        pcd, ncd, _ = _coupon_dates(settlement, maturity, frequency)
        return float(ncd - pcd)
    return _year_days(basis) / frequency


def _coupon_days_before(settlement: int, maturity: int, frequency: int, basis: int) -> float:
    pcd, _, _ = _coupon_dates(settlement, maturity, frequency)
    return _day_count(pcd, settlement, basis)


def _coupon_days_next(settlement: int, maturity: int, frequency: int, basis: int) -> float:
    """Days to the next coupon; 30/360 bases take the period less the days already run."""
    if basis in (0, 4):
        return (_coupon_days(settlement, maturity, frequency, basis)
                - _coupon_days_before(settlement, maturity, frequency, basis))
    _, ncd, _ = _coupon_dates(settlement, maturity, frequency)
    return float(ncd - settlement)


def _security_args(ctx: Context, dates: tuple[Any, ...], numbers: tuple[Any, ...],
                   frequency: Any = None, basis: Any = 0.0) -> tuple | XLError:
    """Validated arguments of a security function: whole-day dates (settlement before
    maturity), plain numbers, frequency 1/2/4 when asked for, basis 0..4 (#NUM! otherwise)."""
    freq_arg = () if frequency is None else (frequency,)
    nums = _atp_numbers(ctx, *dates, *numbers, *freq_arg, basis)
    if type(nums) is XLError:
        return nums
    day_values = [math.trunc(x) for x in nums[:len(dates)]]
    if any(not datetimes.valid_serial(x) for x in day_values):
        return NUM
    if day_values[0] >= day_values[1]:
        return NUM
    rest = nums[len(dates):]
    b = math.trunc(rest[-1])
    if not 0 <= b <= 4:
        return NUM
    if frequency is not None:
        f = math.trunc(rest[-2])
        if f not in _FREQUENCIES:
            return NUM
        return (*day_values, *rest[:-2], f, b)
    return (*day_values, *rest[:-1], b)


def _coupon_function(ctx: Context, settlement: Any, maturity: Any, frequency: Any, basis: Any,
                     fn: Callable[[int, int, int, int], float]) -> float | XLError:
    args = _security_args(ctx, (settlement, maturity), (), frequency, basis)
    if type(args) is XLError:
        return args
    return fn(*args)


@excel_function("COUPDAYBS")
def coupdaybs(ctx: Context, settlement: RefArg, maturity: RefArg, frequency: RefArg,
              basis: RefArg = 0.0):
    return _coupon_function(ctx, settlement, maturity, frequency, basis, _coupon_days_before)


@excel_function("COUPDAYS")
def coupdays(ctx: Context, settlement: RefArg, maturity: RefArg, frequency: RefArg,
             basis: RefArg = 0.0):
    return _coupon_function(ctx, settlement, maturity, frequency, basis, _coupon_days)


@excel_function("COUPDAYSNC")
def coupdaysnc(ctx: Context, settlement: RefArg, maturity: RefArg, frequency: RefArg,
               basis: RefArg = 0.0):
    return _coupon_function(ctx, settlement, maturity, frequency, basis, _coupon_days_next)


@excel_function("COUPNCD")
def coupncd(ctx: Context, settlement: RefArg, maturity: RefArg, frequency: RefArg,
            basis: RefArg = 0.0):
    return _coupon_function(ctx, settlement, maturity, frequency, basis,
                            lambda s, m, f, b: float(_coupon_dates(s, m, f)[1]))


@excel_function("COUPPCD")
def couppcd(ctx: Context, settlement: RefArg, maturity: RefArg, frequency: RefArg,
            basis: RefArg = 0.0):
    return _coupon_function(ctx, settlement, maturity, frequency, basis,
                            lambda s, m, f, b: float(_coupon_dates(s, m, f)[0]))


@excel_function("COUPNUM")
def coupnum(ctx: Context, settlement: RefArg, maturity: RefArg, frequency: RefArg,
            basis: RefArg = 0.0):
    return _coupon_function(ctx, settlement, maturity, frequency, basis,
                            lambda s, m, f, b: float(_coupon_dates(s, m, f)[2]))


# --- securities: coupon bonds ----------------------------------------------------------------


def bond_price(settlement: int, maturity: int, rate: float, yld: float, redemption: float,
               frequency: int, basis: int) -> float:
    """PRICE per 100 face value: coupons and redemption discounted at ``yld`` from the
    settlement date, less the interest accrued since the last coupon."""
    n = _coupon_dates(settlement, maturity, frequency)[2]
    e = _coupon_days(settlement, maturity, frequency, basis)
    a = _coupon_days_before(settlement, maturity, frequency, basis)
    dsc = _coupon_days_next(settlement, maturity, frequency, basis)
    coupon = 100 * rate / frequency
    accrued = coupon * a / e
    if n == 1:
        return (redemption + coupon) / (1 + dsc / e * yld / frequency) - accrued
    base = 1 + yld / frequency
    lead = dsc / e
    price = redemption / base ** (n - 1 + lead)
    price += sum(coupon / base ** (k - 1 + lead) for k in range(1, n + 1))
    return price - accrued


def bond_yield(settlement: int, maturity: int, rate: float, price: float, redemption: float,
               frequency: int, basis: int) -> float | None:
    """YIELD: closed form with one coupon left, else the yield at which :func:`bond_price`
    equals ``price`` (Newton's method, bisection when it stalls)."""
    n = _coupon_dates(settlement, maturity, frequency)[2]
    e = _coupon_days(settlement, maturity, frequency, basis)
    a = _coupon_days_before(settlement, maturity, frequency, basis)
    dsc = _coupon_days_next(settlement, maturity, frequency, basis)
    if n == 1:
        paid = price / 100 + a / e * rate / frequency
        return (redemption / 100 + rate / frequency - paid) / paid * frequency * e / dsc

    def gap(y: float) -> float:
        return bond_price(settlement, maturity, rate, y, redemption, frequency, basis) - price

    def with_slope(y: float) -> tuple[float, float]:
        h = 1e-7 * max(1.0, abs(y))
        return gap(y), (gap(y + h) - gap(y - h)) / (2 * h)

    root = _newton(with_slope, 0.05, 100, 1e-12)
    if root is not None:
        return root
    lo, hi = -frequency + 1e-9, 1.0
    while gap(hi) > 0 and hi < 1e6:
        hi *= 2
    if gap(lo) * gap(hi) > 0:
        return None
    return _bisect(gap, lo, hi, 1e-14)


def _duration_value(settlement: int, maturity: int, coupon: float, yld: float, frequency: int,
                    basis: int) -> float:
    """Macaulay duration in years of a 100-face bond."""
    n = _coupon_dates(settlement, maturity, frequency)[2]
    lead = (_coupon_days_next(settlement, maturity, frequency, basis)
            / _coupon_days(settlement, maturity, frequency, basis))
    base = 1 + yld / frequency
    weighted = total = 0.0
    for k in range(1, n + 1):
        t = k - 1 + lead
        flow = 100 * coupon / frequency + (100.0 if k == n else 0.0)
        pv_ = flow / base ** t
        weighted += t * pv_
        total += pv_
    return weighted / total / frequency


@excel_function("PRICE")
def price(ctx: Context, settlement: RefArg, maturity: RefArg, rate: RefArg, yld: RefArg,
          redemption: RefArg, frequency: RefArg, basis: RefArg = 0.0):
    args = _security_args(ctx, (settlement, maturity), (rate, yld, redemption), frequency,
                          basis)
    if type(args) is XLError:
        return args
    s, m, r, y, red, f, b = args
    if r < 0 or y < 0 or red <= 0:
        return NUM
    return bond_price(s, m, r, y, red, f, b)


@excel_function("YIELD")
def yield_(ctx: Context, settlement: RefArg, maturity: RefArg, rate: RefArg, pr: RefArg,
           redemption: RefArg, frequency: RefArg, basis: RefArg = 0.0):
    args = _security_args(ctx, (settlement, maturity), (rate, pr, redemption), frequency, basis)
    if type(args) is XLError:
        return args
    s, m, r, p, red, f, b = args
    if r < 0 or p <= 0 or red <= 0:
        return NUM
    result = bond_yield(s, m, r, p, red, f, b)
    return NUM if result is None else result


def _duration_function(ctx: Context, args: tuple[Any, ...], modified: bool) -> float | XLError:
    checked = _security_args(ctx, args[:2], args[2:4], args[4], args[5])
    if type(checked) is XLError:
        return checked
    s, m, c, y, f, b = checked
    if c < 0 or y < 0:
        return NUM
    duration = _duration_value(s, m, c, y, f, b)
    return duration / (1 + y / f) if modified else duration


@excel_function("DURATION")
def duration(ctx: Context, settlement: RefArg, maturity: RefArg, coupon: RefArg, yld: RefArg,
             frequency: RefArg, basis: RefArg = 0.0):
    return _duration_function(ctx, (settlement, maturity, coupon, yld, frequency, basis), False)


@excel_function("MDURATION")
def mduration(ctx: Context, settlement: RefArg, maturity: RefArg, coupon: RefArg, yld: RefArg,
              frequency: RefArg, basis: RefArg = 0.0):
    return _duration_function(ctx, (settlement, maturity, coupon, yld, frequency, basis), True)


# --- securities: discounted and at-maturity ---------------------------------------------------


def _discount_security(ctx: Context, settlement: Any, maturity: Any, first: Any, second: Any,
                       basis: Any,
                       fn: Callable[[float, float, float], float]) -> float | XLError:
    """DISC, INTRATE, RECEIVED, PRICEDISC, YIELDDISC: two positive amounts and the year
    fraction from settlement to maturity."""
    args = _security_args(ctx, (settlement, maturity), (first, second), None, basis)
    if type(args) is XLError:
        return args
    s, m, x, y, b = args
    if x <= 0 or y <= 0:
        return NUM
    return fn(x, y, _year_fraction(s, m, b))


@excel_function("DISC")
def disc(ctx: Context, settlement: RefArg, maturity: RefArg, pr: RefArg, redemption: RefArg,
         basis: RefArg = 0.0):
    return _discount_security(ctx, settlement, maturity, pr, redemption, basis,
                              lambda p, red, yf: (red - p) / red / yf)


@excel_function("INTRATE")
def intrate(ctx: Context, settlement: RefArg, maturity: RefArg, investment: RefArg,
            redemption: RefArg, basis: RefArg = 0.0):
    return _discount_security(ctx, settlement, maturity, investment, redemption, basis,
                              lambda inv, red, yf: (red - inv) / inv / yf)


@excel_function("RECEIVED")
def received(ctx: Context, settlement: RefArg, maturity: RefArg, investment: RefArg,
             discount: RefArg, basis: RefArg = 0.0):
    def amount(inv: float, d: float, yf: float) -> float | XLError:
        left = 1 - d * yf
        return NUM if left <= 0 else inv / left

    return _discount_security(ctx, settlement, maturity, investment, discount, basis, amount)


@excel_function("PRICEDISC")
def pricedisc(ctx: Context, settlement: RefArg, maturity: RefArg, discount: RefArg,
              redemption: RefArg, basis: RefArg = 0.0):
    return _discount_security(ctx, settlement, maturity, discount, redemption, basis,
                              lambda d, red, yf: red * (1 - d * yf))


@excel_function("YIELDDISC")
def yielddisc(ctx: Context, settlement: RefArg, maturity: RefArg, pr: RefArg,
              redemption: RefArg, basis: RefArg = 0.0):
    return _discount_security(ctx, settlement, maturity, pr, redemption, basis,
                              lambda p, red, yf: (red - p) / p / yf)


def _at_maturity(ctx: Context, args: tuple[Any, ...]) -> tuple | XLError:
    """(settlement, maturity, issue, rate, amount, basis) of PRICEMAT / YIELDMAT, validated;
    the three year fractions are issue->maturity, issue->settlement, settlement->maturity."""
    checked = _security_args(ctx, args[:2], args[2:5], None, args[5])
    if type(checked) is XLError:
        return checked
    s, m, issue, r, amount, b = checked
    issue = math.trunc(issue)
    if r < 0 or amount < 0 or not datetimes.valid_serial(issue) or issue > s:
        return NUM
    return (_year_fraction(issue, m, b), _year_fraction(issue, s, b), _year_fraction(s, m, b),
            r, amount)


@excel_function("PRICEMAT")
def pricemat(ctx: Context, settlement: RefArg, maturity: RefArg, issue: RefArg, rate: RefArg,
             yld: RefArg, basis: RefArg = 0.0):
    parts = _at_maturity(ctx, (settlement, maturity, issue, rate, yld, basis))
    if type(parts) is XLError:
        return parts
    dim, a, dsm, r, y = parts
    return (100 + dim * r * 100) / (1 + dsm * y) - a * r * 100


@excel_function("YIELDMAT")
def yieldmat(ctx: Context, settlement: RefArg, maturity: RefArg, issue: RefArg, rate: RefArg,
             pr: RefArg, basis: RefArg = 0.0):
    parts = _at_maturity(ctx, (settlement, maturity, issue, rate, pr, basis))
    if type(parts) is XLError:
        return parts
    dim, a, dsm, r, p = parts
    if p == 0:
        return NUM
    paid = p / 100 + a * r
    return ((1 + dim * r) - paid) / paid / dsm


@excel_function("ACCRINTM")
def accrintm(ctx: Context, issue: RefArg, settlement: RefArg, rate: RefArg, par: RefArg = 1000.0,
             basis: RefArg = 0.0):
    args = _security_args(ctx, (issue, settlement), (rate, par), None, basis)
    if type(args) is XLError:
        return args
    i, s, r, p, b = args
    if r <= 0 or p <= 0:
        return NUM
    return p * r * _year_fraction(i, s, b)


def _tbill_days(ctx: Context, settlement: Any, maturity: Any,
                amount: Any) -> tuple[int, float] | XLError:
    """Days to maturity (at most one year) and the positive amount of a Treasury bill."""
    args = _security_args(ctx, (settlement, maturity), (amount,), None, 0.0)
    if type(args) is XLError:
        return args
    s, m, x, _ = args
    if x <= 0 or m - s > 365:
        return NUM
    return m - s, x


@excel_function("TBILLPRICE")
def tbillprice(ctx: Context, settlement: RefArg, maturity: RefArg, discount: RefArg):
    args = _tbill_days(ctx, settlement, maturity, discount)
    if type(args) is XLError:
        return args
    days, d = args
    result = 100 * (1 - d * days / 360)
    return NUM if result <= 0 else result


@excel_function("TBILLYIELD")
def tbillyield(ctx: Context, settlement: RefArg, maturity: RefArg, pr: RefArg):
    args = _tbill_days(ctx, settlement, maturity, pr)
    if type(args) is XLError:
        return args
    days, p = args
    return (100 - p) / p * 360 / days


@excel_function("TBILLEQ")
def tbilleq(ctx: Context, settlement: RefArg, maturity: RefArg, discount: RefArg):
    """Excel's documented formula, 365 x rate / (360 - rate x days)."""
    args = _tbill_days(ctx, settlement, maturity, discount)
    if type(args) is XLError:
        return args
    days, d = args
    denominator = 360 - d * days
    return NUM if denominator <= 0 else 365 * d / denominator
