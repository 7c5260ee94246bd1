"""Excel formula grammar: tokenizer and precedence-climbing parser.

Precedence, highest first, as Excel documents it: reference operators (``:``, space for
intersection, ``,`` for union inside parentheses), negation, ``%``, ``^`` (left-associative),
``*`` ``/``, ``+`` ``-``, ``&``, comparisons. So ``-2^2`` is 4 and ``2^3^2`` is 64.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from engine.errors import REF, FormulaSyntaxError, XLError
from engine.nodes import (
    ABS_C1,
    ABS_R1,
    ArrayLiteral,
    BadRef,
    Binary,
    Call,
    Invoke,
    Literal,
    Missing,
    Name,
    Percent,
    RefNode,
    Unary,
    Union,
)
from engine.refs import MAX_COL, MAX_ROW, Ref, col_to_index

# A resolver for structured references: (table or None, inside-brackets text, sheet, row, col)
StructResolver = Callable[[str | None, str, str, int, int], "Ref | XLError"]

_WORD = r"[A-Za-z_\u00a0-\uffff][\w.\u00a0-\uffff]*"
_SHEET = rf"(?:'(?:[^']|'')+'|{_WORD}(?::{_WORD})?|\[\d+\][\w.\u00a0-\uffff]+)!"
_CELL = r"\$?[A-Za-z]{1,3}\$?\d{1,7}"
_AREA = rf"{_CELL}(?::{_CELL})?|\$?[A-Za-z]{{1,3}}:\$?[A-Za-z]{{1,3}}|\$?\d{{1,7}}:\$?\d{{1,7}}"
_ERRORS = r"#(?:NULL!|DIV/0!|VALUE!|REF!|NAME\?|NUM!|N/A|GETTING_DATA|SPILL!|CALC!)"

_TOKEN_RE = re.compile("|".join([
    r"(?P<ws>[ \t\r\n]+)",
    r'(?P<str>"(?:[^"]|"")*")',
    rf"(?P<sheet>{_SHEET})",
    rf"(?P<err>{_ERRORS})",
    rf"(?P<ref>(?:{_AREA}))(?![\w.(\[\\])",
    r"(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)",
    r"(?P<func>[A-Za-z_\\][\w.\\]*(?=\())",
    r"(?P<name>[A-Za-z_\\\u00a0-\uffff][\w.\\?\u00a0-\uffff]*)",
    r"(?P<bracket>\[)",
    r"(?P<op><>|<=|>=|[-+*/^&=<>%:,;(){}@])",
]))

_STRIP_PREFIXES = ("_XLFN._XLWS.", "_XLFN.", "_XLWS.", "_XLL.", "_XLUDF.")

_INFIX = {
    "=": (1, 2), "<>": (1, 2), "<": (1, 2), ">": (1, 2), "<=": (1, 2), ">=": (1, 2),
    "&": (2, 3), "+": (3, 4), "-": (3, 4), "*": (4, 5), "/": (4, 5), "^": (5, 6),
    " ": (9, 10), ":": (10, 11),
}
_PREFIX_BP = 6
_PERCENT_BP = 7


class _Tok:
    __slots__ = ("kind", "text", "pos")

    def __init__(self, kind: str, text: str, pos: int):
        self.kind, self.text, self.pos = kind, text, pos

    def __repr__(self) -> str:
        return f"{self.kind}:{self.text!r}"


def _scan_brackets(formula: str, start: int) -> int:
    """Index just past the ``]`` closing the ``[`` at ``start`` (``'`` escapes a bracket)."""
    depth, i = 0, start
    while i < len(formula):
        ch = formula[i]
        if ch == "'":
            i += 2
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise FormulaSyntaxError(f"unclosed '[' in {formula!r}")


_OPERAND_END = {"ref", "name", "struct", "close", "err"}
_OPERAND_START = {"ref", "name", "struct", "open", "func", "sheetref"}


def tokenize(formula: str) -> list[_Tok]:
    """Tokens of a formula without its leading ``=``; whitespace survives only as intersection."""
    toks: list[_Tok] = []
    pos, n = 0, len(formula)
    match = _TOKEN_RE.match
    while pos < n:
        m = match(formula, pos)
        if m is None:
            raise FormulaSyntaxError(f"unexpected {formula[pos]!r} at position {pos + 1}")
        kind = m.lastgroup
        text = m.group()
        end = m.end()
        if kind == "sheet":
            rest = match(formula, end)
            if rest is not None and rest.lastgroup in ("ref", "err", "name"):
                text = text + rest.group()
                end = rest.end()
                kind = "sheetref" if rest.lastgroup == "ref" else (
                    "sheeterr" if rest.lastgroup == "err" else "sheetname")
            else:
                raise FormulaSyntaxError(f"expected a reference after {text!r}")
        elif kind == "name" and end < n and formula[end] == "[":
            end = _scan_brackets(formula, end)
            text = formula[pos:end]
            kind = "struct"
        elif kind == "bracket":
            if formula.startswith("[", pos) and re.match(r"\[\d+\]", formula[pos:]):
                m2 = re.match(r"\[\d+\][\w.]+!(?:" + _AREA + "|" + _ERRORS + r"|[\w.]+)",
                              formula[pos:])
                if m2 is None:
                    raise FormulaSyntaxError(f"bad external reference in {formula!r}")
                end = pos + m2.end()
                text = formula[pos:end]
                kind = "external"
            else:
                end = _scan_brackets(formula, pos)
                text = formula[pos:end]
                kind = "struct"
        elif kind == "op":
            kind = {"(": "open", ")": "close", "{": "lbrace", "}": "rbrace", ",": "comma",
                    ";": "semi"}.get(text, "op")
        elif kind == "ref":
            kind = "ref"
        toks.append(_Tok(kind, text, pos))
        pos = end
    # keep whitespace only where it is the intersection operator
    out: list[_Tok] = []
    for i, t in enumerate(toks):
        if t.kind != "ws":
            out.append(t)
            continue
        prev = out[-1].kind if out else None
        nxt = toks[i + 1].kind if i + 1 < len(toks) else None
        if prev in _OPERAND_END | {"sheetref", "sheetname"} and nxt in _OPERAND_START | {
                "sheetname"}:
            out.append(_Tok("op", " ", t.pos))
    return out


def _strip_prefix(name: str) -> str:
    upper = name.upper()
    for p in _STRIP_PREFIXES:
        if upper.startswith(p):
            return upper[len(p):]
    return upper


def _unquote_sheet(text: str) -> str:
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    return text


_PART_RE = re.compile(r"(\$?)([A-Za-z]{1,3})?(\$?)(\d{1,7})?$")
_COLS: dict[str, int] = {}


def _col(letters: str) -> int:
    n = _COLS.get(letters)
    if n is None:
        n = _COLS[letters] = col_to_index(letters)
    return n


def area_from_text(body: str, sheet: str) -> tuple[Ref, int] | None:
    """(Ref, fixed bits) for ``A1``, ``$A$1:B2``, ``A:C`` or ``3:5``; None when off the sheet."""
    first, _, last = body.partition(":")
    corners = []
    fixed = 0
    for k, part in enumerate((first, last or first)):
        m = _PART_RE.match(part)
        dollar_c, letters, dollar_r, digits = m.groups()
        if letters is None:  # a row: 3:5
            dollar_r, dollar_c = dollar_c, ""
            col, col_fixed = (1 if k == 0 else MAX_COL), True
        else:
            col, col_fixed = _col(letters), bool(dollar_c)
        if digits is None:  # a column: A:C
            row, row_fixed = (1 if k == 0 else MAX_ROW), True
        else:
            row, row_fixed = int(digits), bool(dollar_r)
        if not (1 <= row <= MAX_ROW and 1 <= col <= MAX_COL):
            return None
        corners.append((row, col))
        fixed |= ((ABS_R1 if row_fixed else 0) | (ABS_C1 if col_fixed else 0)) << (2 * k)
    (r1, c1), (r2, c2) = corners
    if r1 > r2 or c1 > c2:  # B2:A1 means A1:B2
        r1, r2 = min(r1, r2), max(r1, r2)
        c1, c2 = min(c1, c2), max(c1, c2)
    return Ref(sheet, r1, c1, r2, c2), fixed


# Cell references outside strings and quoted sheet names, for the copy-invariant shape of a
# formula: two cells whose formulas have the same shape hold copies of one formula.
_SHAPE_RE = re.compile(
    r"""("(?:[^"]|"")*"|'(?:[^']|'')*')|(?<![\w.$])(\$?)([A-Za-z]{1,3})(\$?)(\d{1,7})(?![\w.(\[!])""")


def shape_key(formula: str, row: int, col: int) -> str | None:
    """The formula with relative references written as offsets (R1C1 style), or None when its
    meaning depends on its position in other ways (structured references)."""
    if "[" in formula:
        return None

    def sub(m: re.Match) -> str:
        if m.group(1):
            return m.group(1)
        dc, letters, dr, digits = m.group(2, 3, 4, 5)
        c = f"C{_col(letters)}" if dc else f"C[{_col(letters) - col}]"
        r = f"R{digits}" if dr else f"R[{int(digits) - row}]"
        return r + c

    return _SHAPE_RE.sub(sub, formula)


class Parser:
    """Parses one formula of a given cell (needed for sheet scope and ``[@Col]``)."""

    def __init__(self, sheet: str, row: int = 1, col: int = 1,
                 structured: StructResolver | None = None,
                 sheet_names: tuple[str, ...] | None = None):
        self.sheet, self.row, self.col = sheet, row, col
        self.structured = structured
        self.sheet_names = sheet_names

    def parse(self, formula: str) -> Any:
        text = formula[1:] if formula.startswith("=") else formula
        self.toks = tokenize(text)
        self.i = 0
        self.source = formula
        if not self.toks:
            raise FormulaSyntaxError("empty formula")
        node = self.expr(0)
        if self.i != len(self.toks):
            raise FormulaSyntaxError(
                f"unexpected {self.toks[self.i].text!r} in {formula!r}")
        return node

    # -- helpers
    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise FormulaSyntaxError(f"formula ends too early: {self.source!r}")
        self.i += 1
        return tok

    def expect(self, kind: str) -> _Tok:
        tok = self.take()
        if tok.kind != kind:
            raise FormulaSyntaxError(f"expected {kind!r} but found {tok.text!r} in {self.source!r}")
        return tok

    # -- grammar
    def expr(self, min_bp: int) -> Any:
        left = self.prefix()
        while True:
            tok = self.peek()
            if tok is None:
                break
            if tok.kind == "op" and tok.text == "%":
                if min_bp > _PERCENT_BP:
                    break
                self.i += 1
                left = Percent(left)
                continue
            if tok.kind != "op" or tok.text not in _INFIX:
                break
            lbp, rbp = _INFIX[tok.text]
            if lbp < min_bp:
                break
            self.i += 1
            right = self.expr(rbp)
            left = Binary(tok.text, left, right)
        return left

    def prefix(self) -> Any:
        tok = self.take()
        kind, text = tok.kind, tok.text
        if kind == "op" and text in "+-":
            return Unary(text, self.expr(_PREFIX_BP))
        if kind == "op" and text == "@":
            return Call("SINGLE", (self.expr(_PREFIX_BP),))
        if kind == "num":
            return Literal(float(text))
        if kind == "str":
            return Literal(text[1:-1].replace('""', '"'))
        if kind == "err":
            return Literal(XLError(text.upper()))
        if kind == "ref":
            return self.ref_node(text, self.sheet)
        if kind == "sheetref":
            sheet_text, _, body = text.rpartition("!")
            return self.sheet_ref(sheet_text, body)
        if kind == "sheeterr":
            return BadRef(text, REF)
        if kind == "sheetname":
            sheet_text, _, name = text.rpartition("!")
            return Name(name.upper(), _unquote_sheet(sheet_text), explicit_sheet=True)
        if kind == "external":
            return BadRef(text, REF, external=True)
        if kind == "name":
            upper = text.upper()
            if upper in ("TRUE", "FALSE"):
                return Literal(upper == "TRUE")
            return Name(upper, self.sheet)
        if kind == "struct":
            return self.struct(text)
        if kind == "func":
            node = self.call(_strip_prefix(text))
            while self.peek() is not None and self.peek().kind == "open":  # LAMBDA(x,x)(1)
                node = Invoke(node, self.call("").args)
            return node
        if kind == "open":
            first = self.expr(0)
            items = [first]
            while self.peek() is not None and self.peek().kind == "comma":
                self.i += 1
                items.append(self.expr(0))
            self.expect("close")
            return Union(tuple(items)) if len(items) > 1 else first
        if kind == "lbrace":
            return self.array()
        raise FormulaSyntaxError(f"unexpected {text!r} in {self.source!r}")

    def ref_node(self, body: str, sheet: str) -> Any:
        found = area_from_text(body, sheet)
        if found is None:
            return BadRef(body, REF)
        return RefNode.relative_to(found[0], found[1], self.row, self.col)

    def sheet_ref(self, sheet_text: str, body: str) -> Any:
        if sheet_text.startswith("[") or sheet_text.startswith("'["):
            return BadRef(f"{sheet_text}!{body}", REF, external=True)
        if ":" in sheet_text and not sheet_text.startswith("'"):
            first, last = sheet_text.split(":", 1)
            return self.three_d(first, last, body)
        sheet = _unquote_sheet(sheet_text)
        if sheet.startswith("[") or (":" in sheet and self.sheet_names is not None
                                     and sheet not in self.sheet_names):
            if sheet.startswith("["):
                return BadRef(f"{sheet_text}!{body}", REF, external=True)
            first, last = sheet.split(":", 1)
            return self.three_d(first, last, body)
        if self.sheet_names is not None and sheet not in self.sheet_names:
            return BadRef(f"{sheet_text}!{body}", REF)
        return self.ref_node(body, sheet)

    def three_d(self, first: str, last: str, body: str) -> Any:
        """``Sheet1:Sheet3!A1`` as the union of the same area on each sheet in between."""
        names = list(self.sheet_names or ())
        if first not in names or last not in names:
            return BadRef(f"{first}:{last}!{body}", REF)
        i, j = sorted((names.index(first), names.index(last)))
        return Union(tuple(self.ref_node(body, s) for s in names[i:j + 1]))

    def struct(self, text: str) -> Any:
        table, _, spec = text.partition("[")
        spec = "[" + spec
        if self.structured is None:
            return BadRef(text, REF)
        ref = self.structured(table or None, spec, self.sheet, self.row, self.col)
        if isinstance(ref, XLError):
            return BadRef(text, ref)
        return RefNode.absolute(ref)

    def call(self, name: str) -> Any:
        self.expect("open")
        args: list[Any] = []
        if self.peek() is not None and self.peek().kind == "close":
            self.i += 1
            return Call(name, ())
        while True:
            tok = self.peek()
            if tok is not None and tok.kind in ("comma", "close"):
                args.append(Missing())
            else:
                args.append(self.expr(0))
            tok = self.take()
            if tok.kind == "close":
                return Call(name, tuple(args))
            if tok.kind != "comma":
                raise FormulaSyntaxError(f"expected ',' or ')' but found {tok.text!r} in "
                                         f"{self.source!r}")

    def array(self) -> ArrayLiteral:
        rows: list[list[Any]] = [[]]
        while True:
            rows[-1].append(self.array_item())
            tok = self.take()
            if tok.kind == "rbrace":
                break
            if tok.kind == "semi":
                rows.append([])
            elif tok.kind != "comma":
                raise FormulaSyntaxError(f"bad array constant in {self.source!r}")
        if len({len(r) for r in rows}) != 1:
            raise FormulaSyntaxError(f"array constant rows differ in length in {self.source!r}")
        return ArrayLiteral(tuple(tuple(r) for r in rows))

    def array_item(self) -> Any:
        tok = self.take()
        sign = 1.0
        while tok.kind == "op" and tok.text in "+-":
            sign = -sign if tok.text == "-" else sign
            tok = self.take()
        if tok.kind == "num":
            return sign * float(tok.text)
        if tok.kind == "str":
            return tok.text[1:-1].replace('""', '"')
        if tok.kind == "name" and tok.text.upper() in ("TRUE", "FALSE"):
            return tok.text.upper() == "TRUE"
        if tok.kind == "err":
            return XLError(tok.text.upper())
        raise FormulaSyntaxError(f"bad array constant item {tok.text!r} in {self.source!r}")


def parse(formula: str, sheet: str = "Sheet1", row: int = 1, col: int = 1,
          structured: StructResolver | None = None,
          sheet_names: tuple[str, ...] | None = None) -> Any:
    """Syntax tree of ``formula`` (with or without ``=``) as written in ``sheet`` at (row, col)."""
    return Parser(sheet, row, col, structured, sheet_names).parse(formula)
