"""Running a compiled model: sampling, the virtual machine, and the run's results.

A run is a sequence of chunks (``chunk_bounds``: CHUNK iterations each, fewer with a stop rule),
fixed by the run's settings alone. A chunk is a pure function of its range (``run_chunk``):
each input's uniforms come from its counter-based stream (plain Monte Carlo, or Latin hypercube
stratified over the whole run by a keyed permutation), become samples by the inverse CDF, are
rank-correlated within the chunk (Iman-Conover seeded by the chunk's start), and the machine
runs the chunk on all cores. Each chunk is reduced to a mergeable partial, and the results are
merged from the partials in chunk order (engine.montecarlo.merge). ``simulate`` runs the chunks
one after the other in this process; the worker service runs the same ``run_chunk`` on a Dask
cluster and merges the same way, so both give the same numbers, bit for bit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.montecarlo import correlation, lhs, rng, vm
from engine.montecarlo.convergence import ConvergenceMonitor
from engine.montecarlo.fallback import run_blocks_with_fallbacks
from engine.montecarlo.merge import merge_results
from engine.montecarlo.model import SimulationModel
from engine.montecarlo.partials import ChunkPartial, chunk_partial
from engine.montecarlo.samples import ArraySource, sample_table, write_table
from engine.montecarlo.settings import CHUNK, MAX_ITERATIONS, RunSettings

__all__ = ["CHUNK", "MAX_ITERATIONS", "RunResult", "RunSettings", "run_chunk", "simulate"]

BLOCK = 1024


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
    input_samples: np.ndarray | None = None  # (inputs, iterations), when run in-process
    output_values: np.ndarray | None = None  # (outputs, iterations), NaN where an error
    output_errors: np.ndarray | None = None  # (outputs, iterations) uint8 error codes
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


def chunk_bounds(settings: RunSettings) -> list[tuple[int, int]]:
    """(start, count) of every chunk of the run: decided by its settings alone, never by the
    number of workers, so any cluster computes the same chunks."""
    step, n = settings.step(), settings.iterations
    return [(start, min(step, n - start)) for start in range(0, n, step)]


# Iterations the machine runs between two checks of ``stop`` (the per-iteration Python
# fallback is thousands of times slower, so it checks sooner).
_CHECK_EVERY, _CHECK_EVERY_FALLBACK = 1 << 16, 1 << 11


def _run_machine(model: SimulationModel, chunk: np.ndarray, vals: np.ndarray,
                 errs: np.ndarray, stop: Callable[[], None] | None) -> None:
    """The chunk's output values and error codes on the CPU, asking ``stop()`` (which raises
    to abandon the chunk) between slices when given."""
    p = model.program
    n = chunk.shape[1]
    step = n if stop is None else _CHECK_EVERY_FALLBACK if p.fallbacks else _CHECK_EVERY
    for a in range(0, n, step):
        b = min(n, a + step)
        whole = a == 0 and b == n
        x = chunk if whole else np.ascontiguousarray(chunk[:, a:b])
        v = vals if whole else np.empty((vals.shape[0], b - a))
        e = errs if whole else np.empty((errs.shape[0], b - a), dtype=np.uint8)
        if p.fallbacks:
            run_blocks_with_fallbacks(p, x, v, e, BLOCK, model.evaluator)
        else:
            vm.run_blocks(p.code, p.arglist, p.consts, p.const_errs, p.tables, p.table_errs,
                          p.table_meta, x, p.n_regs, p.outputs, v, e, BLOCK)
        if not whole:
            vals[:, a:b], errs[:, a:b] = v, e
        if stop is not None:
            stop()


def fill_chunk(model: SimulationModel, settings: RunSettings, runner: Any,
               groups: list[tuple[list[int], np.ndarray]], start: int, inputs: np.ndarray,
               out_vals: np.ndarray, out_errs: np.ndarray,
               stop: Callable[[], None] | None = None) -> None:
    """Iterations start..start+n-1 into ``inputs`` (k, n), ``out_vals`` and ``out_errs``
    (outputs, n), which may be views into a run's arrays; on the GPU when ``runner`` is one
    (`cuda_vm.CudaRunner`), else on the CPU. One function for `simulate`, the cluster's chunks
    and benchmarks/gpu_speed.py, so that the benchmark times what a run does."""
    count = inputs.shape[1]
    if runner is not None:
        runner.run(start, count, lambda s: _correlate(model, settings, s, start, groups),
                   inputs, out_vals, out_errs)
        return
    chunk = _sample_chunk(model, settings, start, count, groups)
    _run_machine(model, chunk, out_vals, out_errs, stop)
    inputs[:] = chunk


def run_chunk(model: SimulationModel, settings: RunSettings,
              groups: list[tuple[list[int], np.ndarray]], index: int, start: int, count: int,
              runner: Any = None, stop: Callable[[], None] | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, ChunkPartial]:
    """One chunk on its own: its inputs, output values (NaN where an error), error codes and
    partial. What a cluster task computes."""
    inputs = np.empty((len(model.inputs), count))
    vals = np.empty((len(model.outputs), count))
    errs = np.zeros((len(model.outputs), count), dtype=np.uint8)
    fill_chunk(model, settings, runner, groups, start, inputs, vals, errs, stop)
    vals[errs != 0] = np.nan
    return inputs, vals, errs, chunk_partial(index, start, vals, errs, settings.target)


class StopRule:
    """The run's convergence stop rule over its chunks in order (``settings.stop_tolerance``);
    ``labels`` name the outputs in messages (by position when not given)."""

    def __init__(self, settings: RunSettings, labels: Sequence[str] | None = None) -> None:
        self.settings = settings
        self.labels = labels
        self.monitors: list[ConvergenceMonitor] | None = None

    def converged(self, vals: np.ndarray, errs: np.ndarray) -> bool:
        """Feed the next chunk's outputs (outputs, n); True once every output has converged."""
        s = self.settings
        if s.stop_tolerance is None:
            return False
        if self.monitors is None:
            labels = self.labels or [f"output {k + 1}" for k in range(vals.shape[0])]
            self.monitors = [ConvergenceMonitor(s.stop_tolerance, s.stop_confidence,
                                                label=label) for label in labels]
        return all([m.update(vals[k], errs[k]) for k, m in enumerate(self.monitors)])

    def message(self, done: int) -> str:
        s = self.settings
        return (f"converged after {done:,} iterations (tolerance {s.stop_tolerance:g} at "
                f"{s.stop_confidence:.0%})")


def simulate(model: SimulationModel, settings: RunSettings,
             progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Run ``settings.iterations`` iterations of ``model`` in this process, chunk after chunk;
    ``progress(done, total)`` after each chunk."""
    settings.validate()
    started = time.perf_counter()
    n = settings.iterations
    groups, warnings = correlation_targets(model, settings)
    inputs = np.empty((len(model.inputs), n))
    out_vals = np.empty((len(model.outputs), n))
    out_errs = np.zeros((len(model.outputs), n), dtype=np.uint8)
    rule = StopRule(settings, model.outputs)
    runner = _cuda_runner(model, settings, warnings) if settings.device == "cuda" else None
    partials: list[ChunkPartial] = []
    for index, (start, count) in enumerate(chunk_bounds(settings)):
        window = slice(start, start + count)
        vals, errs = out_vals[:, window], out_errs[:, window]
        fill_chunk(model, settings, runner, groups, start, inputs[:, window], vals, errs)
        vals[errs != 0] = np.nan
        partials.append(chunk_partial(index, start, vals, errs, settings.target))
        if progress is not None:
            progress(start + count, n)
        if rule.converged(vals, errs):
            warnings.append(rule.message(start + count))
            break
    done = partials[-1].start + partials[-1].count
    if done < n:
        inputs, out_vals, out_errs = inputs[:, :done], out_vals[:, :done], out_errs[:, :done]
    source = ArraySource(inputs, out_vals, out_errs, [(p.start, p.count) for p in partials])
    warnings += model.warnings
    merged = merge_results(model, settings, partials, source, warnings)
    return RunResult(done, settings.seed, settings.sampling, merged["outputs"],
                     merged["inputs"], merged["sensitivity"], merged["convergence"],
                     time.perf_counter() - started, warnings, inputs, out_vals, out_errs,
                     device="cpu" if runner is None else "cuda")


def write_samples(result: RunResult, model: SimulationModel, path: str) -> None:
    """Inputs and outputs by iteration as one Parquet file (the CLI's ``--samples``)."""
    write_table(sample_table(model, 0, result.input_samples, result.output_values,
                             result.output_errors), path)
