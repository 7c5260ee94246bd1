"""Cell dependency graph: precedents from the syntax trees, calculation order, cycles.

Ranges are not expanded cell by cell: a range's formula precedents are found through the
workbook's per-column index of formula rows, so ``SUM(A:A)`` costs as much as the formulas in A.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.functions.registry import lookup
from engine.nodes import Call, Name, RefNode, walk
from engine.refs import Ref
from engine.workbook import Workbook

Cell = tuple[str, int, int]

# Functions whose references are only known once they run.
DYNAMIC_FUNCTIONS = frozenset({"OFFSET", "INDIRECT"})


@dataclass
class DependencyGraph:
    """Formula-to-formula edges; ``order`` lists every formula cell after its precedents."""

    precedents: dict[Cell, list[Cell]]
    order: list[Cell]
    cycles: list[list[Cell]]
    dynamic: set[Cell] = field(default_factory=set)

    def dependents(self) -> dict[Cell, list[Cell]]:
        out: dict[Cell, list[Cell]] = {}
        for cell, precs in self.precedents.items():
            for p in precs:
                out.setdefault(p, []).append(cell)
        return out


def tree_references(tree: Any, name_tree: Callable[[str, str | None, bool], Any],
                    _seen: set | None = None) -> tuple[list[RefNode], bool]:
    """References a tree reads (defined names followed) and whether it builds references at run
    time. They are position-free: ``RefNode.at(row, col)`` places them."""
    refs: list[RefNode] = []
    dynamic = False
    seen = _seen if _seen is not None else set()
    for node in walk(tree):
        t = type(node)
        if t is RefNode:
            refs.append(node)
        elif t is Name:
            key = (node.sheet, node.name)
            if key in seen:
                continue
            seen.add(key)
            sub = name_tree(node.name, node.sheet, node.explicit_sheet)
            if sub is not None:
                sub_refs, sub_dynamic = tree_references(sub, name_tree, seen)
                refs.extend(sub_refs)
                dynamic = dynamic or sub_dynamic
        elif t is Call:
            if node.name in DYNAMIC_FUNCTIONS:
                dynamic = True
            elif lookup(node.name) is None:  # a defined name holding a LAMBDA: read its body
                key = (None, node.name)
                if key in seen:
                    continue
                seen.add(key)
                sub = name_tree(node.name, None, False)
                if sub is not None:
                    sub_refs, sub_dynamic = tree_references(sub, name_tree, seen)
                    refs.extend(sub_refs)
                    dynamic = dynamic or sub_dynamic
    return refs, dynamic


def build_graph(workbook: Workbook, name_tree: Callable[[str, str | None, bool], Any]
                ) -> DependencyGraph:
    formulas = workbook.formulas
    precedents: dict[Cell, list[Cell]] = {}
    dynamic: set[Cell] = set()
    area_cache: dict[Ref, list[Cell]] = {}
    tree_cache: dict[int, tuple[list[RefNode], bool]] = {}  # copies of a formula share a tree
    for cell, f in formulas.items():
        if f.array is not None and (f.sheet, f.array.r1, f.array.c1) != cell:
            precedents[cell] = [(f.sheet, f.array.r1, f.array.c1)]
            continue
        if isinstance(f.node, Exception) or f.node is None:
            precedents[cell] = []
            continue
        found = tree_cache.get(id(f.node))
        if found is None:
            found = tree_cache[id(f.node)] = tree_references(f.node, name_tree)
        templates, is_dynamic = found
        if is_dynamic:
            dynamic.add(cell)
        precs: list[Cell] = []
        row, col = cell[1], cell[2]
        for template in templates:
            ref = template.at(row, col)
            if ref is None:
                continue
            if ref.is_cell:
                key = (ref.sheet, ref.r1, ref.c1)
                if key in formulas:
                    precs.append(key)
            else:
                inside = area_cache.get(ref)
                if inside is None:
                    inside = area_cache[ref] = workbook.formulas_in(ref)
                precs.extend(inside)
        if f.array is not None:
            own = f.array
            precs = [p for p in precs if not (p[0] == f.sheet and own.contains(p[1], p[2]))]
        precedents[cell] = precs
    order, cycles = _order_and_cycles(precedents)
    return DependencyGraph(precedents, order, cycles, dynamic)


def _order_and_cycles(precedents: dict[Cell, list[Cell]]) -> tuple[list[Cell], list[list[Cell]]]:
    """Tarjan's strongly connected components, iteratively: precedents come out first."""
    index: dict[Cell, int] = {}
    low: dict[Cell, int] = {}
    on_stack: set[Cell] = set()
    stack: list[Cell] = []
    order: list[Cell] = []
    cycles: list[list[Cell]] = []
    counter = 0
    for root in precedents:
        if root in index:
            continue
        work: list[tuple[Cell, Iterable[Cell]]] = [(root, iter(precedents[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(precedents.get(nxt, ()))))
                    advanced = True
                    break
                if nxt in on_stack and index[nxt] < low[node]:
                    low[node] = index[nxt]
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                if low[node] < low[parent]:
                    low[parent] = low[node]
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                component.reverse()
                if len(component) > 1 or node in precedents.get(node, ()):
                    cycles.append(component)
                order.extend(component)
    return order, cycles
