"""Storage of the surfacing module: catalogs, their products, merchant queries, audits.

Every function takes the tenant explicitly and runs inside ``Database.tenant``; another org's
row is simply not found. Engine records (products, audit results) are stored as JSON documents
and read back validated into the same types.
"""

from __future__ import annotations

import dataclasses
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Generic, Literal, TypeVar

from pydantic import TypeAdapter

from cluster.repositories import billing, jobs
from cluster.state import Database
from engine.surfacing.product import Product

ResultT = TypeVar("ResultT")
SummaryT = TypeVar("SummaryT")
AuditSort = Literal["position", "expected_gain", "score"]

_INSERT_CHUNK = 5_000  # products per INSERT: 100k products stay well under asyncpg's limits
_PRODUCT = TypeAdapter(Product)


def plain(value: object) -> object:
    """An engine value (frozen dataclasses, mappings, tuples) as plain JSON data. Non-finite
    floats (an interval of a degenerate bootstrap, say) become the strings "NaN", "Infinity"
    and "-Infinity", which JSONB accepts (bare NaN it refuses) and which validate back into
    the floats."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict | MappingProxyType):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        items = sorted(value) if isinstance(value, frozenset | set) else value
        return [plain(v) for v in items]
    return value


def product_record(product: Product) -> dict[str, Any]:
    record = plain(product)
    assert isinstance(record, dict)
    return record


def product_from_record(record: Mapping[str, Any]) -> Product:
    return _PRODUCT.validate_python(record)


@dataclass(frozen=True)
class CatalogRow:
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    format: str
    product_count: int
    content_sha256: str
    created_by: uuid.UUID
    created_at: datetime


@dataclass(frozen=True)
class QueryRow:
    id: uuid.UUID
    catalog_id: uuid.UUID
    text: str
    relevant: tuple[str, ...] | None
    created_at: datetime


@dataclass(frozen=True)
class AuditRow(Generic[SummaryT]):
    id: uuid.UUID
    org_id: uuid.UUID
    catalog_id: uuid.UUID | None
    status: str
    stage: str
    progress: float
    products_total: int
    products_done: int
    attempts: int
    error: str | None
    summary: SummaryT | None
    created_by: uuid.UUID
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    competitive_set: str = "catalog"


@dataclass(frozen=True)
class AuditProductRow(Generic[ResultT]):
    """One product's audit result, with the columns listings filter and sort on."""

    product_id: str
    position: int
    invisible: bool
    hard_fail: bool
    score: float
    expected_gain: float
    result: ResultT


_CATALOG_COLUMNS = "id, org_id, name, format, product_count, content_sha256, created_by, created_at"
_AUDIT_COLUMNS = (
    "id, org_id, catalog_id, status, stage, progress, products_total, products_done, attempts, "
    "error, summary, created_by, created_at, started_at, heartbeat_at, finished_at, "
    "competitive_set"
)


# --- catalogs ---------------------------------------------------------------------------------


async def create_catalog(
    db: Database,
    *,
    org_id: uuid.UUID,
    name: str,
    format: str,
    products: Sequence[Product],
    content_sha256: str,
    created_by: uuid.UUID,
) -> CatalogRow:
    """The catalog and every product in one transaction: stored whole or not at all."""
    catalog_id = uuid.uuid4()
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            "INSERT INTO surfacing_catalogs (id, org_id, name, format, product_count, "
            "content_sha256, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            f"RETURNING {_CATALOG_COLUMNS}",
            catalog_id,
            org_id,
            name,
            format,
            len(products),
            content_sha256,
            created_by,
        )
        for start in range(0, len(products), _INSERT_CHUNK):
            chunk = products[start : start + _INSERT_CHUNK]
            await conn.execute(
                "INSERT INTO surfacing_products (catalog_id, org_id, product_id, position, record) "
                "SELECT $1, $2, u.product_id, u.position, u.record::jsonb "
                "FROM unnest($3::text[], $4::int[], $5::text[]) AS u(product_id, position, record)",
                catalog_id,
                org_id,
                [p.id for p in chunk],
                list(range(start, start + len(chunk))),
                [json.dumps(product_record(p)) for p in chunk],
            )
    return CatalogRow(**dict(row))


async def get_catalog(
    db: Database, *, org_id: uuid.UUID, catalog_id: uuid.UUID
) -> CatalogRow | None:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            f"SELECT {_CATALOG_COLUMNS} FROM surfacing_catalogs WHERE id = $1", catalog_id
        )
    return CatalogRow(**dict(row)) if row else None


async def list_catalogs(
    db: Database, *, org_id: uuid.UUID, limit: int = 100, offset: int = 0
) -> list[CatalogRow]:
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            f"SELECT {_CATALOG_COLUMNS} FROM surfacing_catalogs ORDER BY created_at DESC, id "
            "LIMIT $1 OFFSET $2",
            limit,
            offset,
        )
    return [CatalogRow(**dict(r)) for r in rows]


async def latest_catalog(db: Database, *, org_id: uuid.UUID) -> CatalogRow | None:
    catalogs = await list_catalogs(db, org_id=org_id, limit=1)
    return catalogs[0] if catalogs else None


async def delete_catalog(db: Database, *, org_id: uuid.UUID, catalog_id: uuid.UUID) -> bool:
    async with db.tenant(org_id) as conn:
        status = await conn.execute("DELETE FROM surfacing_catalogs WHERE id = $1", catalog_id)
    return bool(status.endswith(" 1"))


async def list_products(
    db: Database,
    *,
    org_id: uuid.UUID,
    catalog_id: uuid.UUID,
    limit: int | None = None,
    offset: int = 0,
) -> list[Product]:
    """Products in upload order; all of them when ``limit`` is None."""
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            "SELECT record FROM surfacing_products WHERE catalog_id = $1 "
            "ORDER BY position LIMIT $2 OFFSET $3",
            catalog_id,
            limit,
            offset,
        )
    return [product_from_record(r["record"]) for r in rows]


async def get_product(
    db: Database, *, org_id: uuid.UUID, catalog_id: uuid.UUID, product_id: str
) -> Product | None:
    async with db.tenant(org_id) as conn:
        record = await conn.fetchval(
            "SELECT record FROM surfacing_products WHERE catalog_id = $1 AND product_id = $2",
            catalog_id,
            product_id,
        )
    return product_from_record(record) if record is not None else None


# --- merchant queries ----------------------------------------------------------------------


async def add_queries(
    db: Database,
    *,
    org_id: uuid.UUID,
    catalog_id: uuid.UUID,
    queries: Sequence[tuple[str, Sequence[str] | None]],
) -> list[QueryRow]:
    async with db.tenant(org_id) as conn:  # one transaction (Database.tenant)
        rows = [
            await conn.fetchrow(
                "INSERT INTO surfacing_queries (id, catalog_id, org_id, text, relevant) "
                "VALUES ($1, $2, $3, $4, $5) RETURNING id, catalog_id, text, relevant, "
                "created_at",
                uuid.uuid4(),
                catalog_id,
                org_id,
                text,
                list(relevant) if relevant is not None else None,
            )
            for text, relevant in queries
        ]
    return [_query_row(r) for r in rows]


async def list_queries(db: Database, *, org_id: uuid.UUID, catalog_id: uuid.UUID) -> list[QueryRow]:
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            "SELECT id, catalog_id, text, relevant, created_at FROM surfacing_queries "
            "WHERE catalog_id = $1 ORDER BY created_at, id",
            catalog_id,
        )
    return [_query_row(r) for r in rows]


def _query_row(row: Mapping[str, Any]) -> QueryRow:
    values = dict(row)
    relevant = values["relevant"]
    values["relevant"] = tuple(relevant) if relevant is not None else None
    return QueryRow(**values)


# --- audits ----------------------------------------------------------------------------------


def _audit_row(row: Mapping[str, Any], summary_type: type[SummaryT]) -> AuditRow[SummaryT]:
    values = dict(row)
    if values["summary"] is not None:
        values["summary"] = TypeAdapter(summary_type).validate_python(values["summary"])
    return AuditRow(**values)


async def create_audit(
    db: Database,
    *,
    org_id: uuid.UUID,
    catalog_id: uuid.UUID,
    products_total: int,
    created_by: uuid.UUID,
    summary_type: type[SummaryT],
    competitive_set: str = "catalog",
    metered: Sequence[billing.Metered] = (),
) -> AuditRow[SummaryT]:
    """Queue an audit; ``metered`` is counted (and its quota enforced) in the same transaction."""
    async with db.tenant(org_id) as conn:
        for usage in metered:
            await billing.meter(conn, org_id=org_id, metered=usage)
        row = await conn.fetchrow(
            "INSERT INTO surfacing_audits "
            "(id, org_id, catalog_id, products_total, created_by, competitive_set) "
            f"VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_AUDIT_COLUMNS}",
            uuid.uuid4(),
            org_id,
            catalog_id,
            products_total,
            created_by,
            competitive_set,
        )
    return _audit_row(row, summary_type)


async def get_audit(
    db: Database, *, org_id: uuid.UUID, audit_id: uuid.UUID, summary_type: type[SummaryT]
) -> AuditRow[SummaryT] | None:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            f"SELECT {_AUDIT_COLUMNS} FROM surfacing_audits WHERE id = $1", audit_id
        )
    return _audit_row(row, summary_type) if row else None


async def list_audits(
    db: Database,
    *,
    org_id: uuid.UUID,
    summary_type: type[SummaryT],
    catalog_id: uuid.UUID | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditRow[SummaryT]]:
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            f"SELECT {_AUDIT_COLUMNS} FROM surfacing_audits "
            "WHERE $1::uuid IS NULL OR catalog_id = $1 "
            "ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
            catalog_id,
            limit,
            offset,
        )
    return [_audit_row(r, summary_type) for r in rows]


async def start_audit(db: Database, *, org_id: uuid.UUID, audit_id: uuid.UUID) -> bool:
    """Mark an audit running for one more attempt; False if it is gone or already finished."""
    return await jobs.start(db, jobs.SURFACING_AUDITS, org_id=org_id, job_id=audit_id)


async def report_audit_progress(
    db: Database,
    *,
    org_id: uuid.UUID,
    audit_id: uuid.UUID,
    stage: str,
    progress: float,
    products_done: int,
) -> None:
    await jobs.report_progress(
        db,
        jobs.SURFACING_AUDITS,
        org_id=org_id,
        job_id=audit_id,
        stage=stage,
        progress=progress,
        counters={"products_done": products_done},
    )


async def fail_audit(db: Database, *, org_id: uuid.UUID, audit_id: uuid.UUID, error: str) -> None:
    await jobs.fail(db, jobs.SURFACING_AUDITS, org_id=org_id, job_id=audit_id, error=error)


async def complete_audit(
    db: Database,
    *,
    org_id: uuid.UUID,
    audit_id: uuid.UUID,
    summary: object,
    products: Sequence[AuditProductRow[Any]],
    artifacts: Mapping[str, tuple[str, bytes]] | None = None,
) -> None:
    """Every product's result and the summary, with ``succeeded``, in one transaction."""
    async with db.tenant(org_id) as conn:  # one transaction (Database.tenant)
        await conn.execute("DELETE FROM surfacing_audit_products WHERE audit_id = $1", audit_id)
        for start in range(0, len(products), _INSERT_CHUNK):
            chunk = products[start : start + _INSERT_CHUNK]
            await conn.execute(
                "INSERT INTO surfacing_audit_products (audit_id, org_id, product_id, "
                "position, invisible, hard_fail, score, expected_gain, result) "
                "SELECT $1, $2, u.pid, u.pos, u.inv, u.hard, u.score, u.gain, u.res::jsonb "
                "FROM unnest($3::text[], $4::int[], $5::bool[], $6::bool[], "
                "$7::float8[], $8::float8[], $9::text[]) "
                "AS u(pid, pos, inv, hard, score, gain, res)",
                audit_id,
                org_id,
                [p.product_id for p in chunk],
                [p.position for p in chunk],
                [p.invisible for p in chunk],
                [p.hard_fail for p in chunk],
                [p.score for p in chunk],
                [p.expected_gain for p in chunk],
                [json.dumps(plain(p.result)) for p in chunk],
            )
        await conn.execute("DELETE FROM surfacing_audit_artifacts WHERE audit_id = $1", audit_id)
        for name, (content_type, content) in (artifacts or {}).items():
            await conn.execute(
                "INSERT INTO surfacing_audit_artifacts (audit_id, org_id, name, content_type, "
                "content) VALUES ($1, $2, $3, $4, $5)",
                audit_id,
                org_id,
                name,
                content_type,
                content,
            )
        await conn.execute(
            "UPDATE surfacing_audits SET status = 'succeeded', stage = 'done', progress = 1, "
            "products_done = products_total, summary = $2, finished_at = now() "
            "WHERE id = $1",
            audit_id,
            plain(summary),
        )


async def list_audit_products(
    db: Database,
    *,
    org_id: uuid.UUID,
    audit_id: uuid.UUID,
    result_type: type[ResultT],
    invisible: bool | None = None,
    hard_fail: bool | None = None,
    sort: AuditSort = "position",
    limit: int | None = 100,
    offset: int = 0,
) -> list[AuditProductRow[ResultT]]:
    order = {
        "position": "position",
        "expected_gain": "expected_gain DESC, position",
        "score": "score, position",
    }[sort]
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            "SELECT product_id, position, invisible, hard_fail, score, expected_gain, result "
            "FROM surfacing_audit_products WHERE audit_id = $1 "
            "AND ($2::bool IS NULL OR invisible = $2) AND ($3::bool IS NULL OR hard_fail = $3) "
            f"ORDER BY {order} LIMIT $4 OFFSET $5",
            audit_id,
            invisible,
            hard_fail,
            limit,
            offset,
        )
    adapter = TypeAdapter(result_type)
    return [
        AuditProductRow(**{**dict(r), "result": adapter.validate_python(r["result"])}) for r in rows
    ]


async def get_audit_product(
    db: Database,
    *,
    org_id: uuid.UUID,
    audit_id: uuid.UUID,
    product_id: str,
    result_type: type[ResultT],
) -> AuditProductRow[ResultT] | None:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            "SELECT product_id, position, invisible, hard_fail, score, expected_gain, result "
            "FROM surfacing_audit_products WHERE audit_id = $1 AND product_id = $2",
            audit_id,
            product_id,
        )
    if row is None:
        return None
    result = TypeAdapter(result_type).validate_python(row["result"])
    return AuditProductRow(**{**dict(row), "result": result})


async def requeue_audit(db: Database, *, org_id: uuid.UUID, audit_id: uuid.UUID) -> bool:
    """Put a failed audit back in the queue for another attempt (a job's retry)."""
    return await jobs.requeue(db, jobs.SURFACING_AUDITS, org_id=org_id, job_id=audit_id)


async def get_audit_artifact(
    db: Database, *, org_id: uuid.UUID, audit_id: uuid.UUID, name: str
) -> bytes | None:
    async with db.tenant(org_id) as conn:
        content: bytes | None = await conn.fetchval(
            "SELECT content FROM surfacing_audit_artifacts WHERE audit_id = $1 AND name = $2",
            audit_id,
            name,
        )
    return content
