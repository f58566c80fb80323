"""Where a tenant's memories live: partitions, shard names, fingerprints, merging.

Pure and dependency-free on purpose: the replica, the shard actors and the tests all use it, and
importing it must not pull in the index libraries.

A tenant is split into ``partitions`` (a power of two, grown when it outgrows
``memory_shard_max_memories``); memory ``id`` lives in partition ``id % partitions``, and
partition ``p`` of org ``o`` lives on shard ``hash(o, p) % memory_shard_count``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

NAMESPACE = "liftos-memory"


def partition_of(memory_id: int, partitions: int) -> int:
    return memory_id % partitions


def partitions_needed(count: int, max_per_shard: int) -> int:
    """The smallest power of two that keeps every partition within ``max_per_shard``.

    Powers of two so that growing splits each partition in two (``id % 2n`` refines ``id % n``).
    """
    partitions = 1
    while count > partitions * max_per_shard:
        partitions *= 2
    return partitions


def shard_index(org_id: uuid.UUID, partition: int, shard_count: int) -> int:
    """Stable across processes and restarts (unlike ``hash``, which is salted per process)."""
    digest = hashlib.blake2b(f"{org_id}/{partition}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shard_count


def shard_name(index: int) -> str:
    return f"memory-shard-{index}"


@dataclass(frozen=True)
class TenantPart:
    """Which part of which tenant a shard call concerns."""

    org_id: uuid.UUID
    partition: int = 0
    partitions: int = 1

    def __post_init__(self) -> None:
        if self.partitions < 1 or not 0 <= self.partition < self.partitions:
            raise ValueError(f"partition {self.partition} of {self.partitions} is out of range")

    def holds(self, memory_id: int) -> bool:
        return partition_of(memory_id, self.partitions) == self.partition


@dataclass(frozen=True)
class Fingerprint:
    """What a shard compares with PostgreSQL to notice writes it missed: a missed insert or
    delete changes the count and the id sum, a missed update the version sum."""

    count: int
    id_sum: int
    version_sum: int

    @classmethod
    def of(cls, versions: dict[int, int]) -> Fingerprint:
        return cls(len(versions), sum(versions), sum(versions.values()))


def merge_by_score(
    answers: Sequence[Sequence[T]], limit: int, score: Callable[[T], float]
) -> list[T]:
    """Best-first union of per-part answers. Each part fuses its own ranks, so scores from
    different parts are only approximately comparable; a tenant on one part is exact."""
    merged = [hit for answer in answers for hit in answer]
    merged.sort(key=lambda hit: -score(hit))
    return merged[:limit]
