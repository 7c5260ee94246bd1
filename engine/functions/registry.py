"""The function table and the calling convention shared by every Excel function module.

A function is a plain Python function whose parameter annotations say how Excel passes each
argument. The evaluator reads that once at registration, so each module states Excel's argument
rules declaratively instead of coercing by hand:

* ``Num``, ``Text``, ``Bool``: a scalar coerced as Excel does; an error argument is the result.
  When an array arrives the function is applied element by element (Excel's array evaluation).
* ``Scalar``: a scalar as is (number, text, bool, BLANK); errors propagate; lifted over arrays.
* ``Value``: a scalar as is, errors included (ISERROR, IFERROR); lifted over arrays.
* ``Arr``: a whole range or array as :class:`~engine.values.Array`, or a scalar typed as the
  argument; never lifted, errors not propagated (aggregates decide for themselves).
* ``RefArg``: a :class:`~engine.refs.Ref` / ``MultiRef`` when the argument is a reference,
  otherwise its value (OFFSET, ROW, SUMIF's ranges, INDEX returning a reference).
* ``Lazy``: a thunk, evaluated only when the function asks (IF, IFERROR, CHOOSE).
* ``Context``: the evaluation context (current cell, workbook access); not an Excel argument.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.errors import NUM, VALUE, XLError
from engine.refs import MultiRef, Ref
from engine.values import BLANK, MISSING, Array, to_bool, to_number, to_text


class Num(float):
    """Annotation: a number argument."""


class Text(str):
    """Annotation: a text argument."""


class Bool(int):
    """Annotation: a logical argument."""


class Scalar:
    """Annotation: any scalar; errors propagate."""


class Value:
    """Annotation: any scalar, errors included."""


class Arr:
    """Annotation: an array or range (as Array), or a scalar typed directly."""


class RefArg:
    """Annotation: a reference when one is given, else the value."""


class Lazy:
    """Annotation: a thunk returning the argument's value when called."""


class Context(Protocol):
    """What a function may ask of the evaluator."""

    sheet: str
    row: int
    col: int
    array_mode: bool

    def deref(self, ref: Ref) -> Array: ...

    def intersect(self, ref: Ref) -> Any: ...

    def resolve_reference(self, text: str, a1: bool = True) -> Ref | MultiRef | XLError: ...

    def sheet_extent(self, sheet: str) -> tuple[int, int]: ...

    def now(self) -> float: ...

    def warn(self, message: str) -> None: ...

    def is_formula(self, ref: Ref) -> bool: ...

    @property
    def sheet_names(self) -> list[str]: ...


# Functions whose arguments Excel evaluates as arrays even in an ordinary (non-CSE) formula:
# ``SUMPRODUCT((A1:A9>5)*B1:B9)`` and ``LOOKUP(2,1/(A1:A9="x"),B1:B9)`` need no Ctrl+Shift+Enter.
ARRAY_ARGUMENT_FUNCTIONS = frozenset({
    "SUMPRODUCT", "LOOKUP", "MATCH", "XMATCH", "XLOOKUP", "INDEX", "MMULT", "MDETERM",
    "MINVERSE", "TRANSPOSE", "FREQUENCY", "SUMX2MY2", "SUMX2PY2", "SUMXMY2", "TREND", "GROWTH",
    "LINEST", "LOGEST", "CORREL", "PEARSON", "RSQ", "SLOPE", "INTERCEPT", "STEYX", "COVAR",
    "COVARIANCE.P", "COVARIANCE.S", "FORECAST", "FORECAST.LINEAR", "PROB", "T.TEST", "TTEST",
    "F.TEST", "FTEST", "CHISQ.TEST", "CHITEST", "SORT", "SORTBY", "FILTER", "UNIQUE",
})

STRETCHED = frozenset({"ISBLANK", "ISERR", "ISERROR", "ISLOGICAL", "ISNA", "ISNONTEXT",
                       "ISNUMBER", "ISTEXT", "ISREF", "ISFORMULA", "N", "T"})

_COERCE: dict[type, Callable[[Any], Any]] = {Num: to_number, Text: to_text, Bool: to_bool}
_MISSING_AS: dict[type, Any] = {Num: 0.0, Text: "", Bool: False, Scalar: BLANK, Value: BLANK}
LIFTED = (Num, Text, Bool, Scalar, Value)


@dataclass
class FunctionSpec:
    """How to call one Excel function."""

    name: str
    impl: Callable[..., Any]
    kinds: list[type]
    defaults: list[Any]
    var_kind: type | None
    wants_context: bool
    volatile: bool = False
    min_args: int = 0
    lazy: bool = field(init=False)
    array_args: bool = field(init=False)

    def __post_init__(self) -> None:
        self.lazy = Lazy in self.kinds or self.var_kind is Lazy
        self.min_args = sum(1 for d in self.defaults if d is inspect.Parameter.empty)
        self.array_args = self.name in ARRAY_ARGUMENT_FUNCTIONS

    @property
    def max_args(self) -> float:
        return math.inf if self.var_kind is not None else len(self.kinds)

    def kind_of(self, position: int) -> type:
        if position < len(self.kinds):
            return self.kinds[position]
        return self.var_kind or Value


FUNCTIONS: dict[str, FunctionSpec] = {}


def excel_function(*names: str, volatile: bool = False) -> Callable[[Callable], Callable]:
    """Register ``impl`` under each Excel name (upper case, without ``_xlfn.``)."""

    def register(impl: Callable) -> Callable:
        sig = inspect.signature(impl)
        kinds: list[type] = []
        defaults: list[Any] = []
        var_kind = None
        wants_context = False
        for p in sig.parameters.values():
            ann = p.annotation
            if isinstance(ann, str):
                ann = _ANNOTATIONS[ann]
            if ann is Context:
                wants_context = True
                continue
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                var_kind = ann
            else:
                kinds.append(ann)
                defaults.append(p.default)
        for name in names:
            FUNCTIONS[name.upper()] = FunctionSpec(name.upper(), impl, kinds, defaults, var_kind,
                                                   wants_context, volatile)
        return impl

    return register


_ANNOTATIONS = {c.__name__: c for c in (Num, Text, Bool, Scalar, Value, Arr, RefArg, Lazy,
                                        Context)}


def normalize(result: Any) -> Any:
    """Results in the engine's value model: floats, never NaN or infinity."""
    t = type(result)
    if t is float:
        if result != result or result in (math.inf, -math.inf):
            return NUM
        return result
    if t is int:
        return float(result)
    if result is None:
        return BLANK
    return result


def _convert(kind: type, value: Any, ctx: Context) -> Any:
    """One argument in the form ``kind`` asks for (before lifting)."""
    if isinstance(value, (Ref, MultiRef)):
        if kind is RefArg or kind is Lazy:
            return value
        if isinstance(value, MultiRef):
            return VALUE if kind in LIFTED else value
        scalar = kind in LIFTED and (not ctx.array_mode or value.is_cell)
        value = ctx.intersect(value) if scalar else ctx.deref(value)
    if value is MISSING and kind in _MISSING_AS:
        return _MISSING_AS[kind]
    return value


def _scalar_arg(kind: type, value: Any) -> Any:
    coerce = _COERCE.get(kind)
    if coerce is not None:
        return coerce(value)
    if kind is Scalar and type(value) is Array:
        return value.top_left()
    return value


def call(spec: FunctionSpec, args: list[Any], ctx: Context) -> Any:
    """Apply ``spec`` to evaluated arguments (thunks for Lazy parameters)."""
    if not spec.min_args <= len(args) <= spec.max_args:
        return VALUE
    kinds = [spec.kind_of(i) for i in range(len(args))]
    converted = [_convert(k, a, ctx) for k, a in zip(kinds, args)]
    lifted = [i for i, (k, a) in enumerate(zip(kinds, converted))
              if k in LIFTED and type(a) is Array]
    if lifted:
        return _lifted_call(spec, kinds, converted, lifted, ctx)
    return _scalar_call(spec, kinds, converted, ctx)


def _scalar_call(spec: FunctionSpec, kinds: list[type], args: list[Any], ctx: Context) -> Any:
    final = []
    for k, a in zip(kinds, args):
        if k in LIFTED:
            a = _scalar_arg(k, a)
            if type(a) is XLError and k is not Value:
                return a
        final.append(a)
    try:
        result = spec.impl(ctx, *final) if spec.wants_context else spec.impl(*final)
    except ZeroDivisionError:
        return XLError("#DIV/0!")
    except (OverflowError, ValueError):
        return NUM
    return normalize(result)


def _lifted_call(spec: FunctionSpec, kinds: list[type], args: list[Any], lifted: list[int],
                 ctx: Context) -> Array:
    """Element-wise application. For the IS functions, N and T in an array formula the arguments
    are first stretched to the formula's range, so cells past a short argument see #N/A
    (``{=ISNA(A1:A2)}`` over three cells gives TRUE in the third), as Excel does; other results
    run short and the spill pads them with #N/A."""
    nrows = max(args[i].nrows for i in lifted)
    ncols = max(args[i].ncols for i in lifted)
    shape = getattr(ctx, "shape", None)
    if ctx.array_mode and shape is not None and spec.name in STRETCHED:
        nrows, ncols = max(nrows, shape[0]), max(ncols, shape[1])
    rows = []
    for r in range(nrows):
        row = []
        for c in range(ncols):
            element = list(args)
            for i in lifted:
                element[i] = args[i].get(r, c)
            value = _scalar_call(spec, kinds, element, ctx)
            row.append(value.top_left() if type(value) is Array else value)
        rows.append(row)
    return Array(rows)


def lookup(name: str) -> FunctionSpec | None:
    return FUNCTIONS.get(name.upper())


__all__ = ["Arr", "Bool", "Context", "FUNCTIONS", "FunctionSpec", "Lazy", "Num", "RefArg",
           "Scalar", "Text", "Value", "call", "excel_function", "lookup", "normalize"]
