"""GPU speed: the 10-year project model (project_model.py) on the CPU and CUDA backends.

For 10^6, 10^7 and 10^8 iterations it times each backend's iteration loop (sampling the inputs,
rank correlation if any, the virtual machine, results back in host memory: what the backends do
differently; the statistics that follow are the same host code for both) and prints the time
ratio and the GPU's iterations per second. Before any timing it runs the whole simulation on both
backends and stops unless every input sample, output value, error code and statistic agrees to
1e-9 relative. The CPU side uses ``--cpu-threads`` threads (default 2, the machine the issue's
50x goal refers to); where the CPU would take too long it is extrapolated from 10^7 and marked.

Procedure, on a machine with an NVIDIA GPU, its driver (``nvidia-smi`` works) and Python with
NumPy, without internet access: ``bash benchmarks/gpu_session.sh WHEELS`` installs the wheels in
WHEELS into a scratch folder, runs the CUDA test cases on the GPU, then this script. Fetch the
wheels on a machine with internet access, for the GPU machine's Python (here 3.12), for what that
machine lacks. On the H100 machine of 2026-11-26, which had Numba 0.68 and numba-cuda 0.30.4 but
NumPy 2.5.2 (which numba-cuda cannot import), that was:

    python -m pip download -d wheels --no-deps --only-binary=:all: --python-version 3.12 \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        numpy==2.4.6 scipy==1.17.1 openpyxl et_xmlfile defusedxml

On a machine with only NumPy add numba, llvmlite, "numba-cuda[cu12]" (which brings libNVVM as
wheels) and pyarrow. The whole command took about 2 minutes on an H100 (README, "GPU"); under the
simulator, ``NUMBA_ENABLE_CUDASIM=1 python benchmarks/gpu_speed.py --sizes 256
--check-iterations 64 --phase-iterations 64`` exercises the script itself.
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
    """Seconds for every chunk of a run through one backend (``runner`` None: the CPU), into
    the run's arrays in host memory, as `simulate` does it."""
    from engine.montecarlo.simulate import chunk_bounds, fill_chunk

    n = settings.iterations
    arrays = (np.empty((len(model.inputs), n)), np.empty((len(model.outputs), n)),
              np.empty((len(model.outputs), n), dtype=np.uint8))
    started = time.perf_counter()
    for start, count in chunk_bounds(settings):
        fill_chunk(model, settings, runner, [], start,
                   *(a[:, start:start + count] for a in arrays))
    return time.perf_counter() - started


def phases(runner, n: int) -> dict[str, float]:
    """Seconds of each GPU phase for one batch of ``n`` iterations, each phase synchronized
    (best of three): where the time goes. The table's GPU column is their sum, less what
    overlaps, plus the copies from pinned memory into the run's arrays."""
    from numba import cuda

    n = min(n, runner.batch)
    dev, host = runner._views(n)
    stream = runner._stream
    steps = {
        "sample": lambda: runner.sampler.sample(0, dev["in"], runner.grid, stream),
        "kernel": lambda: runner._launch_vm(dev, n),
        "inputs to pinned host memory": lambda: dev["in"].copy_to_host(host["in"], stream),
        "outputs to pinned host memory": lambda: (dev["vals"].copy_to_host(host["vals"], stream),
                                                  dev["errs"].copy_to_host(host["errs"], stream)),
        "pinned to fresh host arrays": lambda: [np.copyto(np.empty(a.shape, a.dtype), a)
                                                for a in host.values()],
    }
    seconds = {}
    for name, step in steps.items():
        best = math.inf
        for _ in range(3):
            cuda.synchronize()
            started = time.perf_counter()
            step()
            stream.synchronize()
            best = min(best, time.perf_counter() - started)
        seconds[name] = best
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1e6,1e7,1e8")
    parser.add_argument("--cpu-threads", type=int, default=2)
    parser.add_argument("--check-iterations", type=int, default=100_000)
    parser.add_argument("--phase-iterations", type=int, default=1 << 20)
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
    runner = CudaRunner(model, RunSettings(iterations=max(sizes), seed=1))
    n = min(args.phase_iterations, runner.batch)
    print(f"GPU phases for one batch of {n:,} iterations ({runner.grid[0]} blocks of "
          f"{runner.grid[1]} threads): " + ", ".join(
              f"{k} {v * 1e3:.2f} ms" for k, v in phases(runner, n).items()))


if __name__ == "__main__":
    main()
