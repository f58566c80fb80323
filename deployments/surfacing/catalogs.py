"""Catalogs: uploads (CSV, JSON Lines, Parquet, Merchant Center XML, HTML product pages, JSON
rows), their products, and the merchant's site-search queries.

An upload is validated whole in the replica before anything is stored: a bad row is a 422 whose
``field`` names the field and whose message names the row (line number or product id), and
nothing is written. Thin routes; the use cases are in ``deployments.surfacing.service``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from typing import Any, get_args

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.datastructures import UploadFile

from cluster.repositories import surfacing as repo
from deployments.common.errors import ApiError, not_found
from deployments.common.principal import Principal
from deployments.common.security import audited_read, require, runtime_of
from deployments.common.uploads import check_upload_size, form_problem, form_text, json_body
from deployments.surfacing import service
from deployments.surfacing.schemas import (
    CatalogList,
    CatalogOut,
    CatalogRowsRequest,
    ProductList,
    ProductOut,
    QueriesRequest,
    QueryList,
    QueryOut,
)
from engine.auth.rbac import Permission
from engine.surfacing.formats import (
    CatalogFormat,
    detect_format,
    parse_catalog,
    products_from_rows,
)
from engine.surfacing.product import CatalogError, Product

router = APIRouter(tags=["surfacing: catalogs"])

BASE = "/api/v1/surfacing"
MAX_FILES = 1_000  # product pages per upload
FORMATS: tuple[str, ...] = get_args(CatalogFormat)


def catalog_error(exc: CatalogError) -> ApiError:
    return ApiError(422, "invalid_catalog", str(exc), field=exc.field)


def not_found_error(exc: service.NotFoundError) -> ApiError:
    return not_found(exc.what)


def catalog_out(row: repo.CatalogRow) -> CatalogOut:
    return CatalogOut(
        id=row.id,
        name=row.name,
        format=row.format,
        product_count=row.product_count,
        content_sha256=row.content_sha256,
        created_at=row.created_at,
        products_url=f"{BASE}/catalogs/{row.id}/products",
    )


def _query_out(row: repo.QueryRow) -> QueryOut:
    relevant = list(row.relevant) if row.relevant is not None else None
    return QueryOut(id=row.id, text=row.text, relevant=relevant, created_at=row.created_at)


def _columns_field(form: Any) -> dict[str, str] | None:
    text = form_text(form, "columns", limit=20_000)
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise form_problem("columns", f"is not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise form_problem(
            "columns", 'a JSON object of your column -> canonical field, e.g. {"Name": "title"}'
        )
    return value


_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "one catalog file, or several HTML product pages",
                        },
                        "name": {"type": "string", "maxLength": 200},
                        "format": {"type": "string", "enum": list(FORMATS)},
                        "columns": {
                            "type": "string",
                            "description": 'JSON {"your column": "canonical field"}',
                        },
                    },
                }
            },
            "application/json": {"schema": CatalogRowsRequest.model_json_schema()},
        },
    }
}


@router.post(
    "/catalogs",
    status_code=201,
    response_model=CatalogOut,
    openapi_extra=_UPLOAD_DOC,
    summary="Upload a catalog: CSV, JSON Lines, Parquet, Merchant Center XML, HTML pages, JSON",
)
async def upload_catalog(
    request: Request, principal: Principal = Depends(require(Permission.SURFACING_RUN))
) -> CatalogOut:
    check_upload_size(request, runtime_of(request).settings.surfacing_max_upload_bytes)
    content_type = request.headers.get("content-type", "")
    digest = hashlib.sha256()
    try:
        if content_type.startswith("application/json"):
            raw = await request.body()
            digest.update(raw)
            body = json_body(CatalogRowsRequest, raw)
            products = await asyncio.to_thread(
                products_from_rows, body.products, columns=body.columns
            )
            name, format = body.name, "json"
        elif content_type.startswith("multipart/form-data"):
            async with request.form(max_files=MAX_FILES, max_fields=10) as form:
                uploads = [u for u in form.getlist("file") if isinstance(u, UploadFile)]
                if not uploads:
                    raise form_problem("file", "a file field is required")
                columns = _columns_field(form)
                chosen = form_text(form, "format")
                if chosen is not None and chosen not in FORMATS:
                    raise form_problem("format", f"one of {', '.join(FORMATS)}")
                parts: list[tuple[str, tuple[Product, ...]]] = []
                formats: set[str] = set()
                for upload in uploads:
                    content = await upload.read()
                    digest.update(content)
                    detected: CatalogFormat = (
                        chosen  # type: ignore[assignment]  # checked against FORMATS
                        if chosen is not None
                        else detect_format(
                            content, filename=upload.filename, content_type=upload.content_type
                        )
                    )
                    formats.add(detected)
                    parsed = await asyncio.to_thread(
                        parse_catalog,
                        content,
                        format=detected,
                        filename=upload.filename,
                        columns=columns,
                    )
                    parts.append((upload.filename or f"file {len(parts) + 1}", parsed))
                products = service.combine_uploads(parts)
                name = form_text(form, "name") or uploads[0].filename or "catalog"
                format = "+".join(sorted(formats))
        else:
            raise ApiError(
                415,
                "unsupported_media_type",
                "send multipart/form-data with a 'file' field, or application/json products",
            )
    except CatalogError as exc:
        raise catalog_error(exc) from exc
    row = await service.store_catalog(
        runtime_of(request),
        org_id=principal.org_id,
        user_id=principal.id,
        name=name,
        format=format,
        products=products,
        content_sha256=digest.hexdigest(),
    )
    return catalog_out(row)


@router.get("/catalogs", response_model=CatalogList)
async def list_catalogs(
    request: Request,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    principal: Principal = Depends(require(Permission.SURFACING_READ)),
) -> CatalogList:
    rows = await repo.list_catalogs(
        runtime_of(request).db, org_id=principal.org_id, limit=limit, offset=offset
    )
    return CatalogList(items=[catalog_out(r) for r in rows])


@router.get(
    "/catalogs/{catalog_id}", response_model=CatalogOut, dependencies=[Depends(audited_read)]
)
async def get_catalog(
    catalog_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.SURFACING_READ)),
) -> CatalogOut:
    try:
        row = await service.catalog(
            runtime_of(request), org_id=principal.org_id, catalog_id=catalog_id
        )
    except service.NotFoundError as exc:
        raise not_found_error(exc) from exc
    return catalog_out(row)


@router.delete("/catalogs/{catalog_id}", status_code=204)
async def delete_catalog(
    catalog_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.SURFACING_RUN)),
) -> Response:
    deleted = await repo.delete_catalog(
        runtime_of(request).db, org_id=principal.org_id, catalog_id=catalog_id
    )
    if not deleted:
        raise not_found("catalog")
    return Response(status_code=204)


@router.get(
    "/catalogs/{catalog_id}/products",
    response_model=ProductList,
    dependencies=[Depends(audited_read)],
)
async def list_products(
    catalog_id: uuid.UUID,
    request: Request,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    principal: Principal = Depends(require(Permission.SURFACING_READ)),
) -> ProductList:
    runtime = runtime_of(request)
    try:
        row = await service.catalog(runtime, org_id=principal.org_id, catalog_id=catalog_id)
    except service.NotFoundError as exc:
        raise not_found_error(exc) from exc
    products = await repo.list_products(
        runtime.db, org_id=principal.org_id, catalog_id=catalog_id, limit=limit, offset=offset
    )
    return ProductList(items=[ProductOut.of(p) for p in products], total=row.product_count)


@router.get(
    "/catalogs/{catalog_id}/products/{product_id}",
    response_model=ProductOut,
    dependencies=[Depends(audited_read)],
)
async def get_product(
    catalog_id: uuid.UUID,
    product_id: str,
    request: Request,
    principal: Principal = Depends(require(Permission.SURFACING_READ)),
) -> ProductOut:
    try:
        found = await service.product(
            runtime_of(request),
            org_id=principal.org_id,
            catalog_id=catalog_id,
            product_id=product_id,
        )
    except service.NotFoundError as exc:
        raise not_found_error(exc) from exc
    return ProductOut.of(found)


@router.post("/catalogs/{catalog_id}/queries", status_code=201, response_model=QueryList)
async def add_queries(
    catalog_id: uuid.UUID,
    body: QueriesRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.SURFACING_RUN)),
) -> QueryList:
    try:
        rows = await service.add_queries(
            runtime_of(request),
            org_id=principal.org_id,
            catalog_id=catalog_id,
            queries=[(q.text, q.relevant) for q in body.queries],
        )
    except service.NotFoundError as exc:
        raise not_found_error(exc) from exc
    except CatalogError as exc:
        raise catalog_error(exc) from exc
    return QueryList(items=[_query_out(r) for r in rows])


@router.get("/catalogs/{catalog_id}/queries", response_model=QueryList)
async def list_queries(
    catalog_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.SURFACING_READ)),
) -> QueryList:
    runtime = runtime_of(request)
    try:
        await service.catalog(runtime, org_id=principal.org_id, catalog_id=catalog_id)
    except service.NotFoundError as exc:
        raise not_found_error(exc) from exc
    rows = await repo.list_queries(runtime.db, org_id=principal.org_id, catalog_id=catalog_id)
    return QueryList(items=[_query_out(r) for r in rows])
