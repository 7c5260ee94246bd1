"""Chunk partials merged in order give the statistics of the whole run: exact order statistics
from the grids' brackets, moments within rounding, JSON round trips that change nothing."""

import json
import math

import numpy as np
import pytest

from engine.montecarlo.partials import (
    ChunkPartial,
    Moments,
    bracket,
    chunk_partial,
    split_errors,
    windows_for,
)
from engine.montecarlo.summary import summarize, summary_from, summary_ranks

PS = (0, 1, 5, 10, 25, 50, 75, 90, 95, 99, 100)


def _chunks(values, codes, size):
    return [(values[s:s + size], codes[s:s + size]) for s in range(0, values.size, size)]


def _merged(values, codes, size, target=None, var_level=0.95, tail="lower"):
    pieces = _chunks(values, codes, size)
    parts = [chunk_partial(i, i * size, v[None, :], c[None, :], target).outputs[0]
             for i, (v, c) in enumerate(pieces)]
    n = sum(p.n for p in parts)
    windows = windows_for(parts, summary_ranks(n, PS, var_level, tail))
    for v, c in pieces:
        x, _ = split_errors(v, c)
        for w in {id(w): w for w in windows.values()}.values():
            w.add(x)
    return summary_from(parts, windows, PS, target, var_level, tail)


@pytest.mark.parametrize("kind", ["normal", "ties", "discrete", "constant", "sorted"])
@pytest.mark.parametrize("size", [1, 7, 1000, 4096])
def test_merged_percentiles_are_exact_and_moments_agree(kind, size):
    rng = np.random.default_rng(len(kind) * 31 + size)
    n = 20_000 if size > 100 else 600  # thousands of chunks of a few values: slow, same rules
    values = {"normal": rng.normal(5, 2, n), "ties": np.round(rng.normal(0, 1, n), 1),
              "discrete": rng.integers(0, 3, n).astype(float), "constant": np.full(n, 2.5),
              "sorted": np.sort(rng.exponential(1.0, n))[::-1].copy()}[kind]
    codes = np.zeros(n, dtype=np.uint8)
    codes[rng.random(n) < 0.03] = 2
    for tail in ("lower", "upper"):
        whole = summarize(values, codes, PS, target=0.3, var_level=0.9, tail=tail)
        merged = _merged(values, codes, size, target=0.3, var_level=0.9, tail=tail)
        assert merged["percentiles"] == whole["percentiles"]
        assert merged["var"] == whole["var"] and merged["min"] == whole["min"]
        assert merged["p_target"] == whole["p_target"] and merged["n"] == whole["n"]
        assert merged["errors"] == whole["errors"] == int((codes != 0).sum())
        assert merged["cvar"] == pytest.approx(whole["cvar"], rel=1e-12, abs=1e-12)
        for key in ("mean", "std"):
            assert merged[key] == pytest.approx(whole[key], rel=1e-11, abs=1e-12)
        for key in ("skewness", "kurtosis"):
            if whole[key] is None:
                assert merged[key] is None
            else:
                assert merged[key] == pytest.approx(whole[key], rel=1e-8, abs=1e-9)


def test_bracket_encloses_every_rank_and_stays_narrow():
    rng = np.random.default_rng(3)
    pieces = [rng.standard_t(3, 5000) for _ in range(9)]
    parts = [chunk_partial(i, 0, p[None, :], np.zeros((1, p.size), np.uint8), None).outputs[0]
             for i, p in enumerate(pieces)]
    x = np.sort(np.concatenate(pieces))
    for k in [0, 1, 17, 4500, 22_499, 44_998, 44_999]:
        low, high = bracket(parts, k)
        assert np.count_nonzero(x < low) <= k < np.count_nonzero(x <= high)
        inside = np.count_nonzero((x >= low) & (x <= high))
        assert inside <= 2 * x.size / 1024 + 4 * len(pieces), (k, inside)


def test_moments_merge_matches_the_whole_in_any_split():
    rng = np.random.default_rng(8)
    x = rng.gamma(2.0, 3.0, 10_001)
    whole = Moments.of(x)
    for cut in (1, 500, 5000, 10_000):
        merged = Moments.of(x[:cut]).merge(Moments.of(x[cut:]))
        for a, b in zip((merged.n, merged.mean, merged.m2, merged.m3, merged.m4),
                        (whole.n, whole.mean, whole.m2, whole.m3, whole.m4), strict=True):
            assert a == pytest.approx(b, rel=1e-10)


def test_partial_json_round_trip_is_exact():
    rng = np.random.default_rng(1)
    vals = rng.normal(size=(2, 3000)) * math.pi
    errs = np.zeros((2, 3000), np.uint8)
    errs[1, ::7] = 7
    part = chunk_partial(3, 9000, vals, errs, 0.1)
    again = ChunkPartial.from_json(json.loads(json.dumps(part.to_json())))
    assert again.to_json() == part.to_json()
    assert again.outputs[1].errors == {7: 429}
    assert np.array_equal(again.outputs[0].grid, part.outputs[0].grid)
