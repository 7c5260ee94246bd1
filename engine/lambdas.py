"""LET, LAMBDA and the LAMBDA helpers (MAP, REDUCE, SCAN, BYROW, BYCOL, MAKEARRAY, ISOMITTED).

These are special forms: they receive their argument nodes unevaluated, because names bound by
LET and LAMBDA parameters are not values but syntax, and a LAMBDA's body is evaluated only when
it is called. A LAMBDA value is a closure: its parameters, its body and the names visible where
it was written (lexical scope, as in Excel). Names are bound exactly as the parser spells them;
files write parameters ``_xlpm.x`` both where they are declared and where they are used, so the
binding and the look-up (``Evaluator._name``) agree without stripping the prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.errors import CALC, NAME, VALUE, XLError
from engine.functions.registry import Lazy, call, lookup
from engine.nodes import BadRef, Call, Invoke, Missing, Name
from engine.refs import MultiRef, Ref
from engine.values import BLANK, MISSING, Array, to_number

# Excel writes a built-in function passed where a LAMBDA is expected as ``_xleta.SUM``.
_ETA_PREFIX = "_XLETA."
_MAX_ROWS, _MAX_COLS = 1_048_576, 16_384


@dataclass(frozen=True, slots=True)
class Lambda:
    """A LAMBDA value. ``required`` leading parameters must be given; the rest were written
    ``[name]`` and may be left out (ISOMITTED then sees them as omitted)."""

    params: tuple[str, ...]
    required: int
    body: Any
    scope: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Builtin:
    """A built-in function used as a LAMBDA (``BYROW(A1:C3, _xleta.SUM)``)."""

    name: str


FunctionValue = Lambda | Builtin


def is_function_value(value: Any) -> bool:
    """Whether ``value`` is a function; Excel shows one left uncalled in a cell as #CALC!."""
    return isinstance(value, FunctionValue)


# -- calling -------------------------------------------------------------------------------------
def _scoped(ctx: Any, scope: dict[str, Any] | None) -> Any:
    """The cell's context with exactly ``scope`` visible (a closure does not see its caller)."""
    return type(ctx)(ctx.engine, ctx.sheet, ctx.row, ctx.col, ctx.array_mode, ctx.shape, scope)


def apply(engine: Any, fn: Any, args: list[Any], ctx: Any) -> Any:
    """Call a function value with evaluated arguments (references stay references)."""
    if type(fn) is Lambda:
        if not fn.required <= len(args) <= len(fn.params):
            return VALUE
        names = dict(fn.scope or {})
        names.update(zip(fn.params, args))
        names.update((p, MISSING) for p in fn.params[len(args):])
        return engine.evaluate(fn.body, _scoped(ctx, names))
    if type(fn) is Builtin:
        spec = lookup(fn.name)
        if spec.array_args:
            ctx = ctx.as_array()
        thunked = [(lambda v=v: v) if spec.kind_of(i) is Lazy else v for i, v in enumerate(args)]
        return call(spec, thunked, ctx)
    return fn if type(fn) is XLError else VALUE


def _call_with_nodes(engine: Any, fn: Any, arg_nodes: tuple[Any, ...], ctx: Any) -> Any:
    if type(fn) is XLError:
        return fn
    return apply(engine, fn, [engine.evaluate(a, ctx) for a in arg_nodes], ctx)


def invoke(engine: Any, node: Invoke, ctx: Any) -> Any:
    """``LAMBDA(x,x+1)(2)``: call whatever the target expression evaluates to."""
    return _call_with_nodes(engine, engine.evaluate(node.target, ctx), node.args, ctx)


def call_named(engine: Any, node: Call, ctx: Any) -> Any | None:
    """``MYLAMBDA(1,2)`` where MYLAMBDA is a LET/LAMBDA name or a defined name holding a
    LAMBDA; None when the name is neither, so the caller reports an unknown function."""
    fn = (ctx.scope or {}).get(node.name)
    if fn is None:
        tree = engine.name_tree(node.name, ctx.sheet)
        if tree is None:
            return None
        fn = engine.evaluate(tree, _scoped(ctx, None))
    return _call_with_nodes(engine, fn, node.args, ctx)


def _function_arg(engine: Any, node: Any, ctx: Any) -> Any:
    """The function argument of a helper: a LAMBDA, an eta-reduced built-in, or an error."""
    if type(node) is Name and node.name.startswith(_ETA_PREFIX):
        name = node.name[len(_ETA_PREFIX):]
        return Builtin(name) if lookup(name) is not None else NAME
    fn = engine.evaluate(node, ctx)
    return fn if is_function_value(fn) or type(fn) is XLError else VALUE


# -- values --------------------------------------------------------------------------------------
def _array(value: Any, ctx: Any) -> Array | XLError:
    """An argument as an Array (ranges read, scalars as 1x1)."""
    t = type(value)
    if t is Array:
        return value
    if t is Ref:
        return ctx.deref(value)
    if t is MultiRef or is_function_value(value):
        return VALUE
    return Array([[BLANK if value is MISSING else value]])


def element(value: Any, ctx: Any, empty: Any = BLANK) -> Any:
    """One cell of a helper's result: arrays of arrays do not exist, so a multi-cell result
    is #CALC!, as in Excel; an omitted value becomes ``empty``."""
    t = type(value)
    if t is Ref or t is Array:
        arr = ctx.deref(value) if t is Ref else value
        return arr.top_left() if arr.shape == (1, 1) else CALC
    if t is MultiRef:
        return VALUE
    if value is MISSING:
        return empty
    return CALC if is_function_value(value) else value


# -- special forms ------------------------------------------------------------------------------
def _param_name(node: Any) -> tuple[str, bool] | None:
    """(name, optional) of a declared parameter: ``x`` or ``[x]``; None when not a name."""
    if type(node) is Name and not node.explicit_sheet:
        return node.name, False
    if type(node) is BadRef and node.text.endswith("]"):  # the parser took [x] for a table
        prefix, _, inner = node.text[:-1].partition("[")
        name = (prefix + inner.strip()).upper()
        if prefix.upper() in ("", "_XLPM.") and name.replace("_", "A").replace(".", "A").isalnum():
            return name, True
    return None


def let_(engine: Any, node: Call, ctx: Any) -> Any:
    """LET(name1, value1, [name2, value2, ...], calculation): each value sees the names before
    it; references stay references (``LET(r, A1:A3, ROWS(r))``)."""
    args = node.args
    if len(args) < 3 or len(args) % 2 == 0:
        return VALUE
    for i in range(0, len(args) - 1, 2):
        declared = _param_name(args[i])
        if declared is None or declared[1]:
            return VALUE
        ctx = ctx.bind({declared[0]: engine.evaluate(args[i + 1], ctx)})
    return engine.evaluate(args[-1], ctx)


def lambda_(engine: Any, node: Call, ctx: Any) -> Any:
    """LAMBDA([parameter1, ...], calculation): a closure over the names visible here."""
    if not node.args or type(node.args[-1]) is Missing:
        return VALUE
    declared = [_param_name(a) for a in node.args[:-1]]
    if any(d is None for d in declared):
        return VALUE
    names = [d[0] for d in declared]
    optional = [d[1] for d in declared]
    if len(set(names)) != len(names) or optional != sorted(optional):
        return VALUE  # duplicate names; an optional parameter before a required one
    required = optional.count(False)
    return Lambda(tuple(names), required, node.args[-1], ctx.scope)


def isomitted(engine: Any, node: Call, ctx: Any) -> Any:
    """ISOMITTED(argument): TRUE for a LAMBDA parameter left out of the call."""
    if len(node.args) != 1:
        return VALUE
    return engine.evaluate(node.args[0], ctx) is MISSING


def _helper_args(engine: Any, node: Call, ctx: Any, low: int, high: int
                 ) -> tuple[list[Any], Any] | XLError:
    """(evaluated leading arguments, function) of MAP/REDUCE/...; #VALUE! on a wrong count."""
    if not low <= len(node.args) <= high:
        return VALUE
    fn = _function_arg(engine, node.args[-1], ctx)
    return [engine.evaluate(a, ctx) for a in node.args[:-1]], fn


def _apply_cell(engine: Any, fn: Any, args: list[Any], ctx: Any) -> Any:
    return element(apply(engine, fn, args, ctx), ctx)


def map_(engine: Any, node: Call, ctx: Any) -> Any:
    """MAP(array1, [array2, ...], lambda): the lambda applied to corresponding elements; a
    shorter array runs out as #N/A, a single value is used everywhere."""
    got = _helper_args(engine, node, ctx, 2, 255)
    if type(got) is XLError:
        return got
    values, fn = got
    if type(fn) is XLError:
        return fn
    arrays = [_array(v, ctx) for v in values]
    for a in arrays:
        if type(a) is XLError:
            return a
    nrows = max(a.nrows for a in arrays)
    ncols = max(a.ncols for a in arrays)
    return Array([[_apply_cell(engine, fn, [a.get(r, c) for a in arrays], ctx)
                   for c in range(ncols)] for r in range(nrows)])


def _fold(engine: Any, node: Call, ctx: Any, keep_steps: bool) -> Any:
    """REDUCE and SCAN: the accumulator walks the array row by row."""
    got = _helper_args(engine, node, ctx, 2, 3)
    if type(got) is XLError:
        return got
    values, fn = got
    if type(fn) is XLError:
        return fn
    acc, data = (values if len(values) == 2 else [MISSING, values[0]])
    arr = _array(data, ctx)
    if type(arr) is XLError:
        return arr
    steps = []
    for row in arr.rows:
        out = []
        for v in row:
            acc = apply(engine, fn, [acc, v], ctx)
            if keep_steps:
                out.append(element(acc, ctx))
        steps.append(out)
    return Array(steps) if keep_steps else acc


def reduce_(engine: Any, node: Call, ctx: Any) -> Any:
    """REDUCE([initial_value], array, lambda(accumulator, value))."""
    return _fold(engine, node, ctx, keep_steps=False)


def scan(engine: Any, node: Call, ctx: Any) -> Any:
    """SCAN([initial_value], array, lambda(accumulator, value)): every intermediate value."""
    return _fold(engine, node, ctx, keep_steps=True)


def _by_slices(engine: Any, node: Call, ctx: Any, by_row: bool) -> Any:
    got = _helper_args(engine, node, ctx, 2, 2)
    if type(got) is XLError:
        return got
    (value,), fn = got
    if type(fn) is XLError:
        return fn
    arr = _array(value, ctx)
    if type(arr) is XLError:
        return arr
    if by_row:
        return Array.column([_apply_cell(engine, fn, [Array([row])], ctx) for row in arr.rows])
    return Array.row([_apply_cell(engine, fn, [Array.column(col)], ctx)
                      for col in arr.columns()])


def byrow(engine: Any, node: Call, ctx: Any) -> Any:
    """BYROW(array, lambda(row)): one value per row."""
    return _by_slices(engine, node, ctx, by_row=True)


def bycol(engine: Any, node: Call, ctx: Any) -> Any:
    """BYCOL(array, lambda(column)): one value per column."""
    return _by_slices(engine, node, ctx, by_row=False)


def _dimension(value: Any, limit: int) -> int | XLError:
    """A MAKEARRAY size: a whole number from 1 to the sheet's limit (Excel rejects 2.3)."""
    n = to_number(value)
    if type(n) is XLError:
        return n
    if n != int(n) or not 1 <= n <= limit:
        return VALUE
    return int(n)


def _lift(fn: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    """``fn`` over the elements when a size is an array (``MAKEARRAY(A1:C1, 1, ...)``): each
    result shows its top-left value, as a lifted function's array results do."""
    if type(a) is not Array and type(b) is not Array:
        return fn(a, b)
    arrays = [x for x in (a, b) if type(x) is Array]
    nrows, ncols = max(x.nrows for x in arrays), max(x.ncols for x in arrays)
    pick = [(x.get if type(x) is Array else (lambda r, c, x=x: x)) for x in (a, b)]

    def one(r: int, c: int) -> Any:
        v = fn(pick[0](r, c), pick[1](r, c))
        return v.top_left() if type(v) is Array else v

    return Array([[one(r, c) for c in range(ncols)] for r in range(nrows)])


def makearray(engine: Any, node: Call, ctx: Any) -> Any:
    """MAKEARRAY(rows, columns, lambda(row, column)): an array computed cell by cell."""
    got = _helper_args(engine, node, ctx, 3, 3)
    if type(got) is XLError:
        return got
    (rows, cols), fn = got
    sizes = [ctx.deref(v) if type(v) is Ref and not v.is_cell else v for v in (rows, cols)]
    sizes = [ctx.intersect(v) if type(v) is Ref else v for v in sizes]

    def build(nr: Any, nc: Any) -> Any:
        nr, nc = _dimension(nr, _MAX_ROWS), _dimension(nc, _MAX_COLS)
        for x in (nr, nc, fn):
            if type(x) is XLError:
                return x
        return Array([[_apply_cell(engine, fn, [float(r), float(c)], ctx)
                       for c in range(1, nc + 1)] for r in range(1, nr + 1)])

    return _lift(build, *sizes)


SPECIAL_FORMS: dict[str, Callable[[Any, Call, Any], Any]] = {
    "LET": let_,
    "LAMBDA": lambda_,
    "ISOMITTED": isomitted,
    "MAP": map_,
    "REDUCE": reduce_,
    "SCAN": scan,
    "BYROW": byrow,
    "BYCOL": bycol,
    "MAKEARRAY": makearray,
}

__all__ = ["Builtin", "Lambda", "SPECIAL_FORMS", "apply", "call_named", "invoke",
           "is_function_value"]
