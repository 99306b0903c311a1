"""Kafka's default partitioner for keyed records: murmur2 of the key bytes, as Java clients
(and so ksqlDB and Kafka Streams) pick a record's partition."""

from __future__ import annotations

from functools import lru_cache

__all__ = ["murmur2", "partition_for"]

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's `Utils.murmur2`, as an unsigned 32-bit value."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length % 4
    base = length - tail
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a record with these key bytes."""
    if partitions == 1:
        return 0  # the usual topic of a local stack: no hash to compute
    return (_murmur2_of_recent(key) & 0x7FFFFFFF) % partitions


# A windowed sink's every record is partitioned here (librdkafka's murmur2 would hash the
# window too), and the hash in Python costs about 4 µs; keys (accounts, cards) come back
# window after window.
_murmur2_of_recent = lru_cache(maxsize=1 << 16)(murmur2)
