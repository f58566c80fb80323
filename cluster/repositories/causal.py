"""Storage of the causal module: datasets, fit jobs, fitted models and their artifacts.

Every function takes the tenant explicitly and runs inside ``Database.tenant``; another org's
row is simply not found.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from cluster.repositories import billing, jobs
from cluster.state import Database
from engine.causal.canonical import DatasetSummary
from engine.causal.persist import spec_from_dict, spec_to_dict
from engine.causal.results import ModelResult
from engine.causal.spec import ModelSpec

# The validated analysis request a job and its model were made from. Its type belongs to the
# API layer above, so readers name it (``request_type``) and get it back validated.
RequestT = TypeVar("RequestT", bound=BaseModel)
ValueT = TypeVar("ValueT")


@dataclass(frozen=True)
class DatasetRow:
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    source: str
    frequency: str
    summary: DatasetSummary
    content_sha256: str
    created_by: uuid.UUID
    created_at: datetime


@dataclass(frozen=True)
class JobRow(Generic[RequestT]):
    id: uuid.UUID
    org_id: uuid.UUID
    kind: str
    dataset_id: uuid.UUID | None
    request: RequestT
    fingerprint: str
    status: str
    stage: str
    progress: float
    attempts: int
    error: str | None
    model_id: uuid.UUID | None
    created_by: uuid.UUID
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class ModelRow(Generic[RequestT]):
    id: uuid.UUID
    org_id: uuid.UUID
    dataset_id: uuid.UUID | None
    job_id: uuid.UUID | None
    fingerprint: str
    request: RequestT  # the analysis request as the API validated it
    spec: ModelSpec
    result: ModelResult
    converged: bool
    created_at: datetime


class _Document(BaseModel, Generic[ValueT]):
    """A typed value (an engine dataclass) as JSON. Non-finite floats (a ratio over no spend,
    say) are stored as the strings "NaN"/"Infinity", which JSONB accepts and which read back as
    the floats."""

    model_config = ConfigDict(ser_json_inf_nan="strings")

    value: ValueT


def _to_document(kind: type[_Document[ValueT]], value: ValueT) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(kind.model_construct(value=value).model_dump_json())[
        "value"
    ]
    return document


def _from_document(kind: type[_Document[ValueT]], document: Mapping[str, Any]) -> ValueT:
    return kind.model_validate({"value": document}).value


_ResultDocument = _Document[ModelResult]
_SummaryDocument = _Document[DatasetSummary]


def result_document(result: ModelResult) -> dict[str, Any]:
    return _to_document(_ResultDocument, result)


def result_from_document(document: Mapping[str, Any]) -> ModelResult:
    return _from_document(_ResultDocument, document)


def summary_document(summary: DatasetSummary) -> dict[str, Any]:
    return _to_document(_SummaryDocument, summary)


def summary_from_document(document: Mapping[str, Any]) -> DatasetSummary:
    return _from_document(_SummaryDocument, document)


def _dataset_row(row: Mapping[str, Any]) -> DatasetRow:
    values = dict(row)
    values["summary"] = summary_from_document(values["summary"])
    return DatasetRow(**values)


def _job_row(row: Mapping[str, Any], request_type: type[RequestT]) -> JobRow[RequestT]:
    values = dict(row)
    values["request"] = request_type.model_validate(values["request"])
    return JobRow(**values)


def _model_row(row: Mapping[str, Any], request_type: type[RequestT]) -> ModelRow[RequestT]:
    values = dict(row)
    values["request"] = request_type.model_validate(values["request"])
    values["spec"] = spec_from_dict(values["spec"])
    values["result"] = result_from_document(values["result"])
    return ModelRow(**values)


@dataclass(frozen=True)
class Artifact:
    name: str
    content_type: str
    content: bytes


_DATASET_COLUMNS = (
    "id, org_id, name, source, frequency, summary, content_sha256, created_by, created_at"
)
_JOB_COLUMNS = (
    "id, org_id, kind, dataset_id, request, fingerprint, status, stage, progress, attempts, "
    "error, model_id, created_by, created_at, started_at, heartbeat_at, finished_at"
)
_MODEL_COLUMNS = (
    "id, org_id, dataset_id, job_id, fingerprint, request, spec, result, converged, created_at"
)


# --- datasets -------------------------------------------------------------------------------


async def create_dataset(
    db: Database,
    *,
    org_id: uuid.UUID,
    name: str,
    source: str,
    frequency: str,
    summary: DatasetSummary,
    content: bytes,
    content_sha256: str,
    created_by: uuid.UUID,
) -> DatasetRow:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            "INSERT INTO causal_datasets (id, org_id, name, source, frequency, summary, content, "
            "content_sha256, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
            f"RETURNING {_DATASET_COLUMNS}",
            uuid.uuid4(),
            org_id,
            name,
            source,
            frequency,
            summary_document(summary),
            content,
            content_sha256,
            created_by,
        )
    return _dataset_row(row)


async def list_datasets(
    db: Database, *, org_id: uuid.UUID, limit: int = 100, offset: int = 0
) -> list[DatasetRow]:
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            f"SELECT {_DATASET_COLUMNS} FROM causal_datasets "
            "ORDER BY created_at DESC, id LIMIT $1 OFFSET $2",
            limit,
            offset,
        )
    return [_dataset_row(r) for r in rows]


async def get_dataset(
    db: Database, *, org_id: uuid.UUID, dataset_id: uuid.UUID
) -> DatasetRow | None:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            f"SELECT {_DATASET_COLUMNS} FROM causal_datasets WHERE id = $1", dataset_id
        )
    return _dataset_row(row) if row else None


async def get_dataset_content(
    db: Database, *, org_id: uuid.UUID, dataset_id: uuid.UUID
) -> tuple[DatasetRow, bytes] | None:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            f"SELECT {_DATASET_COLUMNS}, content FROM causal_datasets WHERE id = $1", dataset_id
        )
    if row is None:
        return None
    fields = dict(row)
    content: bytes = fields.pop("content")
    return _dataset_row(fields), content


async def latest_dataset_with_channels(
    db: Database, *, org_id: uuid.UUID, channels: Sequence[str] | None
) -> uuid.UUID | None:
    """The org's most recent dataset whose channels include every one of ``channels`` (its
    most recent dataset when ``channels`` is None)."""
    async with db.tenant(org_id) as conn:
        found: uuid.UUID | None = await conn.fetchval(
            "SELECT id FROM causal_datasets WHERE summary->'channels' @> $1::jsonb "
            "ORDER BY created_at DESC, id DESC LIMIT 1",
            list(channels or ()),
        )
    return found


async def delete_dataset(db: Database, *, org_id: uuid.UUID, dataset_id: uuid.UUID) -> bool:
    async with db.tenant(org_id) as conn:
        status: str = await conn.execute("DELETE FROM causal_datasets WHERE id = $1", dataset_id)
    return status == "DELETE 1"


# --- jobs -----------------------------------------------------------------------------------


async def create_job(
    db: Database,
    *,
    org_id: uuid.UUID,
    kind: str,
    dataset_id: uuid.UUID,
    request: RequestT,
    fingerprint: str,
    created_by: uuid.UUID,
    metered: Sequence[billing.Metered] = (),
) -> JobRow[RequestT]:
    """Queue a fit; ``metered`` is counted (and its quota enforced) in the same transaction."""
    async with db.tenant(org_id) as conn:
        for usage in metered:
            await billing.meter(conn, org_id=org_id, metered=usage)
        row = await conn.fetchrow(
            "INSERT INTO causal_jobs (id, org_id, kind, dataset_id, request, fingerprint, "
            f"created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_JOB_COLUMNS}",
            uuid.uuid4(),
            org_id,
            kind,
            dataset_id,
            request.model_dump(mode="json"),
            fingerprint,
            created_by,
        )
    return _job_row(row, type(request))


async def get_job(
    db: Database, *, org_id: uuid.UUID, job_id: uuid.UUID, request_type: type[RequestT]
) -> JobRow[RequestT] | None:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(f"SELECT {_JOB_COLUMNS} FROM causal_jobs WHERE id = $1", job_id)
    return _job_row(row, request_type) if row else None


async def list_jobs(
    db: Database,
    *,
    org_id: uuid.UUID,
    request_type: type[RequestT],
    limit: int = 100,
    offset: int = 0,
) -> list[JobRow[RequestT]]:
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            f"SELECT {_JOB_COLUMNS} FROM causal_jobs ORDER BY created_at DESC, id "
            "LIMIT $1 OFFSET $2",
            limit,
            offset,
        )
    return [_job_row(r, request_type) for r in rows]


async def start_job(
    db: Database, *, org_id: uuid.UUID, job_id: uuid.UUID, request_type: type[RequestT]
) -> JobRow[RequestT] | None:
    """Mark a job running for one more attempt; ``None`` if it is gone or already finished."""
    if not await jobs.start(db, jobs.CAUSAL_JOBS, org_id=org_id, job_id=job_id):
        return None
    return await get_job(db, org_id=org_id, job_id=job_id, request_type=request_type)


async def report_progress(
    db: Database, *, org_id: uuid.UUID, job_id: uuid.UUID, stage: str, progress: float
) -> None:
    await jobs.report_progress(
        db, jobs.CAUSAL_JOBS, org_id=org_id, job_id=job_id, stage=stage, progress=progress
    )


async def fail_job(db: Database, *, org_id: uuid.UUID, job_id: uuid.UUID, error: str) -> None:
    await jobs.fail(db, jobs.CAUSAL_JOBS, org_id=org_id, job_id=job_id, error=error)


async def complete_job(
    db: Database,
    *,
    org_id: uuid.UUID,
    job_id: uuid.UUID,
    dataset_id: uuid.UUID | None,
    fingerprint: str,
    request: BaseModel,
    spec: ModelSpec,
    result: ModelResult,
    artifacts: Sequence[Artifact],
    cpu_seconds: float = 0.0,
) -> uuid.UUID:
    """Store the model and its artifacts and finish the job, in one transaction: a job is never
    ``succeeded`` without its model, nor a model stored for a job that failed. The CPU seconds
    the fit held are counted (``fit_cpu_seconds``) in the same transaction."""
    model_id = uuid.uuid4()
    async with db.tenant(org_id) as conn:
        if cpu_seconds > 0:
            await billing.meter(
                conn, org_id=org_id, metered=billing.Metered("fit_cpu_seconds", cpu_seconds)
            )
        await conn.execute(
            "INSERT INTO causal_models (id, org_id, dataset_id, job_id, fingerprint, request, "
            "spec, result, converged) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            model_id,
            org_id,
            dataset_id,
            job_id,
            fingerprint,
            request.model_dump(mode="json"),
            spec_to_dict(spec),
            result_document(result),
            result.converged,
        )
        await conn.executemany(
            "INSERT INTO causal_artifacts (model_id, org_id, name, content_type, content) "
            "VALUES ($1, $2, $3, $4, $5)",
            [(model_id, org_id, a.name, a.content_type, a.content) for a in artifacts],
        )
        await conn.execute(
            "UPDATE causal_jobs SET status = 'succeeded', stage = 'done', progress = 1, "
            "model_id = $2, finished_at = now(), heartbeat_at = now() WHERE id = $1",
            job_id,
            model_id,
        )
    return model_id


# --- models ---------------------------------------------------------------------------------


async def get_model(
    db: Database, *, org_id: uuid.UUID, model_id: uuid.UUID, request_type: type[RequestT]
) -> ModelRow[RequestT] | None:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            f"SELECT {_MODEL_COLUMNS} FROM causal_models WHERE id = $1", model_id
        )
    return _model_row(row, request_type) if row else None


async def list_models(
    db: Database,
    *,
    org_id: uuid.UUID,
    request_type: type[RequestT],
    limit: int = 100,
    offset: int = 0,
) -> list[ModelRow[RequestT]]:
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            f"SELECT {_MODEL_COLUMNS} FROM causal_models ORDER BY created_at DESC, id "
            "LIMIT $1 OFFSET $2",
            limit,
            offset,
        )
    return [_model_row(r, request_type) for r in rows]


async def find_model_by_fingerprint(
    db: Database, *, org_id: uuid.UUID, fingerprint: str, request_type: type[RequestT]
) -> ModelRow[RequestT] | None:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            f"SELECT {_MODEL_COLUMNS} FROM causal_models WHERE fingerprint = $1 "
            "ORDER BY created_at DESC LIMIT 1",
            fingerprint,
        )
    return _model_row(row, request_type) if row else None


async def get_artifact(
    db: Database, *, org_id: uuid.UUID, model_id: uuid.UUID, name: str
) -> Artifact | None:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            "SELECT name, content_type, content FROM causal_artifacts "
            "WHERE model_id = $1 AND name = $2",
            model_id,
            name,
        )
    return Artifact(**dict(row)) if row else None


async def delete_model(db: Database, *, org_id: uuid.UUID, model_id: uuid.UUID) -> bool:
    async with db.tenant(org_id) as conn:
        status: str = await conn.execute("DELETE FROM causal_models WHERE id = $1", model_id)
    return status == "DELETE 1"


async def requeue_job(db: Database, *, org_id: uuid.UUID, job_id: uuid.UUID) -> bool:
    """Put a failed job back in the queue (a backfill's retry); its attempts count on."""
    return await jobs.requeue(db, jobs.CAUSAL_JOBS, org_id=org_id, job_id=job_id)
