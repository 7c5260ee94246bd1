"""Whole-workbook calculation: parse every formula, order the cells, evaluate, iterate cycles."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from engine.errors import CALC, NAME, VALUE, FormulaSyntaxError, WorkbookError
from engine.evaluator import CellContext, Evaluator
from engine.graph import Cell, DependencyGraph, build_graph
from engine.lambdas import is_function_value
from engine.parser import parse, shape_key
from engine.refs import MultiRef, Ref, cell_key
from engine.structured import make_resolver
from engine.values import BLANK, MISSING, Array
from engine.workbook import Workbook


def parse_formulas(workbook: Workbook) -> list[str]:
    """Parse each formula once; a formula the parser rejects keeps its exception as its tree."""
    resolver = make_resolver(workbook.tables)
    sheet_names = tuple(workbook.sheets)
    problems = []
    # Models are mostly copied formulas: parse each shape once; its copies share the tree.
    shapes: dict[tuple[str, str], Any] = {}
    for (sheet, row, col), f in workbook.formulas.items():
        if f.node is not None:
            continue
        if f.array is not None and (f.array.r1, f.array.c1) != (row, col):
            continue
        key = shape_key(f.text, row, col)
        seen = shapes.get((sheet, key)) if key is not None else None
        if seen is not None:
            f.node = seen
            continue
        try:
            f.node = parse(f.text, sheet, row, col, resolver, sheet_names)
        except FormulaSyntaxError as exc:
            f.node = exc
            problems.append(f"{cell_key(sheet, row, col)}: cannot read formula {f.text}: {exc}")
            continue
        if key is not None:
            shapes[(sheet, key)] = f.node
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
    if is_function_value(result):  # a LAMBDA left uncalled
        return CALC
    return result


class Calculation:
    """One recalculation of a workbook; ``run()`` returns every formula cell's value."""

    def __init__(self, workbook: Workbook, now: Callable[[], float] | None = None,
                 time_limit_s: float | None = None):
        self.workbook = workbook
        self.time_limit_s = time_limit_s
        self.evaluator = Evaluator(workbook, compute_cell=self._on_demand, now=now)
        self.parse_problems = parse_formulas(workbook)
        self.graph: DependencyGraph = build_graph(workbook, self.evaluator.name_tree)
        self._computing: set[Cell] = set()
        self._stack: list[Cell] = []  # cells being computed, outermost first
        self._stalled: set[Cell] = set()  # cells caught in a live cycle (Excel shows 0)
        self._cyclic: set[Cell] = {c for cyc in self.graph.cycles for c in cyc}
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))

    @property
    def warnings(self) -> list[str]:
        return self.parse_problems + self.evaluator.warnings

    def run(self) -> dict[Cell, Any]:
        """Compute every formula. Cycles iterate when the workbook allows it; otherwise, as in
        Excel, a cell that really reads itself at run time shows 0, one whose loop an IF cuts
        gets its value, and each cycle is reported in the warnings."""
        formulas = self.workbook.formulas
        values = self.workbook.values
        stalled = self._stalled
        self.evaluator.reset_area_cache(False)
        for cycle in self.graph.cycles:
            if self.workbook.iterate:
                self._iterate(cycle)
                continue
            self.parse_problems.append(
                "circular reference: " + " -> ".join(cell_key(*c) for c in cycle))
            for cell in cycle:
                if values.get(cell[0], {}).get(cell[1:]) is None:
                    self.compute(cell)
        for cell in stalled:
            values[cell[0]][cell[1:]] = 0.0
        precedents = self.graph.precedents
        self.evaluator.reset_area_cache(True)
        deadline = None if self.time_limit_s is None else time.monotonic() + self.time_limit_s
        for done, cell in enumerate(self.graph.order):
            if deadline is not None and time.monotonic() > deadline:
                raise WorkbookError(
                    f"The workbook took longer than {self.time_limit_s:g} seconds to calculate "
                    f"(stopped at {cell_key(*cell)}, {done:,} of {len(self.graph.order):,} "
                    "formulas done); simplify the model or run it as a simulation.")
            if cell in stalled:
                continue
            if stalled and any(p in stalled for p in precedents[cell]):
                stalled.add(cell)  # Excel stops at a live cycle: what depends on it stays 0
                values.setdefault(cell[0], {})[cell[1:]] = 0.0
            elif values.get(cell[0], {}).get(cell[1:]) is None:
                self.compute(cell)
        return {cell: values[cell[0]][cell[1:]] for cell in formulas}

    def _iterate(self, cycle: list[Cell]) -> None:
        """Excel's iterative calculation: recompute until the cycle moves less than max_change."""
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
            loop = self._stack[self._stack.index(cell):]
            self._stalled.update(loop)
            if not self._cyclic.issuperset(loop):  # a loop only OFFSET/INDIRECT reveal
                self.evaluator.warn("circular reference: "
                                    + " -> ".join(cell_key(*c) for c in loop))
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
            if anchor in self._computing:
                return self._on_demand(*anchor)
            if values.get(anchor[1:]) is None or precedents_first:
                self.compute(anchor)
            return values.get((row, col), BLANK)
        self._computing.add(cell)
        self._stack.append(cell)
        try:
            if isinstance(f.node, Exception) or f.node is None:
                self.evaluator.warn(f"{cell_key(*cell)}: formula not understood: {f.text}")
                values[(row, col)] = NAME
                return NAME
            area = f.array
            ctx = CellContext(self.evaluator, sheet, row, col, area is not None,
                              (area.nrows, area.ncols) if area is not None else None)
            result = self.evaluator.evaluate(f.node, ctx)
            if f.array is not None:
                return self._spill(f.array, result, ctx)
            value = values[(row, col)] = 0.0 if cell in self._stalled else cell_result(result, ctx)
            return value
        finally:
            self._computing.discard(cell)
            self._stack.pop()

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
                if v is BLANK or v is MISSING:
                    v = 0.0
                elif is_function_value(v):
                    v = CALC
                values[(r, c)] = v
        return values[(area.r1, area.c1)]


def calculate(workbook: Workbook, now: Callable[[], float] | None = None) -> tuple[
        dict[Cell, Any], list[str]]:
    """Every formula cell's value and the warnings met on the way."""
    calc = Calculation(workbook, now=now)
    results = calc.run()
    return results, calc.warnings
