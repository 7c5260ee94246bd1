"""Latin hypercube uniforms that any range of iterations can compute on its own.

Why not the textbook shuffle: drawing a permutation of the n strata with a stateful generator makes
iteration i's stratum depend on the whole run, so blocks on other threads, workers or a GPU would
each need the full permutation. Here the stratum of iteration i is pi(i), a keyed pseudo-random
permutation of [0, n) evaluated pointwise: a Feistel network over the smallest power-of-two domain
2**m >= n, applied again while the result is >= n (cycle walking; since 2**m < 2n the expected
number of applications is below 2, and it always ends because the cycle through i holds i < n).

The uniform is ``(pi(i) + jitter_i) / n``, the jitter drawn from the input's LHS jitter stream and
the Feistel round keys from its LHS key stream (see ``rng``), so the sample of (seed, input,
iteration) is a pure function, as it is for plain Monte Carlo.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.montecarlo.rng import (
    LHS_JITTER_STREAM,
    LHS_KEY_STREAM,
    check_range,
    check_uint64,
    raw_at,
    uniforms,
)

ROUNDS = 6  # even; Luby-Rackoff's 4 plus 2 for margin, the round function being a hash, no PRF
_MAX_N = 2**62  # the Feistel domain 2**m must fit in 63 bits

_ONE = np.uint64(1)
_SHIFT33 = np.uint64(33)
_MIX1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX2 = np.uint64(0xC4CEB9FE1A85EC53)
_BELOW_ONE = 1.0 - 2.0**-53


@njit(inline="always", cache=True)
def _round_function(half, key):
    """MurmurHash3's 64-bit finalizer of half ^ key: full avalanche in five operations."""
    h = half ^ key
    h ^= h >> _SHIFT33
    h *= _MIX1
    h ^= h >> _SHIFT33
    h *= _MIX2
    h ^= h >> _SHIFT33
    return h


@njit(inline="always", cache=True)
def _feistel(x, keys, left_bits, right_bits):
    """One pass of the unbalanced Feistel network over 2**(left_bits + right_bits) values.

    The halves keep their places and take turns being xored with a hash of the other, so each
    round is a bijection even when the halves differ in width (odd m) or one is empty (m = 1).
    """
    left_mask = (_ONE << left_bits) - _ONE
    right_mask = (_ONE << right_bits) - _ONE
    left = x >> right_bits
    right = x & right_mask
    for r in range(0, ROUNDS, 2):
        left ^= _round_function(right, keys[r]) & left_mask
        right ^= _round_function(left, keys[r + 1]) & right_mask
    return (left << right_bits) | right


@njit(inline="always", cache=True)
def permute_index(i, n, keys, left_bits, right_bits):
    """pi(i) for 0 <= i < n, all uint64: cycle-walk the Feistel network back into [0, n)."""
    x = _feistel(i, keys, left_bits, right_bits)
    while x >= n:
        x = _feistel(x, keys, left_bits, right_bits)
    return x


@njit(inline="always", cache=True)
def lhs_uniform(stratum, jitter, n):
    """The uniform in a stratum, kept below 1: (n - 1 + jitter) / n rounds to 1.0 for the top
    jitters, where an inverse CDF would return infinity."""
    return min((np.float64(stratum) + jitter) / np.float64(n), _BELOW_ONE)


@njit(cache=True)
def _round_keys(seed, key_id, stream):
    keys = np.empty(ROUNDS, dtype=np.uint64)
    for r in range(ROUNDS):
        keys[r] = raw_at(seed, key_id, r, stream)
    return keys


def _domain_bits(n: int) -> tuple[np.uint64, np.uint64]:
    m = max(1, (n - 1).bit_length())
    return np.uint64(m // 2), np.uint64(m - m // 2)


@njit(cache=True)
def _fill_permutation(seed, key_id, stream, n, left_bits, right_bits, start, out):
    keys = _round_keys(seed, key_id, stream)
    for i in range(out.shape[0]):
        out[i] = permute_index(start + np.uint64(i), n, keys, left_bits, right_bits)


@njit(cache=True)
def _stratify(seed, input_id, n, left_bits, right_bits, start, jitter):
    """Turn the jitters of iterations start.. into their Latin hypercube uniforms, in place."""
    keys = _round_keys(seed, input_id, np.uint64(LHS_KEY_STREAM))
    for i in range(jitter.shape[0]):
        stratum = permute_index(start + np.uint64(i), n, keys, left_bits, right_bits)
        jitter[i] = lhs_uniform(stratum, jitter[i], n)


def _check_run(n: int, start: int, count: int) -> tuple[np.uint64, np.uint64, int]:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= _MAX_N:
        raise ValueError(f"n (iterations of the run) must be an integer in [1, 2**62], got {n!r}")
    first, length = check_range(start, count)
    if int(start) + length > n:
        raise ValueError(
            f"iterations {start}..{int(start) + length - 1} lie outside the run of {n} iterations"
        )
    return np.uint64(n), first, length


def keyed_permutation(seed: int, key_id: int, n: int, start: int, count: int,
                      stream: int = LHS_KEY_STREAM) -> np.ndarray:
    """pi(start) .. pi(start + count - 1) of the permutation of [0, n) keyed by (seed, key_id).

    Also the source of the score orders in Iman-Conover, under another stream.
    """
    k0 = check_uint64("seed", seed)
    k1 = check_uint64("key_id", key_id)
    s = check_uint64("stream", stream)
    size, first, length = _check_run(n, start, count)
    out = np.empty(length, dtype=np.int64)
    _fill_permutation(k0, k1, s, size, *_domain_bits(int(n)), first, out)
    return out


def lhs_uniforms(seed: int, input_id: int, n: int, start: int, count: int) -> np.ndarray:
    """Latin hypercube uniforms of iterations start..start+count-1 in a run of n iterations.

    Over the whole run, exactly one uniform falls in each stratum [k/n, (k+1)/n).
    """
    size, first, length = _check_run(n, start, count)
    out = uniforms(seed, input_id, start, count, stream=LHS_JITTER_STREAM)
    _stratify(np.uint64(seed), np.uint64(input_id), size, *_domain_bits(int(n)), first, out)
    return out
