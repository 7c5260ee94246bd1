"""Formula syntax tree. Nodes are small immutable records; the evaluator dispatches on type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import XLError
from engine.refs import MAX_COL, MAX_ROW, Ref


@dataclass(frozen=True, slots=True)
class Literal:
    """A number, text, boolean or error typed in the formula."""

    value: Any


@dataclass(frozen=True, slots=True)
class Missing:
    """An empty argument: ``ROUND(1.5,)``."""


@dataclass(frozen=True, slots=True)
class ArrayLiteral:
    """An array constant ``{1,2;3,4}``; rows of scalars."""

    rows: tuple[tuple[Any, ...], ...]


ABS_R1, ABS_C1, ABS_R2, ABS_C2 = 1, 2, 4, 8


@dataclass(frozen=True, slots=True)
class RefNode:
    """A cell or area reference on a known sheet, stored as Excel's R1C1 form does.

    Coordinates with their bit set in ``fixed`` are absolute (``$`` anchors, and the open ends of
    whole rows and columns); the others are offsets from the cell holding the formula. So copies
    of one formula share one tree, however many cells hold them.
    """

    sheet: str
    r1: int
    c1: int
    r2: int
    c2: int
    fixed: int

    def at(self, row: int, col: int) -> Ref | None:
        """The area this reference designates from cell (row, col); None when off the sheet."""
        fixed = self.fixed
        r1 = self.r1 if fixed & ABS_R1 else self.r1 + row
        c1 = self.c1 if fixed & ABS_C1 else self.c1 + col
        r2 = self.r2 if fixed & ABS_R2 else self.r2 + row
        c2 = self.c2 if fixed & ABS_C2 else self.c2 + col
        if r1 < 1 or c1 < 1 or r2 > MAX_ROW or c2 > MAX_COL:
            return None
        return Ref(self.sheet, r1, c1, r2, c2)

    @classmethod
    def absolute(cls, ref: Ref) -> RefNode:
        return cls(ref.sheet, ref.r1, ref.c1, ref.r2, ref.c2, ABS_R1 | ABS_C1 | ABS_R2 | ABS_C2)

    @classmethod
    def relative_to(cls, ref: Ref, fixed: int, row: int, col: int) -> RefNode:
        return cls(ref.sheet,
                   ref.r1 if fixed & ABS_R1 else ref.r1 - row,
                   ref.c1 if fixed & ABS_C1 else ref.c1 - col,
                   ref.r2 if fixed & ABS_R2 else ref.r2 - row,
                   ref.c2 if fixed & ABS_C2 else ref.c2 - col, fixed)


@dataclass(frozen=True, slots=True)
class BadRef:
    """A reference that cannot be followed: ``#REF!``, another workbook, a deleted sheet."""

    text: str
    error: XLError
    external: bool = False


@dataclass(frozen=True, slots=True)
class Name:
    """A defined name, looked up at evaluation time (sheet scope first, then workbook)."""

    name: str
    sheet: str | None  # the formula's sheet, for sheet-scoped lookup
    explicit_sheet: bool = False  # written as Sheet1!Name


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    operand: Any


@dataclass(frozen=True, slots=True)
class Percent:
    operand: Any


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True, slots=True)
class Call:
    name: str  # upper case, without _xlfn./_xlws. prefixes
    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Invoke:
    """A call of an expression's value, ``LAMBDA(x,x+1)(2)``."""

    target: Any
    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Union:
    items: tuple[Any, ...]


def walk(node: Any):
    """Every node of a tree, parents before children."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        t = type(n)
        if t is Binary:
            stack.append(n.right)
            stack.append(n.left)
        elif t is Unary or t is Percent:
            stack.append(n.operand)
        elif t is Call:
            stack.extend(reversed(n.args))
        elif t is Union:
            stack.extend(reversed(n.items))
        elif t is Invoke:
            stack.extend(reversed(n.args))
            stack.append(n.target)
