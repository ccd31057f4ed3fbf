"""The default partitioner's choice for many keys at once: Kafka's murmur2 (as Java's
`Utils.murmur2` and aiokafka's `partitioner.murmur2`), computed with numpy over all keys of one
length together. aiokafka's pure-Python murmur2 took ~17 % of a 100k-merge commit (profile in
docs/performance.md, "Commit"); this is the same function, checked against it by a property test.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from aiokafka.partitioner import murmur2

_SEED = 0x9747B28C
_M = np.uint32(0x5BD1E995)
_SMALL_GROUP = 8
"""Keys of a length shared by fewer keys than this are hashed one by one (numpy's per-call cost
would exceed the saving)."""


def murmur2_many(keys: Sequence[bytes]) -> list[int]:
    """murmur2 of each key (unsigned 32-bit), in order."""
    out = [0] * len(keys)
    by_length: dict[int, list[int]] = {}
    for i, key in enumerate(keys):
        by_length.setdefault(len(key), []).append(i)
    for length, rows in by_length.items():
        if len(rows) < _SMALL_GROUP:
            for i in rows:
                out[i] = murmur2(keys[i])
            continue
        hashes = _murmur2_same_length([keys[i] for i in rows], length)
        for i, h in zip(rows, hashes.tolist(), strict=True):
            out[i] = h
    return out


def _murmur2_same_length(keys: list[bytes], length: int) -> np.ndarray:
    data = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), length)
    h = np.full(len(keys), (_SEED ^ length) & 0xFFFFFFFF, dtype=np.uint32)
    blocks = length // 4
    if blocks:
        words = np.ascontiguousarray(data[:, : blocks * 4]).view("<u4")
        for j in range(blocks):
            k = words[:, j] * _M  # uint32 arithmetic wraps as Java's int does
            k ^= k >> np.uint32(24)
            k *= _M
            h *= _M
            h ^= k
    tail, extra = blocks * 4, length % 4
    if extra >= 3:
        h ^= data[:, tail + 2].astype(np.uint32) << np.uint32(16)
    if extra >= 2:
        h ^= data[:, tail + 1].astype(np.uint32) << np.uint32(8)
    if extra >= 1:
        h ^= data[:, tail].astype(np.uint32)
        h *= _M
    h ^= h >> np.uint32(13)
    h *= _M
    h ^= h >> np.uint32(15)
    return h


def default_partitions(keys: Sequence[bytes], partitions: Sequence[int]) -> list[int]:
    """The partition of each key as the default partitioner (Java's and aiokafka's) picks it:
    `partitions` sorted by id, the positive murmur2 modulo their count."""
    n = len(partitions)
    return [partitions[(h & 0x7FFFFFFF) % n] for h in murmur2_many(keys)]
