"""Excel's criteria strings ("north", ">10", "g*", "<>east") and wildcard patterns.

Shared by the *IF(S) aggregates, the D-functions and the wildcard modes of MATCH, XMATCH,
XLOOKUP, VLOOKUP, HLOOKUP and SEARCH. ``*`` is any run, ``?`` one character and ``~`` escapes
either.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from engine.errors import XLError
from engine.values import BLANK, compare, parse_number

_OPS = ("<=", ">=", "<>", "=", "<", ">")


@lru_cache(maxsize=4096)
def wildcard_regex(pattern: str) -> re.Pattern[str]:
    """Compile an Excel wildcard pattern to a case-insensitive full-match regex."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "~" and i + 1 < len(pattern) and pattern[i + 1] in "*?~":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def has_wildcards(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?~")


def _is_num(v: Any) -> bool:
    t = type(v)
    return t is float or t is int


def make_predicate(criterion: Any) -> Callable[[Any], bool]:
    """A test for one cell value, following COUNTIF's reading of ``criterion``."""
    t = type(criterion)
    if t is bool:
        return lambda v: type(v) is bool and v == criterion
    if _is_num(criterion):
        target = float(criterion)
        return lambda v: _is_num(v) and float(v) == target or (
            type(v) is str and parse_number(v) == target)
    if t is XLError:
        return lambda v: v is criterion
    if criterion is BLANK:
        # An empty criteria cell means 0, not "blank": COUNTIF(A1:A2, A1) is 0 when both are empty.
        return make_predicate(0.0)
    text = str(criterion)
    op = next((o for o in _OPS if text.startswith(o)), "")
    operand = text[len(op):]
    return _predicate(op or "=", operand, bare=not op)


def _predicate(op: str, operand: str, bare: bool) -> Callable[[Any], bool]:
    if operand == "":
        if op == "=":
            return (lambda v: v is BLANK or v == "") if bare else (lambda v: v is BLANK)
        if op == "<>":
            return lambda v: v is not BLANK
    number = parse_number(operand)
    upper = operand.upper()
    if number is not None:
        return _numeric(op, number)
    if upper in ("TRUE", "FALSE"):
        target = upper == "TRUE"
        return _ordered(op, target, lambda v: type(v) is bool)
    err = XLError.from_code(operand)
    if err is not None:
        if op == "=":
            return lambda v: v is err
        if op == "<>":
            return lambda v: v is not err
    if op in ("=", "<>"):
        rx = wildcard_regex(operand)
        if op == "=":
            return lambda v: type(v) is str and rx.fullmatch(v) is not None
        return lambda v: not (type(v) is str and rx.fullmatch(v) is not None)
    return _ordered(op, operand, lambda v: type(v) is str)


def _numeric(op: str, number: float) -> Callable[[Any], bool]:
    if op == "=":
        return lambda v: (_is_num(v) and float(v) == number) or (
            type(v) is str and parse_number(v) == number)
    if op == "<>":
        return lambda v: not ((_is_num(v) and float(v) == number) or (
            type(v) is str and parse_number(v) == number))
    return _ordered(op, number, _is_num)


_CMP = {
    "<": lambda c: c < 0, "<=": lambda c: c <= 0, ">": lambda c: c > 0, ">=": lambda c: c >= 0,
    "=": lambda c: c == 0, "<>": lambda c: c != 0,
}


def _ordered(op: str, target: Any, same_type: Callable[[Any], bool]) -> Callable[[Any], bool]:
    test = _CMP[op]
    if op == "<>":
        return lambda v: not same_type(v) or test(compare(v, target))
    return lambda v: same_type(v) and test(compare(v, target))
