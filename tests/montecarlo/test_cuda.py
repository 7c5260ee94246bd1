"""The CUDA backend: every kernel under the CUDA simulator against the CPU backend, PTX compilation
of both kernels, device selection and the command line's message on a machine without a GPU.

The simulator needs NUMBA_ENABLE_CUDASIM before Numba's first import, which this process has
done already, so the comparisons run once in a subprocess (tests/montecarlo/cuda_sim_runs.py)
and the tests assert on its JSON. Backends agree to 1e-9 relative (the issue's bar); the only
differences expected are last-bit ones between NumPy's and the device's log/exp.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.montecarlo import device
from engine.montecarlo.cuda_vm import plan

ROOT = Path(__file__).resolve().parents[2]
RTOL = 1e-9


@pytest.fixture(scope="module")
def sim() -> dict:
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    done = subprocess.run([sys.executable, "-m", "tests.montecarlo.cuda_sim_runs"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _assert_same(run: dict) -> None:
    assert run["device"] == "cuda", run["warnings"]
    assert run["nan_samples"] == 0
    assert run["samples"] <= RTOL, run
    assert run["outputs"] <= RTOL, run
    assert run["stats"] <= RTOL, run
    assert run["errors_equal"], run


@pytest.mark.parametrize("sampling", ["mc", "lhs"])
def test_every_distribution_family_matches_cpu(sim, sampling):
    _assert_same(sim["families"][sampling])


def test_table_tails_are_finished_on_the_host(sim):
    """gamma truncated to (0, 0.01) lies wholly in the exact tail that the device leaves as
    NaN; the samples still equal the CPU's (asserted above), so the host filled them in."""
    assert sim["families"]["device_tail_nans"] == {"Sheet1!A10": 64}


@pytest.mark.parametrize("sampling", ["mc", "lhs"])
def test_rank_correlation_matches_cpu(sim, sampling):
    _assert_same(sim["correlated"][sampling])


def test_per_iteration_errors_if_and_lookups_match_cpu(sim):
    run = sim["errors"]["mc"]
    _assert_same(run)
    assert run["error_count"] > 0  # #DIV/0!, #N/A and #NUM! in some iterations only


def test_irr_npv_pmt_match_cpu(sim):
    _assert_same(sim["cashflows"]["mc"])


def test_project_model_matches_cpu(sim):
    _assert_same(sim["project"]["mc"])


def test_chunk_larger_than_device_memory_runs_in_batches(sim):
    run = sim["batches"]
    assert run["batch"] < 64 // 2  # a memory cap of a fraction of the chunk: several batches
    assert run["samples"] <= RTOL and run["outputs"] <= RTOL and run["errors_equal"], run


def test_python_fallback_runs_on_cpu_with_a_note(sim):
    run = sim["fallback"]["mc"]
    assert run["device"] == "cpu"
    assert any("ran on the CPU, not the GPU" in w and "LEN" in w for w in run["warnings"])
    assert run["outputs"] == 0.0


def test_kernels_compile_to_ptx(monkeypatch):
    """The simulator runs Python, so only Numba's CUDA compiler proves the kernels type and
    compile. Without a GPU, nested device functions ask the driver for a compute capability:
    give them the H100's."""
    from numba import cuda, types
    from numba.cuda import dispatcher

    from engine.montecarlo import cuda_sampling, cuda_vm

    monkeypatch.setattr(dispatcher, "get_current_device",
                        lambda: SimpleNamespace(compute_capability=(9, 0)))
    i2, f2, u2 = types.int64[:, ::1], types.float64[:, ::1], types.uint8[:, ::1]
    f1, u64 = types.float64[::1], types.uint64
    vm_sig = (i2, types.int64[::1], f1, types.uint8[::1], f1, types.uint8[::1], i2, f2,
              types.int64, f2, u2, f2, types.int64[::1], f2, u2)
    sample_sig = (u64, types.uint64[::1], types.boolean, u64, u64, u64, types.uint64[:, ::1],
                  u64, i2, f2, f1, f1, f1, f1, f2)
    try:
        vm_ptx, _ = cuda.compile_ptx(cuda_vm._run_kernel.py_func, vm_sig, cc=(9, 0))
    except Exception as exc:
        if "NVVM" not in str(exc) and "nvvm" not in str(exc):
            raise
        pytest.skip(f"no libNVVM here: {exc}")
    sample_ptx, _ = cuda.compile_ptx(cuda_sampling._sample_kernel.py_func, sample_sig,
                                     cc=(9, 0))
    assert ".entry" in vm_ptx and ".entry" in sample_ptx
    assert "mul.hi.u64" in sample_ptx  # Philox on the device


def test_plan_fits_memory():
    slots, batch = plan(10_000_000, n_regs=100, n_flows=20, n_inputs=5, n_outputs=2,
                                  max_slots=1 << 20)
    used = slots * (9 * 100 + 8 * 20) + batch * (8 * 5 + 9 * 2)
    assert batch > 100_000  # the rest of the budget goes to iterations
    assert slots % 128 == 0 and used <= 0.8 * 10_000_000
    with pytest.raises(ValueError, match="does not fit in the GPU's free memory"):
        plan(1_000, n_regs=100, n_flows=20, n_inputs=5, n_outputs=2, max_slots=128)


def test_select_device_without_gpu():
    if device.cuda_problem() is None:
        pytest.skip("this machine has a usable GPU")
    assert device.select_device("cpu") == "cpu"
    assert device.select_device("auto") == "cpu"
    with pytest.raises(device.DeviceError, match="no CUDA GPU is usable"):
        device.select_device("cuda")
    with pytest.raises(device.DeviceError, match="must be one of"):
        device.select_device("tpu")


def test_cli_device_cuda_without_gpu_is_one_clear_line(tmp_path):
    if device.cuda_problem() is None:
        pytest.skip("this machine has a usable GPU")
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "Sheet1"
    wb.active["A1"] = "=RiskNormal(10,2)"
    wb.active["B1"] = "=A1*2"
    wb.save(tmp_path / "book.xlsx")
    done = subprocess.run([sys.executable, "-m", "engine", "run", str(tmp_path / "book.xlsx"),
                           "--output", "Sheet1!B1", "--device", "cuda", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: --device cuda: no CUDA GPU is usable")
    assert done.stderr.count("\n") == 1
