"""GPU speed: the 10-year project model (project_model.py) on the CPU and CUDA backends.

For 10^6, 10^7 and 10^8 iterations it times each backend's iteration loop (sampling the inputs,
rank correlation if any, the virtual machine, results back in host memory: what the backends do
differently; the statistics that follow are the same host code for both) and prints the time
ratio and the GPU's iterations per second. Before any timing it runs the whole simulation on both
backends and stops unless every input sample, output value, error code and statistic agrees to
1e-9 relative. The CPU side uses ``--cpu-threads`` threads (default 2, the machine the issue's
50x goal refers to); where the CPU would take too long it is extrapolated from 10^7 and marked.

Procedure, on a machine with an NVIDIA GPU, its driver (``nvidia-smi`` works) and Python 3.11
with NumPy, but without the project's other dependencies and without internet access:

1. On a machine with internet access, next to the checkout, download the wheels once
   (Linux x86-64, CPython 3.11; numba-cuda[cu12] brings libNVVM and libdevice as wheels, so
   no CUDA toolkit is needed on the GPU machine):

       python -m pip download -d wheels --only-binary=:all: --python-version 3.11 \\
           --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \\
           "numpy>=2.0" "scipy>=1.13" "openpyxl>=3.1" defusedxml "numba>=0.60" \\
           "numba-cuda[cu12]" "pyarrow>=15"

2. Copy the checkout with its ``wheels/`` folder to the GPU machine, then there:

       python -m venv .venv-gpu && .venv-gpu/bin/python -m pip install --no-index \\
           --find-links wheels numpy scipy openpyxl defusedxml numba "numba-cuda[cu12]" pyarrow
       .venv-gpu/bin/python benchmarks/gpu_speed.py

It is meant to finish in a few minutes (well under 10) on an H100: the check, 10^8 GPU
iterations, and the CPU runs capped by CPU_SECONDS_LIMIT each. Not yet run on a GPU (the kernels
were tested under the CUDA simulator and compiled to PTX only), so that estimate is unmeasured;
``--sizes 1e6,1e7`` shortens it. Under the simulator, ``NUMBA_ENABLE_CUDASIM=1 python
benchmarks/gpu_speed.py --sizes 256 --check-iterations 64`` exercises the script itself.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import project_model as pm  # noqa: E402

RTOL = 1e-9
CPU_SECONDS_LIMIT = 60.0  # a CPU run expected to take longer is extrapolated instead


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if (np.isnan(a) != np.isnan(b)).any():
        return math.inf
    keep = ~np.isnan(a)
    scale = np.maximum(np.maximum(np.abs(a[keep]), np.abs(b[keep])), 1e-300)
    return float(np.max(np.abs(a[keep] - b[keep]) / scale, initial=0.0))


def check(model, settings_cls, simulate, n: int) -> None:
    """Whole runs on both backends must agree before any timing means anything."""
    started = time.perf_counter()
    cpu = simulate(model, settings_cls(iterations=n, seed=3, device="cpu"))
    gpu = simulate(model, settings_cls(iterations=n, seed=3, device="cuda"))
    worst = {"input samples": _relative(cpu.input_samples, gpu.input_samples),
             "output values": _relative(cpu.output_values, gpu.output_values)}
    for label, s in cpu.outputs.items():
        t = gpu.outputs[label]
        worst[f"{label} statistics"] = _relative(
            [s["mean"], s["std"], *s["percentiles"].values()],
            [t["mean"], t["std"], *t["percentiles"].values()])
    same_errors = bool((cpu.output_errors == gpu.output_errors).all())
    print(f"check at {n:,} iterations ({time.perf_counter() - started:.1f} s, "
          f"GPU kernels compiled on first use): " + ", ".join(
              f"{k} {v:.1e}" for k, v in worst.items()) + f", error codes equal: {same_errors}")
    if gpu.device != "cuda" or not same_errors or max(worst.values()) > RTOL:
        raise SystemExit("GPU results differ from the CPU's: no timings")


def iteration_loop(model, settings, runner) -> float:
    """Seconds for every chunk of a run through one backend, results in host memory."""
    from engine.montecarlo.simulate import _run_chunk, _sample_chunk

    started = time.perf_counter()
    n = settings.iterations
    for start in range(0, n, settings.chunk):
        count = min(settings.chunk, n - start)
        if runner is None:
            _run_chunk(model, _sample_chunk(model, settings, start, count, []))
        else:
            runner.run(start, count, lambda s: False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1e6,1e7,1e8")
    parser.add_argument("--cpu-threads", type=int, default=2)
    parser.add_argument("--check-iterations", type=int, default=100_000)
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]

    import numba

    from engine.loader import load_workbook
    from engine.montecarlo.cuda_vm import CudaRunner
    from engine.montecarlo.device import DeviceError, gpu_name, select_device
    from engine.montecarlo.model import build_model
    from engine.montecarlo.simulate import RunSettings, simulate

    try:
        select_device("cuda")
    except DeviceError as exc:
        raise SystemExit(str(exc)) from None
    numba.set_num_threads(min(args.cpu_threads, numba.config.NUMBA_NUM_THREADS))
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(load_workbook(pm.write_workbook(Path(tmp) / "project.xlsx")))
    print(f"GPU: {gpu_name()}; CPU backend on {numba.get_num_threads()} threads; model: "
          f"{model.program.size} instructions, {model.program.n_regs} registers, "
          f"{len(model.inputs)} inputs")
    check(model, RunSettings, simulate, args.check_iterations)
    cpu_rate = None
    extrapolated = False
    print(f"{'iterations':>12} {'CPU s':>10} {'GPU s':>8} {'ratio':>8} {'GPU it/s':>10}")
    for n in sizes:
        settings = RunSettings(iterations=n, seed=1)
        gpu_s = iteration_loop(model, settings, CudaRunner(model, settings))
        if cpu_rate is not None and n / cpu_rate > CPU_SECONDS_LIMIT:
            cpu_s, mark = n / cpu_rate, "*"
        else:
            cpu_s, mark = iteration_loop(model, settings, None), ""
            cpu_rate = n / cpu_s
        print(f"{n:>12,} {cpu_s:>9.2f}{mark or ' '} {gpu_s:>8.2f} {cpu_s / gpu_s:>7.1f}x "
              f"{n / gpu_s:>10.3g}")
        extrapolated = extrapolated or bool(mark)
    if extrapolated:
        print("* extrapolated from the largest CPU run at the same rate")


if __name__ == "__main__":
    main()
