"""Whole-workbook calculation: parse every formula, order the cells, evaluate, iterate cycles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.errors import NAME, VALUE, CircularReferenceError, FormulaSyntaxError
from engine.evaluator import CellContext, Evaluator
from engine.graph import Cell, DependencyGraph, build_graph
from engine.parser import parse
from engine.refs import MultiRef, Ref, cell_key
from engine.structured import make_resolver
from engine.values import BLANK, MISSING, Array
from engine.workbook import Workbook


def parse_formulas(workbook: Workbook) -> list[str]:
    """Parse each formula once; a formula the parser rejects keeps its exception as its tree."""
    resolver = make_resolver(workbook.tables)
    sheet_names = frozenset(workbook.sheets)
    problems = []
    for (sheet, row, col), f in workbook.formulas.items():
        if f.node is not None:
            continue
        if f.array is not None and (f.array.r1, f.array.c1) != (row, col):
            continue
        try:
            f.node = parse(f.text, sheet, row, col, resolver, sheet_names)
        except FormulaSyntaxError as exc:
            f.node = exc
            problems.append(f"{cell_key(sheet, row, col)}: cannot read formula {f.text}: {exc}")
    return problems


def cell_result(result: Any, ctx: CellContext) -> Any:
    """What a normal (non-array) formula cell shows for an evaluation result."""
    t = type(result)
    if t is Ref:
        result = ctx.intersect(result)
    elif t is MultiRef:
        return VALUE
    elif t is Array:
        result = result.top_left()
    if result is BLANK or result is MISSING:
        return 0.0
    return result


class Calculation:
    """One recalculation of a workbook; ``run()`` returns every formula cell's value."""

    def __init__(self, workbook: Workbook, now: Callable[[], float] | None = None):
        self.workbook = workbook
        self.evaluator = Evaluator(workbook, compute_cell=self._on_demand, now=now)
        self.parse_problems = parse_formulas(workbook)
        self.graph: DependencyGraph = build_graph(workbook, self.evaluator.name_tree)
        self._computing: set[Cell] = set()
        self._cyclic: set[Cell] = {c for cyc in self.graph.cycles for c in cyc}

    @property
    def warnings(self) -> list[str]:
        return self.parse_problems + self.evaluator.warnings

    def run(self) -> dict[Cell, Any]:
        cycles = self.graph.cycles
        if cycles and not self.workbook.iterate:
            raise CircularReferenceError([[cell_key(*c) for c in cyc] for cyc in cycles])
        for cycle in cycles:
            self._iterate(cycle)
        formulas = self.workbook.formulas
        values = self.workbook.values
        for cell in self.graph.order:
            if cell not in self._cyclic and values.get(cell[0], {}).get(cell[1:]) is None:
                self.compute(cell)
        return {cell: values[cell[0]][cell[1:]] for cell in formulas}

    def _iterate(self, cycle: list[Cell]) -> None:
        """Excel's iterative calculation: recompute the cycle until it moves less than max_change."""
        values = self.workbook.values
        for s, r, c in cycle:
            values.setdefault(s, {})[(r, c)] = 0.0
        for _ in range(max(1, self.workbook.max_iterations)):
            change = 0.0
            for cell in cycle:
                before = values[cell[0]].get(cell[1:])
                after = self.compute(cell, precedents_first=True)
                if isinstance(before, float) and isinstance(after, float):
                    change = max(change, abs(after - before))
                elif before != after:
                    change = float("inf")
            if change < self.workbook.max_change:
                break

    def _on_demand(self, sheet: str, row: int, col: int) -> Any:
        """A formula read before its turn (through OFFSET/INDIRECT): compute it now."""
        cell = (sheet, row, col)
        if cell in self._computing:
            self.evaluator.warn(f"circular reference through {cell_key(*cell)} at run time")
            return 0.0
        return self.compute(cell)

    def compute(self, cell: Cell, precedents_first: bool = False) -> Any:
        if precedents_first:
            for p in self.graph.precedents.get(cell, ()):
                if p not in self._cyclic and \
                        self.workbook.values.get(p[0], {}).get(p[1:]) is None:
                    self.compute(p)
        f = self.workbook.formulas[cell]
        sheet, row, col = cell
        values = self.workbook.values.setdefault(sheet, {})
        if f.array is not None and (f.array.r1, f.array.c1) != (row, col):
            anchor = (sheet, f.array.r1, f.array.c1)
            if values.get(anchor[1:]) is None or precedents_first:
                self.compute(anchor)
            return values.get((row, col), BLANK)
        self._computing.add(cell)
        try:
            if isinstance(f.node, Exception) or f.node is None:
                self.evaluator.warn(f"{cell_key(*cell)}: formula not understood: {f.text}")
                result = NAME
                ctx = None
            else:
                ctx = CellContext(self.evaluator, sheet, row, col, f.array is not None)
                result = self.evaluator.evaluate(f.node, ctx)
        finally:
            self._computing.discard(cell)
        if f.array is None or ctx is None:
            value = cell_result(result, ctx) if ctx is not None else result
            values[(row, col)] = value
            return value
        return self._spill(f.array, result, ctx)

    def _spill(self, area: Ref, result: Any, ctx: CellContext) -> Any:
        """Distribute an array formula's result over its range (#N/A where it runs short)."""
        if type(result) is Ref:
            result = self.evaluator.read_area(result)
        elif type(result) is MultiRef:
            result = VALUE
        values = self.workbook.values.setdefault(area.sheet, {})
        for r in range(area.r1, area.r2 + 1):
            for c in range(area.c1, area.c2 + 1):
                v = result.get(r - area.r1, c - area.c1) if type(result) is Array else result
                values[(r, c)] = 0.0 if v is BLANK or v is MISSING else v
        return values[(area.r1, area.c1)]


def calculate(workbook: Workbook, now: Callable[[], float] | None = None) -> tuple[
        dict[Cell, Any], list[str]]:
    """Every formula cell's value and the warnings met on the way."""
    calc = Calculation(workbook, now=now)
    results = calc.run()
    return results, calc.warnings
