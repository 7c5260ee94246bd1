"""Excel's text functions.

Positions are 1-based and counts are truncated toward zero, as Excel does. Excel strings hold
at most 32,767 characters; longer results are #VALUE!. The byte-counting variants (LEFTB, LENB,
...) count characters, as Excel does when no double-byte language is the default editing
language.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from engine import numfmt
from engine.errors import NA, VALUE, XLError
from engine.functions.criteria import wildcard_regex
from engine.functions.registry import Arr, Bool, Num, Scalar, Text, Value, excel_function
from engine.values import BLANK, MISSING, Array, parse_number, to_number, to_text

MAX_LEN = 32767

# Excel on Windows reads CHAR/CODE in the ANSI code page (1252 for Western locales). Excel for
# Mac uses "mac_roman"; the formulas/test.xlsx oracle was computed on a Mac.
CODE_PAGE = "cp1252"


def _limit(text: str) -> str | XLError:
    return VALUE if len(text) > MAX_LEN else text


def _flat_texts(args: tuple[Any, ...]) -> list[str] | XLError:
    """Every argument (ranges and arrays flattened row by row) as text; the first error wins."""
    out: list[str] = []
    for a in args:
        values = a.flat() if type(a) is Array else (a,)
        for v in values:
            t = to_text(v)
            if type(t) is XLError:
                return t
            out.append(t)
    return out


# --- joining ----------------------------------------------------------------------------------

@excel_function("CONCAT")
def concat(*texts: Arr):
    parts = _flat_texts(texts)
    return parts if type(parts) is XLError else _limit("".join(parts))


@excel_function("CONCATENATE")
def concatenate(*texts: Text):
    return _limit("".join(texts))


@excel_function("TEXTJOIN")
def textjoin(delimiter: Arr, ignore_empty: Bool, *texts: Arr):
    delims = _flat_texts((delimiter,))
    if type(delims) is XLError:
        return delims
    parts = _flat_texts(texts)
    if type(parts) is XLError:
        return parts
    if ignore_empty:
        parts = [p for p in parts if p != ""]
    if not parts:
        return ""
    out = [parts[0]]
    for i, p in enumerate(parts[1:]):
        out.append(delims[i % len(delims)] if delims else "")
        out.append(p)
    return _limit("".join(out))


# --- slicing ----------------------------------------------------------------------------------

@excel_function("LEFT", "LEFTB")
def left(text: Text, num_chars: Num = 1.0):
    n = int(num_chars)
    return VALUE if n < 0 else text[:n]


@excel_function("RIGHT", "RIGHTB")
def right(text: Text, num_chars: Num = 1.0):
    n = int(num_chars)
    if n < 0:
        return VALUE
    return text[len(text) - n:] if n < len(text) else text


@excel_function("MID", "MIDB")
def mid(text: Text, start_num: Num, num_chars: Num):
    start, n = int(start_num), int(num_chars)
    if start < 1 or n < 0:
        return VALUE
    return text[start - 1:start - 1 + n]


@excel_function("LEN", "LENB")
def len_(text: Text):
    return float(len(text))


@excel_function("REPLACE", "REPLACEB")
def replace(old_text: Text, start_num: Num, num_chars: Num, new_text: Text):
    start, n = int(start_num), int(num_chars)
    if start < 1 or n < 0:
        return VALUE
    return _limit(old_text[:start - 1] + new_text + old_text[start - 1 + n:])


# --- searching --------------------------------------------------------------------------------

def _start_index(within: str, start_num: float) -> int | XLError:
    start = int(start_num)
    if start < 1 or start > len(within) + 1:
        return VALUE
    return start - 1


@excel_function("FIND", "FINDB")
def find(find_text: Text, within_text: Text, start_num: Num = 1.0):
    start = _start_index(within_text, start_num)
    if type(start) is XLError:
        return start
    pos = within_text.find(find_text, start)
    return VALUE if pos < 0 else float(pos + 1)


@lru_cache(maxsize=1024)
def _search_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(wildcard_regex(pattern).pattern, re.IGNORECASE | re.DOTALL)


@excel_function("SEARCH", "SEARCHB")
def search(find_text: Text, within_text: Text, start_num: Num = 1.0):
    start = _start_index(within_text, start_num)
    if type(start) is XLError:
        return start
    m = _search_regex(find_text).search(within_text, start)
    return VALUE if m is None else float(m.start() + 1)


@excel_function("SUBSTITUTE")
def substitute(text: Text, old_text: Text, new_text: Text, instance_num: Scalar = MISSING):
    if instance_num is MISSING:
        return text if not old_text else _limit(text.replace(old_text, new_text))
    if type(instance_num) is bool:
        return VALUE  # the oracle: TRUE from a range is no instance number
    n = to_number(instance_num)
    if type(n) is XLError:
        return n
    if int(n) < 1:
        return VALUE
    if not old_text:
        return text
    pos = -1
    for _ in range(int(n)):
        pos = text.find(old_text, pos + 1)
        if pos < 0:
            return text
    return _limit(text[:pos] + new_text + text[pos + len(old_text):])


@excel_function("EXACT")
def exact(text1: Text, text2: Text):
    return text1 == text2


# --- cleaning and case ------------------------------------------------------------------------

_SPACES = re.compile(" +")
_CONTROL = re.compile("[\x00-\x1f]")


@excel_function("TRIM")
def trim(text: Text):
    """Only the ASCII space is trimmed (not tabs or non-breaking spaces), inner runs become one."""
    return _SPACES.sub(" ", text).strip(" ")


@excel_function("CLEAN")
def clean(text: Text):
    return _CONTROL.sub("", text)


_FULL_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


@excel_function("ASC")
def asc(text: Text):
    """Full-width (double-byte) Latin letters, digits and punctuation become half-width."""
    return text.translate(_FULL_WIDTH)


@excel_function("UPPER")
def upper(text: Text):
    return text.upper()


@excel_function("LOWER")
def lower(text: Text):
    return text.lower()


@excel_function("PROPER")
def proper(text: Text):
    """A letter is capitalised when the character before it is not a letter ("Don'T", "2-Way")."""
    out, prev_letter = [], False
    for ch in text:
        is_letter = ch.isalpha()
        out.append((ch.lower() if prev_letter else ch.upper()) if is_letter else ch)
        prev_letter = is_letter
    return "".join(out)


@excel_function("REPT")
def rept(text: Text, number_times: Num):
    n = int(number_times)
    if n < 0 or len(text) * n > MAX_LEN:
        return VALUE
    return text * n


# --- characters -------------------------------------------------------------------------------

@excel_function("CHAR")
def char(number: Num):
    n = int(number)
    if not 1 <= n <= 255:
        return VALUE
    try:
        return bytes([n]).decode(CODE_PAGE)
    except UnicodeDecodeError:  # cp1252's five unassigned bytes map to the same code point
        return chr(n)


@excel_function("CODE")
def code(text: Text):
    if not text:
        return VALUE
    ch = text[0]
    try:
        encoded = ch.encode(CODE_PAGE)
    except UnicodeEncodeError:
        return float(ord(ch)) if ord(ch) < 256 else 63.0  # Windows maps the unmapped to "?"
    return float(encoded[0])


@excel_function("UNICHAR")
def unichar(number: Num):
    n = int(number)
    if not 1 <= n <= 0x10FFFF:
        return VALUE
    if 0xD800 <= n <= 0xDFFF:
        return NA
    return chr(n)


@excel_function("UNICODE")
def unicode(text: Text):
    return VALUE if not text else float(ord(text[0]))


# --- numbers as text and text as numbers ------------------------------------------------------

@excel_function("VALUE")
def value(text: Scalar):
    if type(text) is bool:
        return VALUE
    return to_number(text)


_NUMBER_BODY = re.compile(r"^(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$")


@excel_function("NUMBERVALUE")
def numbervalue(text: Scalar, decimal_separator: Scalar = MISSING,
                group_separator: Scalar = MISSING):
    """Locale-free reading: spaces are ignored, group separators may not follow the decimal one,
    each trailing % divides by 100 and parentheses negate."""
    if type(text) is bool:
        return VALUE
    if type(text) is float:
        return text
    dec = _separator(decimal_separator, ".")
    grp = _separator(group_separator, ",")
    if type(dec) is XLError or type(grp) is XLError:
        return VALUE
    if dec == grp:
        if group_separator is not MISSING:
            return VALUE
        grp = "."  # the default group separator yields to a "," decimal separator
    s = re.sub(r"\s", "", to_text(text))
    if not s:
        return 0.0
    return _read_number(s, dec, grp)


def _separator(arg: Any, default: str) -> str | XLError:
    if arg is MISSING:
        return default
    if arg is BLANK:
        return VALUE
    t = to_text(arg)
    if type(t) is XLError or not t:
        return VALUE
    return t[0]


def _read_number(s: str, dec: str, grp: str) -> float | XLError:
    scale, negate = 1.0, False
    while s.endswith("%"):
        s, scale = s[:-1], scale / 100
    if s.startswith("(") and s.endswith(")"):
        s, negate = s[1:-1], True
        while s.endswith("%"):
            s, scale = s[:-1], scale / 100
    if s[:1] in "+-" and not negate:
        negate, s = s[0] == "-", s[1:]
    whole, sep, frac = s.partition(dec)
    if grp in frac:
        return VALUE
    body = whole.replace(grp, "") + ("." + frac if sep else "")
    m = _NUMBER_BODY.match(body)
    if not m or not (m.group(1) or m.group(2)):
        return VALUE
    number = float(body) * scale
    return -number if negate else number


@excel_function("TEXT")
def text_(value: Scalar, format_text: Text):
    """Numeric text is formatted as the number it reads as; TRUE and other text pass through
    the format's text section."""
    if type(value) is bool:
        v: Any = "TRUE" if value else "FALSE"
    elif value is BLANK:
        v = 0.0
    elif type(value) is str:
        n = parse_number(value)
        v = value if n is None else n
    else:
        v = float(value)
    return numfmt.format_value(v, format_text)


# Thai words for BAHTTEXT: digits 0-9, then 10, 100, ..., 100,000 (a million is _TH_MILLION).
_TH_DIGITS = ("ศูนย์", "หนึ่ง", "สอง", "สาม", "สี่", "ห้า", "หก", "เจ็ด", "แปด", "เก้า")
_TH_POWERS = ("", "สิบ", "ร้อย", "พัน", "หมื่น", "แสน")
_TH_MILLION, _TH_TWENTY, _TH_ONE_AFTER_TENS = "ล้าน", "ยี่", "เอ็ด"


def _thai_block(n: int) -> str:
    """1..999,999 in Thai words: ten is "sip" alone, twenty "yi sip", and a final one after
    tens is "et" (21 = "yi sip et")."""
    words = []
    for power in (5, 4, 3, 2):
        digit, n = divmod(n, 10 ** power)
        if digit:
            words.append(_TH_DIGITS[digit] + _TH_POWERS[power])
    tens, ones = divmod(n, 10)
    if tens:
        words.append({1: "", 2: _TH_TWENTY}.get(tens, _TH_DIGITS[tens]) + _TH_POWERS[1])
    if ones:
        words.append(_TH_ONE_AFTER_TENS if tens and ones == 1 else _TH_DIGITS[ones])
    return "".join(words)


def _thai_number(n: int) -> str:
    """A whole number in Thai words, in blocks of six digits joined by "million"."""
    blocks = []
    while n:
        n, block = divmod(n, 1_000_000)
        blocks.append(_thai_block(block) if block else "")
    return _TH_MILLION.join(reversed(blocks))


@excel_function("BAHTTEXT")
def bahttext(number: Num):
    """The amount in Thai words: baht, then satang (rounded to two places) or "exactly"."""
    satang_total = int(abs(number) * 100 + 0.5)
    baht, satang = divmod(satang_total, 100)
    words = _thai_number(baht) if baht else ("" if satang else _TH_DIGITS[0])
    if words:
        words += "บาท"
    words += _thai_block(satang) + "สตางค์" if satang else "ถ้วน"
    return ("ลบ" if number < 0 else "") + words


def _decimals(decimals: float) -> int | XLError:
    d = int(decimals)
    return VALUE if d > 127 else d


@excel_function("FIXED")
def fixed(number: Num, decimals: Num = 2.0, no_commas: Bool = False):
    d = _decimals(decimals)
    if type(d) is XLError:
        return d
    body = numfmt.format_fixed(abs(number), d, not no_commas)
    return "-" + body if number < 0 and body.strip("0.,") else body


@excel_function("DOLLAR", "USDOLLAR")
def dollar(number: Num, decimals: Num = 2.0):
    """Excel's en-US currency format: "$1,234.57", negatives in parentheses."""
    d = _decimals(decimals)
    if type(d) is XLError:
        return d
    body = numfmt.format_fixed(abs(number), d, True, prefix="$")
    return f"({body})" if number < 0 and body.strip("$0.,") else body


# --- splitting at delimiters ------------------------------------------------------------------

def _delimiters(arg: Any) -> list[str] | XLError:
    return [] if arg is MISSING else _flat_texts((arg,))


def _mode_flags(match_mode: float) -> int | XLError:
    mode = int(match_mode)
    if mode not in (0, 1):
        return VALUE
    return re.IGNORECASE if mode else 0


def _occurrences(text: str, delims: list[str], flags: int) -> list[tuple[int, int]]:
    """(start, end) of each delimiter match, left to right, without overlaps."""
    if any(d == "" for d in delims):
        return [(i, i) for i in range(len(text) + 1)]
    rx = re.compile("|".join(re.escape(d) for d in sorted(delims, key=len, reverse=True)), flags)
    return [(m.start(), m.end()) for m in rx.finditer(text)]


def _split_point(text: str, delimiter: Any, instance_num: float, match_mode: float,
                 match_end: bool) -> tuple[int, int] | XLError | None:
    """The delimiter occurrence TEXTBEFORE/TEXTAFTER cut at; None when there is none."""
    delims = _delimiters(delimiter)
    if type(delims) is XLError:
        return delims
    flags = _mode_flags(match_mode)
    if type(flags) is XLError:
        return flags
    n = int(instance_num)
    if n == 0 or abs(n) > len(text) + 1 or not delims:
        return VALUE
    found = _occurrences(text, delims, flags)
    if "" in delims and n < 0:
        found = [(i, i) for i in range(len(text) + 1)]
    if match_end:  # the end of the text (the start, searching backwards) counts as one
        found = found + [(len(text), len(text))] if n > 0 else [(0, 0)] + found
    k = n - 1 if n > 0 else len(found) + n
    if not 0 <= k < len(found):
        return None
    return found[k]


def _before_after(text: str, delimiter: Any, instance_num: float, match_mode: float,
                  match_end: bool, if_not_found: Any, after: bool) -> Any:
    point = _split_point(text, delimiter, instance_num, match_mode, match_end)
    if type(point) is XLError:
        return point
    if point is None:
        return NA if if_not_found is MISSING else if_not_found
    return text[point[1]:] if after else text[:point[0]]


@excel_function("TEXTBEFORE")
def textbefore(text: Text, delimiter: Arr, instance_num: Num = 1.0, match_mode: Num = 0.0,
               match_end: Bool = False, if_not_found: Value = MISSING):
    return _before_after(text, delimiter, instance_num, match_mode, bool(match_end),
                         if_not_found, after=False)


@excel_function("TEXTAFTER")
def textafter(text: Text, delimiter: Arr, instance_num: Num = 1.0, match_mode: Num = 0.0,
              match_end: Bool = False, if_not_found: Value = MISSING):
    return _before_after(text, delimiter, instance_num, match_mode, bool(match_end),
                         if_not_found, after=True)


def _split(text: str, delims: list[str], flags: int, ignore_empty: bool) -> list[str]:
    if not delims:
        return [text]
    pieces, last = [], 0
    for start, end in _occurrences(text, delims, flags):
        pieces.append(text[last:start])
        last = end
    pieces.append(text[last:])
    return [p for p in pieces if p] if ignore_empty else pieces


@excel_function("TEXTSPLIT")
def textsplit(text: Arr, col_delimiter: Arr = MISSING, row_delimiter: Arr = MISSING,
              ignore_empty: Bool = False, match_mode: Num = 0.0, pad_with: Value = MISSING):
    """An array of texts gives each one's first piece, as Excel does."""
    cols = _delimiters(col_delimiter)
    rows = _delimiters(row_delimiter)
    for d in (cols, rows):
        if type(d) is XLError:
            return d
        if "" in d:
            return VALUE
    if not cols and not rows:
        return VALUE
    flags = _mode_flags(match_mode)
    if type(flags) is XLError:
        return flags
    pad = NA if pad_with is MISSING else pad_with
    if type(text) is Array and text.shape == (1, 1):
        text = text.top_left()  # a single cell is split whole, like a typed text
    if type(text) is Array:
        return text.map(lambda v: _first(_split_one(v, cols, rows, flags, bool(ignore_empty),
                                                    pad)))
    if type(text) is XLError:
        return text
    return _split_one(text, cols, rows, flags, bool(ignore_empty), pad)


def _first(result: Array | XLError) -> Any:
    return result.top_left() if type(result) is Array else result


def _split_one(value_: Any, cols: list[str], rows: list[str], flags: int, ignore_empty: bool,
               pad: Any) -> Array | XLError:
    if value_ is BLANK:
        return VALUE
    text = to_text(value_)
    if type(text) is XLError:
        return text
    lines = _split(text, rows, flags, ignore_empty) if rows else [text]
    table = [_split(line, cols, flags, ignore_empty) for line in lines] or [[""]]
    width = max(len(r) for r in table)
    return Array([r + [pad] * (width - len(r)) for r in table])


# --- values and arrays as text ----------------------------------------------------------------

def _value_text(v: Any, strict: bool) -> str:
    if type(v) is str:
        return '"' + v.replace('"', '""') + '"' if strict else v
    if type(v) is XLError:
        return v.code
    t = to_text(v)
    return t if type(t) is str else t.code


def _text_format(fmt: float) -> bool | XLError:
    f = int(fmt)
    return VALUE if f not in (0, 1) else f == 1


@excel_function("VALUETOTEXT")
def valuetotext(value_: Value, format: Num = 0.0):  # noqa: A002  (Excel's argument name)
    strict = _text_format(format)
    return strict if type(strict) is XLError else _value_text(value_, strict)


@excel_function("ARRAYTOTEXT")
def arraytotext(array: Arr, format: Num = 0.0):  # noqa: A002  (Excel's argument name)
    strict = _text_format(format)
    if type(strict) is XLError:
        return strict
    rows = array.rows if type(array) is Array else [[array]]
    if strict:
        if rows == [[BLANK]]:
            return VALUE  # as the oracle shows for a single empty cell
        body = ";".join(",".join(_value_text(v, True) for v in row) for row in rows)
        return _limit("{" + body + "}")
    return _limit(", ".join(_value_text(v, False) for row in rows for v in row))


# --- regular expressions ----------------------------------------------------------------------

def _regex(pattern: str, case_sensitivity: float) -> re.Pattern[str] | XLError:
    mode = int(case_sensitivity)
    if mode not in (0, 1):
        return VALUE
    try:
        return re.compile(pattern, re.IGNORECASE if mode else 0)
    except re.error:
        return VALUE


@excel_function("REGEXTEST")
def regextest(text: Text, pattern: Text, case_sensitivity: Num = 0.0):
    rx = _regex(pattern, case_sensitivity)
    return rx if type(rx) is XLError else rx.search(text) is not None


@excel_function("REGEXEXTRACT")
def regexextract(text: Text, pattern: Text, return_mode: Num = 0.0, case_sensitivity: Num = 0.0):
    """Mode 0: the first match; 1: every match (a row); 2: the first match's capture groups (a
    row, #N/A for a group that took no part; #VALUE! when the pattern has none)."""
    rx = _regex(pattern, case_sensitivity)
    if type(rx) is XLError:
        return rx
    mode = int(return_mode)
    if mode == 1:
        found = [m.group(0) for m in rx.finditer(text)]
        return Array.row(found) if found else NA
    if mode not in (0, 2) or (mode == 2 and not rx.groups):
        return VALUE
    m = rx.search(text)
    if m is None:
        return NA
    if mode == 0:
        return m.group(0)
    return Array.row([NA if g is None else g for g in m.groups()])


_DOLLAR_REF = re.compile(r"\$(\d+)|\$\{(\d+)\}")


@excel_function("REGEXREPLACE")
def regexreplace(text: Text, pattern: Text, replacement: Text, occurrence: Num = 0.0,
                 case_sensitivity: Num = 0.0):
    """$1 in the replacement is a group, as in PCRE; occurrence n>0 replaces only the nth match,
    n<0 the nth from the end and 0 every match."""
    rx = _regex(pattern, case_sensitivity)
    if type(rx) is XLError:
        return rx
    template = _DOLLAR_REF.sub(lambda m: "\\g<" + (m.group(1) or m.group(2)) + ">",
                               replacement.replace("\\", "\\\\"))
    n = int(occurrence)
    if n == 0:
        return _limit(rx.sub(template, text))
    matches = list(rx.finditer(text))
    k = n - 1 if n > 0 else len(matches) + n
    if not 0 <= k < len(matches):
        return text
    m = matches[k]
    return _limit(text[:m.start()] + m.expand(template) + text[m.end():])

