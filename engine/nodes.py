"""Formula syntax tree. Nodes are small immutable records; the evaluator dispatches on type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import XLError
from engine.refs import Ref


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


@dataclass(frozen=True, slots=True)
class RefNode:
    """A cell or area reference, already resolved to its sheet."""

    ref: Ref


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
