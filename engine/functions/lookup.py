"""Excel's lookup and reference functions, and the dynamic-array family (SORT, FILTER, ...).

The approximate searches reproduce Excel's, including its answers on unsorted or mixed-type
data: MATCH type 1 (and VLOOKUP/HLOOKUP/LOOKUP) bisect, skipping cells of another type than the
lookup value and stopping at an exact hit; MATCH type -1 walks forward until a smaller value.
Dynamic-array functions return :class:`~engine.values.Array`; empty results are ``#VALUE!``
as in the Excel build that produced the oracle workbooks.
"""

from __future__ import annotations

import collections
import math
import re
from collections.abc import Callable, Sequence
from functools import cmp_to_key
from typing import Any

from engine.errors import ERROR_TYPE_NUMBERS, NA, NUM, REF, VALUE
from engine.functions.criteria import has_wildcards, wildcard_regex
from engine.functions.logic import force
from engine.functions.registry import (
    Arr,
    Bool,
    Context,
    Lazy,
    Num,
    RefArg,
    Scalar,
    Text,
    excel_function,
)
from engine.refs import MAX_COL, MAX_ROW, MultiRef, Ref, index_to_col, quote_sheet
from engine.values import (
    BLANK,
    MISSING,
    Array,
    XLError,
    broadcast_shape,
    compare,
    to_bool,
    to_number,
    to_text,
)

# --- argument helpers ---------------------------------------------------------------------------


def _grid(value: Any) -> Array | XLError:
    """An argument as a 2-D array (a scalar is 1x1); multi-area references are #VALUE!."""
    if type(value) is Array:
        return value
    if type(value) is XLError:
        return value
    if isinstance(value, (Ref, MultiRef)):
        return VALUE
    return Array([[value]])


def _value_of(value: Any, ctx: Context) -> Any:
    """A reference argument read as a value: whole in array formulas, else intersected (a
    single cell is always a scalar)."""
    if isinstance(value, MultiRef):
        return VALUE
    if isinstance(value, Ref):
        return ctx.deref(value) if ctx.array_mode and not value.is_cell else ctx.intersect(value)
    return value


def _int(value: Any) -> int | XLError:
    """An integer argument truncated toward zero, as Excel reads counts and positions."""
    n = to_number(value)
    if type(n) is XLError:
        return n
    return math.trunc(n)


def _count(value: Any) -> int | None | XLError:
    """An optional count (TAKE, EXPAND, ...): None when omitted, a blank cell counts as 0."""
    if value is None or value is MISSING:
        return None
    if type(value) is Array:
        value = value.top_left()
    return _int(value)


def _vector(arr: Array) -> list[Any] | None:
    """The cells of a one-row or one-column array, else None. Shared: do not modify."""
    if arr.nrows == 1:
        return arr.rows[0]
    if arr.ncols == 1:
        return _column(arr, 0)
    return None


def _column(arr: Array, k: int) -> list[Any]:
    """Column ``k`` of an array, built once per array. Shared: do not modify."""
    return arr.memoized(("column", k), lambda: [row[k] for row in arr.rows])


def _collapse(value: Any, ctx: Context) -> Any:
    """One element of an element-wise result: a reference read, an array's first cell."""
    if isinstance(value, Ref):
        value = ctx.deref(value)
    if type(value) is Array:
        return value.top_left()
    return value


def _lift(ctx: Context, fn: Callable[..., Any], args: Sequence[Any]) -> Any:
    """``fn`` over the elements of any array arguments, as Excel lifts a scalar parameter; each
    element's result collapses to its first cell."""
    arrays = [a for a in args if type(a) is Array]
    if not arrays:
        return fn(*args)
    nrows, ncols = broadcast_shape(*(a.shape for a in arrays))
    rows = []
    for r in range(nrows):
        rows.append([_collapse(fn(*(a.get(r, c) if type(a) is Array else a for a in args)), ctx)
                     for c in range(ncols)])
    return Array(rows)


# --- searching ----------------------------------------------------------------------------------


def _rank(v: Any) -> int | None:
    """Excel's type classes for lookups; blanks and errors belong to none."""
    t = type(v)
    if t is bool:
        return 2
    if t is str:
        return 1
    if t is float or t is int:
        return 0
    return None


def _target(value: Any) -> Any:
    """A blank lookup value looks for 0."""
    return 0.0 if value is BLANK or value is MISSING else value


def _exact_key(v: Any, fold: bool = False) -> Any:
    """What exact matching compares: type class and value, text without case (``fold``: with
    Unicode case folding, under which XMATCH finds "ss" for "ß" while MATCH does not)."""
    t = type(v)
    if t is str:
        return 1, v.casefold() if fold else v.lower()
    if t is bool:
        return 2, v
    if t is float or t is int:
        return 0, float(v)
    return None


def _build_index(items: Sequence[Any], fold: bool) -> tuple[dict[Any, int], dict[Any, int]]:
    """First and last position of each distinct value."""
    first: dict[Any, int] = {}
    last: dict[Any, int] = {}
    for i, v in enumerate(items):
        key = _exact_key(v, fold)
        if key is not None:
            first.setdefault(key, i)
            last[key] = i
    return first, last


# Exact-match indexes of recently searched vectors, keyed by the vector's identity (the entry
# keeps the vector alive, so the identity cannot be reused). Vectors from one range are shared
# (``_vector``), so a thousand VLOOKUPs into one table build one index.
_INDEXES: collections.OrderedDict[tuple[int, bool], tuple[Sequence[Any], tuple[dict, dict]]] = \
    collections.OrderedDict()
_INDEX_SLOTS = 64
_INDEX_MIN_ITEMS = 16


def _indexed_position(items: Sequence[Any], key: Any, reverse: bool, fold: bool) -> int | None:
    slot = (id(items), fold)
    entry = _INDEXES.get(slot)
    if entry is None or entry[0] is not items:
        entry = (items, _build_index(items, fold))
        _INDEXES[slot] = entry
        if len(_INDEXES) > _INDEX_SLOTS:
            _INDEXES.popitem(last=False)
    else:
        _INDEXES.move_to_end(slot)
    first, last = entry[1]
    return (last if reverse else first).get(key)


def find_exact(items: Sequence[Any], target: Any, wildcards: bool = True,
               reverse: bool = False, fold: bool = False) -> int | None:
    """First (or last) position equal to ``target``; text compares case-insensitively (with
    ``fold``, under Unicode case folding) and, with ``wildcards``, honours ``*``, ``?``, ``~``."""
    order = range(len(items) - 1, -1, -1) if reverse else range(len(items))
    if wildcards and type(target) is str and has_wildcards(target):
        rx = wildcard_regex(target)
        return next((i for i in order if type(items[i]) is str and rx.fullmatch(items[i])), None)
    key = _exact_key(target, fold)
    if key is None:
        return None
    if len(items) >= _INDEX_MIN_ITEMS:
        return _indexed_position(items, key, reverse, fold)
    return next((i for i in order if _exact_key(items[i], fold) == key), None)


def find_sorted(items: Sequence[Any], target: Any) -> int | None:
    """Excel's approximate search on ascending data: the last position <= ``target``.

    A probe on a cell of another type moves right to the next cell of the target's type (the
    half is dropped when there is none); an exact hit ends the search after any equal cells that
    follow it.
    """
    rank = _rank(target)
    lo, hi, best = 0, len(items) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        k = mid
        while k <= hi and _rank(items[k]) != rank:
            k += 1
        if k > hi:
            hi = mid - 1
            continue
        c = compare(items[k], target)
        if c == 0:
            return _last_equal(items, k, target)
        if c < 0:
            best, lo = k, k + 1
        else:
            hi = mid - 1
    return best


def _last_equal(items: Sequence[Any], k: int, target: Any) -> int:
    rank = _rank(target)
    for j in range(k + 1, len(items)):
        if _rank(items[j]) != rank:
            continue
        if compare(items[j], target) != 0:
            break
        k = j
    return k


def find_descending(items: Sequence[Any], target: Any) -> int | None:
    """MATCH type -1: walks forward over cells of the target's type while they are >= it."""
    rank, best = _rank(target), None
    for i, v in enumerate(items):
        if _rank(v) != rank:
            continue
        c = compare(v, target)
        if c < 0:
            break
        best = i
        if c == 0:
            break
    return best


def _xorder(item: Any, target: Any) -> int:
    """XMATCH's ordering across types (numbers < text < logicals); a blank lookup value sorts
    above everything and equals nothing, blank and error cells sort above the lookup value."""
    if target is BLANK:
        return -1 if _rank(item) is not None else 1
    if _rank(item) is None:
        return 1
    if type(item) is str and type(target) is str:
        return compare(item.casefold(), target.casefold())
    return compare(item, target)


def _linear_nearest(items: Sequence[Any], target: Any, mode: int, reverse: bool) -> int | None:
    """XMATCH modes -1/1 searched linearly: the first exact hit, else the closest
    smaller (-1) or larger (1) value, the first one met on ties."""
    order = range(len(items) - 1, -1, -1) if reverse else range(len(items))
    best = None
    for i in order:
        c = _xorder(items[i], target)
        if c == 0 and _rank(items[i]) == _rank(target):
            return i
        if c == mode and (best is None or _xorder(items[i], items[best]) == -mode):
            best = i
    return best


def _binary_nearest(items: Sequence[Any], target: Any, mode: int,
                    descending: bool) -> int | None:
    """XMATCH search modes 2/-2: plain bisection under :func:`_xorder`."""
    sign = -1 if descending else 1
    lo, hi, best = 0, len(items) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        c = sign * _xorder(items[mid], target)
        if c == 0:
            return mid
        if c < 0:
            if mode == -sign:
                best = mid
            lo = mid + 1
        else:
            if mode == sign:
                best = mid
            hi = mid - 1
    return best


def _regex_position(items: Sequence[Any], target: Any, reverse: bool) -> int | None | XLError:
    """XMATCH mode 3: the first text cell the pattern matches a part of (case-sensitive, as
    REGEXTEST); a lookup value that is no text, or no valid pattern, is #VALUE!."""
    if type(target) is not str:
        return VALUE
    try:
        rx = re.compile(target)
    except re.error:
        return VALUE
    order = range(len(items) - 1, -1, -1) if reverse else range(len(items))
    return next((i for i in order if type(items[i]) is str and rx.search(items[i])), None)


def xsearch(items: Sequence[Any], target: Any, match_mode: int, search_mode: int) -> Any:
    """Position for XMATCH/XLOOKUP, None when not found, or #VALUE! for bad modes."""
    if match_mode not in (0, -1, 1, 2, 3) or search_mode not in (1, -1, 2, -2):
        return VALUE
    target = BLANK if target is MISSING else target
    reverse = search_mode == -1
    if match_mode >= 2 and abs(search_mode) == 2:
        return VALUE
    if match_mode == 3:
        return _regex_position(items, target, reverse)
    if match_mode == 2:
        return find_exact(items, target, wildcards=True, reverse=reverse)
    if abs(search_mode) == 2:
        return _binary_nearest(items, target, match_mode, search_mode == -2)
    if match_mode == 0:
        return find_exact(items, target, wildcards=False, reverse=reverse, fold=True)
    return _linear_nearest(items, target, match_mode, reverse)


# --- MATCH, LOOKUP, VLOOKUP, HLOOKUP, XMATCH, XLOOKUP ------------------------------------------


@excel_function("MATCH")
def match(lookup_value: Scalar, lookup_array: Arr, match_type: Num = 1.0):
    arr = _grid(lookup_array)
    if type(arr) is XLError:
        return arr
    items = _vector(arr)
    if items is None:
        return NA
    target = _target(lookup_value)
    if match_type == 0:
        pos = find_exact(items, target)
    elif match_type > 0:
        pos = find_sorted(items, target)
    else:
        pos = find_descending(items, target)
    return NA if pos is None else float(pos + 1)


@excel_function("LOOKUP")
def lookup(lookup_value: Scalar, lookup_vector: Arr, result_vector: Arr = None):
    arr = _grid(lookup_vector)
    if type(arr) is XLError:
        return arr
    target = _target(lookup_value)
    if result_vector is None:
        keys = arr.rows[0] if arr.ncols > arr.nrows else [row[0] for row in arr.rows]
        results = arr.rows[-1] if arr.ncols > arr.nrows else [row[-1] for row in arr.rows]
    else:
        res = _grid(result_vector)
        if type(res) is XLError:
            return res
        keys = _vector(arr)
        results = list(res.flat())
        if keys is None:
            return NA
    pos = find_sorted(keys, target)
    if pos is None or pos >= len(results):
        return NA
    return results[pos]


def _table_lookup(value: Any, table: Any, index: Any, approximate: bool,
                  rows: bool) -> Any:
    """VLOOKUP (``rows``: search the first column, return from column ``index``) and HLOOKUP.
    Excel reads only the first cell of an array ``index``."""
    arr = _grid(table)
    if type(arr) is XLError:
        return arr
    k = _int(index.top_left() if type(index) is Array else index)
    if type(k) is XLError:
        return k
    if k < 1:
        return VALUE
    if k > (arr.ncols if rows else arr.nrows):
        return REF
    target = _target(value)
    keys = _column(arr, 0) if rows else arr.rows[0]
    pos = find_sorted(keys, target) if approximate else find_exact(keys, target)
    if pos is None:
        return NA
    return arr.rows[pos][k - 1] if rows else arr.rows[k - 1][pos]


@excel_function("VLOOKUP")
def vlookup(lookup_value: Scalar, table_array: Arr, col_index_num: Arr,
            range_lookup: Bool = True):
    return _table_lookup(lookup_value, table_array, col_index_num, range_lookup, rows=True)


@excel_function("HLOOKUP")
def hlookup(lookup_value: Scalar, table_array: Arr, row_index_num: Arr,
            range_lookup: Bool = True):
    return _table_lookup(lookup_value, table_array, row_index_num, range_lookup, rows=False)


def _modes(match_mode: float, search_mode: float) -> tuple[int, int]:
    """The oracle reads search_mode -1.1 as -2: it is rounded down, not truncated."""
    return math.trunc(match_mode), math.floor(search_mode)


@excel_function("XMATCH")
def xmatch(lookup_value: Scalar, lookup_array: Arr, match_mode: Num = 0.0,
           search_mode: Num = 1.0):
    arr = _grid(lookup_array)
    if type(arr) is XLError:
        return arr
    items = _vector(arr)
    if items is None:
        return VALUE
    pos = xsearch(items, lookup_value, *_modes(match_mode, search_mode))
    if type(pos) is XLError:
        return pos
    return NA if pos is None else float(pos + 1)


@excel_function("XLOOKUP")
def xlookup(ctx: Context, lookup_value: Scalar, lookup_array: Arr, return_array: Arr,
            if_not_found: Lazy = None, match_mode: Num = 0.0, search_mode: Num = 1.0):
    arr, ret = _grid(lookup_array), _grid(return_array)
    for a in (arr, ret):
        if type(a) is XLError:
            return a
    items = _vector(arr)
    if items is None:
        return VALUE
    by_row = arr.ncols == 1 and arr.nrows > 1 or (arr.shape == (1, 1) and ret.ncols == 1)
    if (ret.nrows if by_row else ret.ncols) != len(items):
        return VALUE
    pos = xsearch(items, lookup_value, *_modes(match_mode, search_mode))
    if type(pos) is XLError:
        return pos
    if pos is None:
        if if_not_found is None:
            return NA
        fallback = force(if_not_found, ctx)
        return NA if fallback is MISSING else fallback
    if by_row:
        row = ret.rows[pos]
        return row[0] if len(row) == 1 else Array([list(row)])
    column = [r[pos] for r in ret.rows]
    return column[0] if len(column) == 1 else Array.column(column)


# --- INDEX, CHOOSE, OFFSET, INDIRECT ----------------------------------------------------------


def _index_one(areas: list[Any], is_ref: bool, row: Any, col: Any, area: Any) -> Any:
    """One INDEX lookup; ``col`` None means the argument was left out."""
    for v in (row, col, area):
        if type(v) is XLError:
            return v
    a = _int(area)
    if type(a) is XLError:
        return a
    if a < 1:
        return VALUE
    if a > len(areas):
        return REF
    target = areas[a - 1]
    nr, nc = (target.nrows, target.ncols)
    r = _int(row)
    if type(r) is XLError:
        return r
    if r < 0:
        return VALUE
    if col is None:
        if nr == 1 and nc > 1:
            r, c = 1, r
        elif nc == 1:
            c = 1
        elif is_ref:
            return REF
        else:
            c = 0
    else:
        c = _int(col)
        if type(c) is XLError:
            return c
    if r < 0 or c < 0:
        return VALUE
    if r > nr or c > nc:
        return REF
    if is_ref:
        r1, r2 = (target.r1, target.r2) if r == 0 else (target.r1 + r - 1,) * 2
        c1, c2 = (target.c1, target.c2) if c == 0 else (target.c1 + c - 1,) * 2
        return Ref(target.sheet, r1, c1, r2, c2)
    rows = target.rows if r == 0 else [target.rows[r - 1]]
    picked = [list(row_) if c == 0 else [row_[c - 1]] for row_ in rows]
    return picked[0][0] if len(picked) == 1 and len(picked[0]) == 1 else Array(picked)


@excel_function("INDEX")
def index(ctx: Context, array: RefArg, row_num: RefArg = MISSING, column_num: RefArg = None,
          area_num: RefArg = 1.0):
    """Array and reference forms: given a reference, the answer is a reference (so that
    ``SUM(INDEX(A1:C3,2,0))`` and ``INDEX(...):C5`` work)."""
    if type(array) is XLError:
        return array
    if isinstance(array, MultiRef):
        areas, is_ref = list(array.areas), True
    elif isinstance(array, Ref):
        areas, is_ref = [array], True
    else:
        areas, is_ref = [_grid(array)], False
    args = []
    for v in (row_num, column_num, area_num):
        v = _value_of(v, ctx)
        args.append(0.0 if v is MISSING or v is BLANK else v)
    return _lift(ctx, lambda r, c, a: _index_one(areas, is_ref, r, c, a), args)


@excel_function("CHOOSE")
def choose(ctx: Context, index_num: RefArg, *values: Lazy):
    """The chosen argument as it is (possibly a reference); an array of indices picks
    element by element."""
    idx = _value_of(index_num, ctx)
    if type(idx) is Array:
        picks = [[_choice(v, len(values)) for v in row_] for row_ in idx.rows]
        chosen = {k: _zero_if_missing(force(values[k - 1], ctx))
                  for row_ in picks for k in row_ if type(k) is int}
        shapes = [idx.shape] + [v.shape for v in chosen.values() if type(v) is Array]
        nrows, ncols = broadcast_shape(*shapes)
        return Array([[_element(Array(picks).get(r, c), chosen, r, c) for c in range(ncols)]
                      for r in range(nrows)])
    k = _choice(idx, len(values))
    if type(k) is XLError:
        return k
    return _zero_if_missing(values[k - 1]())


def _element(k: Any, chosen: dict[int, Any], r: int, c: int) -> Any:
    if type(k) is not int:
        return k
    v = chosen[k]
    return v.get(r, c) if type(v) is Array else v


def _zero_if_missing(v: Any) -> Any:
    return 0.0 if v is MISSING else v


def _choice(value: Any, n: int) -> int | XLError:
    if type(value) is XLError:
        return value
    k = _int(value)
    if type(k) is XLError:
        return k
    return k if 1 <= k <= n else VALUE


@excel_function("OFFSET", volatile=True)
def offset(reference: RefArg, rows: Num, cols: Num, height: Scalar = None, width: Scalar = None):
    if type(reference) is XLError:
        return reference
    if not isinstance(reference, Ref):
        return VALUE
    size = []
    for v in (height, width):
        if v is None or v is BLANK:
            size.append(None)
            continue
        n = _int(v)
        if type(n) is XLError:
            return n
        if n == 0:
            return REF
        size.append(n)
    moved = reference.offset(math.trunc(rows), math.trunc(cols), size[0], size[1])
    return REF if moved is None else moved


@excel_function("INDIRECT", volatile=True)
def indirect(ctx: Context, ref_text: Text, a1: Bool = True):
    return ctx.resolve_reference(ref_text, bool(a1))


# --- ROW, COLUMN, ROWS, COLUMNS, AREAS, ADDRESS ------------------------------------------------


def _positions(ctx: Context, reference: Any, by_row: bool) -> Any:
    if reference is None:
        return float(ctx.row if by_row else ctx.col)
    if type(reference) is XLError:
        return reference
    if not isinstance(reference, Ref):
        return VALUE
    first, last = (reference.r1, reference.r2) if by_row else (reference.c1, reference.c2)
    if first == last or not ctx.array_mode:
        return float(first)
    if last == (MAX_ROW if by_row else MAX_COL):  # whole columns/rows: up to the used extent
        last = max(ctx.sheet_extent(reference.sheet)[0 if by_row else 1], first)
    numbers = [float(i) for i in range(first, last + 1)]
    return Array.column(numbers) if by_row else Array.row(numbers)


@excel_function("ROW")
def row(ctx: Context, reference: RefArg = None):
    return _positions(ctx, reference, by_row=True)


@excel_function("COLUMN")
def column(ctx: Context, reference: RefArg = None):
    return _positions(ctx, reference, by_row=False)


def _size(value: Any, by_row: bool) -> Any:
    if type(value) is XLError:
        return value
    if isinstance(value, MultiRef):
        return REF
    if isinstance(value, (Ref, Array)):
        return float(value.nrows if by_row else value.ncols)
    return 1.0


@excel_function("ROWS")
def rows_(array: RefArg):
    return _size(array, by_row=True)


@excel_function("COLUMNS")
def columns(array: RefArg):
    return _size(array, by_row=False)


@excel_function("AREAS")
def areas(reference: RefArg):
    if type(reference) is XLError:
        return reference
    if isinstance(reference, MultiRef):
        return float(len(reference.areas))
    return 1.0 if isinstance(reference, Ref) else VALUE


_A1_FORMS = {1: "${c}${r}", 2: "{c}${r}", 3: "${c}{r}", 4: "{c}{r}"}
_R1C1_FORMS = {1: "R{r}C{c}", 2: "R{r}C[{c}]", 3: "R[{r}]C{c}", 4: "R[{r}]C[{c}]"}


@excel_function("ADDRESS")
def address(row_num: Num, column_num: Num, abs_num: Num = 1.0, a1: Bool = True,
            sheet_text: Scalar = None):
    r, c, kind = math.trunc(row_num), math.trunc(column_num), math.trunc(abs_num)
    if not (1 <= r <= MAX_ROW and 1 <= c <= MAX_COL) or kind not in _A1_FORMS:
        return VALUE
    if a1:
        text = _A1_FORMS[kind].format(c=index_to_col(c), r=r)
    else:
        text = _R1C1_FORMS[kind].format(c=c, r=r)
    if sheet_text is None:
        return text
    sheet = to_text(sheet_text)
    if type(sheet) is XLError:
        return sheet
    return f"{quote_sheet(sheet) if sheet else ''}!{text}"


# --- dynamic arrays ---------------------------------------------------------------------------


@excel_function("TRANSPOSE")
def transpose(array: Arr):
    return array.transpose() if type(array) is Array else array


def _pad(value: Any) -> Any:
    if value is None or value is MISSING:
        return NA
    return value.top_left() if type(value) is Array else value


def _take_span(n: int, size: int, drop: bool) -> tuple[int, int]:
    """The [start, stop) span TAKE keeps (or DROP removes) for a signed count."""
    n = max(-size, min(size, n))
    span = (0, n) if n >= 0 else (size + n, size)
    if not drop:
        return span
    return (span[1], size) if n >= 0 else (0, span[0])


def _slice(ctx: Context, array: Any, rows: Any, cols: Any, drop: bool) -> Any:
    arr = _grid(array)
    if type(arr) is XLError:
        return arr

    def one(r: Any, c: Any) -> Any:
        nr, nc = _count(r), _count(c)
        for n in (nr, nc):
            if type(n) is XLError:
                return n
        if not drop and 0 in (nr, nc):
            return VALUE
        r0, r1 = _take_span(arr.nrows if nr is None else nr, arr.nrows, drop) \
            if nr is not None else (0, arr.nrows)
        c0, c1 = _take_span(arr.ncols if nc is None else nc, arr.ncols, drop) \
            if nc is not None else (0, arr.ncols)
        if r0 >= r1 or c0 >= c1:
            return VALUE
        return Array([row_[c0:c1] for row_ in arr.rows[r0:r1]])

    args = [_none_if_missing(rows), _none_if_missing(cols)]
    return _lift(ctx, one, args) if _is_multi(*args) else one(*args)


def _none_if_missing(v: Any) -> Any:
    return None if v is MISSING else v


def _is_multi(*values: Any) -> bool:
    return any(type(v) is Array and v.shape != (1, 1) for v in values)


@excel_function("TAKE")
def take(ctx: Context, array: Arr, rows: Arr = None, columns: Arr = None):
    return _slice(ctx, array, rows, columns, drop=False)


@excel_function("DROP")
def drop(ctx: Context, array: Arr, rows: Arr = None, columns: Arr = None):
    return _slice(ctx, array, rows, columns, drop=True)


def _choose_lines(array: Any, picks: tuple[Any, ...], by_col: bool) -> Any:
    arr = _grid(array)
    if type(arr) is XLError:
        return arr
    if by_col:
        arr = arr.transpose()
    if not picks:
        return VALUE
    lines = []
    for pick in picks:
        values = _vector(pick) if type(pick) is Array else [pick]
        if values is None:
            return VALUE
        for v in values:
            if type(v) is XLError:
                return v
            k = _int(v)
            if type(k) is XLError:
                return k
            if k == 0 or abs(k) > arr.nrows:
                return VALUE
            lines.append(arr.rows[k - 1 if k > 0 else arr.nrows + k])
    out = Array([list(line) for line in lines])
    return out.transpose() if by_col else out


@excel_function("CHOOSEROWS")
def chooserows(array: Arr, *row_nums: Arr):
    return _choose_lines(array, row_nums, by_col=False)


@excel_function("CHOOSECOLS")
def choosecols(array: Arr, *col_nums: Arr):
    return _choose_lines(array, col_nums, by_col=True)


def _flatten(ctx: Context, array: Any, ignore: Any, scan_by_column: Any, as_row: bool) -> Any:
    arr = _grid(array)
    if type(arr) is XLError:
        return arr

    def one(ign: Any, by_col: Any) -> Any:
        mode = 0 if ign is None else _int(ign)
        if type(mode) is XLError:
            return mode
        if mode not in (0, 1, 2, 3):
            return VALUE
        flag = False if by_col is None else to_bool(by_col)
        if type(flag) is XLError:
            return flag
        source = arr.transpose() if flag else arr
        values = [v for v in source.flat()
                  if not (mode & 1 and v is BLANK) and not (mode & 2 and type(v) is XLError)]
        if not values:
            return VALUE
        return Array.row(values) if as_row else Array.column(values)

    args = [_none_if_missing(ignore), _none_if_missing(scan_by_column)]
    if _is_multi(*args):
        return _lift(ctx, one, args)
    return one(*(a.top_left() if type(a) is Array else a for a in args))


@excel_function("TOCOL")
def tocol(ctx: Context, array: Arr, ignore: Arr = None, scan_by_column: Arr = None):
    return _flatten(ctx, array, ignore, scan_by_column, as_row=False)


@excel_function("TOROW")
def torow(ctx: Context, array: Arr, ignore: Arr = None, scan_by_column: Arr = None):
    return _flatten(ctx, array, ignore, scan_by_column, as_row=True)


@excel_function("EXPAND")
def expand(array: Arr, rows: Arr = None, columns: Arr = None, pad_with: Arr = None):
    arr = _grid(array)
    if type(arr) is XLError:
        return arr
    nr, nc = _count(rows), _count(columns)
    for n in (nr, nc):
        if type(n) is XLError:
            return n
    nr = arr.nrows if nr is None else nr
    nc = arr.ncols if nc is None else nc
    if nr < arr.nrows or nc < arr.ncols:
        return VALUE
    pad = _pad(pad_with)
    return Array([[arr.rows[r][c] if r < arr.nrows and c < arr.ncols else pad
                   for c in range(nc)] for r in range(nr)])


def _stack(arrays: tuple[Any, ...], horizontal: bool) -> Any:
    grids = []
    for a in arrays:
        g = _grid(a) if type(a) is not XLError else Array([[a]])
        if type(g) is XLError:
            return g
        grids.append(g if horizontal else g.transpose())
    if not grids:
        return VALUE
    height = max(g.nrows for g in grids)
    rows = [[v for g in grids for v in (g.rows[r] if r < g.nrows else [NA] * g.ncols)]
            for r in range(height)]
    out = Array(rows)
    return out if horizontal else out.transpose()


@excel_function("HSTACK")
def hstack(*arrays: Arr):
    return _stack(arrays, horizontal=True)


@excel_function("VSTACK")
def vstack(*arrays: Arr):
    return _stack(arrays, horizontal=False)


def _wrap(vector: Any, wrap_count: float, pad_with: Any, by_col: bool) -> Any:
    arr = _grid(vector)
    if type(arr) is XLError:
        return arr
    values = _vector(arr)
    if values is None:
        return VALUE
    n = math.trunc(wrap_count)
    if n < 1:
        return NUM
    pad = _pad(pad_with)
    lines = [values[i:i + n] for i in range(0, len(values), n)]
    lines[-1] = lines[-1] + [pad] * (n - len(lines[-1]))
    out = Array(lines)
    return out.transpose() if by_col else out


@excel_function("WRAPROWS")
def wraprows(vector: Arr, wrap_count: Num, pad_with: Arr = None):
    return _wrap(vector, wrap_count, pad_with, by_col=False)


@excel_function("WRAPCOLS")
def wrapcols(vector: Arr, wrap_count: Num, pad_with: Arr = None):
    return _wrap(vector, wrap_count, pad_with, by_col=True)


def _order_key(v: Any) -> tuple[int, Any]:
    """SORT's order: numbers, text (case-insensitive), logicals, errors; blanks always last."""
    t = type(v)
    if t is XLError:
        return 3, ERROR_TYPE_NUMBERS.get(v, 99)
    if t is bool:
        return 2, v
    if t is str:
        return 1, v.lower()
    if v is BLANK:
        return 4, 0
    return 0, v


def _sort_lines(lines: list[list[Any]], keys: list[tuple[list[Any], int]]) -> list[list[Any]]:
    """Stable multi-key sort of ``lines``; each key is (values per line, +1 or -1)."""
    order = list(range(len(lines)))
    for values, direction in reversed(keys):
        def cmp(i: int, j: int, values: list[Any] = values, direction: int = direction) -> int:
            ki, kj = _order_key(values[i]), _order_key(values[j])
            if ki[0] == 4 or kj[0] == 4:
                return (ki[0] == 4) - (kj[0] == 4)
            return direction * ((ki > kj) - (ki < kj))
        order.sort(key=cmp_to_key(cmp))
    return [lines[i] for i in order]


def _int_list(value: Any) -> list[int] | XLError:
    items = list(value.flat()) if type(value) is Array else [value]
    out = []
    for v in items:
        k = _int(v)
        if type(k) is XLError:
            return k
        out.append(k)
    return out


@excel_function("SORT")
def sort(array: Arr, sort_index: Arr = None, sort_order: Arr = None, by_col: Arr = None):
    arr = _grid(array)
    if type(arr) is XLError:
        return arr
    flag = False if by_col in (None, MISSING) else to_bool(_pad(by_col))
    if type(flag) is XLError:
        return flag
    lines = arr.transpose().rows if flag else arr.rows
    indices = [1] if sort_index in (None, MISSING) else _int_list(sort_index)
    orders = [1] if sort_order in (None, MISSING) else _int_list(sort_order)
    for v in (indices, orders):
        if type(v) is XLError:
            return v
    if len(orders) == 1:
        orders = orders * len(indices)
    if len(indices) != len(orders) or any(o not in (1, -1) for o in orders):
        return VALUE
    width = len(lines[0])
    if any(not 1 <= i <= width for i in indices):
        return VALUE
    keys = [([line[i - 1] for line in lines], o) for i, o in zip(indices, orders, strict=True)]
    out = Array([list(line) for line in _sort_lines(lines, keys)])
    return out.transpose() if flag else out


@excel_function("SORTBY")
def sortby(array: Arr, *by_and_orders: Arr):
    arr = _grid(array)
    if type(arr) is XLError:
        return arr
    if not by_and_orders:
        return VALUE
    keys, by_col = [], None
    for i in range(0, len(by_and_orders), 2):
        by = _grid(by_and_orders[i])
        if type(by) is XLError:
            return by
        order = 1
        if i + 1 < len(by_and_orders) and by_and_orders[i + 1] is not MISSING:
            order = _int(_pad(by_and_orders[i + 1]))
            if type(order) is XLError:
                return order
        values = _vector(by)
        this_col = by.nrows == 1 and by.ncols > 1
        if values is None or order not in (1, -1) or (by_col is not None and by_col != this_col):
            return VALUE
        by_col = this_col
        if len(values) != (arr.ncols if by_col else arr.nrows):
            return VALUE
        keys.append((values, order))
    lines = arr.transpose().rows if by_col else arr.rows
    out = Array([list(line) for line in _sort_lines(lines, keys)])
    return out.transpose() if by_col else out


def _identity(line: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(_order_key(v) for v in line)


@excel_function("UNIQUE")
def unique(array: Arr, by_col: Bool = False, exactly_once: Bool = False):
    arr = _grid(array)
    if type(arr) is XLError:
        return arr
    lines = arr.transpose().rows if by_col else arr.rows
    counts: dict[tuple[Any, ...], int] = {}
    firsts: dict[tuple[Any, ...], list[Any]] = {}
    for line in lines:
        key = _identity(line)
        counts[key] = counts.get(key, 0) + 1
        firsts.setdefault(key, list(line))
    kept = [firsts[k] for k in firsts if not exactly_once or counts[k] == 1]
    if not kept:
        return VALUE
    out = Array(kept)
    return out.transpose() if by_col else out


@excel_function("FILTER")
def filter_(array: Arr, include: Arr, if_empty: Arr = None):
    arr, inc = _grid(array), _grid(include)
    for a in (arr, inc):
        if type(a) is XLError:
            return a
    flags = _vector(inc)
    if flags is None:
        return VALUE
    by_col = inc.nrows == 1 and len(flags) == arr.ncols and not (
        inc.ncols == 1 and arr.nrows == 1)
    if not by_col and len(flags) != arr.nrows:
        return VALUE
    keep = []
    for f in flags:
        if type(f) is XLError:
            return f
        if type(f) is str:
            return VALUE
        keep.append(f is not BLANK and bool(f))
    lines = arr.transpose().rows if by_col else arr.rows
    kept = [list(line) for line, k in zip(lines, keep, strict=True) if k]
    if not kept:
        # the oracle's Excel answers #VALUE! for an empty result (newer builds say #CALC!)
        # if_empty is returned whole: an array spills (the oracle's FILTER(..., J20:J21))
        return VALUE if if_empty in (None, MISSING) else if_empty
    out = Array(kept)
    return out.transpose() if by_col else out


__all__ = ["find_descending", "find_exact", "find_sorted", "xsearch"]
