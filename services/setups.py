"""A simulation set-up: inputs with distributions, outputs, correlations and run settings.

A set-up is what the set-up page edits and what starts a run (``Setup.to_run_spec()`` is the
run spec ``db.jobs`` reads; ``services.runs.start_run`` takes the set-up itself). Set-ups are
saved per workbook as JSON next to the stored file (``<sha256>.setups.json``), so the same file
keeps its set-ups and the store needs no migration.

Streamlit-free: the page only draws widgets over these functions.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from db.entities import WorkbookRecord
from services.formatting import AXIS_FORMAT, number, percentile_label
from services.runs import RunError, RunRequest
from services.workbooks import write_atomically

SAMPLINGS = {"mc": "Monte Carlo", "lhs": "Latin hypercube"}
PREVIEW_PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)
_PREVIEW_POINTS = 400


class SetupError(ValueError):
    """A set-up that cannot run; ``problems`` lists every reason, each one sentence."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class Setup:
    """Everything a run needs besides the workbook. ``inputs`` maps a cell ("Sheet1!B2") to a
    distribution's text ("normal(100, 10)"); the workbook's own @RISK and RAND inputs are
    added by the engine and may be named in ``correlations`` by their labels."""

    name: str = ""
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    correlations: list[tuple[str, str, float]] = field(default_factory=list)
    iterations: int = 10_000
    seed: int = 1
    sampling: str = "mc"
    device: str = "cpu"

    def to_run_spec(self) -> dict[str, Any]:
        """The run spec stored with the run (iterations, seed, sampling and device are the
        run's own columns)."""
        return {"inputs": dict(self.inputs), "outputs": list(self.outputs),
                "settings": {"correlations": [list(c) for c in self.correlations]}}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["correlations"] = [list(c) for c in self.correlations]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Setup:
        """A set-up from its JSON form; unknown keys (a later version's) are ignored."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        setup = cls(**known)
        setup.inputs = {str(k): str(v) for k, v in setup.inputs.items()}
        setup.outputs = [str(o) for o in setup.outputs]
        setup.correlations = [(str(a), str(b), float(r)) for a, b, r in setup.correlations]
        return setup


# ------------------------------------------------------------------------------- distributions

def families() -> dict[str, Any]:
    """The picker's distributions (engine.montecarlo.spec.REGISTRY): name -> signature,
    parameter names and convention."""
    from engine.montecarlo.spec import REGISTRY

    return dict(REGISTRY)


def distribution_text(family: str, params: list[str], truncate: tuple[str, str] = ("", ""),
                      shift: str = "") -> str:
    """The textual form of what the picker holds: a family, its parameters as typed (lists as
    ``1, 2, 3`` or ``{1,2,3}``), optional truncation bounds and shift (empty = none)."""
    from engine.montecarlo.spec import REGISTRY

    info = REGISTRY[family]
    parts = []
    for param, typed in zip(info.params, params, strict=True):
        text = typed.strip()
        if param in info.family.list_params and not text.startswith(("{", "[")):
            text = "{" + text + "}"
        parts.append(text)
    lo, hi = (b.strip() for b in truncate)
    if lo or hi:
        parts.append(f"truncate=({lo or 'None'}, {hi or 'None'})")
    if shift.strip():
        parts.append(f"shift={shift.strip()}")
    return f"{family}({', '.join(parts)})"


def picker_state(text: str) -> tuple[str, list[str], tuple[str, str], str]:
    """The inverse of ``distribution_text`` for a valid text: what the picker's widgets show
    when a saved set-up or a declared input is opened."""
    from engine.montecarlo.spec import parse

    dist = parse(text)
    params = [", ".join(_num(v) for v in a) if isinstance(a, tuple) else _num(a)
              for a in dist.args]
    lo, hi = dist.truncate or (None, None)
    bounds = ("" if lo is None else _num(lo), "" if hi is None else _num(hi))
    return dist.name, params, bounds, _num(dist.shift) if dist.shift else ""


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


# ------------------------------------------------------------------------------- the page's draft

@dataclass
class Picker:
    """What one input's distribution picker holds, as typed (so possibly not a valid
    distribution yet): a family, its parameters, truncation bounds and a shift (empty = none).
    ``text()`` is the distribution the set-up gets."""

    family: str
    params: list[str]
    lo: str = ""
    hi: str = ""
    shift: str = ""

    @classmethod
    def from_text(cls, text: str) -> Picker:
        """The picker showing ``text``; a text that cannot be read (a set-up saved with an
        unfinished entry) keeps its family, if known, with its parameters left empty."""
        try:
            family, params, (lo, hi), shift = picker_state(text)
        except ValueError:
            match = re.match(r"\s*(\w+)\s*\(", text)
            family = match.group(1).lower() if match else ""
            if family not in families():
                family = "normal"
            return cls(family, [""] * len(families()[family].params))
        return cls(family, params, lo, hi, shift)

    def text(self) -> str:
        return distribution_text(self.family, self.params, (self.lo, self.hi), self.shift)

    def with_family(self, family: str) -> Picker:
        """The picker switched to ``family``, its parameters carried over (``carry_params``);
        truncation and shift stay as typed."""
        return replace(self, family=family, params=carry_params(self.family, self.params, family))


_RANGE_FAMILIES = ("uniform", "triangular", "pert")
# family -> its parameters for a given mean m and standard deviation s
_SAME_MOMENTS = {
    "normal": lambda m, s: (m, s),
    "lognormal": lambda m, s: (m, s),
    "uniform": lambda m, s: (m - s * math.sqrt(3), m + s * math.sqrt(3)),
    "triangular": lambda m, s: (m - s * math.sqrt(6), m, m + s * math.sqrt(6)),
    "pert": lambda m, s: (m - s * math.sqrt(7), m, m + s * math.sqrt(7)),
    "exponential": lambda m, s: (m,),
    "gamma": lambda m, s: ((m / s) ** 2, s * s / m),
    "logistic": lambda m, s: (m, s * math.sqrt(3) / math.pi),
    "lognormal2": lambda m, s: (math.log(m / math.sqrt(1 + (s / m) ** 2)),
                                math.sqrt(math.log(1 + (s / m) ** 2))),
}


def carry_params(family: str, params: list[str], new_family: str) -> list[str]:
    """The parameters a picker shows when its family changes from ``family`` (parameters
    ``params``, as typed) to ``new_family``:

    - between uniform, triangular and PERT the range is kept: min and max as they are, the
      mode kept (triangular <-> PERT) or put at the midpoint (from uniform);
    - otherwise, into normal, lognormal, uniform, triangular, PERT, exponential, gamma,
      logistic or lognormal2, the mean and standard deviation are kept (those of the
      distribution before truncation and shift): normal(m, s) becomes lognormal(m, s),
      uniform(m - s*sqrt(3), m + s*sqrt(3)), triangular(m - s*sqrt(6), m, m + s*sqrt(6)),
      pert(m - s*sqrt(7), m, m + s*sqrt(7)), exponential(m), gamma((m/s)^2, s^2/m),
      logistic(m, s*sqrt(3)/pi) or lognormal2 with the matching log mean and log sd;
    - when the parameters cannot be read yet, the moments are not finite, or the new family
      has no such rule, parameters of the same name are kept and the others left empty.

    Values are rounded to six significant digits. A carried parameter may still be impossible
    for the new family (lognormal of a negative mean): the preview then says why."""
    if new_family == family:
        return list(params)
    new = families()[new_family].params
    old = dict(zip(families()[family].params, params, strict=False))
    if family in _RANGE_FAMILIES and new_family in _RANGE_FAMILIES:
        carried = dict(old)
        if "mode" not in carried:
            try:
                carried["mode"] = _short((float(old["min"]) + float(old["max"])) / 2)
            except ValueError:
                carried["mode"] = ""
        return [carried.get(name, "") for name in new]
    rule = _SAME_MOMENTS.get(new_family)
    if rule is not None:
        try:
            mean, sd = _moments(family, params)
            values = rule(mean, sd)
        except (ValueError, ArithmeticError):
            values = None
        if values is not None and all(math.isfinite(v) for v in values):
            return [_short(v) for v in values]
    return [old.get(name, "") for name in new]


def _moments(family: str, params: list[str]) -> tuple[float, float]:
    """Mean and standard deviation of ``family(params)``; ValueError when it cannot be read."""
    from engine.montecarlo.spec import parse

    dist = parse(distribution_text(family, params))
    return float(dist.mean), math.sqrt(max(float(dist.variance), 0.0))


def _short(x: float) -> str:
    return _num(float(f"{x:.6g}"))


@dataclass
class Draft:
    """The set-up page's state between script runs: the set-up being edited, each input's
    picker as typed, the output cells and the cell address as typed, and a generation bumped
    whenever a whole set-up is loaded (widgets keyed by it start afresh).

    Streamlit forgets a widget's value after any run that does not draw it (another page, a
    run stopped early), so the page keeps this object in a plain session entry and draws every
    widget from it (``ui.state``); ``setup`` is always what the widgets hold."""

    setup: Setup
    pickers: dict[str, Picker] = field(default_factory=dict)
    outputs: str = ""
    address: str = ""
    generation: int = 0

    @classmethod
    def of(cls, setup: Setup, generation: int = 0) -> Draft:
        """The draft editing ``setup`` (a new, saved or default one)."""
        return cls(setup, {cell: Picker.from_text(text) for cell, text in setup.inputs.items()},
                   ", ".join(setup.outputs), generation=generation)

    def set_picker(self, cell: str, picker: Picker) -> None:
        """Give ``cell`` this picker (a new input or an edited one) and its distribution."""
        self.pickers[cell] = picker
        self.setup.inputs[cell] = picker.text()

    def remove_input(self, cell: str) -> None:
        self.pickers.pop(cell, None)
        self.setup.inputs.pop(cell, None)


@dataclass(frozen=True)
class Preview:
    """What the picker draws: the CDF, a density (or point masses for a discrete
    distribution), the percentiles, mean and standard deviation."""

    x: np.ndarray
    cdf: np.ndarray
    density: np.ndarray
    discrete: bool
    percentiles: dict[float, float]
    mean: float
    sd: float


def preview(text: str, label: str = "input") -> Preview:
    """The preview of a distribution's text; ValueError with the engine's message (naming
    ``label``) when it cannot be read or its parameters are impossible."""
    from engine.montecarlo.spec import parse

    dist = parse(text, label)
    ps = np.array(PREVIEW_PERCENTILES, dtype=np.float64) / 100
    percentiles = dict(zip(PREVIEW_PERCENTILES, dist.sample(ps).tolist(), strict=True))
    mean, sd = float(dist.mean), math.sqrt(max(float(dist.variance), 0.0))
    lo, hi = (float(v) for v in dist.sample(np.array([0.0005, 0.9995])))
    if dist.point is not None or dist.discrete:
        if dist.point is not None:
            xs, probs = np.array([dist.point + dist.shift]), np.array([1.0])
        else:
            xs, _ = dist.support()
            xs = xs + dist.shift
            xs = xs[(xs >= lo) & (xs <= hi)]
            below = dist.cdf(np.nextafter(xs, -np.inf))
            probs = dist.cdf(xs) - below
        return Preview(xs, dist.cdf(xs), probs, True, percentiles, mean, sd)
    if hi <= lo:
        hi = lo + 1.0
    pad = (hi - lo) * 0.02
    xs = np.linspace(lo - pad, hi + pad, _PREVIEW_POINTS)
    cdf = dist.cdf(xs)
    density = np.gradient(cdf, xs)
    return Preview(xs, cdf, density, False, percentiles, mean, sd)


def preview_figure(p: Preview, title: str = "") -> go.Figure:
    """Density (bars for a discrete distribution) on the left axis, CDF on the right, with
    P5, P50 and P95 marked."""
    fig = go.Figure()
    if p.discrete:
        fig.add_bar(x=p.x, y=p.density, name="probability", marker_color="#4c78a8")
    else:
        fig.add_scatter(x=p.x, y=p.density, name="density", fill="tozeroy", mode="lines",
                        line_color="#4c78a8")
    fig.add_scatter(x=p.x, y=p.cdf, name="P(X ≤ x)", yaxis="y2", mode="lines",
                    line={"color": "#f58518", "shape": "hv" if p.discrete else "linear"})
    for q in (5, 50, 95):
        fig.add_vline(x=p.percentiles[q], line_dash="dot", line_color="#888",
                      annotation_text=percentile_label(q), annotation_position="top")
    fig.update_layout(title=title, height=300, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      xaxis={"tickformat": AXIS_FORMAT}, showlegend=False,
                      yaxis={"title": "density", "tickformat": AXIS_FORMAT},
                      yaxis2={"title": "cumulative", "overlaying": "y", "side": "right",
                              "range": [0, 1], "tickformat": ".0%"})
    return fig


def percentile_rows(p: Preview) -> list[dict[str, str]]:
    """The preview's percentile table, with thousands separators."""
    rows = [{"statistic": percentile_label(q), "value": number(v)}
            for q, v in p.percentiles.items()]
    return [{"statistic": "mean", "value": number(p.mean)},
            {"statistic": "sd", "value": number(p.sd)}, *rows]


# ------------------------------------------------------------------------------- correlations

def correlation_matrix(labels: list[str],
                       pairs: list[tuple[str, str, float]]) -> list[list[float]]:
    """The full matrix over ``labels`` from the pairs (others 0); pairs naming an input that
    is no longer in the set-up are dropped."""
    index = {label: i for i, label in enumerate(labels)}
    m = np.eye(len(labels))
    for a, b, r in pairs:
        if a in index and b in index and a != b:
            m[index[a], index[b]] = m[index[b], index[a]] = r
    return m.tolist()


def correlation_pairs(labels: list[str], matrix: list[list[float]]
                      ) -> tuple[list[tuple[str, str, float]], str | None]:
    """The non-zero pairs of an edited matrix (upper triangle: the editor may leave the two
    halves different, and the upper one is what the user is told counts), and the repair
    warning when the matrix is not positive semi-definite. ValueError for a value outside
    [-1, 1] or not a number."""
    from engine.montecarlo.correlation import repair_correlation

    m = np.array(matrix, dtype=np.float64)
    upper = np.triu(m, 1)
    full = upper + upper.T + np.eye(len(labels))
    _, warning = repair_correlation(full, labels) if labels else (None, None)
    pairs = [(labels[i], labels[j], float(full[i, j]))
             for i in range(len(labels)) for j in range(i + 1, len(labels)) if full[i, j] != 0]
    return pairs, warning


# ------------------------------------------------------------------------------- validation

def validate(setup: Setup, input_labels: list[str] | None = None,
             declared_outputs: bool = False) -> None:
    """Raise SetupError listing every problem: unreadable or impossible distributions (the
    engine's own messages, naming the cell), no outputs, settings out of range, correlations
    naming unknown inputs. ``input_labels`` are the labels a correlation may name (set-up and
    declared inputs); ``declared_outputs`` says the workbook marks RiskOutput cells."""
    from engine.montecarlo.spec import parse

    problems = []
    for cell, text in setup.inputs.items():
        try:
            parse(text, cell)
        except ValueError as exc:
            problems.append(str(exc))
    if not setup.outputs and not declared_outputs:
        problems.append("choose at least one output cell (the workbook marks none with "
                        "RiskOutput())")
    try:  # iterations, seed, sampling, device: the Runs service's own checks
        RunRequest.from_setup(setup)
    except RunError as exc:
        problems.append(str(exc))
    known = set(setup.inputs) | set(input_labels or ())
    for a, b, r in setup.correlations:
        for label in (a, b):
            if label not in known:
                problems.append(f"the correlation names {label}, which is not an input")
        if not -1 <= r <= 1:
            problems.append(f"the correlation between {a} and {b} must lie in [-1, 1]")
    if problems:
        raise SetupError(list(dict.fromkeys(problems)))


def device_choices(allowed: str = "auto") -> list[str]:
    """"cpu", and "cuda" only when engine.montecarlo.device finds a usable GPU here and the
    deployment allows it (``allowed``: the DEVICE setting; cpu keeps runs off the GPU)."""
    return ["cpu", "cuda"] if allowed != "cpu" and _gpu_usable() else ["cpu"]


def _gpu_usable() -> bool:
    from engine.montecarlo.device import cuda_problem

    return cuda_problem() is None


# ------------------------------------------------------------------------------- saved set-ups

def setups_path(record: WorkbookRecord) -> Path:
    """``<sha256>.setups.json`` next to the stored workbook."""
    stored = Path(record.stored_path)
    return stored.with_name(f"{stored.stem}.setups.json")


def saved_setups(record: WorkbookRecord) -> dict[str, Setup]:
    """The workbook's saved set-ups by name (none when the file is missing or unreadable)."""
    path = setups_path(record)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {name: Setup.from_dict(item) for name, item in data.items()}
    except (OSError, ValueError, TypeError, KeyError):
        return {}


def save_setup(record: WorkbookRecord, setup: Setup) -> None:
    """Save (or replace) a set-up under its name; the file is rewritten atomically."""
    name = setup.name.strip()
    if not name:
        raise SetupError(["give the set-up a name to save it"])
    setup.name = name
    setups = saved_setups(record)
    setups[name] = setup
    _write(record, setups)


def delete_setup(record: WorkbookRecord, name: str) -> None:
    setups = saved_setups(record)
    if setups.pop(name, None) is not None:
        _write(record, setups)


def _write(record: WorkbookRecord, setups: dict[str, Setup]) -> None:
    text = json.dumps({n: s.to_dict() for n, s in setups.items()}, indent=1)
    write_atomically(setups_path(record), text.encode("utf-8"))
