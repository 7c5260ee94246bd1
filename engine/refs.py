"""Cell addresses and references: ``A1`` notation, sheet quoting and rectangular areas."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_ROW = 1_048_576
MAX_COL = 16_384

_CELL_RE = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]{1,7})$")


def col_to_index(letters: str) -> int:
    """``"A"`` -> 1, ``"XFD"`` -> 16384."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n


_COL_CACHE: dict[int, str] = {}


def index_to_col(index: int) -> str:
    """1 -> ``"A"``, 16384 -> ``"XFD"``."""
    cached = _COL_CACHE.get(index)
    if cached is not None:
        return cached
    n, letters = index, ""
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    _COL_CACHE[index] = letters
    return letters


def parse_cell(address: str) -> tuple[int, int]:
    """``"$B$3"`` -> (row 3, col 2); raises ValueError for anything else."""
    m = _CELL_RE.match(address)
    if not m:
        raise ValueError(f"not a cell address: {address!r}")
    row, col = int(m.group(2)), col_to_index(m.group(1))
    if not (1 <= row <= MAX_ROW and 1 <= col <= MAX_COL):
        raise ValueError(f"cell address out of the sheet: {address!r}")
    return row, col


def cell_name(row: int, col: int) -> str:
    return f"{index_to_col(col)}{row}"


def quote_sheet(sheet: str) -> str:
    """A sheet name as a formula writes it: quoted when it is not a plain identifier."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", sheet) and not _CELL_RE.match(sheet):
        return sheet
    return "'" + sheet.replace("'", "''") + "'"


def cell_key(sheet: str, row: int, col: int) -> str:
    """The public key of a cell: ``Sheet!A1``, sheet unquoted, no ``$``."""
    return f"{sheet}!{index_to_col(col)}{row}"


def split_key(key: str) -> tuple[str, int, int]:
    """Inverse of :func:`cell_key`; accepts quoted sheets (``'My Sheet'!B2``) too."""
    sheet, _, addr = key.rpartition("!")
    if not sheet:
        raise ValueError(f"expected Sheet!A1, got {key!r}")
    if sheet.startswith("'") and sheet.endswith("'"):
        sheet = sheet[1:-1].replace("''", "'")
    row, col = parse_cell(addr)
    return sheet, row, col


@dataclass(frozen=True, slots=True)
class Ref:
    """A rectangular area of one sheet, 1-based and inclusive.

    Whole columns and rows are plain areas reaching row 1,048,576 or column XFD; readers clip
    them to the sheet's used extent so nothing materialises a million empty cells.
    """

    sheet: str
    r1: int
    c1: int
    r2: int
    c2: int

    @property
    def nrows(self) -> int:
        return self.r2 - self.r1 + 1

    @property
    def ncols(self) -> int:
        return self.c2 - self.c1 + 1

    @property
    def is_cell(self) -> bool:
        return self.r1 == self.r2 and self.c1 == self.c2

    def offset(self, rows: int, cols: int, height: int | None = None,
               width: int | None = None) -> Ref | None:
        """The area OFFSET describes, or None when it falls off the sheet."""
        r1, c1 = self.r1 + rows, self.c1 + cols
        r2 = r1 + (self.nrows if height is None else height) - 1
        c2 = c1 + (self.ncols if width is None else width) - 1
        if height is not None and height < 0:
            r1, r2 = r1 + height + 1, r1
        if width is not None and width < 0:
            c1, c2 = c1 + width + 1, c1
        if r1 < 1 or c1 < 1 or r2 > MAX_ROW or c2 > MAX_COL or r2 < r1 or c2 < c1:
            return None
        return Ref(self.sheet, r1, c1, r2, c2)

    def intersect(self, other: Ref) -> Ref | None:
        if self.sheet != other.sheet:
            return None
        r1, c1 = max(self.r1, other.r1), max(self.c1, other.c1)
        r2, c2 = min(self.r2, other.r2), min(self.c2, other.c2)
        if r1 > r2 or c1 > c2:
            return None
        return Ref(self.sheet, r1, c1, r2, c2)

    def span(self, other: Ref) -> Ref | None:
        """The smallest area covering both (the ``:`` operator)."""
        if self.sheet != other.sheet:
            return None
        return Ref(self.sheet, min(self.r1, other.r1), min(self.c1, other.c1),
                   max(self.r2, other.r2), max(self.c2, other.c2))

    def contains(self, row: int, col: int) -> bool:
        return self.r1 <= row <= self.r2 and self.c1 <= col <= self.c2

    def address(self, with_sheet: bool = True) -> str:
        if self.r1 == 1 and self.r2 == MAX_ROW:
            body = f"{index_to_col(self.c1)}:{index_to_col(self.c2)}"
        elif self.c1 == 1 and self.c2 == MAX_COL:
            body = f"{self.r1}:{self.r2}"
        elif self.is_cell:
            body = cell_name(self.r1, self.c1)
        else:
            body = f"{cell_name(self.r1, self.c1)}:{cell_name(self.r2, self.c2)}"
        return f"{quote_sheet(self.sheet)}!{body}" if with_sheet else body

    def __str__(self) -> str:
        return self.address()


@dataclass(frozen=True, slots=True)
class MultiRef:
    """Several areas at once, from the union operator: ``(A1:B2,D4)``."""

    areas: tuple[Ref, ...]

    def __str__(self) -> str:
        return "(" + ",".join(a.address() for a in self.areas) + ")"


def parse_range(text: str, default_sheet: str) -> Ref:
    """``"Sheet!A1:B2"``, ``"'My Sheet'!$C$3"``, ``"A:A"``, ``"2:5"`` -> Ref."""
    sheet = default_sheet
    body = text.strip()
    if "!" in body:
        sheet, _, body = body.rpartition("!")
        if sheet.startswith("'") and sheet.endswith("'"):
            sheet = sheet[1:-1].replace("''", "'")
    body = body.replace("$", "")
    first, _, last = body.partition(":")
    last = last or first
    if first.isdigit() and last.isdigit():
        return Ref(sheet, int(first), 1, int(last), MAX_COL)
    if first.isalpha() and last.isalpha():
        return Ref(sheet, 1, col_to_index(first), MAX_ROW, col_to_index(last))
    r1, c1 = parse_cell(first)
    r2, c2 = parse_cell(last)
    return Ref(sheet, min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2))
