"""A random generator whose whole state is four uint64 words the engine owns.

Numba's own `np.random` state is global to the process and cannot be saved, so a checkpoint
could not resume it. Xoshiro256** (Blackman & Vigna) is small, fast, passes BigCrush, and its
state is a plain array: saving the array saves the stream, so a restored run draws exactly the
numbers an uninterrupted one would.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sugarglass.society.jit import kernel

_MASK64 = (1 << 64) - 1


def seed_state(seed: int) -> np.ndarray:
    """Expand one integer seed into a xoshiro256** state with SplitMix64, as its authors advise.

    Any int works (negative ones are taken modulo 2**64); the same seed gives the same state.
    """
    x = seed & _MASK64
    words = []
    for _ in range(4):
        x = (x + 0x9E3779B97F4A7C15) & _MASK64
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        words.append(z ^ (z >> 31))
    return np.array(words, dtype=np.uint64)


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, inline="always")
def next_u64(state):
    """Advance the state and return 64 random bits."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return result


@njit(cache=True, inline="always")
def random_below(state, n):
    """An integer uniform in [0, n), exactly (Lemire's multiply-and-reject), for 0 < n < 2**32."""
    bound = np.uint64(n)
    m = (next_u64(state) >> np.uint64(32)) * bound
    low = m & np.uint64(0xFFFFFFFF)
    if low < bound:
        threshold = (np.uint64(0x100000000) - bound) % bound
        while low < threshold:
            m = (next_u64(state) >> np.uint64(32)) * bound
            low = m & np.uint64(0xFFFFFFFF)
    return np.int64(m >> np.uint64(32))


@njit(cache=True, inline="always")
def random_between(state, low, high):
    """An integer uniform in [low, high], both ends included (the book's 'uniform 1..5')."""
    return low + random_below(state, high - low + 1)


@kernel
def shuffle(state, items):
    """Fisher-Yates shuffle in place: every order equally likely."""
    for i in range(items.shape[0] - 1, 0, -1):
        j = random_below(state, i + 1)
        items[i], items[j] = items[j], items[i]
