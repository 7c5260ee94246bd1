"""The textual form of distributions (command line, stored run specs) and @RISK's functions.

``parse("pert(1, 2, 5, truncate=(1.5, None), shift=10)")`` builds a Distribution and
``describe`` writes the canonical text back, so a stored spec reads the same after a round trip.
``from_risk`` maps @RISK's distribution functions, with their own argument order and
conventions, onto the same classes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from engine.montecarlo.distributions import (
    FAMILIES,
    Bernoulli,
    Beta,
    BetaGeneral,
    Binomial,
    Bounds,
    Cumul,
    Discrete,
    Distribution,
    DUniform,
    Exponential,
    Gamma,
    Histogram,
    IntUniform,
    Logistic,
    LogNormal,
    LogNormal2,
    Normal,
    Param,
    Pert,
    Poisson,
    StudentT,
    Triangular,
    Trigen,
    Uniform,
    Weibull,
)


@dataclass(frozen=True)
class DistributionInfo:
    """What the CLI help and the UI show about one distribution."""

    name: str
    params: tuple[str, ...]
    convention: str
    family: type[Distribution]

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(self.params)})"


REGISTRY: dict[str, DistributionInfo] = {
    cls.name: DistributionInfo(cls.name, cls.params, cls.convention, cls) for cls in FAMILIES}


def help_text() -> str:
    """One line per distribution, then the modifiers: the CLI's --input help."""
    lines = [f"{info.signature}: {info.convention}" for info in REGISTRY.values()]
    lines.append("Any of them accepts truncate=(lo, hi) (either side may be left empty) and "
                 "shift=x; truncation applies before the shift, as in @RISK.")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Parsing.

_TOKEN = re.compile(r"""\s*(?:
    (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[(){}\[\],=])
)""", re.VERBOSE)

_CLOSING = {"{": "}", "[": "]"}


class _Parser:
    """Recursive descent over ``name(value, ..., key=value)``; values are numbers, lists in
    braces or brackets, and the (lo, hi) pair of truncate where a side may be empty or None."""

    def __init__(self, text: str, label: str):
        self.text, self.label = text, label
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                if text[pos:].strip() == "":
                    break
                self._fail(f"unexpected character {text[pos]!r}", pos)
            kind = match.lastgroup
            self.tokens.append((kind, match.group(kind), match.start(kind)))
            pos = match.end()
        self.i = 0

    def _fail(self, message: str, pos: int | None = None) -> None:
        where = len(self.text) if pos is None else pos
        raise ValueError(f"{self.label}: cannot read distribution {self.text!r}: {message} "
                         f"(at character {where + 1})")

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str, int]:
        """The next token, which must be of kind ``expected`` or be that punctuation."""
        what = {"name": "a name", "number": "a number", None: "more"}.get(expected, repr(expected))
        token = self._peek()
        if token is None:
            self._fail(f"expected {what}, but the text ended")
        if expected is not None and token[1] != expected and token[0] != expected:
            self._fail(f"expected {what}, found {token[1]!r}", token[2])
        self.i += 1
        return token

    def _at(self, value: str) -> bool:
        token = self._peek()
        return token is not None and token[0] == "punct" and token[1] == value

    def call(self) -> tuple[str, list[Param], dict[str, object]]:
        name = self._take("name")[1].lower()
        self._take("(")
        args: list[Param] = []
        keywords: dict[str, object] = {}
        while not self._at(")"):
            token = self._peek()
            if token is not None and token[0] == "name" and token[1].lower() != "none":
                key = self._take("name")[1].lower()
                self._take("=")
                if key in keywords:
                    self._fail(f"{key} given twice", token[2])
                keywords[key] = self._pair() if key == "truncate" else self._number()
            else:
                if keywords:
                    self._fail("a parameter follows a keyword", token[2] if token else None)
                args.append(self._value())
            if not self._at(")"):
                self._take(",")
        self._take(")")
        if self._peek() is not None:
            self._fail(f"unexpected {self._peek()[1]!r} after the closing parenthesis",
                       self._peek()[2])
        return name, args, keywords

    def _number(self) -> float:
        return float(self._take("number")[1])

    def _value(self) -> Param:
        if self._at("{") or self._at("["):
            closing = _CLOSING[self._take()[1]]
            items = []
            while not self._at(closing):
                items.append(self._number())
                if not self._at(closing):
                    self._take(",")
            self._take(closing)
            return tuple(items)
        return self._number()

    def _pair(self) -> Bounds:
        self._take("(")
        lo = self._optional(",")
        self._take(",")
        hi = self._optional(")")
        self._take(")")
        return lo, hi

    def _optional(self, end: str) -> float | None:
        if self._at(end):
            return None
        token = self._peek()
        if token is not None and token[0] == "name" and token[1].lower() == "none":
            self.i += 1
            return None
        return self._number()


def parse(text: str, label: str = "input") -> Distribution:
    """The Distribution written as ``text``; ``label`` (a cell such as "Sheet1!B2") names the
    input in every error message."""
    name, args, keywords = _Parser(text, label).call()
    info = REGISTRY.get(name)
    if info is None:
        raise ValueError(f"{label}: unknown distribution {name!r} in {text!r}; known: "
                         f"{', '.join(REGISTRY)}")
    unknown = set(keywords) - {"truncate", "shift"}
    if unknown:
        raise ValueError(f"{label}: {info.signature}: unknown option "
                         f"{', '.join(sorted(unknown))}; options are truncate=(lo, hi) and "
                         "shift=x")
    return info.family(*args, label=label, truncate=keywords.get("truncate"),
                       shift=keywords.get("shift", 0.0))


def _number_text(x: float) -> str:
    """Shortest text that reads back as the same float; whole numbers without '.0'."""
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def _param_text(value: Param) -> str:
    if isinstance(value, tuple):
        return "{" + ",".join(_number_text(v) for v in value) + "}"
    return _number_text(value)


def describe(dist: Distribution) -> str:
    """The canonical text of a distribution: ``parse(describe(d))`` describes the same."""
    parts = [_param_text(a) for a in dist.args]
    if dist.truncate is not None:
        lo, hi = ("None" if b is None else _number_text(b) for b in dist.truncate)
        parts.append(f"truncate=({lo}, {hi})")
    if dist.shift:
        parts.append(f"shift={_number_text(dist.shift)}")
    return f"{dist.name}({', '.join(parts)})"


# --------------------------------------------------------------------------------------------
# @RISK.

def _weights(values: Sequence[float]) -> tuple[float, ...]:
    """@RISK normalizes RiskDiscrete's and RiskHistogrm's weights to probabilities."""
    total = math.fsum(values)
    return tuple(v / total for v in values) if total > 0 else tuple(values)


def _same(*args: Param) -> tuple[Param, ...]:
    return args


# @RISK function -> our family (its arguments in the same order) and a conversion of the values.
_RISK_FUNCTIONS = {
    "RiskNormal": (Normal, _same),
    "RiskLognorm": (LogNormal, _same),
    "RiskLognorm2": (LogNormal2, _same),
    "RiskUniform": (Uniform, _same),
    "RiskTriang": (Triangular, _same),
    "RiskPert": (Pert, _same),
    "RiskBeta": (Beta, _same),
    "RiskBetaGeneral": (BetaGeneral, _same),
    "RiskGamma": (Gamma, _same),
    "RiskWeibull": (Weibull, _same),
    "RiskExpon": (Exponential, _same),
    "RiskLogistic": (Logistic, _same),
    "RiskStudent": (StudentT, _same),
    "RiskPoisson": (Poisson, _same),
    "RiskBinomial": (Binomial, _same),
    "RiskBernoulli": (Bernoulli, _same),
    "RiskDiscrete": (Discrete, lambda values, weights: (values, _weights(weights))),
    "RiskDUniform": (DUniform, _same),
    "RiskIntUniform": (IntUniform, _same),
    "RiskCumul": (Cumul, _same),
    "RiskHistogrm": (Histogram, lambda lo, hi, weights: (lo, hi, _weights(weights))),
    "RiskTrigen": (Trigen, _same),
}
_RISK = {name.lower(): (name, *entry) for name, entry in _RISK_FUNCTIONS.items()}
RISK_DISTRIBUTIONS: tuple[str, ...] = tuple(_RISK_FUNCTIONS)

# Property functions that say nothing about the values sampled.
_RISK_NEUTRAL = {"name", "static", "corrmat", "units", "category", "collect", "isdate",
                 "isdiscrete", "convergence", "sensitivity", "seed", "lock"}


def _risk_key(name: str) -> str:
    key = name.strip().lower()
    for prefix in ("_xll.", "_xlfn."):
        key = key.removeprefix(prefix)
    return key


def is_risk_distribution(function_name: str) -> bool:
    """Whether a worksheet function is an @RISK distribution this engine samples."""
    return _risk_key(function_name) in _RISK


def from_risk(function_name: str, args: Sequence[object],
              properties: dict[str, object] | None = None, label: str = "input") -> Distribution:
    """The Distribution of an @RISK call such as ``RiskTriang(1, 2, 5, RiskTruncate(1.5,))``.

    ``args`` are the distribution's own arguments in @RISK's order (arrays as sequences);
    ``properties`` maps property functions to their arguments: ``{"RiskTruncate": (lo, hi),
    "RiskShift": x}`` (the "Risk" prefix is optional; ``RiskTruncate2``, a truncation after the
    shift, is converted to one before it). RiskTrigen's percentiles are percents (10 = 10th),
    as in @RISK; RiskDiscrete's and RiskHistogrm's weights are normalized as @RISK does.
    """
    key = _risk_key(function_name)
    if key not in _RISK:
        raise ValueError(f"{label}: @RISK function {function_name} is not supported; supported:"
                         f" {', '.join(_RISK_FUNCTIONS)}")
    name, family, convert = _RISK[key]
    if len(args) != len(family.params):
        raise ValueError(f"{label}: {name}({', '.join(family.params)}) takes "
                         f"{len(family.params)} arguments, got {len(args)}")
    props = {_risk_key(k).removeprefix("risk"): v for k, v in (properties or {}).items()}
    unsupported = set(props) - _RISK_NEUTRAL - {"truncate", "truncate2", "shift"}
    if unsupported:
        raise ValueError(f"{label}: @RISK property "
                         f"{', '.join('Risk' + p.capitalize() for p in sorted(unsupported))} "
                         "is not supported")
    shift = props.get("shift", 0.0)
    truncate = props.get("truncate")
    if "truncate2" in props:
        if truncate is not None:
            raise ValueError(f"{label}: RiskTruncate and RiskTruncate2 cannot both be given")
        truncate = _unshifted(props["truncate2"], shift, label)
    return family(*convert(*args), label=label, truncate=truncate, shift=shift)


def _unshifted(bounds: object, shift: object, label: str) -> Bounds:
    """RiskTruncate2's bounds apply after the shift; ours before it."""
    try:
        lo, hi = bounds
        return (None if lo is None else lo - shift, None if hi is None else hi - shift)
    except (TypeError, ValueError):
        raise ValueError(f"{label}: RiskTruncate2 needs (lo, hi) and a numeric shift, got "
                         f"{bounds!r} and {shift!r}") from None

