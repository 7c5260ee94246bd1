"""Counter-based uniforms: every sample is a pure function of (seed, input id, stream, iteration).

Why counter-based: a run must give the same numbers whatever the block size, thread count, device
or order of inputs, and any block of iterations must be computable on its own (threads, Dask
workers, CUDA threads). Stateful generators (numpy's Generator, numba's per-thread
``np.random``, ``numba.cuda.random``) tie the numbers to scheduling or launch geometry.

The generator is Philox4x64-10 (Salmon et al., SC'11), the one in Random123 and
``numpy.random.Philox``, laid out as

    key     = (seed, input_id)
    counter = (iteration // 4, stream, 0, 0)
    word    = output word ``iteration % 4`` of that block

so one Philox evaluation serves four consecutive iterations, and the raw words of a stream are
exactly ``numpy.random.Philox(key=[seed, input_id], counter=stream * 2**64 - 1).random_raw()``
(numpy increments the counter before each block; for stream 0 the counter is ``2**256 - 1``). The
stream numbers in use are the ``*_STREAM`` constants below, kept in this one place so that two
consumers can never share one by accident.

A raw word ``x`` becomes ``((x >> 12) + 0.5) * 2**-52``: the midpoints of 2**52 equal cells,
strictly inside (0, 1) and symmetric (u and 1 - u equally likely), so an inverse CDF never sees 0
or 1. The 53-bit variant ``((x >> 11) + 0.5) * 2**-53`` is not safe: for the largest words the
addition rounds to 2**53 and the result is exactly 1.0.

The scalar kernels use uint64 operations only, plus one LLVM intrinsic for the high half of a
64 x 64-bit product, so they compile under ``numba.njit`` and ``numba.cuda.jit(device=True)``
(tests compile ``uniform_at`` to PTX). A CUDA module may call them from device code (numba
recompiles njit functions for the device) or wrap the undecorated source, ``uniform_at.py_func``,
with ``cuda.jit(device=True)``; under the CUDA simulator the njit versions run on the CPU.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

MAIN_STREAM = 0  # plain Monte Carlo uniforms of an input
LHS_JITTER_STREAM = 1  # position inside a Latin hypercube stratum
LHS_KEY_STREAM = 2  # round keys of the Latin hypercube stratum permutation
CORRELATION_KEY_STREAM = 3  # round keys of the score permutations of Iman-Conover

_U64_LIMIT = 2**64

# Constants as np.uint64 so that numba keeps every expression in uint64 (uint64 mixed with an
# int64 literal is promoted to float64).
_M0 = np.uint64(0xD2E7470EE14C6C93)
_M1 = np.uint64(0xCA5A826395121157)
_W0 = np.uint64(0x9E3779B97F4A7C15)
_W1 = np.uint64(0xBB67AE8584CAA73B)
_SHIFT12 = np.uint64(12)
_SHIFT2 = np.uint64(2)
_THREE = np.uint64(3)
_ZERO = np.uint64(0)
_CELL = 2.0**-52


@intrinsic
def _mulhi_u128(typingctx, a, b):
    """High word of a * b through a 128-bit multiply in LLVM IR (numba has no uint128 type)."""
    sig = types.uint64(types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        wide = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        return builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), ir.IntType(64))

    return sig, codegen


@njit(inline="always", cache=True)
def mulhi64(a, b):
    """High 64 bits of the 128-bit product of two uint64.

    One ``mul`` on x86-64 and ``mul.hi.u64`` in PTX: five times the Philox throughput of the
    textbook version assembled from 32-bit halves (4e8 against 8e7 words per second per core).
    """
    return _mulhi_u128(a, b)


@njit(inline="always", cache=True)
def philox4x64_10(c0, c1, c2, c3, k0, k1):
    """The four output words of Philox4x64-10 for counter (c0..c3) and key (k0, k1), all uint64."""
    for _ in range(10):
        hi0 = mulhi64(_M0, c0)
        lo0 = _M0 * c0
        hi1 = mulhi64(_M1, c2)
        lo1 = _M1 * c2
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = k0 + _W0
        k1 = k1 + _W1
    return c0, c1, c2, c3


@njit(inline="always", cache=True)
def to_unit(x):
    """Map a uint64 word to a double strictly inside (0, 1) (see the module docstring)."""
    return (np.float64(x >> _SHIFT12) + 0.5) * _CELL


@njit(inline="always", cache=True)
def _word(r, w):
    """Word ``w`` (int64) of a Philox block by branches: a runtime tuple index is 3x slower."""
    if w == 0:
        return r[0]
    if w == 1:
        return r[1]
    if w == 2:
        return r[2]
    return r[3]


@njit(inline="always", cache=True)
def raw_at(seed, input_id, iteration, stream=0):
    """The raw 64-bit word for one iteration; integer arguments of any numba integer type."""
    it = np.uint64(iteration)
    r = philox4x64_10(it >> _SHIFT2, np.uint64(stream), _ZERO, _ZERO,
                      np.uint64(seed), np.uint64(input_id))
    return _word(r, np.int64(it & _THREE))


@njit(inline="always", cache=True)
def uniform_at(seed, input_id, iteration, stream=0):
    """The uniform of one input at one iteration: the scalar every sampler builds on."""
    return to_unit(raw_at(seed, input_id, iteration, stream))


@njit(cache=True)
def _fill_uniforms(k0, k1, stream, start, out):
    """Fill ``out`` with iterations start.. of one stream, one Philox call per aligned four.

    Iterations of a partial block at either end pay a Philox call each; simpler than separate
    head and tail loops and no slower.
    """
    n = out.shape[0]
    i = 0
    while i < n:
        it = start + np.uint64(i)
        r = philox4x64_10(it >> _SHIFT2, stream, _ZERO, _ZERO, k0, k1)
        word = np.int64(it & _THREE)
        if word == 0 and i + 4 <= n:
            out[i] = to_unit(r[0])
            out[i + 1] = to_unit(r[1])
            out[i + 2] = to_unit(r[2])
            out[i + 3] = to_unit(r[3])
            i += 4
        else:
            out[i] = to_unit(_word(r, word))
            i += 1


def check_uint64(name: str, value: int) -> np.uint64:
    """Reject what is not an integer in [0, 2**64) before numba silently wraps it."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not 0 <= int(value) < _U64_LIMIT:
        raise ValueError(f"{name} must be in [0, 2**64), got {value}")
    return np.uint64(value)


def check_range(start: int, count: int) -> tuple[np.uint64, int]:
    """Validate an iteration range start..start+count-1 shared by the bulk samplers."""
    first = check_uint64("start", start)
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    if int(start) + int(count) > _U64_LIMIT:
        raise ValueError(f"iterations {start}..{int(start) + int(count) - 1} run past 2**64")
    return first, int(count)


def uniforms(seed: int, input_id: int, start: int, count: int,
             stream: int = MAIN_STREAM) -> np.ndarray:
    """Uniforms of iterations start..start+count-1 for one input (float64, strictly in (0, 1)).

    Any split of a run into ranges gives the same numbers as one call over the whole run.
    """
    k0 = check_uint64("seed", seed)
    k1 = check_uint64("input_id", input_id)
    s = check_uint64("stream", stream)
    first, n = check_range(start, count)
    out = np.empty(n, dtype=np.float64)
    _fill_uniforms(k0, k1, s, first, out)
    return out
