"""Fits and their answers: analyze (a Ray task per job), jobs, models, reports, budget."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, Protocol

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse

from cluster.repositories import causal as repo
from deployments.causal.datasets import data_error
from deployments.causal.pipeline import POSTERIOR_ARTIFACT, REPORT_ARTIFACT, jsonable, prepare
from deployments.causal.schemas import (
    AnalyzeRequest,
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
from deployments.common.errors import ApiError, not_found
from deployments.common.principal import Principal
from deployments.common.runtime import Runtime
from deployments.common.security import require, runtime_of
from engine.auth.rbac import Permission
from engine.causal.data import DataError
from engine.causal.inference import ChannelRoas, Diagnostics
from engine.causal.optimize import optimize_budget
from engine.causal.persist import load_posterior, spec_from_dict

log = logging.getLogger(__name__)

router = APIRouter(tags=["causal: models"])

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
        await asyncio.to_thread(prepare, content, body)
    except DataError as exc:
        raise data_error(exc) from exc
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
        raise data_error(exc) from exc
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
