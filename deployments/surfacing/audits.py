"""Audits: start one (a Ray task per audit), follow it, read its products, report and exports,
and apply a product's proposed fix. Thin routes; the use cases are in
``deployments.surfacing.service``."""

from __future__ import annotations

import asyncio
import io
import uuid
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse

from cluster.repositories import surfacing as repo
from deployments.common.errors import ApiError
from deployments.common.principal import Principal
from deployments.common.security import require, runtime_of
from deployments.surfacing import service
from deployments.surfacing.catalogs import BASE, catalog_error, not_found_error
from deployments.surfacing.schemas import (
    AppliedFix,
    ApplyFixRequest,
    AuditAccepted,
    AuditList,
    AuditOut,
    AuditProductList,
    AuditProductOut,
    AuditRequest,
    ProductOut,
)
from engine.auth.rbac import Permission
from engine.surfacing.exports import findings_table
from engine.surfacing.product import CatalogError
from engine.surfacing.report import render_report
from engine.surfacing.results import AuditSummary, ProductAudit

router = APIRouter(tags=["surfacing: audits"])


def audit_out(row: repo.AuditRow[AuditSummary]) -> AuditOut:
    base = f"{BASE}/audits/{row.id}"
    return AuditOut(
        id=row.id,
        catalog_id=row.catalog_id,
        competitive_set=row.competitive_set,  # type: ignore[arg-type]  # CHECK constraint
        status=row.status,  # type: ignore[arg-type]  # CHECK constraint in the table
        stage=row.stage,
        progress=row.progress,
        products_total=row.products_total,
        products_done=row.products_done,
        attempts=row.attempts,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        summary=row.summary,
        products_url=f"{base}/products",
        report_url=f"{base}/report",
    )


def _product_out(row: repo.AuditProductRow[ProductAudit]) -> AuditProductOut:
    return AuditProductOut(
        product_id=row.product_id,
        position=row.position,
        invisible=row.invisible,
        hard_fail=row.hard_fail,
        score=row.score,
        expected_gain=row.expected_gain,
        result=row.result,
    )


def _not_ready(exc: service.NotReadyError) -> ApiError:
    return ApiError(409, "audit_not_finished", str(exc))


@router.post("/audits", status_code=202, response_model=AuditAccepted)
async def start_audit(
    body: AuditRequest,
    request: Request,
    response: Response,
    principal: Principal = Depends(require(Permission.SURFACING_RUN)),
) -> AuditAccepted:
    try:
        row = await service.start_audit(
            runtime_of(request),
            request.app.state.audit_runner,
            org_id=principal.org_id,
            user_id=principal.id,
            catalog_id=body.catalog_id,
            competitive_set=body.competitive_set,
        )
    except service.NotFoundError as exc:
        raise not_found_error(exc) from exc
    status_url = f"{BASE}/audits/{row.id}"
    response.headers["Location"] = status_url
    return AuditAccepted(audit=audit_out(row), status_url=status_url)


@router.get("/audits", response_model=AuditList)
async def list_audits(
    request: Request,
    catalog_id: uuid.UUID | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    principal: Principal = Depends(require(Permission.SURFACING_READ)),
) -> AuditList:
    rows = await repo.list_audits(
        runtime_of(request).db,
        org_id=principal.org_id,
        summary_type=AuditSummary,
        catalog_id=catalog_id,
        limit=limit,
        offset=offset,
    )
    return AuditList(items=[audit_out(r) for r in rows])


@router.get("/audits/{audit_id}", response_model=AuditOut)
async def get_audit(
    audit_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.SURFACING_READ)),
) -> AuditOut:
    try:
        row = await service.audit(runtime_of(request), org_id=principal.org_id, audit_id=audit_id)
    except service.NotFoundError as exc:
        raise not_found_error(exc) from exc
    return audit_out(row)


@router.get("/audits/{audit_id}/products", response_model=AuditProductList)
async def list_audit_products(
    audit_id: uuid.UUID,
    request: Request,
    invisible: bool | None = None,
    hard_fail: bool | None = None,
    sort: Literal["position", "expected_gain", "score"] = "position",
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    principal: Principal = Depends(require(Permission.SURFACING_READ)),
) -> AuditProductList:
    runtime = runtime_of(request)
    try:
        await service.finished_audit(runtime, org_id=principal.org_id, audit_id=audit_id)
    except service.NotFoundError as exc:
        raise not_found_error(exc) from exc
    except service.NotReadyError as exc:
        raise _not_ready(exc) from exc
    rows = await repo.list_audit_products(
        runtime.db,
        org_id=principal.org_id,
        audit_id=audit_id,
        result_type=ProductAudit,
        invisible=invisible,
        hard_fail=hard_fail,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return AuditProductList(items=[_product_out(r) for r in rows])


@router.get("/audits/{audit_id}/products/{product_id}", response_model=AuditProductOut)
async def get_audit_product(
    audit_id: uuid.UUID,
    product_id: str,
    request: Request,
    principal: Principal = Depends(require(Permission.SURFACING_READ)),
) -> AuditProductOut:
    try:
        row = await service.audit_product(
            runtime_of(request), org_id=principal.org_id, audit_id=audit_id, product_id=product_id
        )
    except service.NotFoundError as exc:
        raise not_found_error(exc) from exc
    return _product_out(row)


async def _all_products(
    request: Request, principal: Principal, audit_id: uuid.UUID
) -> tuple[AuditSummary, list[ProductAudit]]:
    runtime = runtime_of(request)
    try:
        _, summary = await service.finished_audit(
            runtime, org_id=principal.org_id, audit_id=audit_id
        )
    except service.NotFoundError as exc:
        raise not_found_error(exc) from exc
    except service.NotReadyError as exc:
        raise _not_ready(exc) from exc
    rows = await repo.list_audit_products(
        runtime.db,
        org_id=principal.org_id,
        audit_id=audit_id,
        result_type=ProductAudit,
        limit=None,
    )
    return summary, [r.result for r in rows]


@router.get("/audits/{audit_id}/report", response_class=HTMLResponse)
async def audit_report(
    audit_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.SURFACING_READ)),
) -> HTMLResponse:
    summary, products = await _all_products(request, principal, audit_id)
    html = await asyncio.to_thread(render_report, summary, products, title=f"Audit {audit_id}")
    return HTMLResponse(html)


@router.get(
    "/audits/{audit_id}/findings",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}},
    summary="Every finding of the audit, one row each, as CSV or Parquet",
)
async def export_findings(
    audit_id: uuid.UUID,
    request: Request,
    format: Literal["csv", "parquet"] = "csv",
    principal: Principal = Depends(require(Permission.SURFACING_READ)),
) -> Response:
    _, products = await _all_products(request, principal, audit_id)
    table = await asyncio.to_thread(findings_table, products)
    if format == "csv":
        content, media = table.write_csv().encode(), "text/csv"
    else:
        buffer = io.BytesIO()
        table.write_parquet(buffer)
        content, media = buffer.getvalue(), "application/vnd.apache.parquet"
    filename = f"audit-{audit_id}-findings.{format}"
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post(
    "/catalogs/{catalog_id}/products/{product_id}/apply-fix",
    response_model=AppliedFix,
    summary="The product with its audit's proposed fix applied, to publish",
)
async def apply_fix(
    catalog_id: uuid.UUID,
    product_id: str,
    body: ApplyFixRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.SURFACING_RUN)),
) -> AppliedFix:
    try:
        applied = await service.apply_fix(
            runtime_of(request),
            org_id=principal.org_id,
            catalog_id=catalog_id,
            product_id=product_id,
            check=body.check,
            audit_id=body.audit_id,
        )
    except service.NotFoundError as exc:
        raise not_found_error(exc) from exc
    except CatalogError as exc:
        raise catalog_error(exc) from exc
    labels: dict[str, str] = {}
    if applied.fix.generated:
        # Merchant Center: text an algorithm wrote goes in structured_title/_description with
        # digital_source_type "trained_algorithmic_media".
        for name in applied.fix.changes:
            if name in ("title", "description"):
                labels[f"structured_{name}.digital_source_type"] = "trained_algorithmic_media"
        labels["liftos.generated"] = "true"
    return AppliedFix(
        product=ProductOut.of(applied.product),
        check=applied.finding.check,
        summary=applied.fix.summary,
        generated=applied.fix.generated,
        changed_fields=sorted(applied.fix.changes),
        impact=applied.impact,
        labels=labels,
    )
