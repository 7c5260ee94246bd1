"""Chunk-invariant Latin hypercube: strata, bijection, chunk invariance, independence, speed."""

import time

import numpy as np
import pytest
from scipy import stats

from engine.montecarlo import lhs, rng


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 2**20, 1_000_003])
def test_permutation_is_a_bijection(n):
    perm = lhs.keyed_permutation(5, 7, n, 0, n)
    np.testing.assert_array_equal(np.sort(perm), np.arange(n))


@pytest.mark.parametrize("n", [1, 2, 1000, 1_000_003])
def test_one_sample_per_stratum_over_the_run(n):
    u = lhs.lhs_uniforms(11, 3, n, 0, n)
    assert u.min() > 0.0 and u.max() < 1.0
    np.testing.assert_array_equal(np.sort(np.floor(u * n).astype(np.int64)), np.arange(n))


def test_any_split_into_chunks_gives_the_same_numbers():
    n = 10_007
    whole = lhs.lhs_uniforms(99, 4, n, 0, n)
    cuts = [0, 1, 4_000, 4_003, 10_000, n]
    parts = [lhs.lhs_uniforms(99, 4, n, a, b - a) for a, b in zip(cuts, cuts[1:])]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    np.testing.assert_array_equal(lhs.keyed_permutation(99, 4, n, 4_000, 3),
                                  np.floor(whole[4_000:4_003] * n).astype(np.int64))


def test_jitter_comes_from_the_counter_based_stream():
    n = 1000
    u = lhs.lhs_uniforms(8, 2, n, 10, 5)
    strata = lhs.keyed_permutation(8, 2, n, 10, 5)
    jitter = rng.uniforms(8, 2, 10, 5, stream=rng.LHS_JITTER_STREAM)
    np.testing.assert_array_equal(u, (strata + jitter) / n)


def test_top_stratum_never_reaches_one():
    top_jitter = rng.to_unit(np.uint64(2**64 - 1))
    n = np.uint64(1_000_003)
    assert (1_000_002 + top_jitter) / 1_000_003 == 1.0  # why the clamp exists
    assert lhs.lhs_uniform(n - np.uint64(1), top_jitter, n) < 1.0


def test_inputs_get_unrelated_permutations():
    n = 100_000
    a = lhs.lhs_uniforms(1, 0, n, 0, n)
    b = lhs.lhs_uniforms(1, 1, n, 0, n)
    c = lhs.lhs_uniforms(2, 0, n, 0, n)
    iteration = np.arange(n)
    # Spearman correlation of independent columns has standard error 1/sqrt(n - 1).
    bound = 5 / np.sqrt(n - 1)
    for x, y in [(a, b), (a, c), (b, c), (a, iteration)]:
        assert abs(stats.spearmanr(x, y).statistic) < bound


def test_a_chunk_of_the_run_is_spread_uniformly():
    n = 1_000_000
    first = lhs.lhs_uniforms(4, 4, n, 0, 20_000)
    assert stats.kstest(first, "uniform").pvalue > 1e-4
    assert abs(first.mean() - 0.5) < 5 * np.sqrt(1 / 12 / first.size)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1, 1, 0, 0, 0), "n \\(iterations of the run\\) must be"),
        ((1, 1, 2**62 + 1, 0, 1), "n \\(iterations of the run\\) must be"),
        ((1, 1, 100, 90, 11), "iterations 90..100 lie outside the run of 100"),
        ((-1, 1, 100, 0, 10), "seed must be in"),
        ((1, 1, 100, 0, -1), "count must be a non-negative integer"),
    ],
)
def test_bad_arguments_are_named(args, message):
    with pytest.raises(ValueError, match=message):
        lhs.lhs_uniforms(*args)


def test_speed_reported():
    n = 1_000_000
    lhs.lhs_uniforms(3, 3, 10, 0, 10)
    best = min(_timed(lambda: lhs.lhs_uniforms(3, 3, n, 0, n)) for _ in range(3))
    print(f"\nlhs_uniforms: {best * 1e3:.1f} ms per 1e6 per input")
    assert best < 0.2  # ten times the measured time: catches a fallback to Python


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
