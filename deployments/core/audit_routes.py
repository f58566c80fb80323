"""/audit: the org's append-only audit log, newest first."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from cluster.repositories import audit as audit_repo
from deployments.common.principal import Principal
from deployments.common.security import require, runtime_of
from deployments.core.schemas import AuditEntryOut, AuditPage
from engine.auth.rbac import Permission

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=AuditPage)
async def list_audit(
    request: Request,
    limit: int = Query(default=100, ge=1, le=1000),
    before_id: int | None = Query(default=None, ge=1, description="page cursor from a prior page"),
    principal: Principal = Depends(require(Permission.AUDIT_READ)),
) -> AuditPage:
    entries = await audit_repo.list_entries(
        runtime_of(request).db, org_id=principal.org_id, limit=limit, before_id=before_id
    )
    items = [
        AuditEntryOut(
            id=e.id,
            actor_type=e.actor_type,
            actor_id=e.actor_id,
            action=e.action,
            target=e.target,
            status_code=e.status_code,
            result=e.result,
            request_id=e.request_id,
            created_at=e.created_at,
        )
        for e in entries
    ]
    return AuditPage(items=items, next_before_id=items[-1].id if len(items) == limit else None)
