"""/audit: the org's append-only audit log, newest first, filtered, and exported for
compliance (CSV or JSON Lines, every matching entry, streamed page by page)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from cluster.repositories import audit as audit_repo
from deployments.common.principal import Principal
from deployments.common.security import require, runtime_of
from deployments.core.schemas import AuditEntryOut, AuditPage
from engine.auth.rbac import Permission

router = APIRouter(tags=["audit"])

_EXPORT_PAGE = 1000
_FIELDS = tuple(AuditEntryOut.model_fields)


def _filter(
    actor_id: uuid.UUID | None = Query(default=None, description="the user or API key"),
    actor_type: Literal["user", "api_key", "anonymous", "system"] | None = Query(default=None),
    action: str | None = Query(
        default=None, max_length=200, description='part of the action: "GET ", "/datasets"'
    ),
    target: str | None = Query(default=None, max_length=500, description="part of the path"),
    result: Literal["success", "denied", "error"] | None = Query(default=None),
    since: datetime | None = Query(default=None, description="from (inclusive), ISO 8601"),
    until: datetime | None = Query(default=None, description="to (exclusive), ISO 8601"),
) -> audit_repo.AuditFilter:
    return audit_repo.AuditFilter(
        actor_id=actor_id,
        actor_type=actor_type,
        action=action,
        target=target,
        result=result,
        since=since,
        until=until,
    )


def _out(e: audit_repo.AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
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


@router.get("/audit", response_model=AuditPage)
async def list_audit(
    request: Request,
    limit: int = Query(default=100, ge=1, le=1000),
    before_id: int | None = Query(default=None, ge=1, description="page cursor from a prior page"),
    where: audit_repo.AuditFilter = Depends(_filter),
    principal: Principal = Depends(require(Permission.AUDIT_READ)),
) -> AuditPage:
    entries = await audit_repo.list_entries(
        runtime_of(request).db,
        org_id=principal.org_id,
        limit=limit,
        before_id=before_id,
        where=where,
    )
    items = [_out(e) for e in entries]
    return AuditPage(items=items, next_before_id=items[-1].id if len(items) == limit else None)


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
)
async def export_audit(
    request: Request,
    format: Literal["csv", "jsonl"] = Query(default="jsonl"),
    where: audit_repo.AuditFilter = Depends(_filter),
    principal: Principal = Depends(require(Permission.AUDIT_READ)),
) -> StreamingResponse:
    """Every entry matching the filters, newest first, as CSV or JSON Lines."""
    db = runtime_of(request).db

    async def lines() -> AsyncIterator[str]:
        if format == "csv":
            yield ",".join(_FIELDS) + "\r\n"
        before: int | None = None
        while True:
            page = await audit_repo.list_entries(
                db, org_id=principal.org_id, limit=_EXPORT_PAGE, before_id=before, where=where
            )
            for entry in page:
                record = _out(entry).model_dump(mode="json")
                if format == "csv":
                    buffer = io.StringIO()
                    csv.writer(buffer).writerow([record[f] for f in _FIELDS])
                    yield buffer.getvalue()
                else:
                    yield json.dumps(record) + "\n"
            if len(page) < _EXPORT_PAGE:
                return
            before = page[-1].id

    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(
        lines(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="audit.{format}"'},
    )
