"""The memory module through HTTP on the session Ray cluster: records in PostgreSQL, recall in
the shard actors; tenant isolation, 422s naming the field, RBAC, and recovery from PostgreSQL
after a shard dies or misses writes."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from cluster.repositories import memory as repo
from cluster.state import Database, connect_redis
from deployments.memory.layout import NAMESPACE, TenantPart, shard_index, shard_name
from tests.integration.conftest import Stack, Tenant, add_user, signup

pytestmark = pytest.mark.integration

BASE = "/api/v1/memory"
MODES = ("hybrid", "dense", "keyword", "graph")
CORPUS = [
    ("fact", "The Summer Sale campaign on TikTok doubled ROAS in June", {"source": "mmm"}),
    ("note", "Olive Martin moved budget from Meta to Google Ads in 2024-Q1", {"source": "chat"}),
    ("insight", "Email newsletters convert best on Tuesday mornings", {"source": "chat"}),
    ("preference", "The CFO wants the weekly report as a PDF attachment", {"priority": 2}),
    ("fact", {"channel": "Pinterest", "finding": "home decor pins drive cheap reach"}, {}),
]


@pytest.fixture(scope="module")
def http(stack: Stack) -> Iterator[httpx.Client]:
    # The first call of a tenant on a shard may start the actor and load MiniLM.
    with httpx.Client(base_url=stack.base_url, timeout=240) as client:
        yield client


@pytest.fixture(scope="module")
def seeded(http: httpx.Client) -> dict[str, Any]:
    """One tenant with the small corpus, shared by the read-only tests."""
    tenant = signup(http, prefix="memory")
    ids = []
    for memory_type, content, metadata in CORPUS:
        response = http.post(
            f"{BASE}/store",
            headers=tenant.auth,
            json={"memory_type": memory_type, "content": content, "metadata": metadata},
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return {"tenant": tenant, "ids": ids}


@pytest.fixture(scope="module")
async def db(stack: Stack) -> AsyncIterator[Database]:
    database = await Database.connect(stack.urls.database_url, min_size=1, max_size=2)
    try:
        yield database
    finally:
        await database.close()


def store(http: httpx.Client, tenant: Tenant, content: Any, **extra: Any) -> dict[str, Any]:
    body = {"memory_type": extra.pop("memory_type", "note"), "content": content, **extra}
    response = http.post(f"{BASE}/store", headers=tenant.auth, json=body)
    assert response.status_code == 201, response.text
    stored: dict[str, Any] = response.json()
    return stored


def search(http: httpx.Client, tenant: Tenant, query: str, **params: Any) -> list[dict[str, Any]]:
    response = http.get(f"{BASE}/search", headers=tenant.auth, params={"query": query, **params})
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()["hits"]
    return hits


def hit_ids(hits: list[dict[str, Any]]) -> list[int]:
    return [hit["id"] for hit in hits]


def eventually(check: Any, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_store_get_update_history_delete(http: httpx.Client, tenant: Tenant) -> None:
    stored = store(
        http, tenant, {"kpi": "revenue", "lift": 0.12}, metadata={"run": 7}, event_at="2024-05-01"
    )
    assert stored["version"] == 1
    assert stored["content"] == {"kpi": "revenue", "lift": 0.12}
    assert stored["event_at"].startswith("2024-05-01T00:00:00")
    url = f"{BASE}/{stored['id']}"
    assert http.get(url, headers=tenant.auth).json() == stored

    updated = http.put(url, headers=tenant.auth, json={"content": "lift was 15% after all"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2
    assert updated.json()["metadata"] == {"run": 7}  # untouched fields stay
    history = http.get(f"{url}/history", headers=tenant.auth).json()
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert history["versions"][0]["content"] == {"kpi": "revenue", "lift": 0.12}
    assert history["versions"][1]["content"] == "lift was 15% after all"

    assert http.delete(url, headers=tenant.auth).status_code == 204
    for response in (
        http.get(url, headers=tenant.auth),
        http.get(f"{url}/history", headers=tenant.auth),
        http.delete(url, headers=tenant.auth),
        http.put(url, headers=tenant.auth, json={"metadata": {}}),
    ):
        assert response.status_code == 404, response.text


@pytest.mark.parametrize(
    ("mode", "query", "target"),
    [
        ("keyword", "newsletters Tuesday", 2),
        ("dense", "which emails get the most conversions", 2),
        ("graph", "what happened on TikTok", 0),
        ("hybrid", "Pinterest home decor", 4),
    ],
)
def test_each_mode_finds_the_memory(
    http: httpx.Client, seeded: dict[str, Any], mode: str, query: str, target: int
) -> None:
    response = http.get(
        f"{BASE}/search",
        headers=seeded["tenant"].auth,
        params={"query": query, "mode": mode, "limit": 3},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == mode
    top = body["hits"][0]
    assert top["id"] == seeded["ids"][target]
    assert top["memory"]["content"] == CORPUS[target][1]
    assert mode == "hybrid" or top["retrievers"] == [mode]
    assert body["took_ms"] >= 0


def test_filters_narrow_the_search(http: httpx.Client, seeded: dict[str, Any]) -> None:
    tenant, ids = seeded["tenant"], seeded["ids"]
    by_type = search(http, tenant, "marketing", memory_type="fact", limit=10)
    assert set(hit_ids(by_type)) == {ids[0], ids[4]}
    by_metadata = search(http, tenant, "marketing", filter="source:chat", limit=10)
    assert set(hit_ids(by_metadata)) == {ids[1], ids[2]}
    numeric = search(http, tenant, "report", filter="priority:2", limit=10)
    assert hit_ids(numeric) == [ids[3]]
    assert search(http, tenant, "report", filter='priority:"2"') == []
    assert search(http, tenant, "report", until="2000-01-01T00:00:00Z") == []
    assert len(search(http, tenant, "report", since="2000-01-01", limit=10)) == len(ids)


def test_deleted_memories_vanish_from_every_mode(http: httpx.Client, tenant: Tenant) -> None:
    keep = store(http, tenant, "Snapchat lenses lifted awareness among students")
    gone = store(http, tenant, "Snapchat stories lifted awareness among students in Berlin")
    for mode in MODES:
        assert gone["id"] in hit_ids(search(http, tenant, "Snapchat awareness", mode=mode))
    assert http.delete(f"{BASE}/{gone['id']}", headers=tenant.auth).status_code == 204
    for mode in MODES:
        found = hit_ids(search(http, tenant, "Snapchat awareness", mode=mode))
        assert gone["id"] not in found, mode
        assert keep["id"] in found, mode


def test_updates_are_searchable_at_once(http: httpx.Client, tenant: Tenant) -> None:
    stored = store(http, tenant, "Radio ads were paused")
    http.put(f"{BASE}/{stored['id']}", headers=tenant.auth, json={"content": "Podcast sponsorship"})
    assert hit_ids(search(http, tenant, "podcast sponsorship", mode="keyword")) == [stored["id"]]
    assert search(http, tenant, "radio paused", mode="keyword") == []


def test_tenants_never_see_each_other(
    http: httpx.Client, seeded: dict[str, Any], other_tenant: Tenant
) -> None:
    for mode in MODES:
        assert search(http, other_tenant, "TikTok Summer Sale ROAS", mode=mode) == []
    mine = store(http, other_tenant, "TikTok Summer Sale ROAS was flat for us")
    for mode in MODES:
        assert hit_ids(search(http, other_tenant, "TikTok Summer Sale ROAS", mode=mode)) == [
            mine["id"]
        ]
    theirs = f"{BASE}/{seeded['ids'][0]}"
    auth = other_tenant.auth
    assert http.get(theirs, headers=auth).status_code == 404
    assert http.get(f"{theirs}/history", headers=auth).status_code == 404
    assert http.put(theirs, headers=auth, json={"content": "mine now"}).status_code == 404
    assert http.delete(theirs, headers=auth).status_code == 404
    owner = seeded["tenant"].auth
    assert http.get(theirs, headers=owner).json()["content"] == CORPUS[0][1]


@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [
        ("post", "/store", {"memory_type": "Gossip", "content": "x"}, "memory_type"),
        ("post", "/store", {"memory_type": "causal-analysis", "content": "x"}, "memory_type"),
        ("post", "/store", {"memory_type": "x" * 65, "content": "x"}, "memory_type"),
        ("post", "/store", {"memory_type": "note", "content": ""}, "content"),
        ("post", "/store", {"memory_type": "note", "content": "x" * 40_000}, "content"),
        ("post", "/store", {"memory_type": "note", "content": 5}, "content"),
        ("post", "/store", {"memory_type": "note", "content": "x", "extra": 1}, "extra"),
        (
            "post",
            "/store/batch",
            {"items": [{"memory_type": "note", "content": "ok"}, {"memory_type": "note"}]},
            "items[1].content",
        ),
        (
            "post",
            "/store/batch",
            {"items": [{"memory_type": "note", "content": "y" * 40_000}]},
            "items[0].content",
        ),
        ("post", "/store/batch", {"items": []}, "items"),
        ("get", "/search", {"query": "x", "filter": "nocolon"}, "filter"),
        ("get", "/search", {"query": "x", "filter": 'k:{"a":1}'}, "filter"),
        ("get", "/search", {"query": "x", "mode": "fuzzy"}, "mode"),
        ("get", "/search", {"query": "x", "limit": 51}, "limit"),
        ("get", "/search", {"query": "x", "memory_type": "9lives"}, "memory_type"),
        ("get", "/search", {"query": "x", "since": "yesterday"}, "since"),
        ("get", "/search", {}, "query"),
        ("get", "/graph/neighbors", {"entity": "tiktok", "depth": 4}, "depth"),
    ],
)
def test_bad_requests_are_422s_naming_the_field(
    http: httpx.Client, tenant: Tenant, method: str, path: str, payload: Any, field: str
) -> None:
    if method == "post":
        response = http.post(f"{BASE}{path}", headers=tenant.auth, json=payload)
    else:
        response = http.get(f"{BASE}{path}", headers=tenant.auth, params=payload)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert error["errors"][0]["field"] == field


def test_a_422_lists_every_problem(http: httpx.Client, tenant: Tenant) -> None:
    items = [
        {"memory_type": "Bad Type", "content": "ok"},
        {"memory_type": "note"},
        {"memory_type": "note", "content": "x", "extra": 1},
    ]
    response = http.post(f"{BASE}/store/batch", headers=tenant.auth, json={"items": items})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "items[0].memory_type"
    assert [e["field"] for e in error["errors"]] == [
        "items[0].memory_type",
        "items[1].content",
        "items[2].extra",
    ]
    # Over the configured size limit (checked by the route, not the schema): every item named.
    big = [{"memory_type": "note", "content": c * 40_000} for c in ("a", "b", "c")]
    big[1]["content"] = "small"
    response = http.post(f"{BASE}/store/batch", headers=tenant.auth, json={"items": big})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert [e["field"] for e in error["errors"]] == ["items[0].content", "items[2].content"]
    assert "bytes is more than the limit" in error["errors"][1]["message"]


def test_memory_types_are_open(http: httpx.Client, tenant: Tenant) -> None:
    audit = store(
        http, tenant, "PDP of the blue kettle lacks a size chart", memory_type="surfacing_audit"
    )
    insight = store(
        http, tenant, "Black Friday week lifts kettle sales", memory_type="calendar_insight"
    )
    store(http, tenant, "The kettle supplier changed in May")
    assert audit["memory_type"] == "surfacing_audit"
    found = search(http, tenant, "kettle", memory_type="surfacing_audit", limit=10)
    assert hit_ids(found) == [audit["id"]]
    assert hit_ids(search(http, tenant, "kettle", memory_type="calendar_insight")) == [
        insight["id"]
    ]
    assert search(http, tenant, "kettle", memory_type="never_stored") == []
    stats = http.get(f"{BASE}/analytics", headers=tenant.auth).json()
    assert stats["by_type"] == {"calendar_insight": 1, "note": 1, "surfacing_audit": 1}


def test_viewer_reads_but_cannot_write(
    http: httpx.Client, client: httpx.Client, seeded: dict[str, Any]
) -> None:
    viewer = add_user(client, seeded["tenant"], "viewer")
    denied = http.post(
        f"{BASE}/store", headers=viewer.auth, json={"memory_type": "note", "content": "x"}
    )
    assert denied.status_code == 403, denied.text
    memory_id = seeded["ids"][1]
    assert http.delete(f"{BASE}/{memory_id}", headers=viewer.auth).status_code == 403
    assert http.post(f"{BASE}/reindex", headers=viewer.auth).status_code == 403
    assert http.get(f"{BASE}/{memory_id}", headers=viewer.auth).status_code == 200
    assert search(http, seeded["tenant"], "Olive Martin budget", mode="graph")  # owner
    viewer_search = http.get(
        f"{BASE}/search", headers=viewer.auth, params={"query": "Olive Martin budget"}
    )
    assert viewer_search.status_code == 200
    assert http.get(f"{BASE}/search", params={"query": "x"}).status_code == 401


def test_batch_store_graph_clusters_and_analytics(http: httpx.Client, tenant: Tenant) -> None:
    items = [
        {"memory_type": "fact", "content": f"TikTok creative {i} lifted ROAS", "metadata": {}}
        for i in range(4)
    ] + [
        {"memory_type": "insight", "content": f"Google Ads search term {i} wasted spend"}
        for i in range(3)
    ]
    response = http.post(f"{BASE}/store/batch", headers=tenant.auth, json={"items": items})
    assert response.status_code == 201, response.text
    ids = response.json()["ids"]
    assert len(ids) == 7
    assert ids == sorted(ids)

    entities = http.get(f"{BASE}/graph/entities", headers=tenant.auth).json()["entities"]
    mentions = {(e["name"], e["kind"]): e["mentions"] for e in entities}
    assert mentions[("tiktok", "channel")] == 4
    assert mentions[("google ads", "channel")] == 3
    neighbors = http.get(
        f"{BASE}/graph/neighbors", headers=tenant.auth, params={"entity": "TikTok"}
    ).json()["neighbors"]
    assert "roas" in {n["name"] for n in neighbors}
    assert "google ads" not in {n["name"] for n in neighbors}

    clusters = http.get(f"{BASE}/clusters", headers=tenant.auth, params={"count": 2}).json()
    assert sorted(c["size"] for c in clusters["clusters"]) == [3, 4]

    search(http, tenant, "TikTok")
    search(http, tenant, "Google Ads")
    stats = http.get(f"{BASE}/analytics", headers=tenant.auth).json()
    assert stats["memories"] == 7
    assert stats["by_type"] == {"fact": 4, "insight": 3}
    assert sum(day["count"] for day in stats["by_day"]) == 7
    assert stats["storage"]["dense_bytes"] > 0
    assert stats["storage"]["total_bytes"] >= stats["storage"]["dense_bytes"]
    assert stats["density"]["entities_per_memory"] > 0
    assert stats["partitions"] == 1
    # Query statistics are recorded off the request path.
    counted = eventually(
        lambda: http.get(f"{BASE}/analytics", headers=tenant.auth).json()["queries"]["total"] >= 2
    )
    assert counted
    queries = http.get(f"{BASE}/analytics", headers=tenant.auth).json()["queries"]
    assert queries["p50_ms"] is not None
    assert queries["p95_ms"] >= queries["p50_ms"]


def _answers(http: httpx.Client, tenant: Tenant, queries: list[str]) -> list[list[Any]]:
    return [
        [(h["id"], h["ranks"]) for h in search(http, tenant, q, mode=mode, limit=10)]
        for q in queries
        for mode in MODES
    ]


QUERIES = ["TikTok ROAS", "who moved budget to Google Ads", "weekly report", "Pinterest"]


def test_reindex_from_postgres_matches_the_live_index(http: httpx.Client, tenant: Tenant) -> None:
    ids = [store(http, tenant, content, metadata=meta)["id"] for _, content, meta in CORPUS]
    # Live changes the rebuild must reproduce: an update and a delete.
    http.put(f"{BASE}/{ids[0]}", headers=tenant.auth, json={"content": "TikTok ROAS fell"})
    http.delete(f"{BASE}/{ids[3]}", headers=tenant.auth)
    live = _answers(http, tenant, QUERIES)
    assert any(live)
    response = http.post(f"{BASE}/reindex", headers=tenant.auth)
    assert response.status_code == 200, response.text
    assert response.json() == {"memories": 4, "partitions": 1}
    assert _answers(http, tenant, QUERIES) == live


def test_a_killed_shard_restarts_and_serves_the_same_results(
    http: httpx.Client, stack: Stack
) -> None:
    import ray

    tenant = signup(http, prefix="memkill")
    for _, content, meta in CORPUS:
        store(http, tenant, content, metadata=meta)
    before = _answers(http, tenant, QUERIES)
    index = shard_index(uuid.UUID(tenant.org_id), 0, stack.settings.memory_shard_count)
    actor = ray.get_actor(shard_name(index), namespace=NAMESPACE)
    ray.kill(actor, no_restart=False)
    part = TenantPart(uuid.UUID(tenant.org_id))
    # ray.kill returns before the actor is gone, so the old incarnation may still answer a call
    # or two. A new one (Ray restarted it) holds nothing until asked to search.
    assert eventually(
        lambda: ray.get(actor.loaded_ids.remote(part), timeout=120) == [], timeout_s=60
    )
    # The restarted actor has no indexes: it rebuilds the tenant from PostgreSQL on demand.
    assert _answers(http, tenant, QUERIES) == before


async def test_a_shard_catches_up_on_writes_it_never_saw(
    http: httpx.Client, stack: Stack, db: Database
) -> None:
    tenant = signup(http, prefix="memsync")
    seen = store(http, tenant, "Outdoor billboards near stadiums raised branded search")
    org_id = uuid.UUID(tenant.org_id)
    key = await repo.data_key(db, org_id=org_id, master_key=stack.settings.memory_master_key_bytes)
    # Written to PostgreSQL behind the service's back: the shard gets no indexing call.
    [unseen] = await repo.store_memories(
        db,
        org_id=org_id,
        items=[repo.NewMemory("note", "Billboards by the airport raised branded search too")],
        key=key,
    )
    assert await repo.delete_memory(db, org_id=org_id, memory_id=seen["id"])

    def caught_up() -> bool:
        return hit_ids(search(http, tenant, "billboards branded search", mode="keyword")) == [
            unseen.id
        ]

    assert eventually(caught_up, timeout_s=stack.settings.memory_sync_interval_seconds + 20)


async def test_a_large_tenant_is_split_over_partitions(
    http: httpx.Client, stack: Stack, db: Database
) -> None:
    import ray

    from deployments.memory.placement import ShardPlacement

    tenant = signup(http, prefix="memsplit")
    org_id = uuid.UUID(tenant.org_id)
    key = await repo.data_key(db, org_id=org_id, master_key=stack.settings.memory_master_key_bytes)
    records = await repo.store_memories(
        db,
        org_id=org_id,
        items=[repo.NewMemory("note", f"weekly spend review number {i}") for i in range(24)]
        + [repo.NewMemory("fact", "Quokka mascots charmed the focus group")],
        key=key,
    )
    # A replica's placement with a tiny per-shard limit: 25 memories need 4 partitions of 10.
    settings = stack.settings.model_copy(update={"memory_shard_max_memories": 10})
    redis = connect_redis(stack.urls.redis_url)
    try:
        placement = ShardPlacement(settings, db=db, redis=redis)
        await placement.index(org_id, records)
        parts = await placement.parts(org_id)
        assert len(parts) == 4
        for part in parts:
            index = shard_index(org_id, part.partition, settings.memory_shard_count)
            actor = ray.get_actor(shard_name(index), namespace=NAMESPACE)
            held = await actor.loaded_ids.remote(part)
            assert held == sorted(r.id for r in records if r.id % 4 == part.partition)
    finally:
        await redis.aclose()
    # The service reads the partition count from Redis: it fans out over all four.
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=240) as client:
        stats = (await client.get(f"{BASE}/analytics", headers=tenant.auth)).json()
        assert stats["partitions"] == 4
        assert stats["memories"] == 25

        async def keyword_hits(query: str, limit: int) -> list[int]:
            response = await client.get(
                f"{BASE}/search",
                headers=tenant.auth,
                params={"query": query, "mode": "keyword", "limit": limit},
            )
            assert response.status_code == 200, response.text
            return hit_ids(response.json()["hits"])

        assert await keyword_hits("quokka mascots", 5) == [records[-1].id]
        assert len(await keyword_hits("weekly spend review", 30)) == 24


# -- the same API at /memory (the product description's paths) ----------------------------

SEED_CONTENT = {
    "attribution_results": {
        "facebook": {"incremental_roas": 1.4, "platform_roas": 3.2},
        "google": {"incremental_roas": 2.1, "platform_roas": 2.6},
    },
    "calendar_insights": {"peak": "Black Friday week", "weekday_effect": "Tuesday +8%"},
    "optimization_recommendations": {"move_budget": "facebook attribution Q1 2024 overstated"},
}


def test_product_description_memory_example_works_at_memory(
    http: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    seed = {
        "memory_type": "causal_analysis",
        "content": SEED_CONTENT,
        "metadata": {
            "org_id": "org_123",
            "analysis_date": "2024-01-15",
            "channels": ["facebook", "google"],
        },
    }
    stored = http.post("/memory/store", headers=tenant.auth, json=seed)
    assert stored.status_code == 201, stored.text
    memory = stored.json()
    assert memory["content"] == SEED_CONTENT
    # metadata.org_id is the caller's own label: stored as given, never the tenant.
    assert memory["metadata"] == seed["metadata"]
    store(http, tenant, "facebook attribution notes from the Q1 2024 offsite")  # a note

    # As written: the query in quotes, filtered to the type.
    response = http.get(
        '/memory/search?query="facebook attribution Q1 2024"&memory_type=causal_analysis',
        headers=tenant.auth,
    )
    assert response.status_code == 200, response.text
    assert hit_ids(response.json()["hits"]) == [memory["id"]]
    # One service behind two paths: what /memory stored, /api/v1/memory reads, and back.
    assert http.get(f"{BASE}/{memory['id']}", headers=tenant.auth).json() == memory
    assert http.get(f"/memory/{memory['id']}", headers=tenant.auth).json() == memory
    assert http.get(f"/memory/{memory['id']}", headers=other_tenant.auth).status_code == 404
    assert http.get("/memory/search", params={"query": "facebook"}).status_code == 401


def test_metadata_org_id_never_writes_into_another_tenant(
    http: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    body = {
        "memory_type": "note",
        "content": "Zeppelin banners over the stadium raised recall",
        "metadata": {"org_id": other_tenant.org_id},
    }
    stored = http.post("/memory/store", headers=tenant.auth, json=body)
    assert stored.status_code == 201, stored.text
    memory_id = stored.json()["id"]
    for mode in MODES:
        assert search(http, other_tenant, "Zeppelin banners stadium", mode=mode) == []
    assert http.get(f"/memory/{memory_id}", headers=other_tenant.auth).status_code == 404
    assert hit_ids(search(http, tenant, "Zeppelin banners stadium", mode="keyword")) == [memory_id]
    # A top-level org_id is not a field at all: a 422 rather than a silent write elsewhere.
    refused = http.post(
        "/memory/store",
        headers=tenant.auth,
        json={"memory_type": "note", "content": "x", "org_id": other_tenant.org_id},
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "org_id"


def test_every_memory_route_answers_at_memory(http: httpx.Client, tenant: Tenant) -> None:
    auth = tenant.auth
    batch = http.post(
        "/memory/store/batch",
        headers=auth,
        json={
            "items": [
                {"memory_type": "fact", "content": f"Pinterest pin {i} drove reach"}
                for i in range(3)
            ]
        },
    )
    assert batch.status_code == 201, batch.text
    first = batch.json()["ids"][0]
    updated = http.put(f"/memory/{first}", headers=auth, json={"content": "Pinterest pin paused"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2
    history = http.get(f"/memory/{first}/history", headers=auth)
    assert [v["version"] for v in history.json()["versions"]] == [1, 2]
    for path, params in (
        ("/memory/graph/entities", {}),
        ("/memory/graph/neighbors", {"entity": "Pinterest"}),
        ("/memory/clusters", {"count": 2}),
        ("/memory/analytics", {}),
    ):
        response = http.get(path, headers=auth, params=params)
        assert response.status_code == 200, (path, response.text)
    assert http.get("/memory/analytics", headers=auth).json()["memories"] == 3
    assert http.post("/memory/reindex", headers=auth).json()["memories"] == 3
    assert http.delete(f"/memory/{first}", headers=auth).status_code == 204
    assert http.get(f"{BASE}/{first}", headers=auth).status_code == 404
    bad = http.post("/memory/store", headers=auth, json={"memory_type": "Nope!", "content": ""})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["error"]["errors"]] == ["memory_type", "content"]
