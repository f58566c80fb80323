"""The surfacing use cases: store a catalog, label its queries, audit it, apply a fix.

Typed in and out: commands are validated API bodies or engine records, answers are the
repository's rows and the engine's results. Every function takes the tenant explicitly; an
object of another org is a :class:`NotFoundError` like one that does not exist.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from cluster.repositories import surfacing as repo
from deployments.billing import quotas
from deployments.common.runtime import Runtime
from engine.surfacing.audit import Examiner
from engine.surfacing.candidate import CandidateAnalysis, analyse_candidate, candidate_product
from engine.surfacing.competitive import CompetitiveSet
from engine.surfacing.findings import Finding, Fix
from engine.surfacing.product import MAX_PRODUCTS, CatalogError, Product
from engine.surfacing.results import AuditSummary, MeasuredFix, ProductAudit
from memory.embedders import EmbedderName, build_embedder
from memory.embedding import Embedder

VECTORS_ARTIFACT = "vectors.npy"  # written by deployments.surfacing.tasks


class NotFoundError(Exception):
    def __init__(self, what: str, *, field: str | None = None):
        super().__init__(f"{what} not found")
        self.what = what
        self.field = field


def combine_uploads(parts: Sequence[tuple[str, Sequence[Product]]]) -> tuple[Product, ...]:
    """Products of several uploaded files (product pages, say) as one catalog: ids must stay
    unique across files, and the total within the per-upload limit."""
    seen: dict[str, str] = {}
    products: list[Product] = []
    for filename, part in parts:
        for product in part:
            if product.id in seen:
                raise CatalogError(
                    f'product id "{product.id}" appears in {seen[product.id]} and in {filename}; '
                    "ids must be unique within a catalog",
                    field="id",
                    where=f"{filename}: product {product.id!r}",
                )
            seen[product.id] = filename
            products.append(product)
    if len(products) > MAX_PRODUCTS:
        raise CatalogError(
            f"{len(products)} products; at most {MAX_PRODUCTS} per upload", field="file"
        )
    if not products:
        raise CatalogError("the upload holds no products", field="file")
    return tuple(products)


async def store_catalog(
    runtime: Runtime,
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    name: str,
    format: str,
    products: Sequence[Product],
    content_sha256: str,
) -> repo.CatalogRow:
    return await repo.create_catalog(
        runtime.db,
        org_id=org_id,
        name=name,
        format=format,
        products=products,
        content_sha256=content_sha256,
        created_by=user_id,
    )


async def catalog(runtime: Runtime, *, org_id: uuid.UUID, catalog_id: uuid.UUID) -> repo.CatalogRow:
    row = await repo.get_catalog(runtime.db, org_id=org_id, catalog_id=catalog_id)
    if row is None:
        raise NotFoundError("catalog", field="catalog_id")
    return row


async def product(
    runtime: Runtime, *, org_id: uuid.UUID, catalog_id: uuid.UUID, product_id: str
) -> Product:
    await catalog(runtime, org_id=org_id, catalog_id=catalog_id)
    found = await repo.get_product(
        runtime.db, org_id=org_id, catalog_id=catalog_id, product_id=product_id
    )
    if found is None:
        raise NotFoundError("product")
    return found


async def add_queries(
    runtime: Runtime,
    *,
    org_id: uuid.UUID,
    catalog_id: uuid.UUID,
    queries: Sequence[tuple[str, Sequence[str] | None]],
) -> list[repo.QueryRow]:
    """Store labelled (or unlabelled) site-search queries; every labelled id must be a product
    of the catalog (a CatalogError naming ``queries[i].relevant`` otherwise)."""
    await catalog(runtime, org_id=org_id, catalog_id=catalog_id)
    labelled = {pid for _, relevant in queries for pid in relevant or ()}
    if labelled:
        known = {
            p.id for p in await repo.list_products(runtime.db, org_id=org_id, catalog_id=catalog_id)
        }
        for index, (_, relevant) in enumerate(queries):
            unknown = [pid for pid in relevant or () if pid not in known]
            if unknown:
                raise CatalogError(
                    f"{', '.join(repr(u) for u in unknown[:5])} not in this catalog",
                    field=f"queries[{index}].relevant",
                )
    return await repo.add_queries(runtime.db, org_id=org_id, catalog_id=catalog_id, queries=queries)


class AuditRunner(Protocol):
    """Starts a stored, queued audit off the request path; the awaitable completes when the
    audit has ended (succeeded or failed), and never raises."""

    def submit(
        self, runtime: Runtime, *, org_id: uuid.UUID, audit_id: uuid.UUID
    ) -> Awaitable[None]: ...


async def start_audit(
    runtime: Runtime,
    runner: AuditRunner,
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    catalog_id: uuid.UUID,
    competitive_set: CompetitiveSet = "catalog",
) -> repo.AuditRow[AuditSummary]:
    row = await catalog(runtime, org_id=org_id, catalog_id=catalog_id)
    audit_row = await repo.create_audit(
        runtime.db,
        org_id=org_id,
        catalog_id=catalog_id,
        products_total=row.product_count,
        created_by=user_id,
        summary_type=AuditSummary,
        competitive_set=competitive_set,
        metered=[
            await quotas.metered(
                runtime, org_id=org_id, meter="audited_products", quantity=row.product_count
            )
        ],
    )
    runner.submit(runtime, org_id=org_id, audit_id=audit_row.id)
    return audit_row


async def audit(
    runtime: Runtime, *, org_id: uuid.UUID, audit_id: uuid.UUID
) -> repo.AuditRow[AuditSummary]:
    row = await repo.get_audit(
        runtime.db, org_id=org_id, audit_id=audit_id, summary_type=AuditSummary
    )
    if row is None:
        raise NotFoundError("audit")
    return row


async def audit_product(
    runtime: Runtime, *, org_id: uuid.UUID, audit_id: uuid.UUID, product_id: str
) -> repo.AuditProductRow[ProductAudit]:
    await audit(runtime, org_id=org_id, audit_id=audit_id)
    row = await repo.get_audit_product(
        runtime.db,
        org_id=org_id,
        audit_id=audit_id,
        product_id=product_id,
        result_type=ProductAudit,
    )
    if row is None:
        raise NotFoundError("product")
    return row


async def finished_audit(
    runtime: Runtime, *, org_id: uuid.UUID, audit_id: uuid.UUID
) -> tuple[repo.AuditRow[AuditSummary], AuditSummary]:
    """An audit that succeeded, with its summary; a ``NotReadyError`` while it runs."""
    row = await audit(runtime, org_id=org_id, audit_id=audit_id)
    if row.status != "succeeded" or row.summary is None:
        raise NotReadyError(row.status, row.error)
    return row, row.summary


class NotReadyError(Exception):
    def __init__(self, status: str, error: str | None):
        detail = f": {error}" if error else ""
        super().__init__(f"the audit is {status}{detail}")
        self.status = status


@dataclass(frozen=True)
class AppliedFix:
    product: Product
    finding: Finding
    fix: Fix
    impact: MeasuredFix | None


async def apply_fix(
    runtime: Runtime,
    *,
    org_id: uuid.UUID,
    catalog_id: uuid.UUID,
    product_id: str,
    check: str,
    audit_id: uuid.UUID | None,
) -> AppliedFix:
    """The product with the fix its audit proposed for ``check`` applied (not stored: the
    merchant publishes it), with the impact the audit measured for that fix."""
    original = await product(runtime, org_id=org_id, catalog_id=catalog_id, product_id=product_id)
    if audit_id is None:
        audits = await repo.list_audits(
            runtime.db, org_id=org_id, summary_type=AuditSummary, catalog_id=catalog_id
        )
        done = [a for a in audits if a.status == "succeeded"]
        if not done:
            raise CatalogError(
                "no finished audit of this catalog; run one (POST /api/v1/surfacing/audits) "
                "or name it with audit_id",
                field="audit_id",
            )
        audit_id = done[0].id
    row = await audit_product(runtime, org_id=org_id, audit_id=audit_id, product_id=product_id)
    matching = [f for f in row.result.findings if f.check == check and f.fix is not None]
    if not matching:
        checks = sorted({f.check for f in row.result.findings if f.fix is not None})
        raise CatalogError(
            f"the audit proposes no fix for {check!r} on this product"
            + (f"; fixes proposed: {', '.join(checks)}" if checks else "; it proposes none"),
            field="check",
        )
    finding = matching[0]
    assert finding.fix is not None
    measured = next((m for m in row.result.fixes if m.check == check), None)
    return AppliedFix(
        product=finding.fix.apply(original), finding=finding, fix=finding.fix, impact=measured
    )


@dataclass(frozen=True)
class Analysis:
    result: CandidateAnalysis
    catalog_id: uuid.UUID | None
    audit_id: uuid.UUID | None


async def analyze(
    runtime: Runtime,
    tools: AnalyzeTools,
    *,
    org_id: uuid.UUID,
    description: str,
    price: float | None,
    currency: str | None,
    competitors: Sequence[str],
    catalog_id: uuid.UUID | None,
) -> Analysis:
    """The described product measured against the org's most recently audited catalog (or
    the one named); without one, the checklist part alone."""
    audits = await repo.list_audits(
        runtime.db, org_id=org_id, summary_type=AuditSummary, catalog_id=catalog_id, limit=50
    )
    if catalog_id is not None:
        await catalog(runtime, org_id=org_id, catalog_id=catalog_id)
    done = next((a for a in audits if a.status == "succeeded" and a.catalog_id), None)
    products: list[Product] | None = None
    vectors = None
    if done is not None and done.catalog_id is not None:
        blob = await repo.get_audit_artifact(
            runtime.db, org_id=org_id, audit_id=done.id, name=VECTORS_ARTIFACT
        )
        if blob is not None:
            products = await repo.list_products(
                runtime.db, org_id=org_id, catalog_id=done.catalog_id
            )
            vectors = np.load(io.BytesIO(blob), allow_pickle=False)
    candidate = candidate_product(description, price=price, currency=currency)
    examiner, embedder = await tools.get()
    result = await asyncio.to_thread(
        analyse_candidate,
        candidate,
        examiner,
        catalog=products,
        vectors=vectors,
        embedder=embedder,
        competitors=competitors,
    )
    found = done is not None and products is not None
    return Analysis(
        result=result,
        catalog_id=done.catalog_id if found and done else None,
        audit_id=done.id if found and done else None,
    )


class AnalyzeTools:
    """The examiner (taxonomy index, language models) and embedder analyze needs, loaded on
    the first request of a replica and kept: building them takes seconds."""

    def __init__(self, embedder_name: EmbedderName) -> None:
        self._name = embedder_name
        self._lock = asyncio.Lock()
        self._tools: tuple[Examiner, Embedder] | None = None

    async def get(self) -> tuple[Examiner, Embedder]:
        async with self._lock:
            if self._tools is None:
                self._tools = await asyncio.to_thread(self._build)
            return self._tools

    def _build(self) -> tuple[Examiner, Embedder]:
        embedder = build_embedder(self._name)
        return Examiner(embedder=embedder), embedder
