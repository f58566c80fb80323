"""The append-only audit log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from cluster.state import Database


@dataclass(frozen=True)
class AuditEntry:
    id: int
    org_id: uuid.UUID
    actor_type: str
    actor_id: uuid.UUID | None
    action: str
    target: str
    status_code: int
    result: str
    request_id: str
    created_at: datetime


async def record(
    db: Database,
    *,
    org_id: uuid.UUID,
    actor_type: str,
    actor_id: uuid.UUID | None,
    action: str,
    target: str,
    status_code: int,
    request_id: str,
) -> None:
    result = "success" if status_code < 400 else "denied" if status_code < 500 else "error"
    async with db.tenant(org_id) as conn:
        await conn.execute(
            "INSERT INTO audit_log (org_id, actor_type, actor_id, action, target, status_code, "
            "result, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            org_id,
            actor_type,
            actor_id,
            action,
            target,
            status_code,
            result,
            request_id,
        )


async def list_entries(
    db: Database, *, org_id: uuid.UUID, limit: int, before_id: int | None = None
) -> list[AuditEntry]:
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            "SELECT id, org_id, actor_type, actor_id, action, target, status_code, result, "
            "request_id, created_at FROM audit_log "
            "WHERE ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $1",
            limit,
            before_id,
        )
    return [AuditEntry(**dict(r)) for r in rows]
