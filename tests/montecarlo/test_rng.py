"""Counter-based uniforms: bit-exact Philox, chunk invariance, independence, uniformity, speed."""

import time

import numpy as np
import pytest
from scipy import stats

from engine.montecarlo import rng

U64_MAX = 2**64 - 1


def numpy_raw(seed: int, input_id: int, stream: int, first_block: int, words: int) -> np.ndarray:
    """Reference words from numpy's Philox4x64-10 (it increments the counter before a block)."""
    counter = (stream * 2**64 + first_block - 1) % 2**256
    key = np.array([seed, input_id], dtype=np.uint64)
    return np.random.Philox(key=key, counter=counter).random_raw(words)


def unit(raw: np.ndarray) -> np.ndarray:
    return ((raw >> np.uint64(12)).astype(np.float64) + 0.5) * 2.0**-52


@pytest.mark.parametrize(
    ("seed", "input_id", "stream", "first_block"),
    [(0, 0, 0, 0), (12345, 7, 0, 0), (U64_MAX, U64_MAX, 3, 0), (42, 2**40 + 1, 1, 2**50)],
)
def test_raw_words_match_numpy_philox_bit_for_bit(seed, input_id, stream, first_block):
    raw = numpy_raw(seed, input_id, stream, first_block, 64)
    start = 4 * first_block
    got = rng.uniforms(seed, input_id, start, 64, stream=stream)
    np.testing.assert_array_equal(got, unit(raw))
    u64 = np.uint64
    picks = (0, 1, 2, 3, 37, 63)
    scalar = [rng.raw_at(u64(seed), u64(input_id), u64(start + i), u64(stream)) for i in picks]
    assert scalar == [raw[i] for i in picks]


def test_mulhi_matches_python_integers_at_the_edges():
    cases = [(U64_MAX, U64_MAX), (U64_MAX, 1), (2**32, 2**32), (0xD2E7470EE14C6C93, 2**63 + 5)]
    for a, b in cases:
        assert int(rng.mulhi64(np.uint64(a), np.uint64(b))) == (a * b) >> 64


def test_unit_map_stays_strictly_inside_zero_one():
    assert rng.to_unit(np.uint64(0)) == 2.0**-53
    assert rng.to_unit(np.uint64(U64_MAX)) == 1.0 - 2.0**-53


def test_scalar_uniform_equals_bulk():
    bulk = rng.uniforms(9, 4, 1_000_001, 9)
    scalar = [rng.uniform_at(9, 4, 1_000_001 + i) for i in range(9)]
    np.testing.assert_array_equal(bulk, scalar)


def test_any_split_into_chunks_gives_the_same_numbers():
    whole = rng.uniforms(2024, 11, 0, 1000)
    np.testing.assert_array_equal(whole[500:], rng.uniforms(2024, 11, 500, 500))
    cuts = [0, 3, 5, 501, 997, 1000]  # unaligned to Philox's four-word blocks
    parts = [rng.uniforms(2024, 11, a, b - a) for a, b in zip(cuts, cuts[1:])]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert rng.uniforms(2024, 11, 7, 0).shape == (0,)


def test_inputs_streams_and_seeds_give_unrelated_numbers():
    n = 100_000
    base = rng.uniforms(1, 0, 0, n)
    others = [rng.uniforms(1, 1, 0, n), rng.uniforms(2, 0, 0, n),
              rng.uniforms(1, 0, 0, n, stream=rng.LHS_JITTER_STREAM)]
    for other in others:
        assert not np.any(base == other)
        # Correlation of independent uniforms has standard error 1/sqrt(n).
        assert abs(np.corrcoef(base, other)[0, 1]) < 5 / np.sqrt(n)


def test_uniforms_are_uniform():
    n = 100_000
    u = rng.uniforms(777, 5, 0, n)
    assert u.min() > 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    assert stats.kstest(u, "uniform").pvalue > 1e-4
    # Serial pairs: lag-1 correlation has standard error 1/sqrt(n).
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 5 / np.sqrt(n)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -1}, "seed must be in"),
        ({"seed": 2**64}, "seed must be in"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"input_id": True}, "input_id must be an integer"),
        ({"count": -1}, "count must be a non-negative integer"),
        ({"start": U64_MAX, "count": 2}, "run past 2\\*\\*64"),
        ({"stream": -2}, "stream must be in"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    args = {"seed": 1, "input_id": 2, "start": 0, "count": 10} | kwargs
    with pytest.raises(ValueError, match=message):
        rng.uniforms(**args)


def test_speed_reported():
    n = 4_000_000
    rng.uniforms(3, 3, 0, 16)
    best = min(_timed(lambda: rng.uniforms(3, 3, 1, n)) for _ in range(3))
    rate = n / best
    print(f"\nuniforms: {rate:.3g} samples per second")
    assert rate > 2e7  # an order of magnitude below the measured rate: catches a fallback to Python


def test_scalar_kernel_compiles_for_cuda():
    cuda = pytest.importorskip("numba.cuda")
    from numba import types

    def device_sample(seed, input_id, iteration):
        return rng.uniform_at(seed, input_id, iteration) + rng.uniform_at(seed, input_id, 0, 1)

    try:
        ptx, _ = cuda.compile_ptx(device_sample, (types.int64,) * 3, device=True, cc=(9, 0))
    except Exception as exc:  # no libnvvm on this machine
        pytest.skip(f"cannot compile PTX here: {exc}")
    assert "mul.hi.u64" in ptx


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
