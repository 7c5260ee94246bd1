"""Excel's logical functions: IF and its relatives, AND/OR/XOR, NOT, SWITCH.

IF, IFS, IFERROR and IFNA take their arguments lazily so that only the branch Excel evaluates is
computed; when a condition is an array (or the formula is an array formula) every branch is
evaluated and the choice is made element by element, as Excel does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.errors import NA, VALUE
from engine.functions.registry import Context, Lazy, RefArg, Value, excel_function
from engine.refs import MultiRef, Ref
from engine.values import BLANK, MISSING, Array, XLError, broadcast_shape, compare, to_bool


def force(thunk: Callable[[], Any], ctx: Context) -> Any:
    """A lazy argument's value: references read (intersected outside array formulas)."""
    value = thunk()
    if isinstance(value, MultiRef):
        return VALUE
    if isinstance(value, Ref):
        return ctx.deref(value) if ctx.array_mode else ctx.intersect(value)
    return value


def _missing_as_zero(value: Any) -> Any:
    """An empty argument (``IF(c,,x)``) yields 0, as Excel does."""
    return 0.0 if value is MISSING else value


def _elementwise(fn: Callable[..., Any], *args: Any) -> Array:
    """``fn`` applied across arrays and scalars broadcast to a common shape."""
    arrays = [a if type(a) is Array else Array([[a]]) for a in args]
    nrows, ncols = broadcast_shape(*(a.shape for a in arrays))
    return Array([[fn(*(a.get(r, c) for a in arrays)) for c in range(ncols)]
                  for r in range(nrows)])


def _choose(cond: Any, if_true: Any, if_false: Any) -> Any:
    flag = to_bool(cond)
    if type(flag) is XLError:
        return flag
    return if_true if flag else if_false


@excel_function("IF")
def if_(ctx: Context, condition: Lazy, value_if_true: Lazy, value_if_false: Lazy = None):
    cond = force(condition, ctx)
    if type(cond) is Array:
        t = _missing_as_zero(force(value_if_true, ctx))
        f = False if value_if_false is None else _missing_as_zero(force(value_if_false, ctx))
        return _elementwise(_choose, cond, t, f)
    flag = to_bool(cond)
    if type(flag) is XLError:
        return flag
    if flag:
        return _missing_as_zero(value_if_true())
    return False if value_if_false is None else _missing_as_zero(value_if_false())


def _ifs_pick(*pairs: Any) -> Any:
    for i in range(0, len(pairs), 2):
        flag = to_bool(pairs[i])
        if type(flag) is XLError:
            return flag
        if flag:
            return _missing_as_zero(pairs[i + 1])
    return NA


@excel_function("IFS")
def ifs(ctx: Context, *args: Lazy):
    if not args or len(args) % 2:
        return VALUE
    for i in range(0, len(args), 2):
        cond = force(args[i], ctx)
        if type(cond) is Array:
            values = [force(a, ctx) for a in args]
            return _elementwise(_ifs_pick, *values)
        flag = to_bool(cond)
        if type(flag) is XLError:
            return flag
        if flag:
            return _missing_as_zero(args[i + 1]())
    return NA


def _on_error(test: Callable[[Any], bool]) -> Callable[..., Any]:
    """IFERROR / IFNA: the value, or the fallback where ``test`` says the value failed."""

    def impl(ctx: Context, value: Lazy, value_if_error: Lazy):
        v = _missing_as_zero(force(value, ctx))
        if type(v) is Array:
            if not any(test(x) for x in v.flat()):
                return v
            fallback = _missing_as_zero(force(value_if_error, ctx))
            return _elementwise(lambda x, f: f if test(x) else x, v, fallback)
        if test(v):
            return _missing_as_zero(value_if_error())
        return v

    return impl


excel_function("IFERROR")(_on_error(lambda v: type(v) is XLError))
excel_function("IFNA")(_on_error(lambda v: v is NA))


def _logical_values(ctx: Context, args: tuple[Any, ...]) -> list[bool] | XLError:
    """The logicals AND/OR/XOR see: ranges and arrays contribute numbers and booleans only,
    typed arguments are coerced ("TRUE" counts, other text is skipped); the first error wins."""
    out: list[bool] = []
    for arg in args:
        if isinstance(arg, (Ref, MultiRef)):
            areas = arg.areas if isinstance(arg, MultiRef) else (arg,)
            items = [v for area in areas for v in ctx.deref(area).flat()]
        elif type(arg) is Array:
            items = list(arg.flat())
        else:
            if arg is MISSING:
                out.append(False)
                continue
            flag = to_bool(arg)
            if type(flag) is XLError and arg is not flag:
                continue
            items = [flag]
        for v in items:
            t = type(v)
            if t is XLError:
                return v
            if t is bool:
                out.append(v)
            elif t is float or t is int:
                out.append(v != 0)
    if not out:
        return VALUE
    return out


def _logical(combine: Callable[[list[bool]], bool]) -> Callable[..., Any]:
    def impl(ctx: Context, *logicals: RefArg):
        values = _logical_values(ctx, logicals)
        return values if type(values) is XLError else combine(values)

    return impl


excel_function("AND")(_logical(all))
excel_function("OR")(_logical(any))
excel_function("XOR")(_logical(lambda vs: sum(vs) % 2 == 1))


@excel_function("NOT")
def not_(logical: Value):
    flag = to_bool(logical)
    return flag if type(flag) is XLError else not flag


@excel_function("TRUE")
def true_():
    return True


@excel_function("FALSE")
def false_():
    return False


def _scalar(value: Any) -> Any:
    return value.top_left() if type(value) is Array else value


@excel_function("SWITCH")
def switch(ctx: Context, expression: Value, *cases: Lazy):
    """SWITCH(expr, value1, result1, ..., [default]); values compare as ``=`` does."""
    if type(expression) is XLError:
        return expression
    if len(cases) < 2:
        return VALUE
    target = BLANK if expression is MISSING else expression
    for i in range(0, len(cases) - 1, 2):
        candidate = _scalar(force(cases[i], ctx))
        if type(candidate) is XLError:
            return candidate
        if compare(target, candidate) == 0:
            return _missing_as_zero(cases[i + 1]())
    if len(cases) % 2:
        return _missing_as_zero(cases[-1]())
    return NA
