"""Excel number formats ("#,##0.00", "0%", "yyyy-mm-dd", "[h]:mm", sections split by ";").

Used by TEXT, FIXED and DOLLAR and by the app to show cells as Excel would. A format is parsed
once into sections of tokens (cached), then each value is rendered against the section Excel
picks for it: positive;negative;zero;text, optionally with [conditions].
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from fractions import Fraction
from functools import lru_cache

from engine import datetimes
from engine.errors import VALUE, XLError

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

_DIGITS = "0#?"
_DATE_LETTERS = "ymdhseb"
_COND_RE = re.compile(r"^\[(<=|>=|<>|<|>|=)(-?[\d.]+(?:[eE][-+]?\d+)?)\]")
_AMPM = ("AM/PM", "A/P")
_WIDE = Context(prec=1000)  # room for FIXED's 127 decimals on a 308-digit number


@dataclass(frozen=True)
class Token:
    """One piece of a format section: ``kind`` is lit, digit, point, comma, percent, exp, slash,
    text (@), general, date (a y/m/d/h/s/AM-PM code) or elapsed ([h], [mm], [ss])."""

    kind: str
    text: str


@dataclass(frozen=True)
class Section:
    tokens: tuple[Token, ...]
    condition: tuple[str, float] | None

    @property
    def is_date(self) -> bool:
        return any(t.kind in ("date", "elapsed") for t in self.tokens)

    @property
    def has_text(self) -> bool:
        return any(t.kind == "text" for t in self.tokens)


# --- parsing ----------------------------------------------------------------------------------

def _split_sections(fmt: str) -> list[str]:
    """Split on ';' outside quotes, brackets and backslash escapes."""
    parts, cur, i = [], [], 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "\\" and i + 1 < len(fmt):
            cur.append(fmt[i:i + 2])
            i += 2
            continue
        if ch in "\"[":
            end = fmt.find('"' if ch == '"' else "]", i + 1)
            end = len(fmt) - 1 if end < 0 else end
            cur.append(fmt[i:end + 1])
            i = end + 1
            continue
        if ch == ";":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _bracket(content: str) -> Token | None:
    """[h], [mm], [ss] are elapsed time; [$€-409] shows its symbol; colours and locales vanish."""
    low = content.lower()
    if low and low[0] in "hms" and low == low[0] * len(low):
        return Token("elapsed", low)
    if content.startswith("$"):
        return Token("lit", content[1:].split("-")[0])
    return None


def _tokenize(section: str) -> Section:
    tokens: list[Token] = []
    condition = None
    m = _COND_RE.match(section)
    if m:
        condition = (m.group(1), float(m.group(2)))
        section = section[m.end():]
    i, n = 0, len(section)
    while i < n:
        ch = section[i]
        low = ch.lower()
        if ch == '"':
            end = section.find('"', i + 1)
            end = n if end < 0 else end
            tokens.append(Token("lit", section[i + 1:end]))
            i = end + 1
        elif ch == "\\":
            tokens.append(Token("lit", section[i + 1:i + 2]))
            i += 2
        elif ch == "_":
            tokens.append(Token("lit", " "))
            i += 2
        elif ch == "*":
            i += 2  # fill characters pad to the column width, which text has none of
        elif ch == "[":
            end = section.find("]", i)
            end = n if end < 0 else end
            tok = _bracket(section[i + 1:end])
            if tok is not None:
                tokens.append(tok)
            i = end + 1
        elif section[i:i + 7].lower() == "general":
            tokens.append(Token("general", ""))
            i += 7
        elif section[i:i + 5].upper() == "AM/PM" or section[i:i + 3].upper() == "A/P":
            size = 5 if section[i:i + 5].upper() == "AM/PM" else 3
            tokens.append(Token("date", section[i:i + size]))
            i += size
        elif ch in "Ee" and i + 1 < n and section[i + 1] in "+-":
            tokens.append(Token("exp", section[i + 1]))
            i += 2
        elif low in _DATE_LETTERS:
            j = i
            while j < n and section[j].lower() == low:
                j += 1
            tokens.append(Token("date", section[i:j].lower()))
            i = j
        elif ch in _DIGITS:
            tokens.append(Token("digit", ch))
            i += 1
        else:
            kind = {".": "point", ",": "comma", "%": "percent", "/": "slash", "@": "text"}.get(ch)
            tokens.append(Token(kind or "lit", ch))
            i += 1
    return Section(tuple(_resolve_minutes(tokens)), condition)


def _resolve_minutes(tokens: list[Token]) -> list[Token]:
    """'m' is minutes right after an hour or right before a second, otherwise a month; '.0' after
    seconds is a fraction of a second; any date code turns digits and points into literals."""
    codes = [i for i, t in enumerate(tokens) if t.kind in ("date", "elapsed")]
    if not codes:
        return tokens
    out = list(tokens)
    for pos, i in enumerate(codes):
        t = out[i]
        if t.kind != "date" or t.text[0] != "m" or len(t.text) > 2:
            continue
        prev = out[codes[pos - 1]].text if pos > 0 else ""
        nxt = out[codes[pos + 1]].text if pos + 1 < len(codes) else ""
        if prev[:1] == "h" or nxt[:1] == "s":
            out[i] = Token("minute", t.text)
    result: list[Token] = []
    for t in out:
        if t.kind == "digit" and t.text == "0" and result and result[-1].kind == "subsec":
            result[-1] = Token("subsec", result[-1].text + "0")
        elif t.kind == "point" and result and result[-1].text[:1] == "s":
            result.append(Token("subsec", ""))
        elif t.kind in ("date", "elapsed", "minute"):
            result.append(t)
        else:
            result.append(Token("lit", t.text) if t.kind not in ("lit", "text") else t)
    return [Token("lit", ".") if t.kind == "subsec" and not t.text else t for t in result]


@lru_cache(maxsize=1024)
def parse_format(fmt: str) -> tuple[Section, ...]:
    return tuple(_tokenize(s) for s in _split_sections(fmt))


# --- section choice ---------------------------------------------------------------------------

_TESTS = {"<": lambda a, b: a < b, ">": lambda a, b: a > b, "=": lambda a, b: a == b,
          "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b, "<>": lambda a, b: a != b}


def _pick(sections: tuple[Section, ...], x: float) -> tuple[Section, bool]:
    """The section for number ``x`` and whether a minus sign must be written."""
    numeric = list(sections[:3])  # a fourth section is for text only
    if any(s.condition for s in numeric[:2]):
        # conditional sections keep the minus sign, as Excel shows "-5" for "[<0]0;0"
        for s in numeric[:2]:
            if s.condition and _TESTS[s.condition[0]](x, s.condition[1]):
                return s, x < 0
        rest = [s for s in numeric if not s.condition]
        return (rest[0] if rest else numeric[-1]), x < 0
    if x < 0 and len(numeric) >= 2:
        return numeric[1], False
    if x == 0 and len(numeric) >= 3:
        return numeric[2], False
    return numeric[0], x < 0


# --- rendering --------------------------------------------------------------------------------

def format_value(value: float | str, fmt: str) -> str | XLError:
    """``value`` (a number or text) rendered with Excel format ``fmt``, as TEXT does."""
    sections = parse_format(fmt)
    if isinstance(value, str):
        text_section = next((s for s in sections[3:4]), None)
        if text_section is None and len(sections) == 1 and sections[0].has_text:
            text_section = sections[0]
        if text_section is None:
            return value
        return "".join(value if t.kind == "text" else t.text for t in text_section.tokens)
    section, minus = _pick(sections, value)
    if section.is_date:
        return _render_date(section, value)
    body = _render_number(section, abs(value))
    return "-" + body if minus else body  # Excel writes "-0" for -0.2 in format "0" too


def _render_number(section: Section, x: float) -> str:
    tokens = list(section.tokens)
    if not any(t.kind in ("digit", "general") for t in tokens):
        return "".join(t.text for t in tokens if t.kind != "text")
    if any(t.kind == "general" for t in tokens):
        return "".join(general_display(x) if t.kind == "general" else t.text for t in tokens)
    x *= 100.0 ** sum(1 for t in tokens if t.kind == "percent")
    if any(t.kind == "slash" for t in tokens):
        return _render_fraction(tokens, x)
    tokens, scale, grouping = _commas(tokens)
    x /= 1000.0 ** scale
    exp_at = next((i for i, t in enumerate(tokens) if t.kind == "exp"), None)
    if exp_at is not None:
        return _render_scientific(tokens, exp_at, x, grouping)
    return _render_fixed(tokens, x, grouping)


def _commas(tokens: list[Token]) -> tuple[list[Token], int, bool]:
    """Drop the commas: ones right after the last integer digit scale by 1000, ones between
    digits turn on thousands grouping."""
    end = next((i for i, t in enumerate(tokens) if t.kind in ("point", "exp")), len(tokens))
    digit_pos = [i for i, t in enumerate(tokens[:end]) if t.kind == "digit"]
    scale, grouping, out = 0, False, []
    for i, t in enumerate(tokens):
        if t.kind != "comma":
            out.append(t)
        elif digit_pos and i < end and digit_pos[0] < i < digit_pos[-1]:
            grouping = True
        elif digit_pos and i < end and i > digit_pos[-1] and all(
                tokens[k].kind == "comma" for k in range(digit_pos[-1] + 1, i)):
            scale += 1
        elif not (i > end and tokens[end].kind == "point"):
            out.append(Token("lit", ","))
    return out, scale, grouping


def _round_digits(x: float, places: int) -> tuple[str, str]:
    """Integer and fraction digit strings of ``x`` rounded half-up to ``places`` decimals, using
    the 15 significant digits Excel keeps."""
    d = Decimal(f"{x:.15g}") if x else Decimal(0)
    q = d.scaleb(places, _WIDE).quantize(1, ROUND_HALF_UP, _WIDE).scaleb(-places, _WIDE)
    text = f"{q:f}"
    whole, _, frac = text.partition(".")
    return ("" if whole == "0" else whole), frac


def _fill_integer(placeholders: list[str], digits: str) -> list[str]:
    """One string per placeholder, right-aligned; surplus digits go to the first one."""
    out = []
    n = len(placeholders)
    for k, ph in enumerate(placeholders):
        from_right = n - 1 - k
        if from_right < len(digits):
            out.append(digits[len(digits) - 1 - from_right])
        else:
            out.append({"0": "0", "?": " ", "#": ""}[ph])
    if len(digits) > n and out:
        out[0] = digits[:len(digits) - n] + out[0]
    return out


def _group(pieces: list[str]) -> list[str]:
    total = sum(sum(ch.isdigit() for ch in p) for p in pieces)
    seen, result = 0, []
    for p in pieces:
        buf = []
        for ch in p:
            buf.append(ch)
            if ch.isdigit():
                seen += 1
                left = total - seen
                if left and left % 3 == 0:
                    buf.append(",")
        result.append("".join(buf))
    return result


def _fill_fraction(placeholders: list[str], digits: str) -> list[str]:
    out = [digits[k] if k < len(digits) else "0" for k in range(len(placeholders))]
    for k in range(len(out) - 1, -1, -1):
        if out[k] != "0" or placeholders[k] == "0":
            break
        out[k] = " " if placeholders[k] == "?" else ""
    return out


def _layout(tokens: list[Token], int_digits: str, frac_digits: str, grouping: bool) -> str:
    point = next((i for i, t in enumerate(tokens) if t.kind == "point"), len(tokens))
    int_ph = [t.text for t in tokens[:point] if t.kind == "digit"]
    frac_ph = [t.text for t in tokens[point:] if t.kind == "digit"]
    int_out = _fill_integer(int_ph, int_digits) if int_ph else []
    if grouping:
        int_out = _group(int_out)
    if not int_ph and int_digits:
        tokens = [Token("digit", "#")] + tokens
        int_out = [int_digits]
        point += 1
    frac_out = _fill_fraction(frac_ph, frac_digits)
    parts, ii, fi = [], 0, 0
    for i, t in enumerate(tokens):
        if t.kind == "digit" and i < point:
            parts.append(int_out[ii])
            ii += 1
        elif t.kind == "digit":
            parts.append(frac_out[fi])
            fi += 1
        elif t.kind != "text":
            parts.append(t.text)
    return "".join(parts)


def _render_fixed(tokens: list[Token], x: float, grouping: bool) -> str:
    point = next((i for i, t in enumerate(tokens) if t.kind == "point"), len(tokens))
    places = sum(1 for t in tokens[point:] if t.kind == "digit")
    int_digits, frac_digits = _round_digits(x, places)
    return _layout(tokens, int_digits, frac_digits, grouping)


def _render_scientific(tokens: list[Token], exp_at: int, x: float, grouping: bool) -> str:
    mantissa, exponent = tokens[:exp_at], tokens[exp_at + 1:]
    point = next((i for i, t in enumerate(mantissa) if t.kind == "point"), len(mantissa))
    int_ph = [t.text for t in mantissa[:point] if t.kind == "digit"]
    places = sum(1 for t in mantissa[point:] if t.kind == "digit")
    width = max(len(int_ph), 1)
    e = 0
    if x:
        e = math.floor(math.log10(x))
        e = e - e % width if width > 1 and int_ph[0] == "#" else e - (width - 1)
    m = x / 10.0 ** e if x else 0.0
    int_digits, frac_digits = _round_digits(m, places)
    if len(int_digits) > width and x:  # rounding carried into a new digit
        e += 1 if not (width > 1 and int_ph[0] == "#") else width
        int_digits, frac_digits = _round_digits(x / 10.0 ** e, places)
    exp_digits = [t.text for t in exponent if t.kind == "digit"]
    exp_text = "".join(_fill_integer(exp_digits, str(abs(e)) if e else "")).strip() or "0"
    sign = "-" if e < 0 else ("+" if tokens[exp_at].text == "+" else "")
    head = _layout(mantissa, int_digits, frac_digits, grouping)
    tail = "".join(t.text for t in exponent if t.kind not in ("digit", "text"))
    return f"{head}E{sign}{exp_text}{tail}"


def _render_fraction(tokens: list[Token], x: float) -> str:
    """'# ?/?' style: an optional whole part, then numerator/denominator (fixed or best fit)."""
    slash = next(i for i, t in enumerate(tokens) if t.kind == "slash")
    before, after = tokens[:slash], tokens[slash + 1:]
    den_ph = [t.text for t in after if t.kind == "digit"]
    fixed = "".join(t.text for t in after if t.kind == "lit" and t.text.isdigit())
    num_end = len(before)
    while num_end and before[num_end - 1].kind != "digit":
        num_end -= 1
    num_start = num_end
    while num_start and before[num_start - 1].kind == "digit":
        num_start -= 1
    has_whole = any(t.kind == "digit" for t in before[:num_start])
    whole = math.floor(x) if has_whole else 0
    if fixed:
        den = int(fixed)
        num = round((x - whole) * den)
    else:
        frac = Fraction(x - whole).limit_denominator(10 ** max(len(den_ph), 1) - 1)
        num, den = frac.numerator, frac.denominator
    if has_whole and num == den:
        whole, num = whole + 1, 0
    whole_text = _layout(before[:num_start], str(whole) if whole else "", "", False)
    if has_whole and num == 0:
        return (whole_text or "0") + " " * (len(before) - num_start + 1 + len(after))
    num_text = "".join(_fill_integer([t.text for t in before[num_start:num_end]], str(num)))
    den_text = fixed or "".join(_fill_integer(den_ph[::-1], str(den)[::-1]))[::-1]
    between = "".join(t.text for t in before[num_end:] if t.kind == "lit")
    return whole_text + num_text + between + "/" + den_text


def _render_date(section: Section, x: float) -> str | XLError:
    if not 0 <= x <= datetimes.MAX_SERIAL + 0.99999999:
        return VALUE
    sub = max((len(t.text) for t in section.tokens if t.kind == "subsec"), default=0)
    day = math.floor(x)
    seconds = round((x - day) * 86400 * 10 ** sub) / 10 ** sub
    if seconds >= 86400:
        day, seconds = day + 1, seconds - 86400
    year, month, dom = datetimes.serial_to_date(day)
    twelve = any(t.kind == "date" and t.text.upper() in _AMPM for t in section.tokens)
    hour = int(seconds // 3600)
    out = []
    for t in section.tokens:
        out.append(_date_code(t, x, day, seconds, (year, month, dom), hour, twelve))
    return "".join(out)


def _date_code(t: Token, x: float, day: int, seconds: float, ymd: tuple[int, int, int],
               hour: int, twelve: bool) -> str:
    year, month, dom = ymd
    code = t.text
    if t.kind == "lit" or t.kind == "text":
        return code
    if t.kind == "elapsed":
        total = day * 86400 + seconds
        unit = {"h": 3600, "m": 60, "s": 1}[code[0]]
        return str(int(total // unit)).zfill(len(code))
    if t.kind == "minute":
        return str(int(seconds // 60) % 60).zfill(len(code))
    if t.kind == "subsec":
        frac = seconds - math.floor(seconds)
        return "." + f"{frac:.{len(code)}f}"[2:]
    c = code[0]
    if code.upper() in _AMPM:
        pm = hour >= 12
        if code.upper() == "A/P":
            return ("P" if pm else "A") if code[0].isupper() else ("p" if pm else "a")
        return "PM" if pm else "AM"
    if c in "ye":
        return str(year) if len(code) > 2 or c == "e" else f"{year % 100:02d}"
    if c == "m":
        if len(code) <= 2:
            return str(month).zfill(len(code))
        name = MONTHS[month - 1]
        return {3: name[:3], 5: name[0]}.get(len(code), name)
    if c == "d":
        if len(code) <= 2:
            return str(dom).zfill(len(code))
        name = WEEKDAYS[(day + 6) % 7]
        return name[:3] if len(code) == 3 else name
    if c == "h":
        h = hour % 12 or 12 if twelve else hour
        return str(h).zfill(min(len(code), 2))
    if c == "s":
        return str(int(seconds) % 60).zfill(min(len(code), 2))
    return ""


def general_display(x: float, width: int = 11) -> str:
    """A number in the General format as a cell of standard width shows it: at most ``width``
    characters, switching to scientific notation when fixed notation would lose the value."""
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    a = abs(x)
    room = width - len(sign)
    exp = math.floor(math.log10(a))
    if -5 <= exp < room:
        int_len = max(exp + 1, 1)
        places = max(room - int_len - 1, 0)
        whole, frac = _round_digits(a, places)
        text = (whole or "0") + ("." + frac.rstrip("0") if frac.rstrip("0") else "")
        if text != "0":
            return sign + text
    for places in range(max(room - 6, 0), -1, -1):
        mant, e = f"{a:.{places}E}".split("E")
        if "." in mant:
            mant = mant.rstrip("0").rstrip(".")
        text = f"{mant}E{e[0]}{int(e[1:]):02d}"
        if len(text) <= room:
            return sign + text
    return sign + f"{a:.0E}"


def format_fixed(x: float, decimals: int, commas: bool, prefix: str = "") -> str:
    """FIXED and DOLLAR: ``x`` rounded to ``decimals`` (negative rounds left of the point)."""
    if decimals < 0:
        x = float(_round_digits(abs(x), decimals)[0] or 0)
    places = max(decimals, 0)
    int_digits, frac_digits = _round_digits(abs(x), places)
    int_digits = int_digits or "0"
    if commas:
        int_digits = _group([int_digits])[0]
    body = prefix + int_digits + ("." + frac_digits if places else "")
    return body


__all__ = ["format_fixed", "format_value", "general_display", "parse_format"]
