"""What a workbook contains, before anything is computed: the ``inspect`` report."""

from __future__ import annotations

import collections
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.calc import Calculation
from engine.evaluator import SPECIAL_FORMS
from engine.functions.registry import FUNCTIONS
from engine.graph import DYNAMIC_FUNCTIONS
from engine.nodes import BadRef, Call, walk
from engine.refs import cell_key
from engine.workbook import Workbook

_VOLATILE_ALWAYS = DYNAMIC_FUNCTIONS | {"CELL", "INFO"}


def is_known_function(name: str, workbook: Workbook) -> bool:
    """Whether a call can be evaluated: a library function, a form the evaluator handles itself
    (LET, LAMBDA, ...), or a defined name holding a LAMBDA."""
    if name in FUNCTIONS or name in SPECIAL_FORMS:
        return True
    return any(key == name for _, key in workbook.names)


@dataclass
class SheetSummary:
    name: str
    cells: int
    formulas: int


@dataclass
class InspectReport:
    source: str
    sheets: list[SheetSummary]
    defined_names: dict[str, str]
    tables: dict[str, str]
    functions: dict[str, int]
    unsupported: dict[str, list[str]]
    unreadable: dict[str, str]
    cycles: list[list[str]]
    volatile: list[str]
    external_references: list[str]
    iterative_calculation: bool
    macros_ignored: bool
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def inspect_workbook(workbook: Workbook, calc: Calculation | None = None) -> InspectReport:
    """Parse and graph the workbook (no evaluation) and summarise what the engine will meet.
    Pass the workbook's ``Calculation`` when one exists: building the graph twice costs
    seconds on a large model."""
    calc = calc or Calculation(workbook)
    counts: collections.Counter[str] = collections.Counter()
    unsupported: dict[str, list[str]] = collections.defaultdict(list)
    unreadable: dict[str, str] = {}
    volatile: list[str] = []
    external: list[str] = []
    formulas_per_sheet: collections.Counter[str] = collections.Counter()
    for (sheet, row, col), f in workbook.formulas.items():
        formulas_per_sheet[sheet] += 1
        key = cell_key(sheet, row, col)
        if isinstance(f.node, Exception):
            unreadable[key] = f"{f.text}: {f.node}"
            continue
        if f.node is None:  # a member of an array formula: its anchor is reported
            continue
        is_volatile = False
        for node in walk(f.node):
            if type(node) is Call:
                counts[node.name] += 1
                spec = FUNCTIONS.get(node.name)
                if not is_known_function(node.name, workbook) \
                        and key not in unsupported[node.name]:
                    unsupported[node.name].append(key)
                if node.name in _VOLATILE_ALWAYS or (spec is not None and spec.volatile):
                    is_volatile = True
            elif type(node) is BadRef and node.external:
                external.append(key)
        if is_volatile:
            volatile.append(key)
    sheets = [SheetSummary(s, len(workbook.values.get(s, {})) + formulas_per_sheet[s],
                           formulas_per_sheet[s]) for s in workbook.sheets]
    names = {(f"{scope}!{name}" if scope else name): text
             for (scope, name), text in workbook.names.items()}
    tables = {t.name: t.ref.address() for t in workbook.tables.values()}
    return InspectReport(
        source=workbook.source, sheets=sheets, defined_names=names, tables=tables,
        functions=dict(counts.most_common()), unsupported=dict(unsupported),
        unreadable=unreadable,
        cycles=[[cell_key(*c) for c in cyc] for cyc in calc.graph.cycles],
        volatile=volatile, external_references=sorted(set(external)),
        iterative_calculation=workbook.iterate, macros_ignored=workbook.has_macros,
        warnings=list(workbook.warnings))
