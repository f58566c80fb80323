"""The memory module at /api/v1/memory: store, version and recall a tenant's memories.

Records live in PostgreSQL (encrypted, versioned); recall runs in memory shards, Ray actors
holding per-tenant dense, keyword and graph indexes (``deployments.memory.shards``). Every
object is tenant-scoped: another org's id is a 404 and its memories are never searched.
"""

from __future__ import annotations

from fastapi import FastAPI
from ray import serve

from cluster.settings import Settings
from deployments.common.app import create_service_app
from deployments.common.runtime import Runtime
from deployments.memory import routes


def create_app(
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    *,
    behind_serve: bool = False,
) -> FastAPI:
    return create_service_app(
        service="memory",
        title="LiftOS memory module",
        description=(
            "Per-tenant memory with hybrid recall: dense (MiniLM + FAISS), keyword (BM25) and "
            "entity-graph (Kuzu) retrieval fused by weighted reciprocal rank fusion."
        ),
        routers=[routes.router],
        settings=settings,
        runtime=runtime,
        behind_serve=behind_serve,
        warm_up=[warm_shards] if behind_serve else [],
    )


async def warm_shards(app: FastAPI) -> None:
    """Start the shard actors with the replica rather than on the first memory call: measured
    on a 2-core machine, a new cluster's first store took 29.6 s (actor start, embedder load and
    its one-off ONNX export), the next 34 ms. A failure is logged (``Runtime.spawn``), and calls
    start the actors on demand as before."""
    await routes.placement_of(app).warm_up()


@serve.deployment(name="MemoryModule", max_ongoing_requests=64)
@serve.ingress(create_app(behind_serve=True))
class MemoryModule:
    """Serve replica of the memory module; all behaviour lives in the FastAPI app."""


app = MemoryModule.bind()  # type: ignore[attr-defined]  # added by @serve.deployment
