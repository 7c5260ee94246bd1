"""Running a compiled model: sampling, the virtual machine, and the run's results.

Iterations go through in chunks (about a million at a time): each input's uniforms for the chunk
come from its counter-based stream (plain Monte Carlo or Latin hypercube), become samples by the
inverse CDF, are rank-correlated when asked, and the machine runs the chunk on all cores. The
same seed gives the same numbers whatever the chunk or block size, thread count or input order;
rank correlation reorders within each chunk, so it alone depends on the chunk size (runs up to a
chunk are correlated as a whole).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.montecarlo import correlation, lhs, rng, sorting, vm
from engine.montecarlo.convergence import ConvergenceMonitor, convergence_trace
from engine.montecarlo.fallback import run_blocks_with_fallbacks
from engine.montecarlo.model import SimulationModel
from engine.montecarlo.opcodes import ERRORS_BY_CODE
from engine.montecarlo.sensitivity import SortedInputs, sensitivity
from engine.montecarlo.summary import DEFAULT_PERCENTILES, summarize

CHUNK = 1 << 20
BLOCK = 1024
# Rank correlations from 250,000 iterations have standard errors near 0.002: more iterations
# add time and memory (several arrays of the run's length per input) but no information.
SENSITIVITY_ITERATIONS = 250_000
MAX_ITERATIONS = 100_000_000


@dataclass
class RunSettings:
    iterations: int = 10_000
    seed: int = 1
    sampling: str = "mc"  # "mc" or "lhs"
    correlations: dict[tuple[str, str], float] = field(default_factory=dict)
    percentiles: Sequence[float] = DEFAULT_PERCENTILES
    target: float | None = None
    var_level: float = 0.95
    chunk: int = CHUNK
    stop_tolerance: float | None = None  # stop early once every output has converged
    stop_confidence: float = 0.95
    device: str = "cpu"  # "cpu" or "cuda" (engine.montecarlo.device.select_device resolves "auto")

    def validate(self) -> None:
        if not 1 <= self.iterations <= MAX_ITERATIONS:
            raise ValueError(f"iterations must be between 1 and {MAX_ITERATIONS:,}, got "
                             f"{self.iterations}")
        if self.sampling not in ("mc", "lhs"):
            raise ValueError(f"sampling must be 'mc' or 'lhs', got {self.sampling!r}")
        if not 0 <= self.seed < 2 ** 63:
            raise ValueError(f"seed must be a whole number from 0 to 2**63-1, got {self.seed}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        if self.stop_tolerance is not None and not self.stop_tolerance > 0:
            raise ValueError(f"the stop tolerance must be positive, got {self.stop_tolerance}")

    def step(self) -> int:
        """Iterations per chunk: with a stop rule, small enough to stop near convergence."""
        if self.stop_tolerance is None:
            return self.chunk
        return min(self.chunk, max(10_000, self.iterations // 100))


@dataclass
class RunResult:
    iterations: int
    seed: int
    sampling: str
    outputs: dict[str, dict[str, Any]]
    inputs: dict[str, dict[str, Any]]
    sensitivity: dict[str, dict[str, Any]]
    convergence: dict[str, dict[str, Any]]
    elapsed_seconds: float
    warnings: list[str]
    input_samples: np.ndarray  # (inputs, iterations)
    output_values: np.ndarray  # (outputs, iterations), NaN where an error
    output_errors: np.ndarray  # (outputs, iterations) uint8 error codes
    device: str = "cpu"  # where the iterations ran

    def to_dict(self) -> dict[str, Any]:
        return {"iterations": self.iterations, "seed": self.seed, "sampling": self.sampling,
                "outputs": self.outputs, "inputs": self.inputs,
                "sensitivity": self.sensitivity, "convergence": self.convergence,
                "warnings": self.warnings, "elapsed_seconds": self.elapsed_seconds}


def correlation_targets(model: SimulationModel, settings: RunSettings
                        ) -> tuple[list[tuple[list[int], np.ndarray]], list[str]]:
    """Groups of correlated inputs with their (repaired) rank-correlation matrices."""
    groups = list(model.correlations)
    warnings: list[str] = []
    if settings.correlations:
        index = {site.label: i for i, site in enumerate(model.inputs)}
        index.update({site.name: i for i, site in enumerate(model.inputs)})
        members: list[int] = []
        for pair in settings.correlations:
            for label in pair:
                if label not in index:
                    raise ValueError(f"correlation names {label!r}, which is not an input "
                                     f"(inputs: {', '.join(s.label for s in model.inputs)})")
                if index[label] not in members:
                    members.append(index[label])
        matrix = np.eye(len(members))
        for (a, b), rho in settings.correlations.items():
            i, j = members.index(index[a]), members.index(index[b])
            matrix[i, j] = matrix[j, i] = rho
        groups.append((members, matrix))
    repaired = []
    for members, matrix in groups:
        labels = [model.inputs[i].label for i in members]
        fixed, warning = correlation.repair_correlation(matrix, labels)
        if warning:
            warnings.append(warning)
        repaired.append((members, fixed))
    return repaired, warnings


def _sample_chunk(model: SimulationModel, settings: RunSettings, start: int, count: int,
                  groups: list[tuple[list[int], np.ndarray]]) -> np.ndarray:
    samples = np.empty((len(model.inputs), count))
    for j, site in enumerate(model.inputs):
        if settings.sampling == "lhs":
            u = lhs.lhs_uniforms(settings.seed, site.stream, settings.iterations, start, count)
        else:
            u = rng.uniforms(settings.seed, site.stream, start, count)
        samples[j] = site.distribution.sample(u)
    _correlate(model, settings, samples, start, groups)
    return samples


def _correlate(model: SimulationModel, settings: RunSettings, samples: np.ndarray, start: int,
               groups: list[tuple[list[int], np.ndarray]]) -> bool:
    """Rank-correlate a chunk's samples in place; True if there was anything to correlate."""
    for members, matrix in groups:
        labels = [model.inputs[i].label for i in members]
        ids = [model.inputs[i].stream for i in members]
        block = correlation.impose_rank_correlation(samples[members].T, matrix,
                                                    settings.seed + start, labels, ids)
        samples[members] = block.T
    return bool(groups)


def _cuda_runner(model: SimulationModel, settings: RunSettings, warnings: list[str]) -> Any:
    """The GPU runner, or None with a warning when the program calls functions that only the
    scalar Python engine runs (PYCALL): those runs go to the CPU rather than fail."""
    if model.program.fallbacks:
        names = sorted({fb.spec.name for fb in model.program.fallbacks})
        warnings.append(f"ran on the CPU, not the GPU: the model calls {', '.join(names)}, "
                        "which only the CPU engine runs per iteration")
        return None
    from engine.montecarlo.cuda_vm import CudaRunner

    return CudaRunner(model, settings)


def _run_chunk(model: SimulationModel, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Output values and error codes of a chunk's iterations on the CPU."""
    p = model.program
    vals = np.empty((len(model.outputs), chunk.shape[1]))
    errs = np.empty((len(model.outputs), chunk.shape[1]), dtype=np.uint8)
    if p.fallbacks:
        run_blocks_with_fallbacks(p, chunk, vals, errs, BLOCK, model.evaluator)
    else:
        vm.run_blocks(p.code, p.arglist, p.consts, p.const_errs, p.tables, p.table_errs,
                      p.table_meta, chunk, p.n_regs, p.outputs, vals, errs, BLOCK)
    return vals, errs


def fill_chunk(model: SimulationModel, settings: RunSettings, runner: Any,
               groups: list[tuple[list[int], np.ndarray]], start: int, count: int,
               inputs: np.ndarray, out_vals: np.ndarray, out_errs: np.ndarray) -> None:
    """Iterations start..start+count-1 into the run's arrays, on the GPU when ``runner`` is
    one (`cuda_vm.CudaRunner`) and on the CPU when it is None. One function for `simulate` and
    benchmarks/gpu_speed.py, so that the benchmark times what a run does."""
    window = slice(start, start + count)
    if runner is not None:
        runner.run(start, count, lambda s: _correlate(model, settings, s, start, groups),
                   inputs[:, window], out_vals[:, window], out_errs[:, window])
        return
    chunk = _sample_chunk(model, settings, start, count, groups)
    vals, errs = _run_chunk(model, chunk)
    inputs[:, window], out_vals[:, window], out_errs[:, window] = chunk, vals, errs


def simulate(model: SimulationModel, settings: RunSettings,
             progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Run ``settings.iterations`` iterations of ``model``; ``progress(done, total)`` after
    each chunk."""
    settings.validate()
    started = time.perf_counter()
    n = settings.iterations
    groups, warnings = correlation_targets(model, settings)
    inputs = np.empty((len(model.inputs), n))
    out_vals = np.empty((len(model.outputs), n))
    out_errs = np.zeros((len(model.outputs), n), dtype=np.uint8)
    monitors = [] if settings.stop_tolerance is None else [
        ConvergenceMonitor(settings.stop_tolerance, settings.stop_confidence, label=label)
        for label in model.outputs]
    done = n
    runner = _cuda_runner(model, settings, warnings) if settings.device == "cuda" else None
    for start in range(0, n, settings.step()):
        count = min(settings.step(), n - start)
        fill_chunk(model, settings, runner, groups, start, count, inputs, out_vals, out_errs)
        vals, errs = out_vals[:, start:start + count], out_errs[:, start:start + count]
        if progress is not None:
            progress(start + count, n)
        if monitors and all([m.update(vals[k], errs[k]) for k, m in enumerate(monitors)]):
            done = start + count
            warnings.append(f"converged after {done:,} iterations (tolerance "
                            f"{settings.stop_tolerance:g} at {settings.stop_confidence:.0%})")
            break
    if done < n:
        inputs, out_vals, out_errs = inputs[:, :done], out_vals[:, :done], out_errs[:, :done]
    out_vals[out_errs != 0] = np.nan
    result = _results(model, settings, inputs, out_vals, out_errs, warnings + model.warnings,
                      started)
    result.device = "cpu" if runner is None else "cuda"
    return result


def _results(model: SimulationModel, settings: RunSettings, inputs: np.ndarray,
             out_vals: np.ndarray, out_errs: np.ndarray, warnings: list[str],
             started: float) -> RunResult:
    """Statistics, sensitivity and convergence. The sorts and partitions behind them release
    the GIL, so they run on all cores through a thread pool."""
    n = inputs.shape[1]
    m = min(n, SENSITIVITY_ITERATIONS)
    if m < n:
        warnings.append(f"sensitivity is measured on the first {m:,} iterations (standard "
                        f"error of a rank correlation below {1 / np.sqrt(m - 1):.4f})")
    labels = [site.name for site in model.inputs]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        orders = list(pool.map(lambda x: sorting.argsort(x[:m]), inputs))
        sorted_inputs = SortedInputs(tuple(labels), tuple(x[:m] for x in inputs),
                                     tuple(o.astype(np.int32) for o in orders))

        def per_output(k: int) -> tuple[dict, dict, dict]:
            label = model.outputs[k]
            stats = summarize(out_vals[k], out_errs[k], settings.percentiles, settings.target,
                              settings.var_level, label=label)
            stats["name"] = model.output_names.get(label, label)
            codes, counts = np.unique(out_errs[k][out_errs[k] != 0], return_counts=True)
            stats["error_kinds"] = {ERRORS_BY_CODE[int(c)].code: int(c_n)
                                    for c, c_n in zip(codes, counts, strict=True)}
            sens = sensitivity(out_vals[k][:m], sorted_inputs, out_errs[k][:m], label=label)
            return stats, sens, convergence_trace(out_vals[k], out_errs[k], label=label)

        def per_input(j: int) -> dict:
            # The inputs' own distributions are known: their realised statistics need no more
            # iterations than the sensitivity does.
            site = model.inputs[j]
            info = summarize(inputs[j][:m], None, settings.percentiles, label=site.label)
            info["distribution"] = _describe(site.distribution)
            info["name"] = site.name
            return info

        per_out = list(pool.map(per_output, range(len(model.outputs))))
        input_stats = dict(zip((s.label for s in model.inputs),
                               pool.map(per_input, range(len(model.inputs))), strict=True))
    outputs = {label: r[0] for label, r in zip(model.outputs, per_out, strict=True)}
    sens = {label: r[1] for label, r in zip(model.outputs, per_out, strict=True)}
    conv = {label: r[2] for label, r in zip(model.outputs, per_out, strict=True)}
    return RunResult(inputs.shape[1], settings.seed, settings.sampling, outputs,
                     input_stats, sens, conv, time.perf_counter() - started, warnings, inputs,
                     out_vals, out_errs)


def _describe(dist: Any) -> str:
    from engine.montecarlo.spec import describe

    return describe(dist)


def write_samples(result: RunResult, model: SimulationModel, path: str) -> None:
    """Inputs and outputs by iteration as Parquet, written to a temporary file then renamed,
    so a reader never sees half a file."""
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {"iteration": pa.array(np.arange(1, result.iterations + 1, dtype=np.int64))}
    for j, site in enumerate(model.inputs):
        columns[site.name] = pa.array(result.input_samples[j])
    for k, label in enumerate(model.outputs):
        name = model.output_names.get(label, label)
        columns[name] = pa.array(result.output_values[k], mask=result.output_errors[k] != 0)
        codes = result.output_errors[k]
        if codes.any():
            columns[f"{name} error"] = pa.array(
                [ERRORS_BY_CODE[int(c)].code if c else None for c in codes], pa.string())
    tmp = f"{path}.tmp-{os.getpid()}"
    pq.write_table(pa.table(columns), tmp, compression="zstd")
    os.replace(tmp, path)
