"""Quota policy: how the primary places are split over counter shards."""

from __future__ import annotations


def shard_capacities(total: int, shards: int) -> list[int]:
    """Split ``total`` places over ``shards`` counters; sizes differ by at most one.

    Many shards spread a burst over many items (DynamoDB takes ~1,000 writes/s per partition);
    a registration tries every shard with room before it is told the primary list is full.
    """
    if shards < 1:
        raise ValueError("at least one shard")
    base, extra = divmod(total, shards)
    return [base + (1 if i < extra else 0) for i in range(shards)]
