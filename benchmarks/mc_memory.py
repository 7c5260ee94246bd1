"""Monte Carlo memory: peak resident memory of the engine's CLI over the project model.

Usage: python benchmarks/mc_memory.py [--iterations 10000000]

Runs ``python -m engine run model.xlsx --iterations N --json`` in a child process and reports
its peak resident set size (``ru_maxrss`` of the children; this script starts only that one
child, so it is the CLI's own peak) and wall time. The issue's bar: under 1.5 GB at 10,000,000
iterations, the samples of the outputs included, on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import project_model as pm  # noqa: E402

BAR_BYTES = 1.5e9


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        book = pm.write_workbook(Path(tmp) / "model.xlsx")
        cmd = [sys.executable, "-m", "engine", "run", str(book), "--iterations",
               str(args.iterations), "--seed", str(args.seed), "--json"]
        started = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - started
    if done.returncode != 0:
        print(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}", file=sys.stderr)
        return 1
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    result = json.loads(done.stdout)
    print(f"command: {' '.join(cmd)}")
    print(f"iterations {result['iterations']:,}: wall {wall:.1f} s (in-process "
          f"{result['elapsed_seconds']:.1f} s), peak RSS {peak / 1e9:.2f} GB "
          f"({peak / 2**20:,.0f} MiB); bar < {BAR_BYTES / 1e9:.1f} GB: "
          f"{'met' if peak < BAR_BYTES else 'MISSED'}")
    for label, stats in result["outputs"].items():
        print(f"  {stats.get('name', label)}: mean {stats['mean']:.4f}, sd {stats['std']:.4f}, "
              f"errors {stats['errors']}")
    return 0 if peak < BAR_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
