"""Measure the formula engine against workbooks that Excel calculated and saved.

Usage: python scripts/conformance.py PATH [PATH ...] [--by-function] [--failures N] [--json OUT]

PATH is an .xlsx file or a folder of them (for example ../shared/excel-oracle). Each formula
cell's computed value is compared with the value Excel cached in the file: numbers to a relative
tolerance of 1e-9 (absolute 1e-12 near zero), text and booleans exactly, errors by code. The
engine never sees the cached values: it loads the formulas on their own.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import openpyxl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.api import evaluate_workbook  # noqa: E402
from engine.datetimes import datetime_to_serial  # noqa: E402
from engine.errors import XLError  # noqa: E402
from engine.evaluator import SPECIAL_FORMS  # noqa: E402
from engine.functions.registry import FUNCTIONS  # noqa: E402
from engine.loader import load_workbook  # noqa: E402
from engine.nodes import Call, walk  # noqa: E402
from engine.values import BLANK  # noqa: E402

REL_TOL = 1e-9
ABS_TOL = 1e-12


def expected_values(path: Path) -> dict[str, tuple[Any, str]]:
    """Excel's cached value and openpyxl data type of every cell, keyed ``Sheet!A1``."""
    book = openpyxl.load_workbook(path, data_only=True)
    out = {}
    for ws in book.worksheets:
        for cell in ws._cells.values():
            out[f"{ws.title}!{cell.coordinate}"] = (cell.value, cell.data_type)
    return out


def matches(ours: Any, cached: Any, data_type: str) -> bool:
    if data_type == "e" and isinstance(cached, str):
        return isinstance(ours, XLError) and ours.code == cached.upper()
    if isinstance(cached, dt.datetime | dt.date | dt.time | dt.timedelta):
        cached = datetime_to_serial(cached)
    if cached is None or cached == "":
        return ours == "" or ours is BLANK
    if isinstance(cached, bool) or isinstance(ours, bool):
        return type(ours) is bool and type(cached) is bool and ours == cached
    if isinstance(cached, int | float):
        if not isinstance(ours, float):
            return False
        return math.isclose(ours, float(cached), rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return isinstance(ours, str) and ours == cached


def functions_of(tree: Any) -> set[str]:
    if tree is None or isinstance(tree, Exception):
        return set()
    return {n.name for n in walk(tree) if type(n) is Call}


def measure(path: Path) -> dict[str, Any]:
    wb = load_workbook(path)
    started = time.perf_counter()
    results, warnings = evaluate_workbook(wb)
    elapsed = time.perf_counter() - started
    cached = expected_values(path)
    per_sheet: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    per_function: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    failures = []
    for (sheet, row, col), f in wb.formulas.items():
        key = f"{sheet}!{openpyxl.utils.get_column_letter(col)}{row}"
        anchor = wb.formulas.get((sheet, f.array.r1, f.array.c1)) if f.array else f
        value, data_type = cached.get(key, (None, "n"))
        ok = matches(results[key], value, data_type)
        per_sheet[sheet][0] += ok
        per_sheet[sheet][1] += 1
        for name in functions_of(anchor.node if anchor else None):
            per_function[name][0] += ok
            per_function[name][1] += 1
        if not ok:
            failures.append((key, f.text, results[key], value))
    return {"path": str(path), "names": {name for _, name in wb.names},
            "sheets": dict(per_sheet), "functions": dict(per_function),
            "failures": failures, "warnings": warnings, "seconds": elapsed}


def _files(paths: list[str]) -> list[Path]:
    out = []
    for p in map(Path, paths):
        out.extend(sorted(p.rglob("*.xlsx")) if p.is_dir() else [p])
    return out


def _rate(ok: int, total: int) -> str:
    return f"{ok}/{total} ({100.0 * ok / total:.1f}%)" if total else "0/0"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--by-function", action="store_true", help="print pass rates per function")
    ap.add_argument("--failures", type=int, default=0, help="print up to N failing cells")
    ap.add_argument("--json", help="write the full report to this file")
    args = ap.parse_args(argv)
    total_ok = total = 0
    functions: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    reports = []
    lambda_names: set[str] = set()
    for path in _files(args.paths):
        try:
            rep = measure(path)
        except Exception as exc:  # noqa: BLE001 - one bad file must not hide the others
            print(f"{path}: could not be evaluated: {exc}")
            continue
        reports.append(rep)
        lambda_names.update(rep["names"])
        ok = sum(v[0] for v in rep["sheets"].values())
        n = sum(v[1] for v in rep["sheets"].values())
        total_ok, total = total_ok + ok, total + n
        print(f"{path.name}: {_rate(ok, n)} in {rep['seconds']:.2f}s")
        if len(rep["sheets"]) > 1:
            for sheet, (sok, sn) in sorted(rep["sheets"].items()):
                print(f"    {sheet}: {_rate(sok, sn)}")
        for name, (fok, fn) in rep["functions"].items():
            functions[name][0] += fok
            functions[name][1] += fn
        for key, text, ours, theirs in rep["failures"][:args.failures]:
            print(f"    FAIL {key} {text} -> {ours!r}, Excel {theirs!r}")
    print(f"TOTAL: {_rate(total_ok, total)}")
    missing = sorted(name for name in functions if name not in FUNCTIONS
                     and name not in SPECIAL_FORMS and name not in lambda_names)
    print(f"functions not implemented ({len(missing)}): {', '.join(missing)}")
    if args.by_function:
        for name, (fok, fn) in sorted(functions.items(), key=lambda kv: kv[1][0] / kv[1][1]):
            print(f"  {name}: {_rate(fok, fn)}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{k: v for k, v in r.items() if k not in ("failures", "names")} | {
                "failures": [[k, t, repr(o), repr(e)] for k, t, o, e in r["failures"]]}
             for r in reports], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
