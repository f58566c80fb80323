"""Memory shards: Ray actors holding the per-tenant indexes, rebuilt from PostgreSQL.

Placement (``deployments.memory.layout``): a tenant is split into a power-of-two number of
partitions by memory id, and each partition lives on one shard. Every part of a tenant has its
own :class:`memory.shard.MemoryShard` and its own Kuzu directory: no index or graph database is
ever shared between tenants.

Durability. PostgreSQL is the source of truth and the shard a cache of it. A shard loads a tenant
part lazily, on the first call that needs it (so a restarted actor recovers by itself), and every
``memory_sync_interval_seconds`` compares a fingerprint of the part (count, sum of ids, sum of
versions of the live rows) with its own; on a mismatch it reconciles by id and version, so a write
whose indexing call was lost (actor down, timeout) shows up without anyone replaying it. Deleted
ids are remembered (ids are never reused), so an indexing call that arrives after the delete
cannot bring a memory back.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from cluster import metrics, telemetry
from cluster.repositories import memory as repo
from cluster.settings import Settings
from cluster.state import Database
from deployments.memory.layout import NAMESPACE, Fingerprint, TenantPart, shard_name
from memory.embedders import build_embedder
from memory.embedding import MiniLMEmbedder
from memory.entities import Entity
from memory.graph import KuzuGraph
from memory.onnx_embedding import OnnxMiniLMEmbedder
from memory.shard import Cluster, MemoryItem, MemoryShard, SearchFilters, SearchMode

log = logging.getLogger(__name__)

LOAD_PAGE = 1000
# Past this many differing rows a reconcile reloads the part instead of fetching row by row.
RECONCILE_ROW_LIMIT = 256
# A replaced part is closed this long after: searches that started on it finish first.
RETIRE_AFTER_SECONDS = 30.0


@dataclass(frozen=True)
class ShardHit:
    id: int
    score: float
    retrievers: tuple[str, ...]
    ranks: dict[str, int]
    record: repo.MemoryRecord


@dataclass(frozen=True)
class PartStats:
    memories: int
    by_type: dict[str, int]
    by_day: dict[date, int]
    dense_bytes: int
    keyword_bytes: int
    graph_disk_bytes: int
    graph_entities: int


async def fetch_fingerprint(db: Database, part: TenantPart) -> Fingerprint:
    count, id_sum, version_sum = await repo.partition_fingerprint(
        db, org_id=part.org_id, partitions=part.partitions, partition=part.partition
    )
    return Fingerprint(count, id_sum, version_sum)


async def fetch_versions(db: Database, part: TenantPart) -> dict[int, int]:
    return await repo.partition_versions(
        db, org_id=part.org_id, partitions=part.partitions, partition=part.partition
    )


def memory_item(record: repo.MemoryRecord) -> MemoryItem:
    return MemoryItem(
        id=record.id,
        memory_type=record.memory_type,
        content=record.content,
        metadata=record.metadata,
        created_at=record.created_at,
        event_at=record.event_at,
    )


@dataclass
class _Part:
    """One loaded tenant part. ``records`` changes only through ``put`` and ``drop``, which
    keep the fingerprint's sums, so comparing with PostgreSQL costs no pass over 100k records
    on the search path."""

    part: TenantPart
    shard: MemoryShard
    directory: Path
    records: dict[int, repo.MemoryRecord] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    checked_at: float = 0.0
    checking: bool = False
    # Ids that the last background comparison found differing from PostgreSQL.
    suspects: set[int] = field(default_factory=set)
    _id_sum: int = 0
    _version_sum: int = 0

    def put(self, record: repo.MemoryRecord) -> None:
        self.drop(record.id)
        self.records[record.id] = record
        self._id_sum += record.id
        self._version_sum += record.version

    def drop(self, memory_id: int) -> bool:
        record = self.records.pop(memory_id, None)
        if record is None:
            return False
        self._id_sum -= record.id
        self._version_sum -= record.version
        return True

    def fingerprint(self) -> Fingerprint:
        return Fingerprint(len(self.records), self._id_sum, self._version_sum)

    def confirmed(self, gone: Sequence[int], stale: Sequence[int]) -> tuple[list[int], list[int]]:
        """Of the ids found ``gone`` from or ``stale`` against PostgreSQL, those that the
        previous comparison found too. A difference seen once may be a write in flight (its
        rows committed, its indexing call not yet applied), which resolves by itself; acting
        on it would fetch the same rows twice, or reload a whole tenant that is being bulk
        loaded. One still there a comparison later is a write this part missed."""
        previous, self.suspects = self.suspects, {*gone, *stale}
        return [i for i in gone if i in previous], [i for i in stale if i in previous]


def shard_embedder(settings: Settings) -> MiniLMEmbedder | OnnxMiniLMEmbedder:
    """The embedder ``LIFTOS_MEMORY_EMBEDDER`` names. The ONNX ones are exported from the
    installed MiniLM by the project on first use and cached under the state directory."""
    return build_embedder(
        settings.memory_embedder,
        cache_dir=settings.state_dir.expanduser().resolve() / "embeddings",
    )


# Operations after which the shard's size gauges are set again.
_WRITES = frozenset({"index", "remove", "reload"})


class MemoryShardActor:
    """One memory shard. Run as a named Ray actor (:func:`actor_options`); every Serve replica
    finds it by name, so they all share it.

    Async: PostgreSQL I/O awaits, and embedding and index work run in threads, so one tenant's
    rebuild does not stall another tenant's searches.
    """

    def __init__(self, settings: Settings, index: int) -> None:
        self._settings = settings
        self._index = index
        self._embedder = shard_embedder(settings)
        self._db: Database | None = None
        self._db_lock = asyncio.Lock()
        self._keys: dict[uuid.UUID, bytes] = {}
        self._parts: dict[tuple[uuid.UUID, int], _Part] = {}
        self._locks: dict[tuple[uuid.UUID, int], asyncio.Lock] = {}
        self._background: set[asyncio.Task[None]] = set()
        # A previous incarnation's files are stale: every part is rebuilt from PostgreSQL.
        self._data_dir = settings.memory_data_path / f"shard-{index}"
        shutil.rmtree(self._data_dir, ignore_errors=True)
        telemetry.configure_from(settings, component="memory-shard")

    async def ready(self) -> int:
        """This shard's index, once the actor is constructed."""
        return self._index

    async def traced(
        self, method: str, trace: dict[str, str], part: TenantPart, *args: Any, **kwargs: Any
    ) -> Any:
        """``method`` on ``part``, as a span of the request that asked for it."""
        if method.startswith("_") or method == "traced":
            raise ValueError(f"not a shard operation: {method}")
        attributes = {"liftos.shard": self._index, "liftos.partition": part.partition}
        with telemetry.continue_trace(f"memory.shard.{method}", trace, attributes=attributes):
            result = await getattr(self, method)(part, *args, **kwargs)
        if method in _WRITES:
            parts = list(self._parts.values())
            metrics.memory_shard(
                self._index,
                memories=sum(len(p.records) for p in parts),
                index_bytes=sum(p.shard.index_bytes() for p in parts),
            )
        return result

    # -- plumbing ---------------------------------------------------------------------------

    async def _database(self) -> Database:
        async with self._db_lock:
            if self._db is None:
                if not self._settings.database_url:
                    raise RuntimeError("DATABASE_URL is not set for the memory shard")
                self._db = await Database.connect(
                    self._settings.database_url, min_size=1, max_size=4
                )
            return self._db

    async def _key(self, org_id: uuid.UUID) -> bytes:
        key = self._keys.get(org_id)
        if key is None:
            key = await repo.data_key(
                await self._database(),
                org_id=org_id,
                master_key=self._settings.memory_master_key_bytes,
            )
            self._keys[org_id] = key
        return key

    def _lock(self, part: TenantPart) -> asyncio.Lock:
        return self._locks.setdefault((part.org_id, part.partition), asyncio.Lock())

    async def _ensure(self, part: TenantPart, *, check: bool, sync: bool = False) -> _Part:
        """The loaded part (call with its lock held): loaded from PostgreSQL if needed, and
        compared with it now when ``sync``, or in the background when ``check`` and the last
        comparison is older than the sync interval."""
        slot = (part.org_id, part.partition)
        loaded = self._parts.get(slot)
        # Partition counts only grow (the replicas keep them in Redis), so a call with a smaller
        # count comes from a replica that has not seen a split yet: keep the split.
        if loaded is None or loaded.part.partitions < part.partitions:
            fresh = await self._load(part)
            if loaded is not None:
                fresh.deleted = loaded.deleted
                self._retire(loaded)
            self._parts[slot] = loaded = fresh
        elif sync:
            loaded = await self._reconcile(loaded)
        elif check:
            self._check_when_due(loaded)
        return loaded

    def _check_when_due(self, loaded: _Part) -> None:
        """Compare the part with PostgreSQL in the background once the sync interval has passed
        since the last comparison: off the request path, since the comparison is a query over
        the tenant's rows (tens of ms at 100k), and a write whose indexing call was lost is
        caught up on two comparisons later either way. A replica that knows a call failed asks
        with ``sync`` instead."""
        interval = self._settings.memory_sync_interval_seconds
        if not loaded.checking and time.monotonic() - loaded.checked_at >= interval:
            loaded.checking = True
            self._spawn(self._check(loaded))

    async def _check(self, loaded: _Part) -> None:
        """Compare a part with PostgreSQL without holding its lock; on a mismatch, catch up on
        the differences that persisted since the previous comparison."""
        slot = (loaded.part.org_id, loaded.part.partition)
        try:
            started = time.monotonic()
            db = await self._database()
            if await fetch_fingerprint(db, loaded.part) == loaded.fingerprint():
                loaded.checked_at = started
                loaded.suspects = set()
                return
            async with self._lock(loaded.part):
                if self._parts.get(slot) is loaded:  # not replaced by a reload meanwhile
                    await self._reconcile(loaded, confirm=True)
        except Exception:
            # The next search past the interval tries again; PostgreSQL stays the truth.
            log.exception("shard %d could not compare %s with PostgreSQL", self._index, slot)
        finally:
            loaded.checking = False

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _part(self, part: TenantPart, *, check: bool, sync: bool = False) -> _Part:
        """The part for a read. A loaded part is read without its lock: the lock is held by a
        write for as long as its batch takes to embed (a second for 500 memories), and the
        indexes take searches while they are written. A search that starts after a write was
        acknowledged still sees it, since a write is acknowledged only once indexed."""
        loaded = self._parts.get((part.org_id, part.partition))
        if loaded is not None and not sync and loaded.part.partitions >= part.partitions:
            if check:
                self._check_when_due(loaded)
            return loaded
        async with self._lock(part):
            return await self._ensure(part, check=check, sync=sync)

    async def _load(self, part: TenantPart) -> _Part:
        db = await self._database()
        key = await self._key(part.org_id)
        records: list[repo.MemoryRecord] = []
        after: int | None = None
        while True:
            page = await repo.list_memories(
                db, org_id=part.org_id, key=key, after_id=after, limit=LOAD_PAGE
            )
            records.extend(r for r in page if part.holds(r.id))
            if len(page) < LOAD_PAGE:
                break
            after = page[-1].id
        # A new directory per load: a search may still be reading the part this one replaces.
        directory = (
            self._data_dir
            / str(part.org_id)
            / f"p{part.partition}-of-{part.partitions}-{uuid.uuid4().hex[:8]}"
        )
        shard = await asyncio.to_thread(self._new_shard, directory)
        await asyncio.to_thread(shard.rebuild, [memory_item(r) for r in records])
        loaded = _Part(part=part, shard=shard, directory=directory)
        for record in records:
            loaded.put(record)
        loaded.checked_at = time.monotonic()
        log.info("shard %d loaded %d memories of %s", self._index, len(records), part)
        return loaded

    def _new_shard(self, directory: Path) -> MemoryShard:
        return MemoryShard(embedder=self._embedder, graph=KuzuGraph(directory / "graph.kuzu"))

    def _retire(self, old: _Part) -> None:
        """Close a replaced part once searches already running on it have had time to end."""

        async def close_later() -> None:
            await asyncio.sleep(RETIRE_AFTER_SECONDS)
            await asyncio.to_thread(old.shard.close)
            await asyncio.to_thread(shutil.rmtree, old.directory, True)

        self._spawn(close_later())

    async def _reconcile(self, loaded: _Part, *, confirm: bool = False) -> _Part:
        """Bring a part (its lock held) up to PostgreSQL; with ``confirm``, only on differences
        that the previous comparison saw too (see ``_Part.confirmed``)."""
        db = await self._database()
        started = time.monotonic()
        if await fetch_fingerprint(db, loaded.part) == loaded.fingerprint():
            loaded.checked_at = started
            loaded.suspects = set()
            return loaded
        live = await fetch_versions(db, loaded.part)
        gone = [i for i in loaded.records if i not in live]
        stale = [
            i for i, v in live.items() if (r := loaded.records.get(i)) is None or r.version != v
        ]
        if confirm:
            gone, stale = loaded.confirmed(gone, stale)
            if not gone and not stale:
                loaded.checked_at = started
                return loaded
        log.info(
            "shard %d catching up on %s: %d gone, %d new or changed",
            self._index,
            loaded.part,
            len(gone),
            len(stale),
        )
        if len(stale) > RECONCILE_ROW_LIMIT:
            fresh = await self._load(loaded.part)
            fresh.deleted = loaded.deleted | set(gone)
            self._retire(loaded)
            self._parts[(loaded.part.org_id, loaded.part.partition)] = fresh
            return fresh
        key = await self._key(loaded.part.org_id)
        fetched = []
        for memory_id in stale:
            record = await repo.get_memory(
                db, org_id=loaded.part.org_id, memory_id=memory_id, key=key
            )
            if record is not None:
                fetched.append(record)
        await self._forget(loaded, gone)
        await self._apply(loaded, fetched)
        loaded.checked_at = started
        return loaded

    async def _apply(self, loaded: _Part, records: Sequence[repo.MemoryRecord]) -> int:
        def wanted(record: repo.MemoryRecord) -> bool:
            if not loaded.part.holds(record.id) or record.id in loaded.deleted:
                return False
            known = loaded.records.get(record.id)
            return known is None or known.version < record.version

        fresh = [r for r in records if wanted(r)]
        if not fresh:
            return 0
        await asyncio.to_thread(loaded.shard.add, [memory_item(r) for r in fresh])
        for record in fresh:
            loaded.put(record)
        return len(fresh)

    async def _forget(self, loaded: _Part, ids: Sequence[int]) -> int:
        loaded.deleted.update(ids)
        present = [i for i in ids if loaded.drop(i)]
        if present:
            await asyncio.to_thread(loaded.shard.delete, present)
        return len(present)

    # -- writes (called after PostgreSQL has committed) --------------------------------------

    async def index(self, part: TenantPart, records: list[repo.MemoryRecord]) -> int:
        """Index new or updated records; older versions and deleted ids are ignored."""
        async with self._lock(part):
            loaded = await self._ensure(part, check=False)
            return await self._apply(loaded, records)

    async def remove(self, part: TenantPart, ids: list[int]) -> int:
        async with self._lock(part):
            loaded = await self._ensure(part, check=False)
            return await self._forget(loaded, ids)

    async def reload(self, part: TenantPart) -> int:
        """Drop the part's indexes and rebuild them from PostgreSQL; returns its size."""
        slot = (part.org_id, part.partition)
        async with self._lock(part):
            old = self._parts.get(slot)
            fresh = await self._load(part)
            if old is not None:
                fresh.deleted = old.deleted
                self._retire(old)
            self._parts[slot] = fresh
        return len(fresh.records)

    # -- reads ------------------------------------------------------------------------------

    async def search(
        self,
        part: TenantPart,
        query: str,
        *,
        mode: SearchMode,
        filters: SearchFilters,
        limit: int,
        sync: bool = False,
    ) -> list[ShardHit]:
        loaded = await self._part(part, check=True, sync=sync)
        hits = await asyncio.to_thread(
            loaded.shard.search, query, mode=mode, filters=filters, limit=limit
        )
        return [
            ShardHit(h.id, h.score, h.retrievers, dict(h.ranks), loaded.records[h.id])
            for h in hits
            if h.id in loaded.records
        ]

    async def entities(
        self, part: TenantPart, kind: str | None, limit: int
    ) -> list[tuple[Entity, int]]:
        loaded = await self._part(part, check=True)
        return await asyncio.to_thread(loaded.shard.entities, kind, limit)

    async def neighbors(
        self, part: TenantPart, entity: str, depth: int, limit: int
    ) -> list[tuple[Entity, int, int]]:
        loaded = await self._part(part, check=True)
        return await asyncio.to_thread(loaded.shard.neighbors, entity, depth, limit)

    async def clusters(self, part: TenantPart, count: int) -> list[Cluster]:
        loaded = await self._part(part, check=True)
        return await asyncio.to_thread(loaded.shard.clusters, count)

    async def stats(self, part: TenantPart) -> PartStats:
        loaded = await self._part(part, check=True)
        stats = await asyncio.to_thread(loaded.shard.stats)
        by_day = Counter((r.event_at or r.created_at).date() for r in loaded.records.values())
        return PartStats(
            memories=stats.memories,
            by_type=dict(stats.by_type),
            by_day=dict(by_day),
            dense_bytes=stats.dense_bytes,
            keyword_bytes=stats.keyword_bytes,
            graph_disk_bytes=stats.graph_disk_bytes,
            graph_entities=stats.graph_entities,
        )

    async def loaded_ids(self, part: TenantPart) -> list[int]:
        """Ids the part holds right now, without loading or syncing (for checks and tests)."""
        loaded = self._parts.get((part.org_id, part.partition))
        return sorted(loaded.records) if loaded is not None else []


def actor_options(settings: Settings, index: int) -> dict[str, Any]:
    """Ray options of shard ``index``: named and detached, so every replica finds the same
    actor and it outlives the replica that happened to create it."""
    return {
        "name": shard_name(index),
        "namespace": NAMESPACE,
        "get_if_exists": True,
        "lifetime": "detached",
        "num_cpus": settings.memory_shard_num_cpus,
        "max_restarts": settings.memory_shard_max_restarts,
        "max_task_retries": settings.memory_shard_max_task_retries,
    }
