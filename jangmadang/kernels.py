"""Shared pieces of the compiled (Numba) kernels: counter-based random numbers and fixed blocks.

Kernels live next to the module that owns them (``modules/loyalty_kernels.py``) and must give
the same results on any number of threads (``NUMBA_NUM_THREADS``). Two rules make that so:

- **Random numbers from a counter, not a generator.** A kernel never draws from a shared
  generator: person ``i``'s uniform is a hash of (key, i) (:func:`uniform32`), where the key
  comes from ``streams.key(seed, module, month, purpose)``. A draw depends on nothing but the
  key and the index, so it is the same whichever thread computes it, whatever else is drawn,
  and in any scenario with the same seed (common random numbers).
- **Reductions in a fixed order.** Work is cut into fixed blocks of ``BLOCK`` households (a
  household's persons are contiguous, so the thread given a block owns its persons); each
  block writes its own partial sums and the blocks are added in order.

Threads: a kernel takes a range of blocks and releases the GIL (``nogil=True``), and
:func:`in_blocks` splits the blocks among ``NUMBA_NUM_THREADS`` Python threads (the caller and
a pool's). Numba's own
``parallel=True`` loops would do the same, but a kernel took 2.5 times as long to compile
(3.6 s instead of 1.4 s for loyalty's), and the first run in a fresh install pays every compile.

Kernels are compiled on first use and cached on disk (``cache=True``). Numba checks only the
source file of a cached kernel: after changing a function of this file, also touch the files of
the kernels that call it (or delete their ``__pycache__``).
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numba
import numpy as np
from numba import njit

BLOCK = 2048  # households per block
CHUNKS_PER_THREAD = 4  # pieces of a parallel loop per thread

# SplitMix64 (Steele, Lea and Flood 2014): the Weyl increment and the two multipliers of
# Stafford's "mix13" finalizer.
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@njit
def mix64(z):
    """Stafford's mix13: a bijection of 64-bit integers whose every output bit depends on every
    input bit (the SplitMix64 output function)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit
def bits64(key, i):
    """64 random bits for index ``i`` of stream ``key``: element ``i`` of the SplitMix64
    sequence that starts at state ``key``, computed directly (no state carried from i - 1)."""
    return mix64(key + (np.uint64(i) + np.uint64(1)) * _GAMMA)


@njit
def uniform32(key, i):
    """A float32 uniform on [0, 1) for index ``i`` of stream ``key`` (the top 24 bits)."""
    # Through int64: converting a uint64 to a float takes a slow path on x86.
    return np.float32(np.int64(bits64(key, i) >> np.uint64(40))) * np.float32(2.0**-24)


@njit
def uniform64(key, i):
    """A float64 uniform on [0, 1) for index ``i`` of stream ``key`` (the top 53 bits): for
    probabilities too small for :func:`uniform32`'s steps of 2**-24 (6e-8)."""
    return np.float64(np.int64(bits64(key, i) >> np.uint64(11))) * 2.0**-53


@njit(cache=True)
def uniforms_at(key, indices):
    """``uniform64(key, i)`` for each ``i`` of ``indices``: counter-based draws for chosen
    persons, the same whoever else is drawn (common random numbers across runs whose states,
    and so the persons a rule applies to, differ)."""
    out = np.empty(len(indices))
    for j in range(len(indices)):
        out[j] = uniform64(key, indices[j])
    return out


@njit(cache=True)
def uniforms32_at(key, indices):
    """``uniform32(key, i)`` for each ``i`` of ``indices`` (float32), as :func:`uniforms_at`."""
    out = np.empty(len(indices), dtype=np.float32)
    for j in range(len(indices)):
        out[j] = uniform32(key, indices[j])
    return out


@njit(nogil=True, cache=True)
def _count_below(first_block, end_block, counts, key, n, threshold):
    for block in range(first_block, end_block):
        count = 0
        for i in range(block * BLOCK, min((block + 1) * BLOCK, n)):
            count += uniform32(key, i) < threshold
        counts[block] = count


@njit(nogil=True, cache=True)
def _write_below(first_block, end_block, out, starts, key, n, threshold):
    """The block's draws first, in a loop without a branch (which the compiler vectorises,
    as in ``_count_below``), then the indices below: 1.5 ms for 1,000,000 persons on one
    thread, against 2.2 ms drawing in the branching loop."""
    draws = np.empty(BLOCK, dtype=np.float32)
    for block in range(first_block, end_block):
        lo, hi = block * BLOCK, min((block + 1) * BLOCK, n)
        for i in range(lo, hi):
            draws[i - lo] = uniform32(key, i)
        k = starts[block]
        for i in range(lo, hi):
            if draws[i - lo] < threshold:
                out[k] = i
                k += 1


def indices_below(key, n: int, p: float) -> np.ndarray:
    """The indices ``i < n`` whose ``uniform32(key, i)`` is below ``p``, ascending: who among
    ``n`` persons does something with probability ``p`` this month. Two passes over fixed
    blocks of ``BLOCK`` indices on several threads: count each block's, then write each
    block's into its place."""
    threshold = np.float32(p)
    counts = np.zeros(n_blocks(n), dtype=np.int64)
    in_blocks(_count_below, n, counts, key, n, threshold)
    starts = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    out = np.empty(starts[-1], dtype=np.int64)
    in_blocks(_write_below, n, out, starts, key, n, threshold)
    return out


def n_blocks(n_households: int) -> int:
    """Blocks of ``BLOCK`` households covering ``n_households``."""
    return -(-n_households // BLOCK)


def in_blocks(kernel, n_households: int, *args) -> None:
    """Run ``kernel(first_block, end_block, *args)`` over all blocks of ``n_households`` on
    ``NUMBA_NUM_THREADS`` threads. The blocks go out in a few chunks per thread, so a thread
    slowed by other work on the machine does not hold up the rest; each block is computed the
    same way whichever thread runs it, so results do not depend on the split."""
    blocks = n_blocks(n_households)
    threads = max(1, min(numba.config.NUMBA_NUM_THREADS, blocks))
    if threads == 1:
        kernel(0, blocks, *args)
        return
    chunks = min(blocks, CHUNKS_PER_THREAD * threads)
    _run_chunks(kernel, [blocks * c // chunks for c in range(chunks + 1)], args)


def in_ranges(kernel, n: int, *args) -> None:
    """Run ``kernel(lo, hi, *args)`` over ``0 .. n`` cut into a few ranges per thread, for
    kernels whose items are independent (each writes only its own items)."""
    threads = max(1, numba.config.NUMBA_NUM_THREADS)
    chunks = min(max(n, 1), CHUNKS_PER_THREAD * threads)
    if threads == 1 or n < 1 << 12:
        kernel(0, n, *args)
        return
    _run_chunks(kernel, [n * c // chunks for c in range(chunks + 1)], args)


_pool: tuple[int, ThreadPoolExecutor] | None = None  # (process id, pool)


def _threads() -> ThreadPoolExecutor:
    """One pool of ``NUMBA_NUM_THREADS`` threads for the process (starting threads for every
    kernel call costs more than a small kernel), made anew in a forked child, where the
    parent's threads do not exist."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = os.getpid(), ThreadPoolExecutor(numba.config.NUMBA_NUM_THREADS)
    return _pool[1]


def _run_chunks(kernel, bounds: list[int], args: tuple) -> None:
    """``kernel(lo, hi, *args)`` for each pair of ``bounds``: the calling thread and
    ``NUMBA_NUM_THREADS - 1`` of the pool's take chunks from one queue until it is empty.
    One hand-off per helper rather than per chunk, and the caller works instead of waiting:
    a small kernel cost 78 us a call on the pool alone, 12-30 us so. A helper that has not
    started when the caller runs out of chunks is cancelled, not waited for."""
    chunks = deque(pairwise(bounds))
    pool = _threads()
    helpers = [
        pool.submit(_take_chunks, kernel, chunks, args)
        for _ in range(min(numba.config.NUMBA_NUM_THREADS, len(chunks)) - 1)
    ]
    try:
        _take_chunks(kernel, chunks, args)
    finally:  # no helper still at work when this returns or raises
        for helper in helpers:
            if not helper.cancel():
                helper.result()


def _take_chunks(kernel, chunks: deque, args: tuple) -> None:
    """Run ``kernel(lo, hi, *args)`` for chunks taken from ``chunks`` until none is left
    (``popleft`` is thread-safe)."""
    while True:
        try:
            lo, hi = chunks.popleft()
        except IndexError:
            return
        kernel(lo, hi, *args)


def thread_map(function, items) -> list:
    """``[function(item) for item in items]`` on the kernels' threads, for NumPy calls that
    release the GIL (sorts, partitions); in order, and on one thread when there is one."""
    if numba.config.NUMBA_NUM_THREADS == 1:
        return [function(item) for item in items]
    return list(_threads().map(function, items))


@njit(nogil=True, cache=True)
def _gather(lo, hi, out, values, source):
    for i in range(lo, hi):
        out[i] = values[source[i]]


def take(values: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``values[source]`` for a 1-D array, on several threads (the yearly rebuild moves every
    person's fields at once). Values move as unsigned integers of their size, so one compiled
    version serves every dtype of that size (fewer to compile and to load)."""
    if values.ndim != 1 or not values.flags.c_contiguous or values.itemsize not in (1, 2, 4, 8):
        return np.take(values, source, axis=0)
    out = np.empty(len(source), dtype=values.dtype)
    bits = np.dtype(f"u{values.itemsize}")
    in_ranges(_gather, len(source), out.view(bits), values.view(bits), source)
    return out


@njit(nogil=True, cache=True)
def sorted_floats(values):
    """``np.sort(values)`` of a float64 array without NaN, by a radix sort: the values' bits
    turned into unsigned keys of the same order, sorted in stable passes of 11 bits (passes
    in which every key has the same digit are skipped) and turned back. On the 130,000
    incomes of half the households at 1,000,000 persons: 1.1 ms, NumPy's sort 4.0 ms.
    Equal values are interchangeable, so the result is NumPy's to the bit (-0.0 sorts just
    before 0.0, which it equals)."""
    n = len(values)
    sign = np.uint64(1) << np.uint64(63)
    key = np.empty(n, dtype=np.uint64)
    bits = values.view(np.uint64)
    for i in range(n):  # negative: all bits flipped; positive: the sign bit set
        key[i] = ~bits[i] if bits[i] & sign else bits[i] | sign
    digits, passes = 1 << 11, 6
    mask = np.uint64(digits - 1)
    counts = np.zeros((passes, digits), dtype=np.int64)
    for i in range(n):
        for p in range(passes):
            counts[p, (key[i] >> np.uint64(11 * p)) & mask] += 1
    other = np.empty(n, dtype=np.uint64)
    for p in range(passes):
        if counts[p].max() == n:
            continue
        shift = np.uint64(11 * p)
        position = np.empty(digits, dtype=np.int64)
        start = 0
        for d in range(digits):
            position[d] = start
            start += counts[p, d]
        for i in range(n):
            d = (key[i] >> shift) & mask
            other[position[d]] = key[i]
            position[d] += 1
        key, other = other, key
    out = np.empty(n)
    out_bits = out.view(np.uint64)
    for i in range(n):
        out_bits[i] = key[i] ^ sign if key[i] & sign else ~key[i]
    return out


@njit(cache=True)
def rank_weighted_sums(first, second):
    """``ordered.sum()`` and ``(arange(1, n + 1) * ordered).sum()`` in one pass, where
    ``ordered`` is the merge of the two ascending arrays ``first`` and ``second`` (one may be
    empty), each summed within fixed blocks of ``BLOCK`` values of the merge and then block by
    block (for the Gini coefficient). Equal values are interchangeable, so the sums are those
    of one sort of both arrays, to the bit."""
    n = len(first) + len(second)
    total = weighted = 0.0
    i = j = 0
    for lo in range(0, n, BLOCK):
        block_total = block_weighted = 0.0
        for rank in range(lo, min(lo + BLOCK, n)):
            if j >= len(second) or (i < len(first) and first[i] <= second[j]):
                value = first[i]
                i += 1
            else:
                value = second[j]
                j += 1
            block_total += value
            block_weighted += (rank + 1) * value
        total += block_total
        weighted += block_weighted
    return total, weighted


@njit(nogil=True, cache=True)
def _block_group_sums(first_block, end_block, partial, codes, weights):
    """Sums of ``weights`` by code within each block of ``BLOCK`` items (codes outside
    ``0 .. n_groups - 1`` are skipped, as ``np.bincount(...)[:n_groups]`` drops them)."""
    n_groups = partial.shape[1]
    for block in range(first_block, end_block):
        row = partial[block]
        for i in range(block * BLOCK, min((block + 1) * BLOCK, len(codes))):
            code = codes[i]
            if 0 <= code < n_groups:
                row[code] += weights[i]


def group_sums(codes: np.ndarray, weights: np.ndarray, n_groups: int) -> np.ndarray:
    """``np.bincount(codes, weights, minlength=n_groups)[:n_groups]`` (float64) on several
    threads: partial sums per fixed block of items, added block by block, so the result does
    not depend on the number of threads. Booleans are summed as 0 and 1."""
    if codes.dtype == np.bool_:
        codes = codes.view(np.uint8)
    if weights.dtype == np.bool_:
        weights = weights.view(np.uint8)
    partial = np.zeros((n_blocks(len(codes)), n_groups))
    in_blocks(_block_group_sums, len(codes), partial, codes, weights)
    return partial.sum(axis=0)
