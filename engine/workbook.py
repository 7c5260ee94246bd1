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
    _by_row: dict[tuple[str, int], list[int]] | None = field(default=None, repr=False)

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

    def _formula_index(self) -> tuple[dict[tuple[str, int], list[int]],
                                      dict[tuple[str, int], list[int]]]:
        """Sorted rows of formula cells per (sheet, column) and columns per (sheet, row)."""
        if self._by_column is None:
            by_col: dict[tuple[str, int], list[int]] = {}
            by_row: dict[tuple[str, int], list[int]] = {}
            for s, r, c in self.formulas:
                by_col.setdefault((s, c), []).append(r)
                by_row.setdefault((s, r), []).append(c)
            for lines in (by_col, by_row):
                for positions in lines.values():
                    positions.sort()
            self._by_column, self._by_row = by_col, by_row
        return self._by_column, self._by_row

    def formulas_in(self, ref: Ref) -> list[tuple[str, int, int]]:
        """Formula cells inside ``ref``, walking its shorter side, never its empty cells."""
        by_col, by_row = self._formula_index()
        last_row, last_col = self.extent(ref.sheet)
        r2, c2 = min(ref.r2, last_row), min(ref.c2, last_col)
        sheet = ref.sheet
        out: list[tuple[str, int, int]] = []
        if r2 - ref.r1 < c2 - ref.c1:
            for r in range(ref.r1, r2 + 1):
                cols = by_row.get((sheet, r))
                if cols:
                    lo, hi = bisect.bisect_left(cols, ref.c1), bisect.bisect_right(cols, c2)
                    out.extend([(sheet, r, c) for c in cols[lo:hi]])
        else:
            for c in range(ref.c1, c2 + 1):
                rows = by_col.get((sheet, c))
                if rows:
                    lo, hi = bisect.bisect_left(rows, ref.r1), bisect.bisect_right(rows, r2)
                    out.extend([(sheet, r, c) for r in rows[lo:hi]])
        return out

    def sheet_values(self, sheet: str) -> dict[tuple[int, int], Any]:
        return self.values.setdefault(sheet, {})

    def invalidate_layout(self) -> None:
        """Forget cached extents after cells were added."""
        self._extent.clear()
        self._by_column = self._by_row = None

    def formula_keys(self) -> list[str]:
        return [cell_key(s, r, c) for s, r, c in self.formulas]
