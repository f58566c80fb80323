"""Datasets: uploads (CSV, Parquet, JSON rows) and ad-platform imports.

An upload is in the canonical shape or names the roles of its own columns (``spend_columns``
and the other fields of :data:`ROLE_FIELDS`). Validated in the replica before anything is
stored: a bad file is a 422 whose ``field`` names the column (the user's own name) and whose
message names the row or date and the value, and nothing is written.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.datastructures import UploadFile

from cluster.repositories import causal as repo
from deployments.causal.schemas import DatasetList, DatasetOut, DatasetRowsRequest
from deployments.common.errors import ApiError, not_found
from deployments.common.principal import Principal
from deployments.common.runtime import Runtime
from deployments.common.security import audited_read, require, runtime_of
from deployments.common.uploads import check_upload_size, form_problem, form_text, json_body
from engine.auth.rbac import Permission
from engine.causal.canonical import CanonicalDataset, canonicalise
from engine.causal.data import DataError
from engine.causal.importers import combine, import_export
from engine.causal.roles import ColumnRoles, Kpi, channels_from_columns
from engine.causal.storage import to_parquet
from engine.causal.tables import read_table, rows_to_frame

router = APIRouter(tags=["causal: datasets"])

IMPORT_SOURCES = ("google_ads", "meta", "tiktok", "klaviyo")
ROLE_FIELDS = (
    "date_column",
    "geo_column",
    "kpi_column",
    "kpi",
    "spend_columns",
    "attributed_columns",
    "control_columns",
)
_NAME_FIELDS = ("date_column", "geo_column", "kpi_column", "kpi")  # one name, as plain text
_MAX_NAME_TEXT = 200
_MAX_LIST_TEXT = 20_000  # 200 column names of up to 100 characters
_KPIS: Mapping[str, Kpi] = {"revenue": "revenue", "conversions": "conversions"}


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
        summary=dataset.summary(),
        content=content,
        content_sha256=hashlib.sha256(content).hexdigest(),
        created_by=principal.id,
    )
    return _dataset_out(row)


def parse_role_field(key: str, text: str) -> str | list[str] | dict[str, str]:
    """One role form field: a name, or a list of names as ``a,b,c`` or a JSON list, or (for
    ``spend_columns`` and ``attributed_columns``) a JSON object ``{"channel": "column"}``."""
    if key in _NAME_FIELDS:
        return text
    if not text.startswith(("[", "{")):
        if key == "attributed_columns":
            raise form_problem(
                key, 'send a JSON object channel -> column, e.g. {"facebook": "FB Purchase Value"}'
            )
        names = [part.strip() for part in text.split(",")]
        if not all(names):
            raise form_problem(
                key, f"an empty name in {text!r}; a name with a comma goes in a JSON list"
            )
        return names
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise form_problem(key, f"is not valid JSON ({exc.msg} at column {exc.colno})") from None
    if isinstance(value, dict) and key in ("spend_columns", "attributed_columns"):
        if all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return value
        raise form_problem(key, "a JSON object of channel -> column name, both text")
    if isinstance(value, list) and key != "attributed_columns":
        if all(isinstance(v, str) for v in value):
            return value
        raise form_problem(key, "a JSON list of column names, all text")
    wanted = "an object" if key == "attributed_columns" else "a list"
    raise form_problem(key, f"must be {wanted}, got JSON {type(value).__name__}")


async def _form_roles(form: Any) -> ColumnRoles | None:
    values: dict[str, Any] = {}
    for key in ROLE_FIELDS:
        limit = _MAX_NAME_TEXT if key in _NAME_FIELDS else _MAX_LIST_TEXT
        text = form_text(form, key, limit=limit)
        if text is not None:
            values[key] = parse_role_field(key, text)
    return column_roles(**values)


def column_roles(
    *,
    date_column: str | None = None,
    geo_column: str | None = None,
    kpi_column: str | None = None,
    kpi: str | None = None,
    spend_columns: Sequence[str] | Mapping[str, str] | None = None,
    attributed_columns: Mapping[str, str] | None = None,
    control_columns: Sequence[str] | None = None,
) -> ColumnRoles | None:
    """The roles an upload states (None when it states none: the naming convention applies).

    A list of spend columns names each channel after its column. Raises DataError naming the
    field, like every other problem with the roles.
    """
    if kpi is not None:
        if kpi not in _KPIS:
            raise DataError("kpi", f"must be 'revenue' or 'conversions', got {kpi!r}")
        if kpi_column is None:
            raise DataError("kpi", "says what kpi_column holds: send kpi_column too")
    spend: Mapping[str, str] | None
    if spend_columns is None or isinstance(spend_columns, Mapping):
        spend = spend_columns
    else:
        spend = channels_from_columns(spend_columns)
    stated = (date_column, geo_column, kpi_column, spend, attributed_columns, control_columns)
    if all(value is None for value in stated):
        return None
    return ColumnRoles(
        date_column=date_column,
        geo_column=geo_column,
        kpi_column=kpi_column,
        kpi=_KPIS[kpi or "revenue"],
        spend_columns=spend,
        attributed_columns=attributed_columns,
        control_columns=control_columns,
    )


def _role_doc(description: str, max_length: int = _MAX_LIST_TEXT) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length, "description": description}


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
                        "spend_columns": _role_doc(
                            "the media spend columns: a comma-separated list or JSON list "
                            "(channels named after the columns: lowercased, other characters "
                            'runs as _), or a JSON object {"facebook": "FB Spend"} (channel -> '
                            "column); default: the spend_<channel> columns"
                        ),
                        "kpi_column": _role_doc(
                            "the KPI column; default: revenue and/or conversions", _MAX_NAME_TEXT
                        ),
                        "kpi": {
                            "type": "string",
                            "enum": list(_KPIS),
                            "description": "what kpi_column holds (default revenue)",
                        },
                        "attributed_columns": _role_doc(
                            'JSON object {"facebook": "FB Purchase Value"}: the value each '
                            "channel's platform claims; default: the attributed_<channel> columns"
                        ),
                        "control_columns": _role_doc(
                            "exactly the controls, a comma-separated or JSON list (every other "
                            "column is left out); default: every column without another role, "
                            "each of which must then be numeric"
                        ),
                        "date_column": _role_doc(
                            "the column of period dates; default: date", _MAX_NAME_TEXT
                        ),
                        "geo_column": _role_doc(
                            "the region column; default: geo if there is one", _MAX_NAME_TEXT
                        ),
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
    summary="Upload a dataset (CSV, Parquet or JSON rows), canonical or with its column roles",
)
async def upload_dataset(
    request: Request, principal: Principal = Depends(require(Permission.CAUSAL_RUN))
) -> DatasetOut:
    runtime = runtime_of(request)
    check_upload_size(request, runtime.settings.causal_max_upload_bytes)
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/json"):
            body = json_body(DatasetRowsRequest, await request.body())
            roles = column_roles(**body.model_dump(include=set(ROLE_FIELDS)))
            frame = await asyncio.to_thread(rows_to_frame, body.rows)
            name, source = body.name, "json"
        elif content_type.startswith("multipart/form-data"):
            async with request.form(max_files=1, max_fields=len(ROLE_FIELDS) + 2) as form:
                upload = form.get("file")
                if not isinstance(upload, UploadFile):
                    raise ApiError(
                        422, "validation_error", "file: a file field is required", field="file"
                    )
                roles = await _form_roles(form)
                raw = await upload.read()
                name = form_text(form, "name", upload.filename or "dataset") or "dataset"
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
        dataset = await asyncio.to_thread(canonicalise, frame, roles)
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
    check_upload_size(request, runtime.settings.causal_max_upload_bytes)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(415, "unsupported_media_type", "send multipart/form-data")
    try:
        async with request.form(max_files=len(IMPORT_SOURCES) + 1, max_fields=10) as form:
            currency = form_text(form, "currency")
            fx_text = form_text(form, "fx_rates")
            fx_rates = _parse_fx_rates(fx_text)
            name = form_text(form, "name", "imported dataset") or "imported dataset"
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


@router.get(
    "/datasets/{dataset_id}", response_model=DatasetOut, dependencies=[Depends(audited_read)]
)
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
