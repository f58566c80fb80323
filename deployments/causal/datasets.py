"""Datasets: canonical uploads (CSV, Parquet, JSON rows) and ad-platform imports.

Validated in the replica before anything is stored: a bad file is a 422 whose ``field`` names
the column and whose message names the row or date and the value, and nothing is written.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from cluster.repositories import causal as repo
from cluster.settings import Settings
from deployments.causal.pipeline import jsonable
from deployments.causal.schemas import DatasetList, DatasetOut, DatasetRowsRequest
from deployments.common.errors import ApiError, not_found
from deployments.common.principal import Principal
from deployments.common.runtime import Runtime
from deployments.common.security import require, runtime_of
from engine.auth.rbac import Permission
from engine.causal.canonical import CanonicalDataset, canonicalise
from engine.causal.data import DataError
from engine.causal.importers import combine, import_export
from engine.causal.storage import to_parquet
from engine.causal.tables import read_table, rows_to_frame

router = APIRouter(tags=["causal: datasets"])

IMPORT_SOURCES = ("google_ads", "meta", "tiktok", "klaviyo")


def _rows_request(raw: bytes) -> DatasetRowsRequest:
    # The body is parsed here, not by FastAPI (the route also takes multipart); handing its
    # errors to FastAPI's validation exception gives them the common 422 shape.
    try:
        return DatasetRowsRequest.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc


def data_error(exc: DataError) -> ApiError:
    return ApiError(422, "invalid_data", str(exc), field=exc.field)


def _dataset_out(row: repo.DatasetRow) -> DatasetOut:
    return DatasetOut(
        id=row.id,
        name=row.name,
        source=row.source,
        frequency=row.frequency,  # type: ignore[arg-type]  # CHECK constraint in the table
        summary=row.summary,
        content_sha256=row.content_sha256,
        created_at=row.created_at,
    )


def _check_size(request: Request, settings: Settings) -> None:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > settings.causal_max_upload_bytes:
        raise ApiError(
            413,
            "payload_too_large",
            f"upload of {int(length)} bytes exceeds the limit of "
            f"{settings.causal_max_upload_bytes} bytes",
            field="file",
        )


async def _store_dataset(
    runtime: Runtime,
    principal: Principal,
    *,
    name: str,
    source: str,
    dataset: CanonicalDataset,
) -> DatasetOut:
    content = to_parquet(dataset)
    row = await repo.create_dataset(
        runtime.db,
        org_id=principal.org_id,
        name=name,
        source=source,
        frequency=dataset.frequency,
        summary=jsonable(dataset.summary()),
        content=content,
        content_sha256=hashlib.sha256(content).hexdigest(),
        created_by=principal.id,
    )
    return _dataset_out(row)


async def _form_text(form: Any, key: str, default: str | None = None) -> str | None:
    value = form.get(key)
    if value is None:
        return default
    if isinstance(value, UploadFile):
        raise ApiError(422, "validation_error", f"{key}: expected a text field", field=key)
    text = str(value).strip()
    if len(text) > 200:
        raise ApiError(422, "validation_error", f"{key}: at most 200 characters", field=key)
    return text or default


_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "name": {"type": "string", "maxLength": 200},
                    },
                }
            },
            "application/json": {"schema": DatasetRowsRequest.model_json_schema()},
        },
    }
}


@router.post(
    "/datasets",
    status_code=201,
    response_model=DatasetOut,
    openapi_extra=_UPLOAD_DOC,
    summary="Upload a dataset (CSV, Parquet or JSON rows) in the canonical shape",
)
async def upload_dataset(
    request: Request, principal: Principal = Depends(require(Permission.CAUSAL_RUN))
) -> DatasetOut:
    runtime = runtime_of(request)
    _check_size(request, runtime.settings)
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/json"):
            body = _rows_request(await request.body())
            frame = await asyncio.to_thread(rows_to_frame, body.rows)
            name, source = body.name, "json"
        elif content_type.startswith("multipart/form-data"):
            async with request.form(max_files=1, max_fields=10) as form:
                upload = form.get("file")
                if not isinstance(upload, UploadFile):
                    raise ApiError(
                        422, "validation_error", "file: a file field is required", field="file"
                    )
                raw = await upload.read()
                name = await _form_text(form, "name", upload.filename or "dataset") or "dataset"
                frame = await asyncio.to_thread(
                    read_table, raw, filename=upload.filename, content_type=upload.content_type
                )
                source = "upload"
        else:
            raise ApiError(
                415,
                "unsupported_media_type",
                "send multipart/form-data with a 'file' field, or application/json rows",
            )
        dataset = await asyncio.to_thread(canonicalise, frame)
    except DataError as exc:
        raise data_error(exc) from exc
    return await _store_dataset(runtime, principal, name=name, source=source, dataset=dataset)


_IMPORT_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["kpi"],
                    "properties": {
                        **{s: {"type": "string", "format": "binary"} for s in IMPORT_SOURCES},
                        "kpi": {
                            "type": "string",
                            "format": "binary",
                            "description": "your own KPI file: date, revenue (and conversions)",
                        },
                        "name": {"type": "string", "maxLength": 200},
                        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                        "fx_rates": {
                            "type": "string",
                            "description": 'JSON {"EUR": 1.08}: target units per source unit',
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/datasets/import",
    status_code=201,
    response_model=DatasetOut,
    openapi_extra=_IMPORT_DOC,
    summary="Build a dataset from ad-platform exports plus your own KPI file",
)
async def import_dataset(
    request: Request, principal: Principal = Depends(require(Permission.CAUSAL_RUN))
) -> DatasetOut:
    runtime = runtime_of(request)
    _check_size(request, runtime.settings)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(415, "unsupported_media_type", "send multipart/form-data")
    try:
        async with request.form(max_files=len(IMPORT_SOURCES) + 1, max_fields=10) as form:
            currency = await _form_text(form, "currency")
            fx_text = await _form_text(form, "fx_rates")
            fx_rates = _parse_fx_rates(fx_text)
            name = await _form_text(form, "name", "imported dataset") or "imported dataset"
            frames = []
            for source in IMPORT_SOURCES:
                upload = form.get(source)
                if isinstance(upload, UploadFile):
                    raw = await upload.read()
                    frames.append(
                        await asyncio.to_thread(
                            import_export,
                            source,  # type: ignore[arg-type]  # one of IMPORT_SOURCES
                            raw,
                            filename=upload.filename,
                            currency=currency,
                            fx_rates=fx_rates,
                        )
                    )
            if not frames:
                raise ApiError(
                    422,
                    "validation_error",
                    f"at least one platform export is required: {', '.join(IMPORT_SOURCES)}",
                    field="file",
                )
            kpi_upload = form.get("kpi")
            if not isinstance(kpi_upload, UploadFile):
                raise ApiError(
                    422,
                    "validation_error",
                    "kpi: your own KPI file (date, revenue) is required; platform files only "
                    "carry what each platform claims",
                    field="kpi",
                )
            kpi_frame = await asyncio.to_thread(
                read_table,
                await kpi_upload.read(),
                filename=kpi_upload.filename,
                content_type=kpi_upload.content_type,
            )
        combined = await asyncio.to_thread(combine, frames, kpi=kpi_frame)
        dataset = await asyncio.to_thread(canonicalise, combined)
    except DataError as exc:
        raise data_error(exc) from exc
    return await _store_dataset(runtime, principal, name=name, source="import", dataset=dataset)


def _parse_fx_rates(text: str | None) -> dict[str, float] | None:
    if text is None:
        return None
    try:
        values = json.loads(text)
        if not isinstance(values, dict):
            raise ValueError("not an object")
        return {str(k): float(v) for k, v in values.items()}
    except (ValueError, TypeError) as exc:
        raise DataError("fx_rates", 'expected a JSON object such as {"EUR": 1.08}') from exc


@router.get("/datasets", response_model=DatasetList)
async def list_datasets(
    request: Request,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    principal: Principal = Depends(require(Permission.CAUSAL_READ)),
) -> DatasetList:
    rows = await repo.list_datasets(
        runtime_of(request).db, org_id=principal.org_id, limit=limit, offset=offset
    )
    return DatasetList(items=[_dataset_out(r) for r in rows])


@router.get("/datasets/{dataset_id}", response_model=DatasetOut)
async def get_dataset(
    dataset_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.CAUSAL_READ)),
) -> DatasetOut:
    row = await repo.get_dataset(
        runtime_of(request).db, org_id=principal.org_id, dataset_id=dataset_id
    )
    if row is None:
        raise not_found("dataset")
    return _dataset_out(row)


@router.delete("/datasets/{dataset_id}", status_code=204)
async def delete_dataset(
    dataset_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.CAUSAL_RUN)),
) -> Response:
    deleted = await repo.delete_dataset(
        runtime_of(request).db, org_id=principal.org_id, dataset_id=dataset_id
    )
    if not deleted:
        raise not_found("dataset")
    return Response(status_code=204)
