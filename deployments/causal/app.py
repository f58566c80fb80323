"""The causal module at /api/v1/causal: datasets, MMM fits, answers, budget, reports.

Uploads are validated in the replica (a bad file is a 422 that says what and where, and nothing
is stored); fits run as Ray tasks (``deployments.causal.tasks``) and are polled through
``/jobs/{id}``. Every object is tenant-scoped: another org's id is a 404.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from datetime import date
from typing import Any, Literal, Protocol

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse
from ray import serve
from starlette.datastructures import UploadFile

from cluster.repositories import causal as repo
from cluster.settings import Settings
from deployments.causal.pipeline import POSTERIOR_ARTIFACT, REPORT_ARTIFACT, jsonable
from deployments.causal.schemas import (
    AnalyzeRequest,
    DatasetList,
    DatasetOut,
    DatasetRowsRequest,
    Interval,
    JobAccepted,
    JobList,
    JobOut,
    ModelList,
    ModelOut,
    ModelSummary,
    OptimizeRequest,
)
from deployments.causal.tasks import fingerprint
from deployments.common.app import create_service_app
from deployments.common.errors import ApiError, not_found
from deployments.common.principal import Principal
from deployments.common.runtime import Runtime
from deployments.common.security import require, runtime_of
from engine.auth.rbac import Permission
from engine.calendar import CALENDAR_FIELDS, calendar_dimension, to_format
from engine.causal.data import DataError
from engine.causal.importers import combine, import_export
from engine.causal.inference import ChannelRoas, Diagnostics
from engine.causal.ingest import (
    CanonicalDataset,
    canonicalise,
    read_table,
    rows_to_frame,
    to_parquet,
)
from engine.causal.optimize import optimize_budget
from engine.causal.persist import load_posterior, spec_from_dict

log = logging.getLogger(__name__)

router = APIRouter(tags=["causal"])

IMPORT_SOURCES = ("google_ads", "meta", "tiktok", "klaviyo")
CHART_NAMES = ("response_curves.png", "contributions.png", "roas.png")


class JobRunner(Protocol):
    """Starts a stored, queued job somewhere off the request path."""

    def submit(self, runtime: Runtime, *, org_id: uuid.UUID, job_id: uuid.UUID) -> None: ...


class RayJobRunner:
    """One Ray task per job; if Ray gives up on it (retries exhausted) the job is failed."""

    def submit(self, runtime: Runtime, *, org_id: uuid.UUID, job_id: uuid.UUID) -> None:
        from deployments.causal.tasks import run_analysis_job, task_options

        ref = run_analysis_job.options(**task_options(runtime.settings)).remote(
            str(org_id), str(job_id)
        )

        async def watch() -> None:
            try:
                await ref
            except Exception as exc:
                log.exception("analysis job %s lost", job_id)
                await repo.fail_job(
                    runtime.db, org_id=org_id, job_id=job_id, error=f"worker lost: {exc}"
                )

        runtime.spawn(watch(), what=f"analysis job {job_id}")


def _data_error(exc: DataError) -> ApiError:
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


def _job_out(row: repo.JobRow) -> JobOut:
    return JobOut(
        id=row.id,
        kind=row.kind,
        dataset_id=row.dataset_id,
        status=row.status,  # type: ignore[arg-type]  # CHECK constraint in the table
        stage=row.stage,
        progress=row.progress,
        attempts=row.attempts,
        error=row.error,
        model_id=row.model_id,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _roas_intervals(result: dict[str, Any]) -> dict[str, Interval]:
    return {name: Interval(**values) for name, values in result["incremental_roas"].items()}


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
            body = DatasetRowsRequest.model_validate_json(await request.body())
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
        raise _data_error(exc) from exc
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
        raise _data_error(exc) from exc
    return await _store_dataset(runtime, principal, name=name, source="import", dataset=dataset)


def _parse_fx_rates(text: str | None) -> dict[str, float] | None:
    if text is None:
        return None
    import json

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


@router.post("/attribution/analyze", status_code=202, response_model=JobAccepted)
async def analyze_attribution(
    body: AnalyzeRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.CAUSAL_RUN)),
) -> JobAccepted:
    """Fit the MMM on a stored dataset. The request is checked against the data here (a bad
    channel, control, range or lift test is a 422 now, not a failed job later)."""
    runtime = runtime_of(request)
    found = await repo.get_dataset_content(
        runtime.db, org_id=principal.org_id, dataset_id=body.dataset_id
    )
    if found is None:
        raise ApiError(404, "not_found", "dataset not found", field="dataset_id")
    dataset_row, content = found
    try:
        await asyncio.to_thread(_check_request, content, body)
    except DataError as exc:
        raise _data_error(exc) from exc
    request_json = body.model_dump(mode="json")
    job = await repo.create_job(
        runtime.db,
        org_id=principal.org_id,
        kind="analyze",
        dataset_id=body.dataset_id,
        request=request_json,
        fingerprint=fingerprint(dataset_row.content_sha256, request_json),
        created_by=principal.id,
    )
    runner: JobRunner = request.app.state.job_runner
    runner.submit(runtime, org_id=principal.org_id, job_id=job.id)
    return JobAccepted(job_id=job.id, status=job.status, status_url=f"/api/v1/causal/jobs/{job.id}")


def _check_request(content: bytes, body: AnalyzeRequest) -> None:
    from deployments.causal.pipeline import build_spec, model_input
    from engine.causal.ingest import from_parquet

    prepared = model_input(from_parquet(content), body).national
    build_spec(body, prepared.frequency, prepared.data.periods)
    for channel in body.spec.channel_roas_priors:
        if channel not in prepared.data.channels:
            raise DataError("spec.channel_roas_priors", f"unknown channel {channel!r}")


@router.get("/jobs", response_model=JobList)
async def list_jobs(
    request: Request,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    principal: Principal = Depends(require(Permission.CAUSAL_READ)),
) -> JobList:
    rows = await repo.list_jobs(
        runtime_of(request).db, org_id=principal.org_id, limit=limit, offset=offset
    )
    return JobList(items=[_job_out(r) for r in rows])


@router.get("/jobs/{job_id}", response_model=JobOut)
async def get_job(
    job_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.CAUSAL_READ)),
) -> JobOut:
    row = await repo.get_job(runtime_of(request).db, org_id=principal.org_id, job_id=job_id)
    if row is None:
        raise not_found("job")
    return _job_out(row)


async def _model_or_404(
    request: Request, principal: Principal, model_id: uuid.UUID
) -> repo.ModelRow:
    row = await repo.get_model(runtime_of(request).db, org_id=principal.org_id, model_id=model_id)
    if row is None:
        raise not_found("model")
    return row


@router.get("/models", response_model=ModelList)
async def list_models(
    request: Request,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    principal: Principal = Depends(require(Permission.CAUSAL_READ)),
) -> ModelList:
    rows = await repo.list_models(
        runtime_of(request).db, org_id=principal.org_id, limit=limit, offset=offset
    )
    return ModelList(
        items=[
            ModelSummary(
                id=r.id,
                dataset_id=r.dataset_id,
                created_at=r.created_at,
                converged=r.converged,
                incremental_roas=_roas_intervals(r.result),
            )
            for r in rows
        ]
    )


@router.get("/models/{model_id}", response_model=ModelOut)
async def get_model(
    model_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.CAUSAL_READ)),
) -> ModelOut:
    row = await _model_or_404(request, principal, model_id)
    base = f"/api/v1/causal/models/{row.id}"
    return ModelOut(
        id=row.id,
        dataset_id=row.dataset_id,
        job_id=row.job_id,
        created_at=row.created_at,
        converged=row.converged,
        request=row.request,
        spec=row.spec,
        incremental_roas=_roas_intervals(row.result),
        diagnostics=row.result["diagnostics"],
        result=row.result,
        charts=[f"{base}/charts/{name}" for name in CHART_NAMES],
        report_url=f"{base}/report",
    )


@router.delete("/models/{model_id}", status_code=204)
async def delete_model(
    model_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.CAUSAL_RUN)),
) -> Response:
    if not await repo.delete_model(
        runtime_of(request).db, org_id=principal.org_id, model_id=model_id
    ):
        raise not_found("model")
    return Response(status_code=204)


@router.get(
    "/models/{model_id}/report",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}},
)
async def model_report(
    model_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.CAUSAL_READ)),
) -> Response:
    artifact = await repo.get_artifact(
        runtime_of(request).db, org_id=principal.org_id, model_id=model_id, name=REPORT_ARTIFACT
    )
    if artifact is None:
        raise not_found("model")
    return Response(content=artifact.content, media_type=artifact.content_type)


@router.get(
    "/models/{model_id}/charts/{name}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def model_chart(
    model_id: uuid.UUID,
    name: str,
    request: Request,
    principal: Principal = Depends(require(Permission.CAUSAL_READ)),
) -> Response:
    if name not in CHART_NAMES:
        raise ApiError(
            404, "not_found", f"chart {name!r} not found; charts: {', '.join(CHART_NAMES)}"
        )
    artifact = await repo.get_artifact(
        runtime_of(request).db, org_id=principal.org_id, model_id=model_id, name=name
    )
    if artifact is None:
        raise not_found("model")
    return Response(content=artifact.content, media_type=artifact.content_type)


@router.post("/budget/optimize")
async def optimize(
    body: OptimizeRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.CAUSAL_READ)),
) -> dict[str, Any]:
    """Reallocate a budget under the model's posterior (expected or risk-averse)."""
    runtime = runtime_of(request)
    row = await _model_or_404(request, principal, body.model_id)
    archive = await repo.get_artifact(
        runtime.db, org_id=principal.org_id, model_id=row.id, name=POSTERIOR_ARTIFACT
    )
    if archive is None:
        raise not_found("model")
    try:
        plan = await asyncio.to_thread(_optimize, row, archive.content, body)
    except DataError as exc:
        raise _data_error(exc) from exc
    result: dict[str, Any] = jsonable(plan)
    result["model_id"] = str(row.id)
    result["converged"] = row.converged
    return result


def _optimize(row: repo.ModelRow, posterior: bytes, body: OptimizeRequest) -> Any:
    if row.result["data"].get("geos"):
        raise DataError(
            "model_id",
            "budget optimisation works on a national model; this one was fitted per geo "
            "(fit the dataset without geo_hierarchy to optimise its national budget)",
        )
    spec = spec_from_dict(row.spec)
    roas = tuple(
        ChannelRoas(channel=name, incremental_kpi=float("nan"), **values)
        for name, values in row.result["incremental_roas"].items()
    )
    fitted = load_posterior(
        posterior, spec=spec, roas=roas, diagnostics=Diagnostics(**row.result["diagnostics"])
    )
    return optimize_budget(
        fitted,
        total_budget=body.total_budget,
        horizon_periods=body.horizon_periods,
        bounds={
            name: (b.min, b.max if b.max is not None else body.total_budget)
            for name, b in body.bounds.items()
        }
        or None,
        locked=body.locked or None,
        current=body.current,
        risk_quantile=body.risk_quantile,
    )


_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_CALENDAR_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.stream",
}


def _parse_weekend(value: str) -> tuple[int, ...]:
    names = [part.strip().lower()[:3] for part in value.split(",") if part.strip()]
    unknown = [n for n in names if n not in _WEEKDAYS]
    if unknown:
        raise DataError(
            "weekend", f"unknown weekday {unknown[0]!r}; use e.g. 'sat,sun' or 'fri,sat'"
        )
    return tuple(sorted({_WEEKDAYS[n] for n in names}))


@router.get(
    "/eda/calendar-dimension",
    responses={
        200: {
            "content": {
                "application/json": {},
                **{media: {} for media in _CALENDAR_MEDIA.values()},
            }
        }
    },
)
async def calendar_dimension_table(
    start_date: date,
    end_date: date,
    country: str = Query(default="US", min_length=2, max_length=3),
    subdivision: str | None = Query(default=None, min_length=1, max_length=10),
    fiscal_year_start_month: int = Query(default=1, ge=1, le=12),
    weekend: str = Query(default="sat,sun", max_length=40, description="e.g. 'fri,sat'"),
    format: Literal["json", "csv", "parquet", "arrow"] = "json",
    principal: Principal = Depends(require(Permission.CAUSAL_READ)),
) -> Any:
    """One row per day with the 61 documented calendar features (docs/calendar.md)."""
    del principal  # the table is the same for every tenant; reading it still needs a caller
    try:
        frame = await asyncio.to_thread(
            calendar_dimension,
            start_date,
            end_date,
            country=country,
            subdivision=subdivision,
            fiscal_year_start_month=fiscal_year_start_month,
            weekend=_parse_weekend(weekend),
        )
    except DataError as exc:
        field = {"start": "start_date", "end": "end_date"}.get(exc.field, exc.field)
        message = str(exc).replace(f"{exc.field}:", f"{field}:", 1)
        raise ApiError(422, "validation_error", message, field=field) from exc
    if format == "json":
        return {
            "data": to_format(frame, "json"),
            "schema": {
                "fields": [
                    {"name": f.name, "type": f.type, "description": f.description}
                    for f in CALENDAR_FIELDS
                ]
            },
        }
    return Response(content=to_format(frame, format), media_type=_CALENDAR_MEDIA[format])


def create_app(
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    *,
    runner: JobRunner | None = None,
    behind_serve: bool = False,
) -> FastAPI:
    app = create_service_app(
        service="causal",
        title="LiftOS causal module",
        description=(
            "Bayesian marketing-mix modelling: incremental ROAS with credible intervals, the gap "
            "to what ad platforms claim, and budget reallocation."
        ),
        routers=[router],
        settings=settings,
        runtime=runtime,
        behind_serve=behind_serve,
    )
    app.state.job_runner = runner or RayJobRunner()
    return app


@serve.deployment(name="CausalModule", max_ongoing_requests=64)
@serve.ingress(create_app(behind_serve=True))
class CausalModule:
    """Serve replica of the causal module; all behaviour lives in the FastAPI app."""


app = CausalModule.bind()  # type: ignore[attr-defined]  # added by @serve.deployment
