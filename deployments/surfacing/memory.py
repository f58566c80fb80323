"""An audit's summary as a ``catalog_audit`` memory, so other modules recall it (the LLM
module writing copy for an invisible product, say) through the one memory API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from cluster.repositories import memory as memory_repo
from cluster.settings import Settings
from cluster.state import Database, connect_redis
from deployments.memory.placement import ShardPlacement
from engine.surfacing.results import AuditSummary

MEMORY_TYPE = "catalog_audit"


def audit_memory_text(summary: AuditSummary, *, catalog_id: uuid.UUID) -> str:
    """The memory's content: what a person (or a retriever) should find in one paragraph."""
    worst = sorted(summary.invisible_share_by_category.items(), key=lambda kv: -kv[1])[:3]
    fixes = "; ".join(
        f"{f.product_id}: {f.summary} ({f.click_share_change:+.1%} click share)"
        for f in summary.top_fixes[:3]
    )
    categories = ", ".join(f"{name} {share:.0%}" for name, share in worst) or "none"
    return (
        f"Catalog audit of catalog {catalog_id}: {summary.products} products, "
        f"{summary.invisible} invisible in AI search ({summary.invisible_share:.1%}; not in the "
        f"top 10 for any of their own shopper queries), retrievability Gini "
        f"{summary.gini.get('hybrid', float('nan')):.2f}, mean score {summary.mean_score:.0f}/100, "
        f"{summary.hard_fails} hard fails. Most invisible categories: {categories}. "
        f"Top measured fixes: {fixes or 'none'}."
    )


async def remember_audit(
    settings: Settings,
    db: Database,
    *,
    org_id: uuid.UUID,
    audit_id: uuid.UUID,
    catalog_id: uuid.UUID,
    summary: AuditSummary,
) -> None:
    key = await memory_repo.data_key(db, org_id=org_id, master_key=settings.memory_master_key_bytes)
    records = await memory_repo.store_memories(
        db,
        org_id=org_id,
        items=[
            memory_repo.NewMemory(
                memory_type=MEMORY_TYPE,
                content=audit_memory_text(summary, catalog_id=catalog_id),
                metadata={
                    "module": "surfacing",
                    "audit_id": str(audit_id),
                    "catalog_id": str(catalog_id),
                    "products": summary.products,
                    "invisible_share": round(summary.invisible_share, 4),
                },
                event_at=datetime.now(UTC),
            )
        ],
        key=key,
    )
    if not settings.redis_url:
        return
    redis = connect_redis(settings.redis_url)
    try:
        await ShardPlacement(settings, db=db, redis=redis).index(org_id, records)
    finally:
        await redis.aclose()
