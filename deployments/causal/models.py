"""Fits and their answers: analyze (a Ray task per job), jobs, models, reports, budget.

Thin routes: the use cases are in ``deployments.causal.service``.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse

from cluster.repositories import causal as repo
from deployments.causal import service
from deployments.causal.datasets import data_error
from deployments.causal.pipeline import REPORT_ARTIFACT
from deployments.causal.schemas import (
    AnalyzeRequest,
    BudgetPlanOut,
    JobAccepted,
    JobList,
    JobOut,
    ModelList,
    ModelOut,
    ModelSpecOut,
    ModelSummary,
    OptimizeRequest,
)
from deployments.common.errors import ApiError, not_found
from deployments.common.principal import Principal
from deployments.common.security import require, runtime_of
from engine.auth.rbac import Permission
from engine.causal.data import DataError

router = APIRouter(tags=["causal: models"])

CHART_NAMES = ("response_curves.png", "contributions.png", "roas.png")
JOBS = "/api/v1/causal/jobs"


def _job_out(row: repo.JobRow[AnalyzeRequest]) -> JobOut:
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


def _model_out(row: repo.ModelRow[AnalyzeRequest]) -> ModelOut:
    base = f"/api/v1/causal/models/{row.id}"
    return ModelOut(
        id=row.id,
        dataset_id=row.dataset_id,
        job_id=row.job_id,
        created_at=row.created_at,
        converged=row.converged,
        request=row.request,
        spec=ModelSpecOut.of(row.spec),
        incremental_roas=row.result.incremental_roas,
        diagnostics=row.result.diagnostics,
        window=row.result.window,
        result=row.result,
        charts=[f"{base}/charts/{name}" for name in CHART_NAMES],
        report_url=f"{base}/report",
    )


@router.post(
    "/attribution/analyze",
    status_code=202,
    response_model=ModelOut | JobAccepted,
    responses={
        200: {"model": ModelOut, "description": "the fit finished within wait_seconds"},
        202: {"model": JobAccepted, "description": "the fit is running: poll status_url"},
    },
)
async def analyze_attribution(
    body: AnalyzeRequest,
    request: Request,
    response: Response,
    principal: Principal = Depends(require(Permission.CAUSAL_RUN)),
) -> ModelOut | JobAccepted:
    """Fit the MMM on a stored dataset (default: the most recent one with every channel asked
    for). The request is checked against the data here: a bad channel, control, range or lift
    test is a 422 now, not a failed job later."""
    try:
        outcome = await service.analyze(
            runtime_of(request),
            request.app.state.job_runner,
            body,
            org_id=principal.org_id,
            user_id=principal.id,
        )
    except service.NotFoundError as exc:
        raise ApiError(404, "not_found", str(exc), field=exc.field) from exc
    except DataError as exc:
        raise data_error(exc) from exc
    except service.FitFailedError as exc:
        raise ApiError(
            500,
            "fit_failed",
            f"the fit failed: {exc} (job {exc.job.id}: {JOBS}/{exc.job.id})",
        ) from exc
    if outcome.model is not None:
        response.status_code = 200
        return _model_out(outcome.model)
    job = outcome.job
    assert job.dataset_id is not None
    waited = body.wait_seconds
    return JobAccepted(
        job_id=job.id,
        dataset_id=job.dataset_id,
        status=job.status,
        status_url=f"{JOBS}/{job.id}",
        message=(
            f"the fit is still running after {waited:g} s; poll status_url"
            if waited > 0
            else "queued; poll status_url"
        ),
    )


@router.get("/jobs", response_model=JobList)
async def list_jobs(
    request: Request,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    principal: Principal = Depends(require(Permission.CAUSAL_READ)),
) -> JobList:
    rows = await repo.list_jobs(
        runtime_of(request).db,
        org_id=principal.org_id,
        request_type=AnalyzeRequest,
        limit=limit,
        offset=offset,
    )
    return JobList(items=[_job_out(r) for r in rows])


@router.get("/jobs/{job_id}", response_model=JobOut)
async def get_job(
    job_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.CAUSAL_READ)),
) -> JobOut:
    row = await repo.get_job(
        runtime_of(request).db, org_id=principal.org_id, job_id=job_id, request_type=AnalyzeRequest
    )
    if row is None:
        raise not_found("job")
    return _job_out(row)


@router.get("/models", response_model=ModelList)
async def list_models(
    request: Request,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    principal: Principal = Depends(require(Permission.CAUSAL_READ)),
) -> ModelList:
    rows = await repo.list_models(
        runtime_of(request).db,
        org_id=principal.org_id,
        request_type=AnalyzeRequest,
        limit=limit,
        offset=offset,
    )
    return ModelList(
        items=[
            ModelSummary(
                id=r.id,
                dataset_id=r.dataset_id,
                created_at=r.created_at,
                converged=r.converged,
                incremental_roas=r.result.incremental_roas,
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
    try:
        row = await service.model(runtime_of(request), org_id=principal.org_id, model_id=model_id)
    except service.NotFoundError as exc:
        raise not_found("model") from exc
    return _model_out(row)


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


@router.post("/budget/optimize", response_model=BudgetPlanOut)
async def optimize(
    body: OptimizeRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.CAUSAL_READ)),
) -> BudgetPlanOut:
    """Reallocate a budget under the model's posterior (expected or risk-averse)."""
    try:
        row, plan = await service.optimize(runtime_of(request), body, org_id=principal.org_id)
    except service.NotFoundError as exc:
        raise not_found("model") from exc
    except DataError as exc:
        raise data_error(exc) from exc
    return BudgetPlanOut.of(plan, model_id=row.id, converged=row.converged)
