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


@dataclass(frozen=True)
class AuditFilter:
    actor_id: uuid.UUID | None = None
    actor_type: str | None = None
    action: str | None = None  # a substring of the action ("GET ", "/datasets")
    target: str | None = None  # a substring of the target path
    result: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_entries(
    db: Database,
    *,
    org_id: uuid.UUID,
    limit: int,
    before_id: int | None = None,
    where: AuditFilter = AuditFilter(),
) -> list[AuditEntry]:
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            "SELECT id, org_id, actor_type, actor_id, action, target, status_code, result, "
            "request_id, created_at FROM audit_log "
            "WHERE ($2::bigint IS NULL OR id < $2) "
            "AND ($3::uuid IS NULL OR actor_id = $3) "
            "AND ($4::text IS NULL OR actor_type = $4) "
            "AND ($5::text IS NULL OR strpos(action, $5) > 0) "
            "AND ($6::text IS NULL OR strpos(target, $6) > 0) "
            "AND ($7::text IS NULL OR result = $7) "
            "AND ($8::timestamptz IS NULL OR created_at >= $8) "
            "AND ($9::timestamptz IS NULL OR created_at < $9) "
            "ORDER BY id DESC LIMIT $1",
            limit,
            before_id,
            where.actor_id,
            where.actor_type,
            where.action,
            where.target,
            where.result,
            where.since,
            where.until,
        )
    return [AuditEntry(**dict(r)) for r in rows]
