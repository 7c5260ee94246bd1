"""The engine's public entry points: load, evaluate, inspect, and one-off formulas."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

from engine.calc import Calculation, cell_result
from engine.datetimes import datetime_to_serial
from engine.evaluator import CellContext
from engine.parser import parse
from engine.refs import Ref, cell_key, parse_cell, split_key
from engine.structured import make_resolver
from engine.values import Array
from engine.workbook import FormulaCell, Workbook


def constant(value: Any) -> Any:
    """A Python value as the engine stores a typed-in constant."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, _dt.datetime | _dt.date | _dt.time | _dt.timedelta):
        return datetime_to_serial(value)
    return value


def workbook_from_cells(cells: dict[str, Any], sheet: str = "Sheet1") -> Workbook:
    """A workbook built from ``{"A1": 1, "Sheet2!B3": "=A1*2"}``; text starting with ``=`` is a
    formula. Handy for tests and for the CLI's one-off formulas."""
    sheets = [sheet]
    wb = Workbook(sheets=sheets)
    for key, value in cells.items():
        if "!" in key:
            s, r, c = split_key(key)
        else:
            (r, c), s = parse_cell(key), sheet
        if s not in sheets:
            sheets.append(s)
        if isinstance(value, str) and value.startswith("=") and len(value) > 1:
            wb.formulas[(s, r, c)] = FormulaCell(s, r, c, value)
        else:
            wb.sheet_values(s)[(r, c)] = constant(value)
    for s in sheets:
        wb.sheet_values(s)
    return wb


def evaluate_formula(formula: str, cells: dict[str, Any] | None = None, sheet: str = "Sheet1",
                     array: bool = False, at: str | None = None,
                     now: Callable[[], float] | None = None) -> Any:
    """Value of ``formula`` typed in ``sheet`` (at cell ``at``, default right of the used
    cells) of a workbook holding ``cells``; ``array=True`` evaluates it as an array formula and
    returns the whole array."""
    wb = workbook_from_cells(cells or {}, sheet)
    calc = Calculation(wb, now=now)
    calc.run()
    if at is not None:
        row, col = parse_cell(at)
    else:
        row, col = 1, wb.extent(sheet)[1] + 1
    node = parse(formula, sheet, row, col, make_resolver(wb.tables), tuple(wb.sheets))
    ctx = CellContext(calc.evaluator, sheet, row, col, array)
    result = calc.evaluator.evaluate(node, ctx)
    if array:
        if type(result) is Ref:
            return calc.evaluator.read_area(result)
        return result
    return cell_result(result, ctx)


def evaluate_workbook(workbook: Workbook, now: Callable[[], float] | None = None
                      ) -> tuple[dict[str, Any], list[str]]:
    """Every formula cell's value keyed ``Sheet!A1``, and the warnings."""
    calc = Calculation(workbook, now=now)
    results = calc.run()
    return {cell_key(*cell): v for cell, v in results.items()}, calc.warnings


__all__ = ["Array", "constant", "evaluate_formula", "evaluate_workbook", "workbook_from_cells"]
