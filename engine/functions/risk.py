"""@RISK's worksheet functions, for the scalar engine.

Outside a simulation @RISK shows a distribution cell's static value: the RiskStatic property
when given, else the distribution's expected value. RiskOutput() adds 0 to its formula. The
property functions (RiskTruncate, RiskName, ...) only make sense as arguments of a distribution
function: they evaluate to a marker that the distribution functions read. The simulation itself
(engine.montecarlo.model) reads the same calls from the formula trees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import VALUE, XLError
from engine.functions.registry import Arr, excel_function
from engine.montecarlo import spec
from engine.values import BLANK, MISSING, Array


@dataclass(frozen=True)
class RiskProperty:
    """The value of RiskTruncate(...), RiskName(...) and friends: read by the distribution."""

    name: str
    args: tuple[Any, ...]


def _number_or_list(v: Any) -> Any:
    if type(v) is Array:
        return [x for x in v.flat() if type(x) is float]
    if v is BLANK or v is MISSING:
        return 0.0
    return v


def static_value(function_name: str, args: tuple[Any, ...]) -> Any:
    """The value a cell holding this @RISK call shows when not simulating."""
    values, props = [], {}
    static = None
    for a in args:
        if type(a) is RiskProperty:
            if a.name == "RISKSTATIC":
                static = a.args[0] if a.args else None
            elif a.name in ("RISKTRUNCATE", "RISKTRUNCATE2"):
                props[a.name] = tuple(None if x is MISSING else x for x in (a.args + (None,))[:2])
            elif a.name == "RISKSHIFT":
                props[a.name] = a.args[0]
            continue
        if a is MISSING:
            continue
        if type(a) is XLError:
            return a
        values.append(_number_or_list(a))
    if static is not None:
        return static
    try:
        return spec.from_risk(function_name, values, props).mean
    except (ValueError, TypeError):
        return VALUE


def _distribution(name: str):
    def impl(*args: Arr) -> Any:
        return static_value(name, args)

    impl.__name__ = name.lower()
    return impl


for _name in spec.RISK_DISTRIBUTIONS:
    excel_function(_name.upper())(_distribution(_name))


def _property(name: str):
    def impl(*args: Arr) -> Any:
        return RiskProperty(name, tuple(args))

    impl.__name__ = name.lower()
    return impl


for _name in ("RISKTRUNCATE", "RISKTRUNCATE2", "RISKSHIFT", "RISKNAME", "RISKSTATIC",
              "RISKCORRMAT", "RISKUNITS", "RISKCATEGORY", "RISKCOLLECT", "RISKSEED",
              "RISKLOCK", "RISKISDISCRETE", "RISKISDATE", "RISKCONVERGENCE",
              "RISKSENSITIVITY"):
    excel_function(_name)(_property(_name))


@excel_function("RISKOUTPUT")
def risk_output(*args: Arr) -> float:
    return 0.0
