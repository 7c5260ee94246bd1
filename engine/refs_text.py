"""Reading reference text at run time (INDIRECT): A1 or R1C1 addresses and defined names."""

from __future__ import annotations

import re
from typing import Any

from engine.errors import REF, FormulaSyntaxError, XLError
from engine.nodes import BadRef, Binary, Name, RefNode, Union
from engine.refs import MAX_COL, MAX_ROW, MultiRef, Ref

_R1C1_PART = r"R(\[-?\d+\]|\d+)?C(\[-?\d+\]|\d+)?"
_R1C1_RE = re.compile(rf"^(?:(?P<sheet>'(?:[^']|'')+'|[^!]+)!)?(?P<a>{_R1C1_PART})"
                      rf"(?::(?P<b>{_R1C1_PART}))?$", re.IGNORECASE)
_PART_RE = re.compile(_R1C1_PART, re.IGNORECASE)


def _r1c1_coord(spec: str | None, here: int) -> int | None:
    if spec is None:
        return None
    if spec.startswith("["):
        return here + int(spec[1:-1])
    return int(spec)


def _r1c1(text: str, sheet: str, row: int, col: int) -> Ref | XLError:
    m = _R1C1_RE.match(text.strip())
    if m is None:
        return REF
    if m.group("sheet"):
        sheet = m.group("sheet")
        if sheet.startswith("'"):
            sheet = sheet[1:-1].replace("''", "'")
    corners = []
    for part in (m.group("a"), m.group("b") or m.group("a")):
        pm = _PART_RE.fullmatch(part)
        r = _r1c1_coord(pm.group(1), row)
        c = _r1c1_coord(pm.group(2), col)
        corners.append((r, c))
    (ra, ca), (rb, cb) = corners
    r1, r2 = (1, MAX_ROW) if ra is None else (min(ra, rb), max(ra, rb))
    c1, c2 = (1, MAX_COL) if ca is None else (min(ca, cb), max(ca, cb))
    if r1 < 1 or c1 < 1 or r2 > MAX_ROW or c2 > MAX_COL:
        return REF
    return Ref(sheet, r1, c1, r2, c2)


def resolve_reference_text(engine: Any, text: str, sheet: str, row: int, col: int,
                           a1: bool = True) -> Ref | MultiRef | XLError:
    """The reference ``text`` names, seen from (sheet, row, col); #REF! when it names none."""
    from engine.evaluator import CellContext
    from engine.parser import parse

    text = text.strip()
    if not text:
        return REF
    if not a1:
        ref = _r1c1(text, sheet, row, col)
        if type(ref) is Ref and ref.sheet not in engine.workbook.sheets:
            return REF
        return ref
    try:
        node = parse(text, sheet, row, col, sheet_names=tuple(engine.workbook.sheets))
    except FormulaSyntaxError:
        return REF
    if type(node) not in (RefNode, Name, Binary, Union, BadRef):
        return REF
    result = engine.evaluate(node, CellContext(engine, sheet, row, col, False))
    if type(result) in (Ref, MultiRef):
        return result
    return REF
