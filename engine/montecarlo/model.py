"""A simulation model: which cells are uncertain, which are outputs, and the program between.

Inputs come from the caller (``{"Sheet1!B2": "normal(100,10)"}``) or from the workbook itself:
@RISK distribution calls (``=RiskNormal(100,10)``, also inside larger formulas), ``RAND()`` and
``RANDBETWEEN()``; each occurrence is its own input. Outputs come from the caller or from
``RiskOutput()`` marks. Only the cone between inputs and outputs is lowered; the rest of the
workbook is computed once by the scalar engine.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.calc import Calculation
from engine.errors import XLError
from engine.evaluator import CellContext
from engine.graph import Cell
from engine.montecarlo import spec
from engine.montecarlo.distributions import Distribution
from engine.montecarlo.lower import Const, Lowerer, SimulationError
from engine.montecarlo.program import Program
from engine.nodes import Call, Missing, Name, RefNode, walk
from engine.refs import Ref, cell_key, split_key
from engine.values import BLANK, Array
from engine.workbook import Workbook

_PROPERTY_PREFIX = "RISK"
_UNIFORM_FUNCTIONS = frozenset({"RAND"})


@dataclass
class InputSite:
    """One uncertain input: a whole cell, or one call inside a cell's formula."""

    label: str
    cell: Cell
    node: Any | None
    distribution: Distribution
    name: str
    stream: int = 0
    corrmat: tuple[Ref, int] | None = None  # RiskCorrmat(matrix range, position)

    def __post_init__(self) -> None:
        digest = hashlib.blake2b(self.label.encode(), digest_size=8).digest()
        self.stream = int.from_bytes(digest, "little") >> 1  # stable, order-free stream id


@dataclass
class SimulationModel:
    program: Program
    inputs: list[InputSite]
    outputs: list[str]
    output_names: dict[str, str]
    correlations: list[tuple[list[int], np.ndarray]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    evaluator: Any = None  # the scalar engine, for functions run per iteration


def _cell_of(label: str, workbook: Workbook) -> Cell:
    try:
        sheet, row, col = split_key(label.strip())
    except ValueError:
        raise SimulationError(f"{label!r} is not a cell address such as Sheet1!B2 or "
                              "'My Sheet'!B2") from None
    if sheet not in workbook.sheets:
        raise SimulationError(f"{label}: the workbook has no sheet {sheet!r} (sheets: "
                              f"{', '.join(workbook.sheets)})")
    return sheet, row, col


def _risk_call(node: Any) -> bool:
    return type(node) is Call and spec.is_risk_distribution(node.name)


class _SiteFinder:
    """Collects the inputs a workbook declares in its formulas."""

    def __init__(self, calc: Calculation):
        self.calc = calc
        self.ev = calc.evaluator

    def value(self, node: Any, cell: Cell) -> Any:
        ctx = CellContext(self.ev, cell[0], cell[1], cell[2], False)
        v = self.ev.evaluate(node, ctx)
        if type(v) is Ref:
            v = ctx.intersect(v) if v.is_cell else self.ev.read_area(v)
        return v

    def numbers(self, node: Any, cell: Cell, label: str) -> Any:
        """A distribution argument: a number, or a list for values and weights."""
        v = self.value(node, cell)
        if type(v) is Array:
            return [x for x in v.flat() if type(x) is float]
        if type(v) is XLError or type(v) is str:
            raise SimulationError(f"{label}: argument {v!r} is not a number")
        return 0.0 if v is BLANK else float(v)

    def sites(self, cell: Cell, tree: Any) -> list[InputSite]:
        found = []
        risk_calls = [n for n in walk(tree) if _risk_call(n)]
        for k, node in enumerate(risk_calls):
            found.append(self.risk_site(cell, node, k, len(risk_calls)))
        rand_calls = [n for n in walk(tree)
                      if type(n) is Call and n.name in ("RAND", "RANDBETWEEN")]
        for k, node in enumerate(rand_calls):
            label = cell_key(*cell) + (f" {node.name}#{k + 1}" if len(rand_calls) > 1 else "")
            if node.name == "RAND":
                dist = spec.parse("uniform(0, 1)", label)
            else:
                lo, hi = (self.numbers(a, cell, label) for a in node.args)
                dist = spec.parse(f"intuniform({lo}, {hi})", label)
            found.append(InputSite(label, cell, node, dist, label))
        return found

    def risk_site(self, cell: Cell, node: Call, k: int, count: int) -> InputSite:
        label = cell_key(*cell) + (f" {node.name}#{k + 1}" if count > 1 else "")
        args, props = [], {}
        name = label
        corrmat = None
        for a in node.args:
            if type(a) is Call and a.name.startswith(_PROPERTY_PREFIX) and \
                    not spec.is_risk_distribution(a.name):
                prop = a.name[len(_PROPERTY_PREFIX):].lower()
                if prop == "name":
                    name = str(self.value(a.args[0], cell))
                elif prop == "corrmat":
                    ref = self.ev.evaluate(a.args[0], CellContext(self.ev, *cell, False))
                    position = int(self.numbers(a.args[1], cell, label))
                    if type(ref) is not Ref:
                        raise SimulationError(f"{label}: RiskCorrmat needs a range")
                    corrmat = (ref, position)
                elif prop in ("truncate", "truncate2"):
                    props[a.name] = tuple(None if type(x) is Missing else
                                          self.numbers(x, cell, label) for x in a.args[:2])
                elif prop == "shift":
                    props[a.name] = self.numbers(a.args[0], cell, label)
                else:
                    props[a.name] = tuple(self.value(x, cell) for x in a.args)
                continue
            if type(a) is Missing:
                continue
            args.append(self.numbers(a, cell, label))
        try:
            dist = spec.from_risk(node.name, args, props, label=label)
        except ValueError as exc:
            raise SimulationError(str(exc)) from None
        return InputSite(label, cell, node, dist, name, corrmat=corrmat)


def build_model(workbook: Workbook, inputs: dict[str, Any] | None = None,
                outputs: list[str] | None = None) -> SimulationModel:
    """Compile ``workbook`` for simulation: inputs, outputs, and the lowered program."""
    calc = Calculation(workbook)
    calc.run()
    finder = _SiteFinder(calc)
    sites: list[InputSite] = []
    cell_inputs: dict[Cell, int] = {}
    for label, value in (inputs or {}).items():
        cell = _cell_of(label, workbook)
        key = cell_key(*cell)
        try:
            dist = value if isinstance(value, Distribution) else spec.parse(str(value), key)
        except ValueError as exc:
            raise SimulationError(str(exc)) from None
        cell_inputs[cell] = len(sites)
        sites.append(InputSite(key, cell, None, dist, key))
    node_inputs: dict[tuple[Cell, int], int] = {}
    risk_outputs: dict[str, str] = {}
    for cell, f in workbook.formulas.items():
        if cell in cell_inputs or f.node is None or isinstance(f.node, Exception):
            continue
        for site in finder.sites(cell, f.node):
            node_inputs[(cell, id(site.node))] = len(sites)
            sites.append(site)
        marks = [n for n in walk(f.node) if type(n) is Call and n.name == "RISKOUTPUT"]
        if marks:
            name = cell_key(*cell)
            if marks[0].args and type(marks[0].args[0]) is not Missing:
                v = finder.value(marks[0].args[0], cell)
                name = v if type(v) is str and v else name
            risk_outputs[cell_key(*cell)] = name
    output_labels = [cell_key(*_cell_of(o, workbook)) for o in outputs] if outputs else list(
        risk_outputs)
    if not output_labels:
        raise SimulationError("no outputs: name output cells (--output Sheet1!B20) or mark them "
                              "in the workbook with RiskOutput()")
    if not sites:
        raise SimulationError("no uncertain inputs: give distributions (--input "
                              "Sheet1!B2=normal(100,10)) or use @RISK functions or RAND() in "
                              "the workbook")
    stochastic = _stochastic_cells(calc, set(cell_inputs) | {c for c, _ in node_inputs})
    lowerer = Lowerer(
        calc.evaluator,
        stochastic=lambda node, cell: _depends(node, cell, stochastic, node_inputs, calc),
        site_input=lambda cell, node: node_inputs.get((cell, id(node))),
        cell_input=cell_inputs.get)
    out_cells = [split_key(label) for label in output_labels]
    cone = _cone(calc, out_cells, stochastic)
    for cell in cell_inputs:  # first: the formulas that read them need their registers
        lowerer.lower_cell(cell)
    for cell in calc.graph.order:
        if cell in cone and cell not in lowerer.cell_regs:
            lowerer.lower_cell(cell)
    regs = []
    for cell in out_cells:
        reg = lowerer.cell_regs.get(cell)
        if reg is None:
            reg = lowerer.scalar(Const(calc.evaluator.cell_value(*cell)), cell)
        regs.append(reg.reg)
    program = lowerer.b.build(regs, len(sites), lowerer.fallbacks)
    names = {label: risk_outputs.get(label, label) for label in output_labels}
    model = SimulationModel(program, sites, output_labels, names,
                            warnings=list(dict.fromkeys(lowerer.warnings)),
                            evaluator=calc.evaluator)
    model.correlations = _corrmat_groups(sites, calc)
    return model


def _stochastic_cells(calc: Calculation, roots: set[Cell]) -> set[Cell]:
    """Every formula cell that depends, through the graph, on an input."""
    dependents = calc.graph.dependents()
    seen = set(roots)

    def spread(queue: deque[Cell]) -> None:
        while queue:
            for d in dependents.get(queue.popleft(), ()):
                if d not in seen:
                    seen.add(d)
                    queue.append(d)

    spread(deque(roots))
    # Inputs in constant cells are not graph nodes: their readers come from the areas.
    constant_inputs = [c for c in roots if c not in calc.workbook.formulas]
    if constant_inputs:
        readers = [cell for cell in calc.graph.precedents
                   if cell not in seen and _reads_any(calc, cell, constant_inputs)]
        seen.update(readers)
        spread(deque(readers))
    return seen


def _reads_any(calc: Calculation, cell: Cell, targets: list[Cell]) -> bool:
    f = calc.workbook.formulas[cell]
    if f.node is None or isinstance(f.node, Exception):
        return False
    for node in walk(f.node):
        if type(node) is RefNode:
            ref = node.at(cell[1], cell[2])
            if ref is not None and any(t[0] == ref.sheet and ref.contains(t[1], t[2])
                                       for t in targets):
                return True
        elif type(node) is Name:
            tree = calc.evaluator.name_tree(node.name, node.sheet, node.explicit_sheet)
            if tree is not None and any(
                    type(n) is RefNode and (r := n.at(cell[1], cell[2])) is not None
                    and any(t[0] == r.sheet and r.contains(t[1], t[2]) for t in targets)
                    for n in walk(tree)):
                return True
    return False


def _depends(node: Any, cell: Cell, stochastic: set[Cell], node_inputs: dict,
             calc: Calculation) -> bool:
    """Whether a subtree, evaluated in ``cell``, varies from one iteration to the next."""
    for n in walk(node):
        t = type(n)
        if t is Call and (cell, id(n)) in node_inputs:
            return True
        if t is RefNode:
            ref = n.at(cell[1], cell[2])
            if ref is not None and _area_is_stochastic(ref, stochastic, calc):
                return True
        elif t is Name:
            tree = calc.evaluator.name_tree(n.name, n.sheet, n.explicit_sheet)
            if tree is not None and _depends(tree, cell, stochastic, node_inputs, calc):
                return True
    return False


def _area_is_stochastic(ref: Ref, stochastic: set[Cell], calc: Calculation) -> bool:
    if ref.is_cell:
        return (ref.sheet, ref.r1, ref.c1) in stochastic
    if any(c in stochastic for c in calc.workbook.formulas_in(ref)):
        return True
    return any(c[0] == ref.sheet and ref.contains(c[1], c[2]) for c in stochastic
               if c not in calc.workbook.formulas)


def _cone(calc: Calculation, outputs: list[Cell], stochastic: set[Cell]) -> set[Cell]:
    """Stochastic cells that some output needs."""
    cone: set[Cell] = set()
    queue = deque(c for c in outputs if c in stochastic)
    while queue:
        cell = queue.popleft()
        if cell in cone:
            continue
        cone.add(cell)
        for p in calc.graph.precedents.get(cell, ()):
            if p in stochastic and p not in cone:
                queue.append(p)
    return cone


def _corrmat_groups(sites: list[InputSite], calc: Calculation
                    ) -> list[tuple[list[int], np.ndarray]]:
    """RiskCorrmat: inputs sharing one matrix range, with the matrix read from the sheet."""
    groups: dict[Ref, list[tuple[int, int]]] = {}
    for i, site in enumerate(sites):
        if site.corrmat is not None:
            groups.setdefault(site.corrmat[0], []).append((site.corrmat[1], i))
    out = []
    for ref, members in groups.items():
        values = calc.evaluator.read_area(ref)
        matrix = np.array([[float(x) if type(x) is float else 0.0 for x in row]
                           for row in values.rows])
        members.sort()
        positions = [p - 1 for p, _ in members]
        out.append(([i for _, i in members], matrix[np.ix_(positions, positions)]))
    return out
