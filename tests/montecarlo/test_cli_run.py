"""``python -m engine run``: the command-line contract, through a real subprocess.

Each test starts a Python process (about two seconds with the Numba cache warm), so there are
few of them and each checks several parts of the contract at once.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
Z = 5.0  # standard errors allowed on a mean


def engine_run(book: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", "run", str(book), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def assert_clear_failure(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit status 2, nothing on stdout, one line on stderr naming ``words``, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.fixture
def book(make_xlsx) -> Path:
    """Two @RISK inputs, two RiskOutput cells, a plain formula, and a constant cell that the
    caller can turn into an input."""
    return make_xlsx({"A1": "=RiskNormal(10,2)", "A2": "=RiskUniform(0,6)", "A3": 4,
                      "B1": "=RiskOutput(\"total\")+A1+A2", "B2": "=RiskOutput()+A1*2",
                      "B3": "=A1-A2"})


def test_json_contract_with_the_risk_output_cells_as_outputs(book):
    proc = engine_run(book, "--iterations", "4000", "--seed", "5", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"iterations", "seed", "outputs", "inputs", "sensitivity",
            "elapsed_seconds"} <= set(data)
    assert data["iterations"] == 4000 and data["seed"] == 5
    assert data["elapsed_seconds"] > 0
    assert list(data["outputs"]) == ["Sheet1!B1", "Sheet1!B2"]  # B3 is no RiskOutput
    assert set(data["inputs"]) == {"Sheet1!A1", "Sheet1!A2"}
    assert set(data["sensitivity"]) == {"Sheet1!B1", "Sheet1!B2"}
    for label, stats in data["outputs"].items():
        assert {"mean", "std", "min", "max", "percentiles", "errors"} <= set(stats), label
        assert {"5", "50", "95"} <= set(stats["percentiles"])
        assert stats["errors"] == 0
        p = stats["percentiles"]
        assert stats["min"] <= p["5"] <= p["50"] <= p["95"] <= stats["max"]
    assert data["outputs"]["Sheet1!B1"]["name"] == "total"
    # The numbers are the model's: B1 = N(10, 2) + U(0, 6), B2 = 2 N(10, 2).
    sd1 = math.sqrt(4 + 3)
    assert abs(data["outputs"]["Sheet1!B1"]["mean"] - 13) < Z * sd1 / math.sqrt(4000)
    assert abs(data["outputs"]["Sheet1!B2"]["std"] - 4) < Z * 4 / math.sqrt(2 * 3999)


@pytest.mark.parametrize("args, words", [
    ([], ["no outputs"]),
    (["--input", "Sheet1!A3=normal(0,-1)", "--output", "Sheet1!B3"], ["Sheet1!A3", "sd"]),
    (["--input", "Sheet1!A3=normall(0,1)", "--output", "Sheet1!B3"],
     ["Sheet1!A3", "normall"]),
    (["--output", "Sheet1!B3", "--device", "cuda"], ["cuda"]),
], ids=["no-outputs", "negative-sd", "unknown-distribution", "no-cuda-device"])
def test_clear_one_line_failures(make_xlsx, args, words):
    plain = make_xlsx({"A1": "=RiskNormal(10,2)", "A3": 1, "B3": "=A1+A3"})
    assert_clear_failure(engine_run(plain, *args), *words)


def test_quoted_sheet_name_with_spaces(make_xlsx):
    path = make_xlsx({"Data Sheet!B2": 0, "Sheet1!A1": 1})
    proc = engine_run(path, "--input", "'Data Sheet'!B2=normal(1,1)", "--output",
                      "'Data Sheet'!B2", "--iterations", "2000", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    (label, stats), = data["outputs"].items()
    assert label in ("Data Sheet!B2", "'Data Sheet'!B2")
    assert abs(stats["mean"] - 1) < Z / math.sqrt(2000)
    assert abs(stats["std"] - 1) < Z / math.sqrt(2 * 1999)
    assert len(data["inputs"]) == 1


def test_samples_parquet_has_one_row_per_iteration(make_xlsx, tmp_path):
    path = make_xlsx({"A1": "=RiskNormal(10,2)", "A2": "=RANDBETWEEN(0,2)",
                      "Data Sheet!C1": "=Sheet1!A1*3", "Sheet1!B1": "=1/A2"})
    out = tmp_path / "samples.parquet"
    n = 1500
    proc = engine_run(path, "--output", "'Data Sheet'!C1", "--output", "Sheet1!B1",
                      "--iterations", str(n), "--samples", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    table = pq.read_table(out)
    assert table.num_rows == n
    columns = table.column_names
    assert columns[0] == "iteration"
    assert np.array_equal(table.column("iteration").to_numpy(), np.arange(1, n + 1))
    assert {"Sheet1!A1", "Sheet1!A2", "Sheet1!B1"} <= set(columns)
    (c1,) = [c for c in columns if c.endswith("C1")]
    a1 = table.column("Sheet1!A1").to_numpy()
    a2 = table.column("Sheet1!A2").to_numpy()
    assert np.allclose(table.column(c1).to_numpy(), 3 * a1, rtol=1e-12)
    zero = a2 == 0
    assert zero.any()
    b1 = table.column("Sheet1!B1")
    assert b1.null_count == int(zero.sum()) == data["outputs"]["Sheet1!B1"]["errors"]
    assert np.array_equal(b1.is_null().to_numpy(zero_copy_only=False), zero)
    errors = table.column("Sheet1!B1 error").to_pylist()
    assert [e == "#DIV/0!" for e in errors] == list(zero)
    assert math.isclose(data["outputs"]["Sheet1!B1"]["mean"],
                        float(np.mean(1 / a2[~zero])))


def test_a_run_on_a_local_dask_cluster_is_the_in_process_run(book, tmp_path):
    """``--workers 2``: every chunk a task on two worker processes, the same JSON and samples,
    bit for bit (LHS, a correlation and 3 chunks of 2^18 iterations)."""
    args = ["--iterations", "600000", "--seed", "9", "--sampling", "lhs", "--correlation",
            "Sheet1!A1,Sheet1!A2=0.7", "--target", "12", "--device", "cpu", "--json"]
    here = engine_run(book, *args, "--samples", str(tmp_path / "here.parquet"))
    there = engine_run(book, *args, "--workers", "2", "--samples", str(tmp_path / "there.parquet"))
    assert here.returncode == 0 and there.returncode == 0, (here.stderr, there.stderr)
    a, b = json.loads(here.stdout), json.loads(there.stdout)
    for data in (a, b):
        data.pop("elapsed_seconds")
    assert a == b
    assert pq.read_table(tmp_path / "here.parquet").equals(
        pq.read_table(tmp_path / "there.parquet"))
    bad = engine_run(book, "--workers", "0", "--device", "cpu")
    assert_clear_failure(bad, "--workers must be at least 1")
