"""Thin routes of the eval module; the use cases are in ``deployments.eval.service``.

``router`` is mounted at /api/v1/eval; ``seed_router`` holds the product description's short
paths (``POST /api/v1/evaluate``, ``POST /api/v1/benchmark``), served by the gateway at /.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse

from cluster.repositories import eval as repo
from deployments.common.errors import ApiError, not_found
from deployments.common.principal import Principal
from deployments.common.security import require, runtime_of
from deployments.eval import service
from deployments.eval.schemas import (
    BenchmarkRequest,
    CaseResultOut,
    ComparisonOut,
    EvaluateRequest,
    GateOut,
    GateRequest,
    RunAccepted,
    RunList,
    RunListItem,
    RunOut,
    SandboxCompareRequest,
    SandboxRunRequest,
    SuiteIn,
    SuiteList,
    SuiteOut,
)
from engine.auth.rbac import Permission
from engine.eval import suites

router = APIRouter(tags=["eval"])
seed_router = APIRouter(tags=["eval"])
RUNS = "/api/v1/eval/runs"


def runner_of(app: FastAPI) -> service.RunRunner:
    """The app's run runner (Ray's unless a test set one), made on first use."""
    runner: service.RunRunner | None = getattr(app.state, "eval_runner", None)
    if runner is None:
        from deployments.eval.tasks import RayRunRunner

        runner = app.state.eval_runner = RayRunRunner()
    return runner


def _runner(request: Request) -> service.RunRunner:
    return runner_of(request.app)


def _accepted(run: repo.RunRow[Any, Any], what: str) -> RunAccepted:
    return RunAccepted(
        run_id=run.id,
        kind=run.kind,
        status=run.status,
        cases_total=run.cases_total,
        status_url=f"{RUNS}/{run.id}",
        message=f"{what} queued; poll status_url for progress and results",
    )


@router.post("/evaluate", status_code=202, response_model=RunAccepted)
async def evaluate(
    body: EvaluateRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.EVAL_RUN)),
) -> RunAccepted:
    """Run test cases through a configured model (and others to compare) and score them on
    the metrics asked for; statistics with intervals when the run finishes."""
    run = await service.evaluate(
        runtime_of(request), _runner(request), body, org_id=principal.org_id, principal=principal
    )
    return _accepted(run, f"{run.cases_total} calls")


@router.post("/benchmark", status_code=202, response_model=RunAccepted)
async def benchmark(
    body: BenchmarkRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.EVAL_RUN)),
) -> RunAccepted:
    """Run a suite (the org's or a built-in one) through several models, compared pairwise."""
    run = await service.benchmark(
        runtime_of(request), _runner(request), body, org_id=principal.org_id, principal=principal
    )
    return _accepted(run, f"suite '{run.suite_name}': {run.cases_total} calls")


# The seed's short paths: the same handlers.
for _path, _handler in (("/api/v1/evaluate", evaluate), ("/api/v1/benchmark", benchmark)):
    seed_router.add_api_route(
        _path,
        _handler,
        methods=["POST"],
        status_code=202,
        response_model=RunAccepted,
        name=f"seed_{_handler.__name__}",
    )


# --- runs -------------------------------------------------------------------------------------


@router.get("/runs", response_model=RunList)
async def list_runs(
    request: Request,
    kind: str | None = Query(default=None, pattern="^(evaluate|benchmark|sandbox)$"),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    principal: Principal = Depends(require(Permission.EVAL_READ)),
) -> RunList:
    rows = await repo.list_runs(
        runtime_of(request).db, org_id=principal.org_id, kind=kind, limit=limit, offset=offset
    )
    return RunList(items=[RunListItem(**vars(r)) for r in rows])


@router.get("/runs/{run_id}", response_model=RunOut)
async def get_run(
    run_id: uuid.UUID,
    request: Request,
    model: str | None = Query(default=None, max_length=100, description="only this model's cases"),
    failed: bool = Query(default=False, description="only cases that failed a check or errored"),
    limit: int = Query(default=200, ge=0, le=5000),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    principal: Principal = Depends(require(Permission.EVAL_READ)),
) -> RunOut:
    runtime = runtime_of(request)
    run = await service.get_run(runtime, org_id=principal.org_id, run_id=run_id)
    if run is None:
        raise not_found("run")
    cases = await repo.list_results(
        runtime.db,
        org_id=principal.org_id,
        run_id=run.id,
        model=model,
        failed_only=failed,
        limit=limit,
        offset=offset,
    )
    return RunOut(
        id=run.id,
        kind=run.kind,
        suite_name=run.suite_name,
        suite_version=run.suite_version,
        status=run.status,
        stage=run.stage,
        progress=run.progress,
        cases_total=run.cases_total,
        cases_done=run.cases_done,
        attempts=run.attempts,
        error=run.error,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        summary=run.summary,
        cases=[
            CaseResultOut(
                **{**vars(c), "variables": dict(c.variables), "assertions": list(c.assertions)}
            )
            for c in cases
        ],
        report_url=f"{RUNS}/{run.id}/report" if run.has_report else None,
    )


@router.get(
    "/runs/{run_id}/report",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}},
)
async def run_report(
    run_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.EVAL_READ)),
) -> Response:
    """A sandbox run's HTML report: cumulative profit against the reference, spend paths,
    violations, and the summary table with intervals."""
    report = await repo.get_report(runtime_of(request).db, org_id=principal.org_id, run_id=run_id)
    if report is None:
        raise not_found("report")
    return HTMLResponse(report)


# --- suites -----------------------------------------------------------------------------------


def _suite_out(
    spec: suites.SuiteSpec, *, row: repo.SuiteRow | None = None, version: int = 1
) -> SuiteOut:
    return SuiteOut(
        id=row.id if row else None,
        name=spec.name,
        version=row.version if row else version,
        kind=spec.kind,
        description=spec.description,
        builtin=row is None,
        cases=len(suites.cases(spec)) if spec.kind == "prompts" else 0,
        models=list(spec.models),
        created_at=row.created_at if row else None,
        suite=service.suite_document(spec),
    )


@router.post("/suites", status_code=201, response_model=SuiteOut)
async def create_suite(
    body: SuiteIn,
    request: Request,
    principal: Principal = Depends(require(Permission.EVAL_RUN)),
) -> SuiteOut:
    """Store a suite (promptfoo-style YAML or JSON); storing a name again adds a version."""
    row = await service.store_suite(
        runtime_of(request), body, org_id=principal.org_id, user_id=principal.id
    )
    return _suite_out(suites.parse_suite(row.spec), row=row)


@router.get("/suites", response_model=SuiteList)
async def list_suites(
    request: Request,
    limit: int = Query(default=100, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    principal: Principal = Depends(require(Permission.EVAL_READ)),
) -> SuiteList:
    """The org's suites (latest version of each) and the built-in ones."""
    rows = await repo.list_suites(
        runtime_of(request).db, org_id=principal.org_id, limit=limit, offset=offset
    )
    items = [_suite_out(suites.parse_suite(r.spec), row=r) for r in rows]
    if offset == 0:
        items += [_suite_out(suites.builtin_suite(name)) for name in suites.BUILTIN]
    return SuiteList(items=items)


@router.get("/suites/{name}", response_model=SuiteOut)
async def get_suite(
    name: str,
    request: Request,
    version: int | None = Query(default=None, ge=1),
    principal: Principal = Depends(require(Permission.EVAL_READ)),
) -> SuiteOut:
    runtime = runtime_of(request)
    try:
        spec, _, builtin = await service.find_suite(
            runtime, org_id=principal.org_id, name=name, version=version
        )
    except ApiError as error:
        raise not_found("suite") from error
    if builtin:
        return _suite_out(spec)
    row = await repo.get_suite(runtime.db, org_id=principal.org_id, name=name, version=version)
    assert row is not None
    return _suite_out(spec, row=row)


@router.get("/suites/{name}/versions", response_model=SuiteList)
async def suite_versions(
    name: str,
    request: Request,
    principal: Principal = Depends(require(Permission.EVAL_READ)),
) -> SuiteList:
    rows = await repo.list_suites(runtime_of(request).db, org_id=principal.org_id, name=name)
    if not rows:
        raise not_found("suite")
    return SuiteList(items=[_suite_out(suites.parse_suite(r.spec), row=r) for r in rows])


# --- sandbox ----------------------------------------------------------------------------------


@router.post("/sandbox/runs", status_code=202, response_model=RunAccepted)
async def sandbox_run(
    body: SandboxRunRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.EVAL_RUN)),
) -> RunAccepted:
    """Play agents for seeded episodes in a world drawn from a fitted causal model, under hard
    constraints; each is scored against the optimiser on the same posterior draw."""
    run = await service.start_sandbox(
        runtime_of(request), _runner(request), body, org_id=principal.org_id, principal=principal
    )
    return _accepted(run, f"{body.episodes} episodes x {len(body.agents)} agents")


@router.post("/sandbox/compare", response_model=ComparisonOut)
async def sandbox_compare(
    body: SandboxCompareRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.EVAL_READ)),
) -> ComparisonOut:
    """Two agents of one run, paired on the same seeds and draws: profit difference (paired
    bootstrap and permutation p, or a group-sequential test with O'Brien-Fleming alpha
    spending) and McNemar on the episodes each passed."""
    result, episodes, tied = await service.compare(
        runtime_of(request), body, org_id=principal.org_id
    )
    difference = (
        result.profit.difference
        if result.profit is not None
        else (result.sequential.difference if result.sequential else 0.0)
    )
    winner = None if tied else (body.a if difference > 0 else body.b)
    if result.profit is not None:
        interval = result.profit.interval
        detail = (
            f"profit difference {body.a} - {body.b}: {difference:,.2f} per episode "
            f"[{interval.low:,.2f}, {interval.high:,.2f}], permutation p = "
            f"{result.profit.p_value:.4g}"
        )
    else:
        assert result.sequential is not None
        s = result.sequential
        detail = (
            f"group-sequential test over {s.looks} look(s): |z| = {abs(s.z[-1]):.2f} against "
            f"the O'Brien-Fleming bound {s.bounds[-1]:.2f}"
            + (f", stopped after {s.stopped_at} episodes" if s.stopped_at else "")
        )
    conclusion = f"statistically tied: {detail}" if tied else f"{winner} earns more: {detail}"
    return ComparisonOut(
        run_id=body.run_id,
        a=body.a,
        b=body.b,
        episodes=episodes,
        profit=result.profit,
        sequential=result.sequential,
        passes=result.passes,
        winner=winner,
        statistically_tied=tied,
        conclusion=conclusion,
    )


@router.post("/gates/check", response_model=GateOut)
async def gate_check(
    body: GateRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.EVAL_READ)),
) -> GateOut:
    """Pass or fail an agent for deployment: each threshold checked at the pessimistic end of
    its interval, with the evidence."""
    run_id, result, summary = await service.gate(runtime_of(request), body, org_id=principal.org_id)
    agent = summary.agent(body.agent)
    assert agent is not None
    return GateOut(
        agent=body.agent,
        run_id=run_id,
        passed=result.passed,
        checks=list(result.checks),
        episodes=agent.episodes,
        regret=agent.regret.interval,
        pass_hat_k=agent.pass_hat_k[0],
    )
