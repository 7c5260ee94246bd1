"""The in-memory workbook the engine computes on, independent of how it was read."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from engine.refs import Ref, cell_key


@dataclass
class Table:
    """An Excel table (ListObject): its area and column names, for structured references."""

    name: str
    sheet: str
    ref: Ref
    columns: list[str]
    header_rows: int = 1
    totals_rows: int = 0


@dataclass
class FormulaCell:
    """A formula as written in one cell. ``array`` is the range of a legacy CSE array formula."""

    sheet: str
    row: int
    col: int
    text: str
    array: Ref | None = None
    node: Any = None  # parsed tree, or an Exception when the formula could not be parsed


@dataclass
class Workbook:
    """Constants, formulas, names and settings of one workbook.

    ``values`` holds one dict per sheet keyed by (row, col): constants from the file, and
    formula results as they are computed.
    """

    sheets: list[str]
    values: dict[str, dict[tuple[int, int], Any]] = field(default_factory=dict)
    formulas: dict[tuple[str, int, int], FormulaCell] = field(default_factory=dict)
    names: dict[tuple[str | None, str], str] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    iterate: bool = False
    max_iterations: int = 100
    max_change: float = 0.001
    has_macros: bool = False
    source: str = ""
    warnings: list[str] = field(default_factory=list)
    _extent: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    _by_column: dict[tuple[str, int], list[int]] | None = field(default=None, repr=False)

    def extent(self, sheet: str) -> tuple[int, int]:
        """(last row, last column) holding a value or formula; whole-column reads stop there."""
        cached = self._extent.get(sheet)
        if cached is None:
            rows = cols = 0
            for r, c in self.values.get(sheet, ()):
                rows, cols = max(rows, r), max(cols, c)
            for s, r, c in self.formulas:
                if s == sheet:
                    rows, cols = max(rows, r), max(cols, c)
            for f in self.formulas.values():
                if f.sheet == sheet and f.array is not None:
                    rows, cols = max(rows, f.array.r2), max(cols, f.array.c2)
            cached = self._extent[sheet] = (rows, cols)
        return cached

    def formula_rows_by_column(self) -> dict[tuple[str, int], list[int]]:
        """Sorted rows of formula cells per (sheet, column): finds the formulas inside a range."""
        if self._by_column is None:
            index: dict[tuple[str, int], list[int]] = {}
            for s, r, c in self.formulas:
                index.setdefault((s, c), []).append(r)
            for rows in index.values():
                rows.sort()
            self._by_column = index
        return self._by_column

    def formulas_in(self, ref: Ref) -> list[tuple[str, int, int]]:
        """Formula cells inside ``ref``, without visiting its empty cells."""
        index = self.formula_rows_by_column()
        last_row, last_col = self.extent(ref.sheet)
        out = []
        for c in range(ref.c1, min(ref.c2, last_col) + 1):
            rows = index.get((ref.sheet, c))
            if not rows:
                continue
            lo = bisect.bisect_left(rows, ref.r1)
            hi = bisect.bisect_right(rows, ref.r2)
            out.extend((ref.sheet, r, c) for r in rows[lo:hi])
        return out

    def sheet_values(self, sheet: str) -> dict[tuple[int, int], Any]:
        return self.values.setdefault(sheet, {})

    def invalidate_layout(self) -> None:
        """Forget cached extents after cells were added."""
        self._extent.clear()
        self._by_column = None

    def formula_keys(self) -> list[str]:
        return [cell_key(s, r, c) for s, r, c in self.formulas]
