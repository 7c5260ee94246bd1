"""Load-speed benchmark: a generated 280,000-cell model (half formulas), loaded, parsed and graphed.

Usage: python benchmarks/load_speed.py [--rows 1000] [--keep PATH]

The workbook imitates a planning model: an assumptions sheet and calculation sheets whose rows mix
typed drivers with formulas using absolute and relative references, cross-sheet references,
ranges (SUM/AVERAGE over a row), IF and lookups. Each phase is timed; peak memory is the
process's maximum resident set size, measured in a fresh child process so generation does not
count.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CALC_SHEETS = 3
COLUMNS = 90  # per calculation sheet: alternating drivers and formulas


def generate(path: Path, rows: int) -> int:
    """Write the model with openpyxl's streaming writer; returns the number of cells."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter as col

    rnd = random.Random(7)
    wb = Workbook(write_only=True)
    cells = 0
    inputs = wb.create_sheet("Assumptions")
    inputs.append(["Driver", "Low", "Base", "High", "Growth", "Share", "Price", "Cost",
                   "Churn", "Tax"])
    for r in range(2, rows + 2):
        inputs.append([f"driver {r}"] + [round(rnd.uniform(0.5, 150), 2) for _ in range(9)])
        cells += 10
    for s in range(1, CALC_SHEETS + 1):
        ws = wb.create_sheet(f"Calc {s}")
        for r in range(1, rows + 1):
            row: list = []
            for c in range(1, COLUMNS + 1):
                if c % 2:
                    row.append(round(rnd.uniform(1, 1000), 2))
                    continue
                prev = col(c - 1)
                k = c % 10
                if k == 0:
                    f = f"=SUM($A{r}:{prev}{r})"
                elif k == 2:
                    f = f"={prev}{r}*Assumptions!$C{r + 1}*(1+Assumptions!$F{r + 1}/100)"
                elif k == 4:
                    f = f"=IF({prev}{r}>500,{prev}{r}-{col(c - 2)}{r},{prev}{r}*1.1)"
                elif k == 6:
                    other = f"'Calc {s - 1}'" if s > 1 else "Assumptions"
                    f = f"={prev}{r}+{other}!$B{r + 1}-ROUND({col(c - 2)}{r}/3,2)"
                else:
                    f = (f"=AVERAGE({col(max(1, c - 5))}{r}:{prev}{r})+VLOOKUP("
                         f"Assumptions!$A{r + 1},Assumptions!$A$2:$J${rows + 1},3,FALSE)/1000")
                row.append(f)
            ws.append(row)
            cells += COLUMNS
    wb.save(path)
    return cells


def measure(path: Path) -> dict:
    """Time read, parse and graph in this process (run it in a fresh one)."""
    from engine.calc import Calculation, parse_formulas
    from engine.evaluator import Evaluator
    from engine.graph import build_graph
    from engine.loader import load_workbook
    from engine.validate import Limits

    t0 = time.perf_counter()
    wb = load_workbook(path, Limits(max_cells=2_000_000))
    t1 = time.perf_counter()
    problems = parse_formulas(wb)
    t2 = time.perf_counter()
    graph = build_graph(wb, Evaluator(wb).name_tree)
    t3 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cells = len(wb.formulas) + sum(len(v) for v in wb.values.values())
    Calculation(wb).run()  # not part of the load figure: one full recalculation after it
    t4 = time.perf_counter()
    return {"formulas": len(wb.formulas), "cells": cells, "read_s": t1 - t0, "parse_s": t2 - t1,
        "graph_s": t3 - t2, "total_s": t3 - t0, "peak_rss_mb": peak_mb, "calc_s": t4 - t3,
        "parse_problems": len(problems), "cycles": len(graph.cycles)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--keep", help="keep the generated workbook at this path")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure))))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "model.xlsx"
        t = time.perf_counter()
        cells = generate(path, args.rows)
        print(f"generated {cells:,} cells ({path.stat().st_size / 1e6:.1f} MB) "
              f"in {time.perf_counter() - t:.1f}s")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        out = subprocess.run([sys.executable, __file__, "--measure", str(path)], env=env,
                             check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    print(f"cells {r['cells']:,}  formulas {r['formulas']:,}")
    print(f"read {r['read_s']:.2f}s  parse {r['parse_s']:.2f}s  graph {r['graph_s']:.2f}s  "
          f"total {r['total_s']:.2f}s  peak RSS {r['peak_rss_mb']:.0f} MB")
    print(f"parse problems {r['parse_problems']}, cycles {r['cycles']}; then one full "
          f"calculation of every formula: {r['calc_s']:.2f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
