"""Query-speed benchmark: the results queries over a 10,000,000-iteration run's Parquet.

Usage: python benchmarks/query_speed.py [--rows 10000000] [--repeat 5] [--keep PATH] [--json]

The file imitates what the engine writes for a run with 5 inputs and 3 outputs: an "iteration"
column, 5 input columns from different distributions, 3 outputs computed from them, one of which
is an Excel error (null) in about 1% of the iterations with its "<output> error" text column
beside it, zstd-compressed as ``write_samples`` does. Each query of ``db.queries`` (and two console
queries) is timed from a fresh DuckDB connection: the first call, then the median and best of
``--repeat`` more. The issue's target is under 1 second each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from db import queries  # noqa: E402
from db.console import SqlConsole  # noqa: E402

INPUTS = ["Revenue", "Cost", "Growth", "Share", "Delay"]
OUTPUTS = ["Profit", "Margin", "NPV"]
TARGET_S = 1.0


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write the run file with numpy and pyarrow (zstd, as the engine writes samples)."""
    rng = np.random.default_rng(seed)
    revenue = rng.normal(1000.0, 100.0, rows)
    cost = rng.lognormal(np.log(600.0), 0.2, rows)
    growth = rng.triangular(-0.05, 0.03, 0.12, rows)
    share = rng.beta(2.0, 5.0, rows)
    delay = rng.poisson(3.0, rows).astype(np.float64)
    profit = revenue * (1 + growth) - cost
    margin = profit / revenue
    npv = profit * share * 10 / (1.08 ** delay) - 50 * delay
    npv_error = rng.random(rows) < 0.01
    error_text = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(rows, dtype=np.int32), mask=~npv_error), pa.array(["#DIV/0!"])
    ).cast(pa.string())
    table = pa.table({
        "iteration": np.arange(1, rows + 1, dtype=np.int64),
        **dict(zip(INPUTS, (revenue, cost, growth, share, delay))),
        "Profit": profit,
        "Margin": margin,
        "NPV": pa.array(npv, mask=npv_error),
        "NPV error": error_text,
    })
    pq.write_table(table, path, compression="zstd")


def timed(call: Callable[[], Any], repeat: int) -> dict[str, float]:
    start = time.perf_counter()
    call()
    first = time.perf_counter() - start
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        runs.append(time.perf_counter() - start)
    return {"first_s": first, "median_s": statistics.median(runs), "best_s": min(runs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="write the file here and keep it (reused if "
                                                  "it exists)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    folder = tempfile.TemporaryDirectory()
    path = args.keep or Path(folder.name) / "1.parquet"
    write_s = None
    if not path.exists():
        start = time.perf_counter()
        generate(path, args.rows)
        write_s = time.perf_counter() - start
    meta = pq.ParquetFile(path).metadata
    report: dict[str, Any] = {
        "rows": meta.num_rows, "columns": meta.num_columns,
        "file_mb": round(os.path.getsize(path) / 1e6, 1),
        "write_s": None if write_s is None else round(write_s, 2),
        "cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
        "target_s": TARGET_S, "queries": {},
    }
    cases: dict[str, Callable[[], Any]] = {
        "columns": lambda: queries.columns(path),
        "histogram(Profit, 50 bins)": lambda: queries.histogram(path, "Profit", 50),
        "histogram(NPV, 50 bins, 1% errors)": lambda: queries.histogram(path, "NPV", 50),
        "ecdf(NPV, 200 points)": lambda: queries.ecdf(path, "NPV", 200),
        "quantiles(NPV, 9 ps)": lambda: queries.quantiles(
            path, "NPV", [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]),
        "tornado(NPV, 5 inputs)": lambda: queries.tornado(path, "NPV", INPUTS),
        "scatter(Revenue, Profit, 5000)": lambda: queries.scatter(path, "Revenue", "Profit"),
    }
    console = SqlConsole({1: path})
    cases["console: avg by Delay"] = lambda: console.execute(
        'SELECT "Delay", avg("NPV"), count(*) FROM run_1 GROUP BY 1 ORDER BY 1')
    cases["console: SELECT * (row limit)"] = lambda: console.execute("SELECT * FROM run_1")
    try:
        for name, call in cases.items():
            report["queries"][name] = {k: round(v, 3) for k, v in timed(call, args.repeat).items()}
    finally:
        console.close()
        folder.cleanup()

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['rows']:,} rows x {report['columns']} columns, {report['file_mb']} MB "
          f"(zstd), written in {report['write_s']} s, {report['cpus']} CPUs, load average "
          f"{report['load_average_1min']} at the start")
    print(f"{'query':40} {'first':>8} {'median':>8} {'best':>8}")
    for name, t in report["queries"].items():
        flag = "" if t["median_s"] < TARGET_S else "  over target"
        print(f"{name:40} {t['first_s']:8.3f} {t['median_s']:8.3f} {t['best_s']:8.3f}{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
