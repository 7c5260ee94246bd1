"""Scalar evaluation of formula trees with Excel's semantics.

Values in flight are scalars, :class:`Array`, or references (:class:`Ref`, :class:`MultiRef`).
References stay references until an operator or a function asks for values, so ``OFFSET``,
``INDEX(...):C5`` and ``SUM(A1:B2 B2:C3)`` work as in Excel. Outside array formulas, a range
where one value is expected is implicitly intersected with the formula's row or column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine import functions as _functions  # noqa: F401  (registers the library)
from engine.errors import DIV0, NAME, NULL, NUM, REF, VALUE, XLError
from engine.functions.grouping import SPECIAL_FORMS as _GROUPING_FORMS
from engine.functions.registry import Arr, Lazy, call, lookup
from engine.lambdas import SPECIAL_FORMS as _LAMBDA_FORMS
from engine.lambdas import call_named, invoke
from engine.nodes import (
    ArrayLiteral,
    BadRef,
    Binary,
    Call,
    Invoke,
    Literal,
    Missing,
    Name,
    Percent,
    RefNode,
    Unary,
    Union,
)
from engine.refs import MAX_COL, MAX_ROW, MultiRef, Ref
from engine.values import (
    BLANK,
    MISSING,
    Array,
    compare,
    finite,
    to_number,
    to_text,
)


def _power(a: float, b: float) -> float | XLError:
    if a == 0:
        if b == 0:
            return NUM
        if b < 0:
            return DIV0
    try:
        r = a ** b
    except OverflowError:
        return NUM
    except ZeroDivisionError:
        return DIV0
    if isinstance(r, complex):
        return NUM
    return finite(r)


_ARITH: dict[str, Callable[[float, float], Any]] = {
    "+": lambda a, b: finite(a + b),
    "-": lambda a, b: finite(a - b),
    "*": lambda a, b: finite(a * b),
    "/": lambda a, b: DIV0 if b == 0 else finite(a / b),
    "^": _power,
}
_COMPARE: dict[str, Callable[[int], bool]] = {
    "=": lambda c: c == 0, "<>": lambda c: c != 0, "<": lambda c: c < 0,
    ">": lambda c: c > 0, "<=": lambda c: c <= 0, ">=": lambda c: c >= 0,
}


def _arith(op: Callable[[float, float], Any], a: Any, b: Any) -> Any:
    x = to_number(a)
    if type(x) is XLError:
        return x
    y = to_number(b)
    if type(y) is XLError:
        return y
    return op(x, y)


def _concat(a: Any, b: Any) -> Any:
    x = to_text(a)
    if type(x) is XLError:
        return x
    y = to_text(b)
    if type(y) is XLError:
        return y
    return x + y


def elementwise(fn: Callable[..., Any], *args: Any) -> Any:
    """Apply a scalar ``fn`` over scalars or Arrays, broadcasting as Excel does."""
    arrays = [a for a in args if type(a) is Array]
    if not arrays:
        return fn(*args)
    nrows = max(a.nrows for a in arrays)
    ncols = max(a.ncols for a in arrays)
    return Array([[fn(*[a.get(r, c) if type(a) is Array else a for a in args])
                   for c in range(ncols)] for r in range(nrows)])


AREA_CACHE_MIN_CELLS = 32  # smaller areas are cheaper to read again than to keep
AREA_CACHE_MAX_CELLS = 20_000_000


class CellContext:
    """What functions see while one cell is computed (registry.Context)."""

    __slots__ = ("engine", "sheet", "row", "col", "array_mode", "shape", "scope")

    def __init__(self, engine: Evaluator, sheet: str, row: int, col: int, array_mode: bool,
                 shape: tuple[int, int] | None = None, scope: dict[str, Any] | None = None):
        self.engine = engine
        self.sheet, self.row, self.col, self.array_mode = sheet, row, col, array_mode
        self.shape = shape  # (rows, columns) of the array formula's range
        self.scope = scope  # names bound by LET and LAMBDA parameters (upper case)

    def as_array(self) -> CellContext:
        """This cell's context with array evaluation on (arguments of SUMPRODUCT and kin)."""
        if self.array_mode:
            return self
        return CellContext(self.engine, self.sheet, self.row, self.col, True, self.shape,
                           self.scope)

    def bind(self, names: dict[str, Any]) -> CellContext:
        """A context in which ``names`` (upper case) hold the given values (LET, LAMBDA)."""
        scope = dict(self.scope or {})
        scope.update(names)
        return CellContext(self.engine, self.sheet, self.row, self.col, self.array_mode,
                           self.shape, scope)

    def deref(self, ref: Ref) -> Array:
        return self.engine.read_area(ref)

    def intersect(self, ref: Ref) -> Any:
        if ref.is_cell:
            return self.engine.cell_value(ref.sheet, ref.r1, ref.c1)
        if ref.c1 == ref.c2 and ref.r1 <= self.row <= ref.r2:
            return self.engine.cell_value(ref.sheet, self.row, ref.c1)
        if ref.r1 == ref.r2 and ref.c1 <= self.col <= ref.c2:
            return self.engine.cell_value(ref.sheet, ref.r1, self.col)
        return VALUE

    def resolve_reference(self, text: str, a1: bool = True) -> Ref | MultiRef | XLError:
        return self.engine.resolve_reference(text, self.sheet, self.row, self.col, a1)

    def sheet_extent(self, sheet: str) -> tuple[int, int]:
        return self.engine.workbook.extent(sheet)

    def now(self) -> float:
        return self.engine.now()

    def warn(self, message: str) -> None:
        self.engine.warn(f"{self.sheet}!{self.col}{self.row}: {message}")

    def is_formula(self, ref: Ref) -> bool:
        """Whether the top-left cell of ``ref`` holds a formula (ISFORMULA)."""
        return (ref.sheet, ref.r1, ref.c1) in self.engine.workbook.formulas

    @property
    def sheet_names(self) -> list[str]:
        return self.engine.workbook.sheets


class Evaluator:
    """Evaluates formula trees against a :class:`~engine.workbook.Workbook`.

    ``compute_cell`` is the hook for cells whose value is not known yet when read (references
    built at run time by OFFSET or INDIRECT); the calculation order normally makes it unused.
    """

    def __init__(self, workbook: Any, compute_cell: Callable[[str, int, int], Any] | None = None,
                 now: Callable[[], float] | None = None):
        self.workbook = workbook
        self.compute_cell = compute_cell
        self._now = now
        self._now_value: float | None = None
        self.name_trees: dict[tuple[str | None, str], Any] = {}
        self.warnings: list[str] = []
        # Values of large areas, once read. Safe while cells only change before anything reads
        # them (calculation order); the calculation switches it off (None) around cycles.
        self.area_cache: dict[Ref, Array] | None = None
        self._cached_cells = 0
        self._dispatch: dict[type, Callable[[Any, CellContext], Any]] = {
            Literal: lambda n, ctx: n.value,
            RefNode: lambda n, ctx: n.at(ctx.row, ctx.col) or REF,
            BadRef: lambda n, ctx: n.error,
            Missing: lambda n, ctx: MISSING,
            ArrayLiteral: lambda n, ctx: Array([list(r) for r in n.rows]),
            Name: self._name,
            Unary: self._unary,
            Percent: self._percent,
            Binary: self._binary,
            Call: self._call,
            Union: self._union,
            Invoke: lambda n, ctx: invoke(self, n, ctx),
        }

    # -- workbook access ---------------------------------------------------------------------
    def cell_value(self, sheet: str, row: int, col: int) -> Any:
        values = self.workbook.values.get(sheet)
        if values is None:
            return REF if sheet not in self.workbook.sheets else BLANK
        v = values.get((row, col))
        if v is None:
            if self.compute_cell is not None and (sheet, row, col) in self.workbook.formulas:
                return self.compute_cell(sheet, row, col)
            return BLANK
        return v

    def read_area(self, ref: Ref) -> Array:
        """Values of an area, clipped to the sheet's used extent (A:A is not a million cells)."""
        cache = self.area_cache
        if cache is not None:
            hit = cache.get(ref)
            if hit is not None:
                return hit
        area = self._read_area(ref)
        size = area.nrows * area.ncols
        if cache is not None and size >= AREA_CACHE_MIN_CELLS \
                and self._cached_cells + size <= AREA_CACHE_MAX_CELLS:
            cache[ref] = area
            self._cached_cells += size
        return area

    def reset_area_cache(self, enabled: bool) -> None:
        self.area_cache = {} if enabled else None
        self._cached_cells = 0

    def _read_area(self, ref: Ref) -> Array:
        """Whole columns and rows stop at the sheet's used extent; other areas keep their shape
        (COUNTBLANK(A1:C2) counts six cells)."""
        r2, c2 = ref.r2, ref.c2
        if r2 == MAX_ROW or c2 == MAX_COL:
            last_row, last_col = self.workbook.extent(ref.sheet)
            if r2 == MAX_ROW:
                r2 = max(min(r2, last_row), ref.r1)
            if c2 == MAX_COL:
                c2 = max(min(c2, last_col), ref.c1)
        values = self.workbook.values.get(ref.sheet, {})
        formulas = self.workbook.formulas
        compute = self.compute_cell
        rows = []
        for r in range(ref.r1, r2 + 1):
            row = []
            for c in range(ref.c1, c2 + 1):
                v = values.get((r, c))
                if v is None:
                    if compute is not None and (ref.sheet, r, c) in formulas:
                        v = compute(ref.sheet, r, c)
                    else:
                        v = BLANK
                row.append(v)
            rows.append(row)
        return Array(rows)

    def now(self) -> float:
        if self._now_value is None:
            if self._now is not None:
                self._now_value = self._now()
            else:
                import datetime as dt

                from engine.datetimes import datetime_to_serial
                self._now_value = datetime_to_serial(dt.datetime.now())
        return self._now_value

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def resolve_reference(self, text: str, sheet: str, row: int, col: int,
                          a1: bool = True) -> Ref | MultiRef | XLError:
        """INDIRECT's reading of reference text: an address or a defined name."""
        from engine.refs_text import resolve_reference_text

        return resolve_reference_text(self, text, sheet, row, col, a1)

    # -- evaluation --------------------------------------------------------------------------
    def evaluate(self, node: Any, ctx: CellContext) -> Any:
        return self._dispatch[type(node)](node, ctx)

    def value(self, node: Any, ctx: CellContext) -> Any:
        """A node's value for an operator: references read (intersected outside arrays)."""
        v = self._dispatch[type(node)](node, ctx)
        t = type(v)
        if t is Ref:
            if ctx.array_mode and not v.is_cell:
                return self.read_area(v)
            return ctx.intersect(v)
        if t is MultiRef:
            return VALUE
        if v is MISSING:
            return BLANK
        return v

    def _name(self, node: Name, ctx: CellContext) -> Any:
        if ctx.scope is not None and not node.explicit_sheet:
            bound = ctx.scope.get(node.name)
            if bound is not None:
                return bound
        tree = self.name_tree(node.name, node.sheet, node.explicit_sheet)
        if tree is None:
            self.warn(f"unknown name {node.name}")
            return NAME
        return self.evaluate(tree, ctx)

    def name_tree(self, name: str, sheet: str | None, explicit: bool = False) -> Any:
        from engine.parser import parse

        for key in ((sheet, name), (None, name)):
            if explicit and key[0] is None and sheet is not None:
                continue
            if key in self.name_trees:
                return self.name_trees[key]
            text = self.workbook.names.get(key)
            if text is not None:
                try:
                    tree = parse(text, key[0] or self.workbook.sheets[0],
                                 sheet_names=tuple(self.workbook.sheets))
                except Exception:  # noqa: BLE001 - a broken name is #NAME?, reported below
                    self.warn(f"cannot read the definition of name {name}: {text}")
                    tree = Literal(NAME)
                self.name_trees[key] = tree
                return tree
        return None

    def _unary(self, node: Unary, ctx: CellContext) -> Any:
        v = self.value(node.operand, ctx)
        if node.op == "+":
            return v
        return elementwise(_negate, v)

    def _percent(self, node: Percent, ctx: CellContext) -> Any:
        return elementwise(_percent, self.value(node.operand, ctx))

    def _binary(self, node: Binary, ctx: CellContext) -> Any:
        op = node.op
        if op == ":" or op == " ":
            return self._reference_op(node, ctx)
        left = self.value(node.left, ctx)
        right = self.value(node.right, ctx)
        fn = _ARITH.get(op)
        if fn is not None:
            return elementwise(lambda a, b: _arith(fn, a, b), left, right)
        if op == "&":
            return elementwise(_concat, left, right)
        test = _COMPARE[op]

        def cmp(a: Any, b: Any) -> Any:
            c = compare(a, b)
            return c if type(c) is XLError else test(c)

        return elementwise(cmp, left, right)

    def _reference_op(self, node: Binary, ctx: CellContext) -> Any:
        left = self.evaluate(node.left, ctx)
        right = self.evaluate(node.right, ctx)
        for side in (left, right):
            if type(side) is XLError:
                return side
        if node.op == " " and MultiRef in (type(left), type(right)):
            lefts = left.areas if type(left) is MultiRef else (left,)
            rights = right.areas if type(right) is MultiRef else (right,)
            if not all(type(a) is Ref for a in lefts + rights):
                return VALUE
            parts = [p for a in lefts for b in rights if (p := a.intersect(b)) is not None]
            if not parts:
                return NULL
            return parts[0] if len(parts) == 1 else MultiRef(tuple(parts))
        if type(left) is not Ref or type(right) is not Ref:
            return VALUE
        if node.op == ":":
            return left.span(right) or REF
        return left.intersect(right) or NULL

    def _union(self, node: Union, ctx: CellContext) -> Any:
        areas: list[Ref] = []
        for item in node.items:
            v = self.evaluate(item, ctx)
            if type(v) is Ref:
                areas.append(v)
            elif type(v) is MultiRef:
                areas.extend(v.areas)
            elif type(v) is XLError:
                return v
            else:
                return VALUE
        return MultiRef(tuple(areas))

    def _call(self, node: Call, ctx: CellContext) -> Any:
        special = SPECIAL_FORMS.get(node.name)
        if special is not None:
            return special(self, node, ctx)
        spec = lookup(node.name)
        if spec is None:
            result = call_named(self, node, ctx)  # a LAMBDA in a defined or LET name
            if result is not None:
                return result
            self.warn(f"unsupported function {node.name}")
            return NAME
        if spec.array_args:
            ctx = ctx.as_array()
        args: list[Any] = []
        for i, arg in enumerate(node.args):
            kind = spec.kind_of(i)
            if kind is Lazy:
                args.append(_thunk(self, arg, ctx))
                continue
            v = self.evaluate(arg, ctx)
            if type(v) is MultiRef and kind is Arr and i >= len(spec.kinds):
                args.extend(v.areas)
            else:
                args.append(v)
        return call(spec, args, ctx)


def _thunk(engine: Evaluator, node: Any, ctx: CellContext) -> Callable[[], Any]:
    return lambda: engine.evaluate(node, ctx)


def _negate(a: Any) -> Any:
    x = to_number(a)
    return x if type(x) is XLError else (-x if x else 0.0)


def _percent(a: Any) -> Any:
    x = to_number(a)
    return x if type(x) is XLError else x / 100.0


def _single(engine: Evaluator, node: Call, ctx: CellContext) -> Any:
    """``@`` / SINGLE: implicit intersection of a reference, first element of an array."""
    if len(node.args) != 1:
        return VALUE
    v = engine.evaluate(node.args[0], ctx)
    if type(v) is Ref:
        return ctx.intersect(v)
    if type(v) is Array:
        return v.top_left()
    return v


def _anchorarray(engine: Evaluator, node: Call, ctx: CellContext) -> Any:
    """``A1#``: the spill range of a dynamic-array formula anchored at A1."""
    if len(node.args) != 1:
        return VALUE
    v = engine.evaluate(node.args[0], ctx)
    if type(v) is not Ref:
        return REF
    cell = engine.workbook.formulas.get((v.sheet, v.r1, v.c1))
    if cell is None or cell.array is None:
        return REF
    return cell.array


SPECIAL_FORMS: dict[str, Callable[[Evaluator, Call, CellContext], Any]] = {
    "SINGLE": _single,
    "ANCHORARRAY": _anchorarray,
    **_LAMBDA_FORMS,
    **_GROUPING_FORMS,
}

__all__ = ["SPECIAL_FORMS", "CellContext", "Evaluator", "elementwise"]
