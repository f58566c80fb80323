"""The replica's side of the shards: which actors hold a tenant, calling them, merging answers.

Partition counts live in Redis (``memory:partitions:<org>``) so that every replica routes a
tenant the same way; they only ever grow. A write whose indexing call fails is still durable
(PostgreSQL committed first): the replica remembers the part as stale and its next search asks
the shard to compare with PostgreSQL at once rather than at its next periodic check.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Sequence
from typing import Any

import ray
import redis.asyncio as aioredis
from ray.exceptions import GetTimeoutError, RayActorError

from cluster import telemetry
from cluster.repositories import memory as repo
from cluster.settings import Settings
from cluster.state import Database
from deployments.common.errors import ApiError
from deployments.memory.layout import TenantPart, partition_of, partitions_needed, shard_index
from deployments.memory.shards import MemoryShardActor, actor_options

log = logging.getLogger(__name__)

PARTITIONS_KEY = "memory:partitions:{org}"
QUERY_COUNT_KEY = "memory:queries:{org}"
QUERY_LATENCY_KEY = "memory:latency_ms:{org}"
LATENCY_WINDOW = 1000
# How long a replica trusts its copy of a tenant's partition count, and its estimate of the
# tenant's size (used to notice that it has outgrown its partitions).
PARTITIONS_TTL_SECONDS = 5.0
COUNT_TTL_SECONDS = 60.0

# Sets the key to ARGV[1] unless it already holds a larger number; returns what it holds.
_RAISE_TO = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if wanted > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return wanted
end
return current
"""

RemoteShard = ray.remote(MemoryShardActor)


class ShardPlacement:
    def __init__(self, settings: Settings, *, db: Database, redis: aioredis.Redis) -> None:
        self._settings = settings
        self._db = db
        self._redis = redis
        self._handles: dict[int, Any] = {}
        self._handle_lock = asyncio.Lock()
        self._partitions: dict[uuid.UUID, tuple[float, int]] = {}
        self._counts: dict[uuid.UUID, tuple[float, int]] = {}
        self._stale: set[tuple[uuid.UUID, int]] = set()

    # -- placement --------------------------------------------------------------------------

    async def partitions(self, org_id: uuid.UUID) -> int:
        cached = self._partitions.get(org_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        stored = await self._redis.get(PARTITIONS_KEY.format(org=org_id))
        if stored is not None:
            value = int(stored)
        else:
            count = await repo.count_memories(self._db, org_id=org_id)
            value = await self._raise_partitions(
                org_id, partitions_needed(count, self._settings.memory_shard_max_memories)
            )
        self._partitions[org_id] = (time.monotonic() + PARTITIONS_TTL_SECONDS, value)
        return value

    async def _raise_partitions(self, org_id: uuid.UUID, wanted: int) -> int:
        held = await self._redis.eval(_RAISE_TO, 1, PARTITIONS_KEY.format(org=org_id), str(wanted))
        self._partitions[org_id] = (time.monotonic() + PARTITIONS_TTL_SECONDS, int(held))
        return int(held)

    async def parts(self, org_id: uuid.UUID) -> list[TenantPart]:
        partitions = await self.partitions(org_id)
        return [TenantPart(org_id, p, partitions) for p in range(partitions)]

    async def _grow_if_needed(self, org_id: uuid.UUID, added: int) -> None:
        now = time.monotonic()
        known = self._counts.get(org_id)
        if known is None or known[0] <= now:
            count = await repo.count_memories(self._db, org_id=org_id)
        else:
            count = known[1] + added
        expires = known[0] if known is not None and known[0] > now else now + COUNT_TTL_SECONDS
        self._counts[org_id] = (expires, count)
        partitions = await self.partitions(org_id)
        wanted = partitions_needed(count, self._settings.memory_shard_max_memories)
        if wanted > partitions:
            log.info("splitting memories of org %s over %d partitions", org_id, wanted)
            await self._raise_partitions(org_id, wanted)

    # -- calls ------------------------------------------------------------------------------

    async def _handle(self, index: int) -> Any:
        handle = self._handles.get(index)
        if handle is not None:
            return handle
        async with self._handle_lock:
            handle = self._handles.get(index)
            if handle is None:
                options = actor_options(self._settings, index)
                # get_if_exists talks to the GCS synchronously: keep it off the event loop.
                handle = await asyncio.to_thread(
                    lambda: RemoteShard.options(**options).remote(self._settings, index)
                )
                self._handles[index] = handle
            return handle

    async def warm_up(self) -> None:
        """Start every shard actor and wait until each is constructed (its embedder loaded, the
        ONNX export made on a fresh machine), so that the first memory call does not pay it."""
        handles = [await self._handle(index) for index in range(self._settings.memory_shard_count)]
        await asyncio.gather(*(handle.ready.remote() for handle in handles))

    async def call(self, part: TenantPart, method: str, *args: Any, **kwargs: Any) -> Any:
        index = shard_index(part.org_id, part.partition, self._settings.memory_shard_count)
        timeout = self._settings.memory_shard_call_timeout_seconds
        for attempt in range(2):
            handle = await self._handle(index)
            try:
                return await asyncio.wait_for(
                    handle.traced.remote(method, telemetry.trace_carrier(), part, *args, **kwargs),
                    timeout,
                )
            except RayActorError:
                # Gone for good (restarts used up or killed without restart): look it up or
                # create it again once.
                self._handles.pop(index, None)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def read(self, part: TenantPart, method: str, *args: Any, **kwargs: Any) -> Any:
        """A shard read; an unreachable shard is a 503 the client may retry."""
        try:
            return await self.call(part, method, *args, **kwargs)
        except (RayActorError, GetTimeoutError, TimeoutError) as exc:
            log.warning("memory shard read %s failed for %s: %r", method, part, exc)
            raise ApiError(
                503, "index_unavailable", "the memory index is recovering; retry shortly"
            ) from exc

    async def read_all(
        self, org_id: uuid.UUID, method: str, *args: Any, **kwargs: Any
    ) -> list[Any]:
        """The same read on every part of a tenant, in partition order."""
        parts = await self.parts(org_id)
        return list(await asyncio.gather(*(self.read(p, method, *args, **kwargs) for p in parts)))

    async def search(self, org_id: uuid.UUID, **kwargs: Any) -> list[list[Any]]:
        parts = await self.parts(org_id)

        async def one(part: TenantPart) -> list[Any]:
            key = (org_id, part.partition)
            answer: list[Any] = await self.read(part, "search", sync=key in self._stale, **kwargs)
            self._stale.discard(key)
            return answer

        return list(await asyncio.gather(*(one(p) for p in parts)))

    async def _write(self, part: TenantPart, method: str, payload: Any) -> None:
        try:
            await self.call(part, method, payload)
        except Exception:
            # Durable already; the shard catches up from PostgreSQL (see module docstring).
            log.exception("memory shard %s failed for %s; it will catch up", method, part)
            self._stale.add((part.org_id, part.partition))

    async def index(self, org_id: uuid.UUID, records: Sequence[repo.MemoryRecord]) -> None:
        await self._grow_if_needed(org_id, len(records))
        partitions = await self.partitions(org_id)
        groups: dict[int, list[repo.MemoryRecord]] = {}
        for record in records:
            groups.setdefault(partition_of(record.id, partitions), []).append(record)
        await _all(
            self._write(TenantPart(org_id, p, partitions), "index", group)
            for p, group in groups.items()
        )

    async def remove(self, org_id: uuid.UUID, memory_id: int) -> None:
        partitions = await self.partitions(org_id)
        part = TenantPart(org_id, partition_of(memory_id, partitions), partitions)
        await self._write(part, "remove", [memory_id])

    # -- query statistics -------------------------------------------------------------------

    async def record_query(self, org_id: uuid.UUID, took_ms: float) -> None:
        latency_key = QUERY_LATENCY_KEY.format(org=org_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.incr(QUERY_COUNT_KEY.format(org=org_id))
            pipe.lpush(latency_key, f"{took_ms:.3f}")
            pipe.ltrim(latency_key, 0, LATENCY_WINDOW - 1)
            await pipe.execute()

    async def query_stats(self, org_id: uuid.UUID) -> tuple[int, list[float]]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(QUERY_COUNT_KEY.format(org=org_id))
            pipe.lrange(QUERY_LATENCY_KEY.format(org=org_id), 0, LATENCY_WINDOW - 1)
            total, latencies = await pipe.execute()
        return int(total or 0), [float(x) for x in latencies]


async def _all(calls: Any) -> None:
    awaitables: list[Awaitable[None]] = list(calls)
    await asyncio.gather(*awaitables)
