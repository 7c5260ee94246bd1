"""GROUPBY, PIVOTBY and TRIMRANGE: Excel 365's formula summaries and range trimming.

GROUPBY and PIVOTBY are special forms because their ``function`` argument is written
``_xleta.SUM`` (an eta-reduced built-in the evaluator could not look up as a name) or a LAMBDA.
Both share one engine: data rows are keyed by their row (and column) fields, the keys are
arranged into a hierarchy of groups with optional subtotals and grand totals, and each output
cell applies the function to the values of the data rows under its row and column entries.
An entry is (level, key prefix): a leaf has the full key, a subtotal a shorter prefix, the
grand total the empty prefix.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine import lambdas as _lambdas
from engine.errors import CALC, REF, VALUE, XLError
from engine.functions.registry import Arr, Context, RefArg, excel_function, lookup
from engine.nodes import Call, Name
from engine.refs import MultiRef, Ref
from engine.values import BLANK, MISSING, Array, is_number, to_bool, to_number

_ETA_PREFIX = "_XLETA."
# An empty output cell. Excel leaves these cells empty, while the spill shows a BLANK element
# as 0 (right for ``=A1:A3``), so they are empty text until the value model has a spilled empty.
_EMPTY = ""
Entry = tuple[int, tuple]  # (level, normalized key prefix)


# -- arguments -----------------------------------------------------------------------------------
def _function_arg(engine: Any, node: Any, ctx: Any) -> Any:
    """The aggregation: ``_xleta.NAME``, a LAMBDA, or the error a cell holding it shows."""
    if type(node) is Name and node.name.startswith(_ETA_PREFIX):
        name = node.name[len(_ETA_PREFIX):]
        return _lambdas.Builtin(name) if lookup(name) is not None else XLError("#NAME?")
    fn = engine.evaluate(node, ctx)
    if type(fn) is Ref:
        fn = ctx.deref(fn).top_left()
    return fn if _lambdas.is_function_value(fn) or type(fn) is XLError else VALUE


def _array_arg(engine: Any, node: Any, ctx: Any) -> Array | XLError | None:
    """A data argument as an Array; None when omitted."""
    v = engine.evaluate(node, ctx)
    t = type(v)
    if v is MISSING:
        return None
    if t is Ref:
        return ctx.deref(v)
    if t is Array or t is XLError:
        return v
    if t is MultiRef or _lambdas.is_function_value(v):
        return VALUE
    return Array([[v]])


def _int_arg(engine: Any, node: Any, ctx: Any, default: int) -> int | XLError:
    """A whole-number option; fractions are truncated, as Excel's integer arguments are."""
    got = _array_arg(engine, node, ctx)
    if got is None or type(got) is XLError:
        return default if got is None else got
    v = got.top_left()
    if v is BLANK:
        return default
    n = to_number(v)
    return n if type(n) is XLError else int(n)


def _sort_arg(engine: Any, node: Any, ctx: Any, nfields: int, nvalues: int
              ) -> list[int] | XLError:
    """Sort keys: +/-k for field or value column k (1-based, fields first); 0 or out of range
    is #VALUE!."""
    got = None if node is None else _array_arg(engine, node, ctx)
    if got is None:
        return []
    if type(got) is XLError:
        return got
    keys = []
    for v in got.flat():
        n = to_number(v)
        if type(n) is XLError:
            return n
        k = int(n)
        if k == 0 or abs(k) > nfields + nvalues:
            return VALUE
        keys.append(k)
    return keys


# -- keys and ordering ---------------------------------------------------------------------------
def _norm(v: Any) -> tuple:
    """Grouping identity: text ignores case, as Excel's grouping does."""
    t = type(v)
    if t is str:
        return (1, v.lower())
    if t is bool:
        return (2, v)
    if t is float or t is int:
        return (0, float(v))
    if t is XLError:
        return (4, v.code)
    return (3, "")


def _order(a: Any, b: Any) -> int:
    """Ascending order of keys and results: numbers, text, logicals, blanks, errors."""
    ka, kb = _norm(a), _norm(b)
    return (ka > kb) - (ka < kb)


def _sorted(items: list[Any], key: Callable[[Any], Any], descending: bool) -> list[Any]:
    cmp = functools.cmp_to_key(lambda x, y: _order(key(x), key(y)))
    return sorted(items, key=cmp, reverse=descending)


@dataclass
class _Axis:
    """The groups along one direction of the output."""

    keys: list[tuple]  # normalized full key of each data row
    shown: dict[tuple, tuple]  # normalized prefix -> displayed prefix (first occurrence)
    nfields: int
    names: list[Any]

    def label(self, prefix: tuple, i: int) -> Any:
        """Field ``i`` of a group as first written (groups ignore case: "North" ~ "north")."""
        v = self.shown[prefix[:i + 1]][i]
        return _EMPTY if v is BLANK else v


def _axis(fields: Array, names: list[Any]) -> _Axis:
    keys, shown = [], {}
    for row in fields.rows:
        key = tuple(_norm(v) for v in row)
        keys.append(key)
        for i in range(len(key) + 1):
            shown.setdefault(key[:i], tuple(row[:i]))
    return _Axis(keys, shown, fields.ncols, names)


def _arrange(axis: _Axis, depth: int, sort: list[int], table: bool,
             leaf_value: Callable[[tuple, int], Any]) -> list[Entry] | XLError:
    """Entries in output order. ``sort`` keys past the fields sort by the aggregated value
    column; in a hierarchy they order the innermost level within its parent (upper levels keep
    ascending keys, as Excel's output shows)."""
    n = axis.nfields
    if abs(depth) > max(n, 1) or (table and abs(depth) > 1):
        return VALUE
    leaves = list(dict.fromkeys(axis.keys))

    def arrange_level(group: list[tuple], level: int) -> list[Entry]:
        if level == n:
            return [(n, group[0])]
        children: dict[tuple, list[tuple]] = {}
        for leaf in group:
            children.setdefault(leaf[:level + 1], []).append(leaf)
        order = _apply_sort(list(children), level, level == n - 1, sort, n, axis, leaf_value)
        out: list[Entry] = []
        for prefix in order:
            inner = arrange_level(children[prefix], level + 1)
            if level + 1 < min(abs(depth), n):
                total = (level + 1, prefix)
                inner = [total, *inner] if depth < 0 else [*inner, total]
            out.extend(inner)
        return out

    if table:
        entries = [(n, k) for k in _apply_sort(leaves, None, True, sort, n, axis, leaf_value)]
    else:
        entries = arrange_level(leaves, 0) if leaves else []
    if depth:
        entries = [(0, ()), *entries] if depth < 0 else [*entries, (0, ())]
    return entries


def _apply_sort(prefixes: list[tuple], level: int | None, innermost: bool, sort: list[int],
                nfields: int, axis: _Axis, leaf_value: Callable[[tuple, int], Any]
                ) -> list[tuple]:
    """Order sibling groups at ``level`` (None: whole keys, for the table layout): ascending
    keys first, then each sort key from the last to the first (stable sorts)."""
    fields = range(nfields) if level is None else [level]
    out = prefixes
    for i in reversed(fields):
        out = _sorted(out, lambda p, i=i: axis.label(p, i), False)
    for k in reversed(sort):
        col = abs(k) - 1
        if col >= nfields:
            if innermost:
                out = _sorted(out, lambda p, j=col - nfields: leaf_value(p, j), k < 0)
        elif level is None or col == level:
            out = _sorted(out, lambda p, i=col: axis.label(p, i), k < 0)
    return out


# -- aggregation ---------------------------------------------------------------------------------
def _takes_two(fn: Any) -> bool:
    """Whether the function receives the comparison set too (PERCENTOF, 2-parameter LAMBDAs)."""
    if type(fn) is _lambdas.Lambda:
        return len(fn.params) >= 2
    spec = lookup(fn.name)
    return spec.min_args == 2 and spec.max_args == 2


def _cell(value: Any, ctx: Any) -> Any:
    """One output cell: a multi-cell result is #CALC!, as for the LAMBDA helpers."""
    return _lambdas.element(value, ctx, empty=_EMPTY)


class _Aggregator:
    """Applies the function to the data rows under (row prefix, column prefix), memoized."""

    def __init__(self, engine: Any, ctx: Any, fn: Any, values: Array, rows: _Axis,
                 cols: _Axis | None):
        self.engine, self.ctx, self.fn, self.values = engine, ctx, fn, values
        self.two = _takes_two(fn)
        self.index: dict[tuple, list[int]] = {}
        col_keys = cols.keys if cols else [()] * len(rows.keys)
        for i, (rk, ck) in enumerate(zip(rows.keys, col_keys)):
            for a in range(len(rk) + 1):
                for b in range(len(ck) + 1):
                    self.index.setdefault((rk[:a], ck[:b]), []).append(i)
        self.memo: dict[tuple, Any] = {}

    def __call__(self, rp: tuple, cp: tuple, j: int, relative: tuple | None = None) -> Any:
        relative = relative or ((), ())
        key = (rp, cp, j, relative)
        if key not in self.memo:
            self.memo[key] = self._compute(rp, cp, j, relative)
        return self.memo[key]

    def _column(self, rp: tuple, cp: tuple, j: int) -> Array:
        return Array.column([self.values.rows[i][j] for i in self.index.get((rp, cp), [])])

    def _compute(self, rp: tuple, cp: tuple, j: int, relative: tuple) -> Any:
        if (rp, cp) not in self.index:
            return _EMPTY
        args = [self._column(rp, cp, j)]
        if self.two:
            args.append(self._column(*relative, j))
        return _cell(_lambdas.apply(self.engine, self.fn, args, self.ctx), self.ctx)


# -- shared argument handling -------------------------------------------------------------------
@dataclass
class _Data:
    fields: list[Array]  # row fields, then column fields (PIVOTBY)
    values: Array
    names: list[list[Any]]  # header names of each field array, then of the values
    shown: bool


def _headers_present(mode: int, values: Array) -> bool:
    """Automatic detection (mode -1): text over a number in the first values column."""
    if mode == -1:
        col = [row[0] for row in values.rows[:2]]
        return len(col) == 2 and type(col[0]) is str and is_number(col[1])
    return mode in (1, 3)


def _prepare(fields: list[Array], values: Array, mode: int, filt: Array | None
             ) -> _Data | XLError:
    """Checks shapes, strips header rows, generates names and applies the filter."""
    if mode not in (-1, 0, 1, 2, 3):
        return VALUE
    n = values.nrows
    if any(f.nrows != n for f in fields) or (filt is not None and filt.nrows != n):
        return VALUE
    arrays = [*fields, values]
    if _headers_present(mode, values):
        names = [list(a.rows[0]) for a in arrays]
        arrays = [Array(a.rows[1:]) for a in arrays]
        filt = Array(filt.rows[1:]) if filt is not None else None
    else:  # mode 2's names are a guess at Excel's wording (no oracle case)
        labels = ["Row Field", "Col Field"][:len(fields)] + ["Value"]
        names = [[f"{lab} {i + 1}" for i in range(a.ncols)] for lab, a in zip(labels, arrays)]
    if filt is not None:
        keep = []
        for row in filt.rows:
            flag = to_bool(row[0])  # a 2-D filter: Excel reads its first column
            if type(flag) is XLError:
                return flag
            keep.append(flag)
        arrays = [Array([r for r, k in zip(a.rows, keep) if k]) for a in arrays]
    return _Data(arrays[:-1], arrays[-1], names, mode in (2, 3))


def _labels(axis: _Axis, entry: Entry, grand: str) -> list[Any]:
    """The header cells of one entry: its key, blanks below a subtotal, or the total label."""
    level, prefix = entry
    if level == 0:
        return [grand] + [_EMPTY] * (axis.nfields - 1)
    return [axis.label(prefix, i) for i in range(level)] + [_EMPTY] * (axis.nfields - level)


def _grand_label(depth: int, nfields: int) -> str:
    return "Grand Total" if abs(depth) > 1 and nfields > 1 else "Total"


# -- GROUPBY ------------------------------------------------------------------------------------
def groupby(engine: Any, node: Call, ctx: Any) -> Any:
    """GROUPBY(row_fields, values, function, [field_headers], [total_depth], [sort_order],
    [filter_array], [field_relationship])."""
    if not 3 <= len(node.args) <= 8:
        return VALUE
    args = list(node.args) + [None] * (8 - len(node.args))
    ctx = ctx.as_array()
    got = _common(engine, ctx, args[:2], args[2], args[3], args[6])
    if type(got) is XLError:
        return got
    data, fn = got
    (row_fields,) = data.fields
    rows = _axis(row_fields, data.names[0])
    depth = _option(engine, args[4], ctx, 1)
    relation = _option(engine, args[7], ctx, 0)
    sort = _sort_arg(engine, args[5], ctx, rows.nfields, data.values.ncols)
    for x in (depth, relation, sort):
        if type(x) is XLError:
            return x
    if relation not in (0, 1):
        return VALUE
    agg = _Aggregator(engine, ctx, fn, data.values, rows, None)
    nv = data.values.ncols
    entries = _arrange(rows, depth, sort, relation == 1, lambda p, j: agg(p, (), j))
    if type(entries) is XLError:
        return entries
    grand = _grand_label(depth, rows.nfields)
    out = [list(rows.names) + list(data.names[-1])] if data.shown else []
    for e in entries:
        out.append(_labels(rows, e, grand) + [agg(e[1], (), j) for j in range(nv)])
    return Array(out) if out else CALC


def _option(engine: Any, node: Any, ctx: Any, default: int) -> int | XLError:
    return default if node is None else _int_arg(engine, node, ctx, default)


def _common(engine: Any, ctx: Any, data_nodes: list[Any], fn_node: Any, headers_node: Any,
            filter_node: Any) -> tuple[_Data, Any] | XLError:
    """Evaluates the arguments GROUPBY and PIVOTBY share (errors win in argument order):
    ``data_nodes`` are the field arrays and then the values."""
    arrays = []
    for nd in data_nodes:
        a = _array_arg(engine, nd, ctx)
        if a is None or type(a) is XLError:
            return VALUE if a is None else a
        arrays.append(a)
    fn = _function_arg(engine, fn_node, ctx)
    mode = _option(engine, headers_node, ctx, -1)
    filt = _array_arg(engine, filter_node, ctx) if filter_node is not None else None
    for x in (fn, mode, filt):
        if type(x) is XLError:
            return x
    data = _prepare(arrays[:-1], arrays[-1], mode, filt)
    return data if type(data) is XLError else (data, fn)


# -- PIVOTBY ------------------------------------------------------------------------------------
_RELATIVE = range(5)  # column totals, row totals, grand totals, parent column, parent row


def pivotby(engine: Any, node: Call, ctx: Any) -> Any:
    """PIVOTBY(row_fields, col_fields, values, function, [field_headers], [row_total_depth],
    [row_sort_order], [col_total_depth], [col_sort_order], [filter_array], [relative_to])."""
    if not 4 <= len(node.args) <= 11:
        return VALUE
    args = list(node.args) + [None] * (11 - len(node.args))
    ctx = ctx.as_array()
    got = _common(engine, ctx, args[:3], args[3], args[4], args[9])
    if type(got) is XLError:
        return got
    data, fn = got
    rows = _axis(data.fields[0], data.names[0])
    cols = _axis(data.fields[1], data.names[1])
    nv = data.values.ncols
    row_depth = _option(engine, args[5], ctx, 1)
    col_depth = _option(engine, args[7], ctx, 1)
    relative = _option(engine, args[10], ctx, 0)
    row_sort = _sort_arg(engine, args[6], ctx, rows.nfields, nv)
    col_sort = _sort_arg(engine, args[8], ctx, cols.nfields, nv)
    for x in (row_depth, col_depth, relative, row_sort, col_sort):
        if type(x) is XLError:
            return x
    if relative not in _RELATIVE:
        return VALUE
    agg = _Aggregator(engine, ctx, fn, data.values, rows, cols)
    row_entries = _arrange(rows, row_depth, row_sort, False, lambda p, j: agg(p, (), j))
    col_entries = _arrange(cols, col_depth, col_sort, False, lambda p, j: agg((), p, j))
    for x in (row_entries, col_entries):
        if type(x) is XLError:
            return x

    def cell(re: Entry, ce: Entry, j: int) -> Any:
        rp, cp = re[1], ce[1]
        base = [((), cp), (rp, ()), ((), ()), (rp, cp[:-1]), (rp[:-1], cp)][relative]
        return agg(rp, cp, j, base)

    out = _pivot_headers(rows, cols, col_entries, data, col_depth)
    grand = _grand_label(row_depth, rows.nfields)
    for re in row_entries:
        out.append(_labels(rows, re, grand)
                   + [cell(re, ce, j) for ce in col_entries for j in range(nv)])
    return Array(out)


def _pivot_headers(rows: _Axis, cols: _Axis, col_entries: list[Entry], data: _Data,
                   col_depth: int) -> list[list[Any]]:
    """Header rows: the column field names (when shown), one row per column field level, and
    the row field and value names (when shown)."""
    nv = data.values.ncols
    width = rows.nfields + len(col_entries) * nv
    grand = _grand_label(col_depth, cols.nfields)
    out = []
    if data.shown:
        top = [_EMPTY] * width
        if rows.nfields < width:
            top[rows.nfields] = ", ".join(str(n) for n in cols.names)
        out.append(top)
    labels = [_labels(cols, ce, grand) for ce in col_entries]
    for level in range(cols.nfields):
        out.append([_EMPTY] * rows.nfields + [lab[level] for lab in labels for _ in range(nv)])
    if data.shown:
        out.append(list(rows.names) + list(data.names[-1]) * len(col_entries))
    return out


SPECIAL_FORMS: dict[str, Callable[[Any, Call, Any], Any]] = {
    "GROUPBY": groupby,
    "PIVOTBY": pivotby,
}


# -- TRIMRANGE ----------------------------------------------------------------------------------
def _trim_mode(v: Any) -> int | XLError:
    """0 none, 1 leading, 2 trailing, 3 both; a fraction or anything else is #VALUE!."""
    if v is BLANK or v is MISSING:
        return 3
    n = to_number(v)
    if type(n) is XLError:
        return n
    if n != math.floor(n) or not 0 <= n <= 3:
        return VALUE
    return int(n)


def _kept(flags: list[bool], mode: int) -> tuple[int, int] | None:
    """First and last index kept of a line of 'non-blank' flags; None when all are trimmed."""
    first, last = 0, len(flags) - 1
    if mode & 1:
        while first <= last and not flags[first]:
            first += 1
    if mode & 2:
        while last >= first and not flags[last]:
            last -= 1
    return (first, last) if first <= last else None


def _trim(ref: Ref, grid: Array, rows_mode: int, cols_mode: int) -> Ref | XLError:
    """``grid`` is the area as read (whole columns stop at the used extent, past which every
    cell is blank, so the read area trims the same way)."""
    row_flags = [any(v is not BLANK for v in row) for row in grid.rows]
    col_flags = [any(v is not BLANK for v in col) for col in grid.columns()]
    rk, ck = _kept(row_flags, rows_mode), _kept(col_flags, cols_mode)
    if rk is None or ck is None:
        return REF
    r2 = ref.r1 + rk[1] if rows_mode & 2 else ref.r2
    c2 = ref.c1 + ck[1] if cols_mode & 2 else ref.c2
    return Ref(ref.sheet, ref.r1 + rk[0], ref.c1 + ck[0], r2, c2)


@excel_function("TRIMRANGE")
def trimrange(ctx: Context, range_: RefArg, trim_rows: Arr = MISSING, trim_cols: Arr = MISSING):
    """Array options are applied element by element; an element whose result is an area
    cannot be shown in one cell and is #VALUE!, as Excel shows."""
    if type(range_) is XLError:
        return range_
    if type(range_) is not Ref:
        return VALUE
    grid = ctx.deref(range_)

    def one(tr: Any, tc: Any) -> Any:
        modes = (_trim_mode(tr), _trim_mode(tc))
        for m in modes:
            if type(m) is XLError:
                return m
        return _trim(range_, grid, *modes)

    arrays = [a if type(a) is Array else Array([[a]]) for a in (trim_rows, trim_cols)]
    if all(a.shape == (1, 1) for a in arrays):
        return one(arrays[0].top_left(), arrays[1].top_left())
    nrows = max(a.nrows for a in arrays)
    ncols = max(a.ncols for a in arrays)

    def element(r: int, c: int) -> Any:
        res = one(arrays[0].get(r, c), arrays[1].get(r, c))
        if type(res) is Ref:
            return ctx.deref(res).top_left() if res.is_cell else VALUE
        return res

    return Array([[element(r, c) for c in range(ncols)] for r in range(nrows)])


__all__ = ["SPECIAL_FORMS", "groupby", "pivotby", "trimrange"]
