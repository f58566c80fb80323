"""The per-org module registry."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from cluster.repositories.auth import DuplicateError
from cluster.state import Database


@dataclass(frozen=True)
class ModuleRow:
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    version: str
    kind: str
    manifest: dict[str, Any]
    app_name: str | None
    status: str
    status_detail: str
    created_by: uuid.UUID
    created_at: datetime


_COLUMNS = (
    "id, org_id, name, version, kind, manifest, app_name, status, status_detail, created_by, "
    "created_at"
)


async def create(
    db: Database,
    *,
    org_id: uuid.UUID,
    name: str,
    version: str,
    kind: str,
    manifest: dict[str, Any],
    app_name: str | None,
    status: str,
    created_by: uuid.UUID,
) -> ModuleRow:
    async with db.tenant(org_id) as conn:
        try:
            row = await conn.fetchrow(
                "INSERT INTO modules (id, org_id, name, version, kind, manifest, app_name, status, "
                f"created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {_COLUMNS}",
                uuid.uuid4(),
                org_id,
                name,
                version,
                kind,
                manifest,
                app_name,
                status,
                created_by,
            )
        except asyncpg.UniqueViolationError as exc:
            raise DuplicateError("name", f"a module named '{name}' is already registered") from exc
    return ModuleRow(**dict(row))


async def set_status(
    db: Database, *, org_id: uuid.UUID, name: str, status: str, detail: str = ""
) -> None:
    async with db.tenant(org_id) as conn:
        await conn.execute(
            "UPDATE modules SET status = $2, status_detail = $3 WHERE name = $1",
            name,
            status,
            detail[:2000],
        )


async def get(db: Database, *, org_id: uuid.UUID, name: str) -> ModuleRow | None:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM modules WHERE name = $1", name)
    return ModuleRow(**dict(row)) if row else None


async def list_all(db: Database, *, org_id: uuid.UUID) -> list[ModuleRow]:
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(f"SELECT {_COLUMNS} FROM modules ORDER BY name")
    return [ModuleRow(**dict(r)) for r in rows]


async def delete(db: Database, *, org_id: uuid.UUID, name: str) -> ModuleRow | None:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(f"DELETE FROM modules WHERE name = $1 RETURNING {_COLUMNS}", name)
    return ModuleRow(**dict(row)) if row else None
