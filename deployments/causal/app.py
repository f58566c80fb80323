"""The causal module at /api/v1/causal: datasets, MMM fits, answers, budget, reports.

Uploads are validated in the replica (a bad file is a 422 that says what and where, and nothing
is stored); fits run as Ray tasks (``deployments.causal.tasks``) and are polled through
``/jobs/{id}``. Every object is tenant-scoped: another org's id is a 404.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from ray import serve

from cluster.repositories import jobs
from cluster.settings import Settings
from deployments.builtin import builtin_module
from deployments.causal import datasets, eda, models
from deployments.causal.service import JobRunner
from deployments.causal.tasks import RayJobRunner
from deployments.common.app import create_service_app
from deployments.common.handle_calls import AnswersHandedOverRequests
from deployments.common.job_tasks import resubmit_lost
from deployments.common.runtime import Runtime


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
        routers=[datasets.router, models.router, eda.router],
        settings=settings,
        runtime=runtime,
        behind_serve=behind_serve,
        warm_up=[resubmit_lost_fits] if behind_serve else [],
    )
    app.state.job_runner = runner or RayJobRunner()
    return app


async def resubmit_lost_fits(app: FastAPI) -> None:
    """Fits whose cluster went away while they were queued or running, submitted again."""
    runtime: Runtime = app.state.runtime
    runner: JobRunner = app.state.job_runner

    async def again(org_id: uuid.UUID, job_id: uuid.UUID) -> None:
        runner.submit(runtime, org_id=org_id, job_id=job_id)

    await resubmit_lost(runtime, jobs.CAUSAL_JOBS, again)


@serve.deployment(name="CausalModule", max_ongoing_requests=64)
@serve.ingress(create_app(behind_serve=True))
class CausalModule(AnswersHandedOverRequests):
    """Serve replica of the causal module; all behaviour lives in the FastAPI app."""

    mount_path = builtin_module("causal").route_prefix


app = CausalModule.bind()  # type: ignore[attr-defined]  # added by @serve.deployment
