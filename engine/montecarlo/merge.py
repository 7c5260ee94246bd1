"""A run's results from its chunks: partials merged in chunk order, plus one pass over the
samples for what partials cannot give exactly.

Wherever the chunks ran (this process, 1 or 64 Dask workers, retried or not), the same
partials arrive here in the same order and the same passes read the same values, so every
statistic is bit-identical. What comes from where:
- moments, min/max, error counts, P(target): merged partials (engine.montecarlo.partials);
- percentiles, VaR and CVaR: exact order statistics, bracketed from the chunks' grids and
  selected in one pass over each chunk's values (only the values inside a bracket are kept,
  about 0.2% of the run per statistic);
- sensitivity and the inputs' own statistics: the first SENSITIVITY_ITERATIONS iterations;
- convergence: checkpoints within those first iterations exactly as ``convergence_trace``;
  later checkpoints move to the end of the chunk they fall in, where the mean and its band come
  from merged partials and the percentiles are exact order statistics of that prefix, found by
  the same pass.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.montecarlo import sorting
from engine.montecarlo.convergence import checkpoints_for, convergence_trace
from engine.montecarlo.opcodes import ERRORS_BY_CODE
from engine.montecarlo.partials import (
    ChunkPartial,
    Window,
    merged_moments,
    split_errors,
    windows_for,
)
from engine.montecarlo.samples import SampleSource
from engine.montecarlo.sensitivity import SortedInputs, sensitivity
from engine.montecarlo.summary import (
    check_percentiles,
    percentile_indices,
    percentile_key,
    percentile_of,
    summarize,
    summary_from,
    summary_ranks,
)

if TYPE_CHECKING:
    from engine.montecarlo.model import SimulationModel

# Rank correlations from 250,000 iterations have standard errors near 0.002: more iterations
# add time and memory (several arrays of the run's length per input) but no information.
SENSITIVITY_ITERATIONS = 250_000
CONVERGENCE_PERCENTILES = (5, 50, 95)
CONVERGENCE_CONFIDENCE = 0.95


def merge_results(model: SimulationModel, settings: Any, partials: Sequence[ChunkPartial],
                  source: SampleSource, warnings: list[str]) -> dict[str, Any]:
    """``outputs``, ``inputs``, ``sensitivity`` and ``convergence`` of a run whose chunks
    ``partials`` (in chunk order, contiguous from iteration 0) cover it."""
    n = sum(p.count for p in partials)
    m = min(n, SENSITIVITY_ITERATIONS)
    if m < n:
        warnings.append(f"sensitivity is measured on the first {m:,} iterations (standard "
                        f"error of a rank correlation below {1 / np.sqrt(m - 1):.4f})")
    head_inputs, head_values, head_errors = source.head(m)
    labels = [site.name for site in model.inputs]
    stops = checkpoints_for(n)
    head_stops = [s for s in stops if s <= m]
    ends = np.cumsum([p.count for p in partials])
    later = sorted({int(ends[np.searchsorted(ends, s)]) for s in stops if s > m})
    ps = check_percentiles(settings.percentiles, "run")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        orders = list(pool.map(lambda x: sorting.argsort(x), head_inputs))
        sorted_inputs = SortedInputs(tuple(labels), tuple(head_inputs),
                                     tuple(o.astype(np.int32) for o in orders))

        def per_output(k: int) -> tuple[dict, dict, dict]:
            label = model.outputs[k]
            parts = [p.outputs[k] for p in partials]
            final = windows_for(parts, summary_ranks(merged_moments(parts).n, ps,
                                                     settings.var_level, "lower"))
            prefixes = [_prefix_windows(parts[:int(np.searchsorted(ends, end)) + 1])
                        for end in later]
            _fill(source, k, len(partials), final, prefixes, ends, later)
            stats = summary_from(parts, final, ps, settings.target, settings.var_level,
                                 "lower")
            stats["name"] = model.output_names.get(label, label)
            kinds: dict[str, int] = {}
            for p in parts:
                for code, count in p.errors.items():
                    key = ERRORS_BY_CODE[code].code
                    kinds[key] = kinds.get(key, 0) + count
            stats["error_kinds"] = dict(sorted(kinds.items()))
            sens = sensitivity(head_values[k], sorted_inputs, head_errors[k], label=label)
            trace = convergence_trace(head_values[k], head_errors[k],
                                      percentiles=CONVERGENCE_PERCENTILES,
                                      confidence=CONVERGENCE_CONFIDENCE, label=label,
                                      stops=head_stops)
            _extend_trace(trace, parts, ends, later, prefixes)
            return stats, sens, trace

        def per_input(j: int) -> dict:
            # The inputs' own distributions are known: their realised statistics need no more
            # iterations than the sensitivity does.
            site = model.inputs[j]
            info = summarize(head_inputs[j], None, settings.percentiles, label=site.label)
            info["distribution"] = _describe(site.distribution)
            info["name"] = site.name
            return info

        per_out = list(pool.map(per_output, range(len(model.outputs))))
        input_stats = dict(zip((s.label for s in model.inputs),
                               pool.map(per_input, range(len(model.inputs))), strict=True))
    return {"outputs": {label: r[0] for label, r in zip(model.outputs, per_out, strict=True)},
            "inputs": input_stats,
            "sensitivity": {label: r[1] for label, r in zip(model.outputs, per_out, strict=True)},
            "convergence": {label: r[2] for label, r in zip(model.outputs, per_out, strict=True)}}


def _prefix_windows(parts: Sequence[Any]) -> dict[int, Window]:
    n = merged_moments(parts).n
    ranks = [] if n == 0 else sorted({r for p in CONVERGENCE_PERCENTILES
                                      for r in percentile_indices(n, [p / 100.0])})
    return windows_for(parts, ranks)


def _fill(source: SampleSource, k: int, chunks: int, final: dict[int, Window],
          prefixes: list[dict[int, Window]], ends: np.ndarray, later: list[int]) -> None:
    """The one pass: each chunk's sorted values go to the final windows and to the windows of
    every later checkpoint whose prefix contains the chunk."""
    for index in range(chunks):
        x, _ = split_errors(*source.output(index, k))
        end = int(ends[index])
        targets = [final] + [w for stop, w in zip(later, prefixes, strict=True) if stop >= end]
        for windows in targets:
            for window in {id(w): w for w in windows.values()}.values():
                window.add(x)


def _extend_trace(trace: dict[str, Any], parts: Sequence[Any], ends: np.ndarray,
                  later: list[int], prefixes: list[dict[int, Window]]) -> None:
    z = NormalDist().inv_cdf((1.0 + CONVERGENCE_CONFIDENCE) / 2.0)
    for stop, windows in zip(later, prefixes, strict=True):
        prefix = parts[:int(np.searchsorted(ends, stop)) + 1]
        moments = merged_moments(prefix)
        count = moments.n
        sem = math.sqrt(moments.m2 / (count - 1) / count) if count >= 2 else None
        trace["iterations"].append(stop)
        trace["n"].append(count)
        trace["mean"].append(moments.mean if count else None)
        trace["sem"].append(sem)
        trace["lower"].append(None if sem is None else moments.mean - z * sem)
        trace["upper"].append(None if sem is None else moments.mean + z * sem)
        for p in CONVERGENCE_PERCENTILES:
            value = (percentile_of(lambda r, w=windows: w[r].kth(r), count, p / 100.0)
                     if count else None)
            trace["percentiles"][percentile_key(p)].append(value)


def _describe(dist: Any) -> str:
    from engine.montecarlo.spec import describe

    return describe(dist)
