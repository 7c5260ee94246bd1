"""Excel's information functions: the IS* tests, N, T, TYPE, NA, ERROR.TYPE, SHEET(S)."""

from __future__ import annotations

import math
from typing import Any

from engine.errors import ERROR_TYPE_NUMBERS, NA, VALUE
from engine.functions.registry import Arr, Context, RefArg, Value, excel_function
from engine.lambdas import is_function_value
from engine.refs import MultiRef, Ref
from engine.values import BLANK, Array, XLError, is_number, parse_number


def _is(test):
    """An IS* function: lifted over arrays by the registry, errors reach ``test`` as values."""

    def impl(value: Value):
        return test(value)

    return impl


excel_function("ISBLANK")(_is(lambda v: v is BLANK))
excel_function("ISERR")(_is(lambda v: type(v) is XLError and v is not NA))
excel_function("ISERROR")(_is(lambda v: type(v) is XLError))
excel_function("ISNA")(_is(lambda v: v is NA))
excel_function("ISLOGICAL")(_is(lambda v: type(v) is bool))
excel_function("ISNUMBER")(_is(is_number))
excel_function("ISTEXT")(_is(lambda v: type(v) is str))
excel_function("ISNONTEXT")(_is(lambda v: type(v) is not str))


def _parity(value: Any) -> int | XLError:
    """The integer ISEVEN/ISODD test. These Analysis ToolPak functions take no arrays (a range
    gives #VALUE! even in an array formula) and refuse logicals."""
    if type(value) is Array:
        if value.shape != (1, 1):
            return VALUE
        value = value.top_left()
    if type(value) is XLError:
        return value
    if type(value) is bool:
        return VALUE
    if value is BLANK:
        return 0
    if type(value) is str:
        number = parse_number(value)
        if number is None:
            return VALUE
        value = number
    if not is_number(value):
        return VALUE
    return int(math.trunc(value)) % 2


@excel_function("ISEVEN")
def iseven(number: Arr):
    p = _parity(number)
    return p if type(p) is XLError else p == 0


@excel_function("ISODD")
def isodd(number: Arr):
    p = _parity(number)
    return p if type(p) is XLError else p == 1


@excel_function("ISREF")
def isref(value: RefArg):
    return isinstance(value, (Ref, MultiRef))


@excel_function("ISFORMULA")
def isformula(ctx: Context, reference: RefArg):
    if type(reference) is XLError:
        return reference
    if not isinstance(reference, Ref):
        return VALUE
    probe = ctx.is_formula
    if not ctx.array_mode or reference.is_cell:
        return bool(probe(Ref(reference.sheet, reference.r1, reference.c1, reference.r1,
                              reference.c1)))
    cols = range(reference.c1, reference.c2 + 1)
    return Array([[bool(probe(Ref(reference.sheet, r, c, r, c))) for c in cols]
                  for r in range(reference.r1, reference.r2 + 1)])


def _first(value: Any) -> Any:
    """N and T read the first cell of a range rather than lifting over it."""
    return value.top_left() if type(value) is Array else value


@excel_function("N")
def n(value: Arr):
    v = _first(value)
    if type(v) is XLError:
        return v
    if type(v) is bool:
        return 1.0 if v else 0.0
    return float(v) if is_number(v) else 0.0


@excel_function("T")
def t(value: Arr):
    v = _first(value)
    return v if type(v) in (str, XLError) else ""


def _type_code(v: Any) -> int:
    if is_function_value(v):
        return 128  # a LAMBDA or an eta-reduced built-in (``_xleta.SUM``), as the oracle shows
    if type(v) is Array:
        return 64
    if type(v) is XLError:
        return 16
    if type(v) is bool:
        return 4
    if type(v) is str:
        return 2
    return 1


@excel_function("TYPE")
def type_(ctx: Context, value: RefArg):
    if isinstance(value, MultiRef):
        return 16
    if isinstance(value, Ref):
        return 64 if not value.is_cell else _type_code(ctx.deref(value).top_left())
    return _type_code(value)


@excel_function("NA")
def na():
    return NA


@excel_function("ERROR.TYPE")
def error_type(error_val: Value):
    if type(error_val) is XLError and error_val in ERROR_TYPE_NUMBERS:
        return float(ERROR_TYPE_NUMBERS[error_val])
    return NA


@excel_function("SHEET")
def sheet(ctx: Context, value: RefArg = None):
    if type(value) is XLError:
        return value
    if isinstance(value, MultiRef):
        target = value.areas[0].sheet
    elif isinstance(value, Ref):
        target = value.sheet
    elif value is None or value is BLANK:
        target = ctx.sheet
    elif type(value) is str:
        target = value
    else:
        return VALUE
    lowered = [s.lower() for s in ctx.sheet_names]
    return float(lowered.index(target.lower()) + 1) if target.lower() in lowered else NA


@excel_function("SHEETS")
def sheets(ctx: Context, reference: RefArg = None):
    if type(reference) is XLError:
        return reference
    if isinstance(reference, MultiRef):
        return float(len({a.sheet for a in reference.areas}))
    if isinstance(reference, Ref):
        return 1.0
    if reference is None:
        return float(len(ctx.sheet_names))
    return VALUE
