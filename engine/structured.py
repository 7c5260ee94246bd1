"""Structured references to Excel tables: ``Table1[Amount]``, ``[@Amount]``,
``Table1[[#Totals],[Amount]]``, ``Table1[[Jan]:[Mar]]``, ``Table1[#All]``.

They resolve to plain areas when the formula is parsed, so evaluation never sees them.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.errors import REF, VALUE, XLError
from engine.refs import Ref
from engine.workbook import Table

_SPECIALS = {"#ALL", "#DATA", "#HEADERS", "#TOTALS", "#THIS ROW"}


def _split_items(inner: str) -> list[str]:
    """Top-level comma-separated items of a bracket specification."""
    items, depth, start, i = [], 0, 0, 0
    while i < len(inner):
        ch = inner[i]
        if ch == "'":
            i += 2
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(inner[start:i].strip())
            start = i + 1
        i += 1
    items.append(inner[start:].strip())
    return [it for it in items if it]


def _unescape(name: str) -> str:
    out, i = [], 0
    while i < len(name):
        if name[i] == "'" and i + 1 < len(name):
            out.append(name[i + 1])
            i += 2
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


def _strip(item: str) -> str:
    item = item.strip()
    if item.startswith("[") and item.endswith("]"):
        return item[1:-1]
    return item


def _parse_spec(spec: str) -> tuple[set[str], list[str]]:
    """(special items, column names or ``a:b`` column spans) of a ``[...]`` specification."""
    inner = spec[1:-1].strip()
    specials: set[str] = set()
    columns: list[str] = []
    if inner.startswith("@"):
        specials.add("#THIS ROW")
        inner = inner[1:].strip()
    items = _split_items(inner) if "[" in inner else ([inner] if inner else [])
    for item in items:
        if ":" in item and item.startswith("["):
            left, _, right = item.partition("]:")
            columns.append(_unescape(_strip(left + "]")) + "\0" + _unescape(_strip(right)))
            continue
        name = _unescape(_strip(item))
        if name.upper() in _SPECIALS:
            specials.add(name.upper())
        else:
            columns.append(name)
    return specials, columns


def resolve(table: Table, spec: str, row: int) -> Ref | XLError:
    """The area ``spec`` designates in ``table``, seen from a formula in ``row``."""
    specials, columns = _parse_spec(spec)
    ref = table.ref
    first_data = ref.r1 + table.header_rows
    last_data = ref.r2 - table.totals_rows
    spans = {
        "#ALL": (ref.r1, ref.r2),
        "#DATA": (first_data, last_data),
        "#HEADERS": (ref.r1, ref.r1) if table.header_rows else None,
        "#TOTALS": (ref.r2, ref.r2) if table.totals_rows else None,
        "#THIS ROW": (row, row) if first_data <= row <= last_data else None,
    }
    chosen = [spans[s] for s in (specials or {"#DATA"})]
    if any(s is None for s in chosen):
        return VALUE if "#THIS ROW" in specials else REF
    r1 = min(s[0] for s in chosen)
    r2 = max(s[1] for s in chosen)
    lowered = [c.lower() for c in table.columns]
    c1, c2 = ref.c1, ref.c2
    if columns:
        idx = []
        for col in columns:
            for part in col.split("\0"):
                if part.lower() not in lowered:
                    return REF
                idx.append(ref.c1 + lowered.index(part.lower()))
        c1, c2 = min(idx), max(idx)
    return Ref(table.sheet, r1, c1, r2, c2)


def make_resolver(tables: dict[str, Table]) -> Callable[[str | None, str, str, int, int],
                                                      Ref | XLError]:
    """A parser hook resolving structured references against ``tables`` (names upper case)."""

    def resolver(name: str | None, spec: str, sheet: str, row: int, col: int) -> Ref | XLError:
        if name is None:
            table = next((t for t in tables.values()
                          if t.sheet == sheet and t.ref.contains(row, col)), None)
        else:
            table = tables.get(name.upper())
        if table is None:
            return REF
        return resolve(table, spec, row)

    return resolver
