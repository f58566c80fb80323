"""Routes of /api/v1/memory: records (PostgreSQL) and recall (the shards).

Writes go to PostgreSQL first, so a 201 means durable; indexing into the shards follows before
the answer, so a search right after a store finds it (unless a shard is down, in which case the
shard catches up from PostgreSQL). Reads of one memory never touch the shards.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response

from cluster.repositories import memory as repo
from cluster.repositories.billing import Metered
from deployments.billing import quotas
from deployments.common.errors import ApiError, Problem, not_found
from deployments.common.principal import Principal
from deployments.common.runtime import Runtime, TtlCache
from deployments.common.security import audited_read, require, runtime_of
from deployments.memory.layout import merge_by_score
from deployments.memory.placement import ShardPlacement
from deployments.memory.schemas import (
    AnalyticsOut,
    ClusterOut,
    ClustersOut,
    DayCount,
    DensityOut,
    EntitiesOut,
    EntityOut,
    FilterError,
    HistoryOut,
    MemoryOut,
    MemoryType,
    NeighborOut,
    NeighborsOut,
    QueryStatsOut,
    ReindexOut,
    SearchHitOut,
    SearchModeParam,
    SearchOut,
    StorageOut,
    StoreBatchRequest,
    StoredBatch,
    StoreRequest,
    UpdateRequest,
    VersionOut,
    as_utc,
    content_bytes,
    parse_filters,
)
from deployments.memory.shards import PartStats, ShardHit
from engine.auth.rbac import Permission
from memory.entities import Entity
from memory.shard import Cluster, SearchFilters

router = APIRouter(tags=["memory"])

MemoryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the memory's id")]
DATA_KEY_TTL_SECONDS = 300.0


def placement_of(app: FastAPI) -> ShardPlacement:
    """The app's shard placement (its actor handles are kept), made on first use."""
    state = app.state
    placement: ShardPlacement | None = getattr(state, "memory_placement", None)
    if placement is None:
        runtime: Runtime = state.runtime
        placement = ShardPlacement(runtime.settings, db=runtime.db, redis=runtime.redis)
        state.memory_placement = placement
    return placement


def _placement(request: Request) -> ShardPlacement:
    return placement_of(request.app)


async def _data_key(request: Request, org_id: uuid.UUID) -> bytes:
    state = request.app.state
    keys: TtlCache[uuid.UUID, bytes] | None = getattr(state, "memory_data_keys", None)
    if keys is None:
        keys = state.memory_data_keys = TtlCache(DATA_KEY_TTL_SECONDS)
    runtime = runtime_of(request)
    return await keys.get(
        org_id,
        lambda: repo.data_key(
            runtime.db, org_id=org_id, master_key=runtime.settings.memory_master_key_bytes
        ),
    )


def memory_out(record: repo.MemoryRecord) -> MemoryOut:
    return MemoryOut(
        id=record.id,
        version=record.version,
        memory_type=record.memory_type,
        content=record.content,
        metadata=record.metadata,
        event_at=record.event_at,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _check_sizes(runtime: Runtime, contents: Sequence[tuple[str, Any]]) -> None:
    """A 422 listing every ``(field, content)`` over the configured limit."""
    limit = runtime.settings.memory_max_content_bytes
    problems: list[Problem] = []
    for field, content in contents:
        size = content_bytes(content)
        if size > limit:
            problems.append((field, f"{size} bytes is more than the limit of {limit} bytes"))
    if problems:
        first, message = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ApiError(422, "validation_error", f"{first}: {message}{more}", errors=problems)


async def _memory_quota(runtime: Runtime, org_id: uuid.UUID, contents: Sequence[Any]) -> Metered:
    """The org's ``memory_bytes`` quota for a write of ``contents`` (the repository refuses,
    with a 402, a write that would take the stored bytes past it)."""
    size = sum(content_bytes(c) for c in contents)
    return await quotas.metered(runtime, org_id=org_id, meter="memory_bytes", quantity=size)


def _new_memory(item: StoreRequest) -> repo.NewMemory:
    return repo.NewMemory(
        memory_type=item.memory_type,
        content=item.content,
        metadata=item.metadata,
        event_at=item.event_at,
    )


# -- records -----------------------------------------------------------------------------------


@router.post("/store", status_code=201, response_model=MemoryOut)
async def store(
    body: StoreRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.MEMORY_WRITE)),
) -> MemoryOut:
    runtime = runtime_of(request)
    _check_sizes(runtime, [("content", body.content)])
    key = await _data_key(request, principal.org_id)
    [record] = await repo.store_memories(
        runtime.db,
        org_id=principal.org_id,
        items=[_new_memory(body)],
        key=key,
        quota=await _memory_quota(runtime, principal.org_id, [body.content]),
    )
    await _placement(request).index(principal.org_id, [record])
    return memory_out(record)


@router.post("/store/batch", status_code=201, response_model=StoredBatch)
async def store_batch(
    body: StoreBatchRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.MEMORY_WRITE)),
) -> StoredBatch:
    runtime = runtime_of(request)
    _check_sizes(
        runtime, [(f"items[{i}].content", item.content) for i, item in enumerate(body.items)]
    )
    key = await _data_key(request, principal.org_id)
    records = await repo.store_memories(
        runtime.db,
        org_id=principal.org_id,
        items=[_new_memory(item) for item in body.items],
        key=key,
        quota=await _memory_quota(runtime, principal.org_id, [i.content for i in body.items]),
    )
    await _placement(request).index(principal.org_id, records)
    return StoredBatch(ids=[r.id for r in records])


# -- recall (declared before /{memory_id} so that its paths are not read as ids) ------------


@router.get("/search", response_model=SearchOut, dependencies=[Depends(audited_read)])
async def search(
    request: Request,
    query: Annotated[str, Query(min_length=1, max_length=2000)],
    mode: SearchModeParam = "hybrid",
    memory_type: Annotated[MemoryType | None, Query()] = None,
    since: Annotated[datetime | None, Query(description="inclusive, on the event date")] = None,
    until: Annotated[datetime | None, Query(description="exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    filters: Annotated[
        list[str],
        Query(
            alias="filter",
            description="metadata equality, `key:value`; the value is JSON if it parses",
        ),
    ] = [],  # noqa: B006  # FastAPI copies query defaults per request
    principal: Principal = Depends(require(Permission.MEMORY_READ)),
) -> SearchOut:
    if not query.strip():
        raise ApiError(422, "validation_error", "query: must not be blank", field="query")
    try:
        metadata = parse_filters(filters)
    except FilterError as exc:
        raise ApiError(422, "validation_error", f"filter: {exc}", field="filter") from exc
    search_filters = SearchFilters(
        memory_type=memory_type,
        metadata=metadata,
        since=as_utc(since),
        until=as_utc(until),
    )
    placement = _placement(request)
    started = time.perf_counter()
    answers = await placement.search(
        principal.org_id, query=query, mode=mode, filters=search_filters, limit=limit
    )
    hits: list[ShardHit] = merge_by_score(answers, limit, lambda hit: hit.score)
    took_ms = (time.perf_counter() - started) * 1000
    runtime_of(request).spawn(
        placement.record_query(principal.org_id, took_ms), what="memory query statistics"
    )
    return SearchOut(
        hits=[
            SearchHitOut(
                id=hit.id,
                score=hit.score,
                retrievers=list(hit.retrievers),
                ranks=hit.ranks,
                memory=memory_out(hit.record),
            )
            for hit in hits
        ],
        mode=mode,
        took_ms=round(took_ms, 3),
    )


@router.get("/graph/entities", response_model=EntitiesOut)
async def graph_entities(
    request: Request,
    kind: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    principal: Principal = Depends(require(Permission.MEMORY_READ)),
) -> EntitiesOut:
    answers: list[list[tuple[Entity, int]]] = await _placement(request).read_all(
        principal.org_id, "entities", kind, limit
    )
    # Parts of one tenant may label an entity differently; its (name, kind) is what links.
    mentions: Counter[tuple[str, str]] = Counter()
    labels: dict[tuple[str, str], str] = {}
    for answer in answers:
        for entity, count in answer:
            mentions[(entity.name, entity.kind)] += count
            labels.setdefault((entity.name, entity.kind), entity.label)
    ranked = sorted(mentions.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return EntitiesOut(
        entities=[
            EntityOut(name=name, kind=kind, label=labels[(name, kind)], mentions=n)
            for (name, kind), n in ranked
        ]
    )


@router.get("/graph/neighbors", response_model=NeighborsOut)
async def graph_neighbors(
    request: Request,
    entity: Annotated[str, Query(min_length=1, max_length=200)],
    depth: Annotated[int, Query(ge=1, le=3)] = 1,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    principal: Principal = Depends(require(Permission.MEMORY_READ)),
) -> NeighborsOut:
    answers: list[list[tuple[Entity, int, int]]] = await _placement(request).read_all(
        principal.org_id, "neighbors", entity, depth, limit
    )
    # Across parts: the nearest distance at which an entity is reached, and its links there.
    best: dict[tuple[str, str], tuple[int, int]] = {}
    labels: dict[tuple[str, str], str] = {}
    for answer in answers:
        for found, distance, weight in answer:
            key = (found.name, found.kind)
            labels.setdefault(key, found.label)
            known = best.get(key)
            if known is None or distance < known[0]:
                best[key] = (distance, weight)
            elif distance == known[0]:
                best[key] = (distance, known[1] + weight)
    ranked = sorted(best.items(), key=lambda item: (item[1][0], -item[1][1], item[0]))
    return NeighborsOut(
        entity=entity,
        neighbors=[
            NeighborOut(name=name, kind=kind, label=labels[(name, kind)], distance=d, weight=w)
            for (name, kind), (d, w) in ranked[:limit]
        ],
    )


@router.get("/clusters", response_model=ClustersOut)
async def clusters(
    request: Request,
    count: Annotated[int, Query(ge=1, le=50)] = 8,
    principal: Principal = Depends(require(Permission.MEMORY_READ)),
) -> ClustersOut:
    # A tenant split over several parts gets each part's clusters (k-means runs per part).
    answers: list[list[Cluster]] = await _placement(request).read_all(
        principal.org_id, "clusters", count
    )
    found = sorted((c for answer in answers for c in answer), key=lambda c: (-c.size, c.label))
    return ClustersOut(
        clusters=[
            ClusterOut(
                label=c.label, terms=list(c.terms), size=c.size, memory_ids=list(c.memory_ids)
            )
            for c in found[:count]
        ]
    )


@router.get("/analytics", response_model=AnalyticsOut)
async def analytics(
    request: Request,
    principal: Principal = Depends(require(Permission.MEMORY_READ)),
) -> AnalyticsOut:
    placement = _placement(request)
    parts: list[PartStats] = await placement.read_all(principal.org_id, "stats")
    total, latencies = await placement.query_stats(principal.org_id)
    by_type: Counter[str] = Counter()
    by_day: Counter[Any] = Counter()
    for part in parts:
        by_type.update(part.by_type)
        by_day.update(part.by_day)
    memories = sum(p.memories for p in parts)
    storage = StorageOut(
        dense_bytes=sum(p.dense_bytes for p in parts),
        keyword_bytes=sum(p.keyword_bytes for p in parts),
        graph_disk_bytes=sum(p.graph_disk_bytes for p in parts),
        total_bytes=sum(p.dense_bytes + p.keyword_bytes + p.graph_disk_bytes for p in parts),
    )
    entities = sum(p.graph_entities for p in parts)
    return AnalyticsOut(
        memories=memories,
        by_type=dict(sorted(by_type.items())),
        by_day=[DayCount(day=day, count=n) for day, n in sorted(by_day.items())],
        storage=storage,
        density=DensityOut(
            memories_per_active_day=round(memories / len(by_day), 3) if by_day else 0.0,
            entities_per_memory=round(entities / memories, 3) if memories else 0.0,
        ),
        queries=QueryStatsOut(
            total=total,
            window=len(latencies),
            p50_ms=_percentile(latencies, 50),
            p95_ms=_percentile(latencies, 95),
        ),
        partitions=len(parts),
    )


def _percentile(values: list[float], percent: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[percent - 1], 3)


@router.post("/reindex", response_model=ReindexOut)
async def reindex(
    request: Request,
    principal: Principal = Depends(require(Permission.MEMORY_WRITE)),
) -> ReindexOut:
    """Rebuild the tenant's indexes from PostgreSQL (they are derived data)."""
    sizes: list[int] = await _placement(request).read_all(principal.org_id, "reload")
    return ReindexOut(memories=sum(sizes), partitions=len(sizes))


# -- one memory ------------------------------------------------------------------------------


@router.get("/{memory_id}", response_model=MemoryOut, dependencies=[Depends(audited_read)])
async def get_memory(
    memory_id: MemoryId,
    request: Request,
    principal: Principal = Depends(require(Permission.MEMORY_READ)),
) -> MemoryOut:
    key = await _data_key(request, principal.org_id)
    record = await repo.get_memory(
        runtime_of(request).db, org_id=principal.org_id, memory_id=memory_id, key=key
    )
    if record is None:
        raise not_found("memory")
    return memory_out(record)


@router.put("/{memory_id}", response_model=MemoryOut)
async def update_memory(
    memory_id: MemoryId,
    body: UpdateRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.MEMORY_WRITE)),
) -> MemoryOut:
    runtime = runtime_of(request)
    if body.content is not None:
        _check_sizes(runtime, [("content", body.content)])
    key = await _data_key(request, principal.org_id)
    record = await repo.update_memory(
        runtime.db,
        org_id=principal.org_id,
        memory_id=memory_id,
        key=key,
        content=body.content,
        metadata=body.metadata,
        event_at=body.event_at,
        quota=await _memory_quota(
            runtime, principal.org_id, [] if body.content is None else [body.content]
        ),
    )
    if record is None:
        raise not_found("memory")
    await _placement(request).index(principal.org_id, [record])
    return memory_out(record)


@router.delete("/{memory_id}", status_code=204, response_class=Response)
async def delete_memory(
    memory_id: MemoryId,
    request: Request,
    principal: Principal = Depends(require(Permission.MEMORY_WRITE)),
) -> Response:
    deleted = await repo.delete_memory(
        runtime_of(request).db, org_id=principal.org_id, memory_id=memory_id
    )
    if not deleted:
        raise not_found("memory")
    await _placement(request).remove(principal.org_id, memory_id)
    return Response(status_code=204)


@router.get("/{memory_id}/history", response_model=HistoryOut, dependencies=[Depends(audited_read)])
async def history(
    memory_id: MemoryId,
    request: Request,
    principal: Principal = Depends(require(Permission.MEMORY_READ)),
) -> HistoryOut:
    key = await _data_key(request, principal.org_id)
    versions = await repo.memory_history(
        runtime_of(request).db, org_id=principal.org_id, memory_id=memory_id, key=key
    )
    if not versions:
        raise not_found("memory")
    return HistoryOut(
        id=memory_id,
        versions=[
            VersionOut(
                version=v.version, content=v.content, metadata=v.metadata, created_at=v.created_at
            )
            for v in versions
        ],
    )
