"""A run's chunks on a Dask cluster: what a task computes, and the CLI's way of running there.

A compiled model holds closures and is rebuilt where it is used: each worker process keeps the
models it built, keyed by the workbook's content hash, the run's inputs and outputs and the
engine version (``prepared``), so a run's later chunks and every later run of the same set-up
start at once. Tasks are plain functions of their arguments: a chunk computes the same numbers
on any worker and after any retry.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.montecarlo.merge import merge_results
from engine.montecarlo.model import SimulationModel
from engine.montecarlo.partials import ChunkPartial
from engine.montecarlo.samples import ArraySource, SampleSource
from engine.montecarlo.simulate import (
    RunResult,
    RunSettings,
    StopRule,
    chunk_bounds,
    correlation_targets,
    run_chunk,
)
from engine.version import engine_version

# Models each worker process keeps (a model is about the size of its workbook's formulas).
MODELS_PER_PROCESS = 8


@dataclass(frozen=True)
class ModelRef:
    """What a worker needs to build a run's model: the workbook file (on storage every worker
    reads), its content hash, and the run's inputs and outputs as the engine takes them."""

    path: str
    content_hash: str
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()

    def key(self) -> str:
        text = json.dumps([self.content_hash, self.inputs, list(self.outputs),
                           engine_version()], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Prepared:
    """A built model, and its correlation groups by the runs' correlation settings."""

    model: SimulationModel
    _groups: dict[str, tuple[list, list[str]]] = field(default_factory=dict)

    def groups(self, settings: RunSettings) -> tuple[list[tuple[list[int], np.ndarray]],
                                                    list[str]]:
        """Correlated input groups (repaired matrices) and the repair warnings."""
        key = repr(sorted(settings.correlations.items()))
        if key not in self._groups:
            self._groups[key] = correlation_targets(self.model, settings)
        return self._groups[key]


Loader = Callable[[str, str], Any]  # (path, content hash) -> engine.workbook.Workbook


def _load(path: str, _content_hash: str) -> Any:
    from engine.loader import load_workbook

    return load_workbook(path)


_models: dict[str, Prepared] = {}


def prepared(ref: ModelRef, load: Loader = _load) -> Prepared:
    """The model of ``ref``, built once per worker process (least recently used go first)."""
    key = ref.key()
    hit = _models.pop(key, None)
    if hit is None:
        from engine.montecarlo.model import build_model

        hit = Prepared(build_model(load(ref.path, ref.content_hash),
                                   dict(ref.inputs) or None, list(ref.outputs) or None))
    return remember(ref, hit)


def remember(ref: ModelRef, model: SimulationModel | Prepared) -> Prepared:
    """Keep a model this process built anyway (the CLI validates the set-up before it
    submits), so that merging here does not build it again."""
    hit = model if isinstance(model, Prepared) else Prepared(model)
    _models[ref.key()] = hit
    while len(_models) > MODELS_PER_PROCESS:
        _models.pop(next(iter(_models)))
    return hit


def compute_chunk(ref: ModelRef, settings: RunSettings, index: int, start: int, count: int,
                  stop: Callable[[], None] | None = None, load: Loader = _load
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, ChunkPartial]:
    """One chunk of the run: inputs, output values, error codes and its partial."""
    ready = prepared(ref, load)
    groups, _ = ready.groups(settings)
    return run_chunk(ready.model, settings, groups, index, start, count, stop=stop)


def finalize(ref: ModelRef, settings: RunSettings, partials: Sequence[ChunkPartial],
             source: SampleSource, extra_warnings: Sequence[str] = (), load: Loader = _load
             ) -> dict[str, Any]:
    """The run's results (``RunResult.to_dict()`` less the elapsed time) from its partials in
    chunk order and its samples."""
    ready = prepared(ref, load)
    warnings = [*ready.groups(settings)[1], *extra_warnings, *ready.model.warnings]
    merged = merge_results(ready.model, settings, partials, source, warnings)
    return {"iterations": sum(p.count for p in partials), "seed": settings.seed,
            "sampling": settings.sampling, **merged, "warnings": warnings}


def _cli_chunk(ref: ModelRef, settings: RunSettings, index: int, start: int, count: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    inputs, vals, errs, partial = compute_chunk(ref, settings, index, start, count)
    return inputs, vals, errs, partial.to_json()


def simulate_on_cluster(ref: ModelRef, settings: RunSettings, client: Any,
                        progress: Callable[[int, int], None] | None = None) -> RunResult:
    """The CLI's ``--scheduler``/``--workers``: every chunk a task on ``client``'s cluster,
    the arrays gathered here in chunk order (as ``simulate`` holds them), the same merge."""
    from distributed import as_completed

    settings.validate()
    started = time.perf_counter()
    bounds = chunk_bounds(settings)
    futures = {client.submit(_cli_chunk, ref, settings, i, s, c, pure=False,
                             key=f"chunk-{ref.key()[:12]}-{settings.seed}-{i}"): i
               for i, (s, c) in enumerate(bounds)}
    results: dict[int, tuple] = {}
    rule = StopRule(settings)
    extra: list[str] = []
    done_to, finished = 0, False
    n = settings.iterations
    for future in as_completed(futures):
        results[futures[future]] = future.result()
        while not finished and done_to in results:
            _, vals, errs, _ = results[done_to]
            done_to += 1
            end = bounds[done_to - 1][0] + bounds[done_to - 1][1]
            if progress is not None:
                progress(end, n)
            if rule.converged(vals, errs):
                extra.append(rule.message(end))
                finished = True
        if finished:
            client.cancel(list(futures))
            break
    used = [results[i] for i in range(done_to)]
    inputs = np.concatenate([r[0] for r in used], axis=1)
    vals = np.concatenate([r[1] for r in used], axis=1)
    errs = np.concatenate([r[2] for r in used], axis=1)
    partials = [ChunkPartial.from_json(r[3]) for r in used]
    source = ArraySource(inputs, vals, errs, [(p.start, p.count) for p in partials])
    out = finalize(ref, settings, partials, source, extra)
    return RunResult(out["iterations"], settings.seed, settings.sampling, out["outputs"],
                     out["inputs"], out["sensitivity"], out["convergence"],
                     time.perf_counter() - started, out["warnings"], inputs, vals, errs)
