"""The eval module at /api/v1/eval: evaluations of the org's models with error bars, versioned
suites, and the budget sandbox where marketing agents are tested on a fitted causal model.

Runs are Ray tasks (``deployments.eval.tasks``) polled through ``/runs/{id}``; every object is
tenant-scoped (another org's id is a 404). The seed's ``POST /api/v1/evaluate`` and
``POST /api/v1/benchmark`` are the same handlers, served by the gateway.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from ray import serve

from cluster.repositories import eval as eval_repo
from cluster.repositories import jobs
from cluster.settings import Settings, get_settings
from deployments.common.app import create_service_app
from deployments.common.job_tasks import resubmit_lost
from deployments.common.runtime import Runtime
from deployments.eval import routes
from deployments.eval.service import RunRunner


def create_app(
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    *,
    runner: RunRunner | None = None,
    behind_serve: bool = False,
) -> FastAPI:
    app = create_service_app(
        service="eval",
        title="LiftOS eval module",
        description=(
            "Evaluations of models and prompts with intervals and paired comparisons, and a "
            "budget sandbox on a fitted marketing-mix model where agents prove themselves "
            "before they touch money."
        ),
        routers=[routes.router],
        settings=settings,
        runtime=runtime,
        behind_serve=behind_serve,
        warm_up=[resubmit_lost_runs] if behind_serve else [],
    )
    if runner is not None:
        app.state.eval_runner = runner
    return app


async def resubmit_lost_runs(app: FastAPI) -> None:
    """Runs whose cluster went away while they were queued or running, submitted again (a
    resumed evaluation re-runs only the cases without a stored result)."""
    runtime: Runtime = app.state.runtime
    runner = routes.runner_of(app)

    async def again(org_id: uuid.UUID, run_id: uuid.UUID) -> None:
        kind = await eval_repo.run_kind(runtime.db, org_id=org_id, run_id=run_id)
        if kind is not None:
            runner.submit(runtime, org_id=org_id, run_id=run_id, kind=kind)

    await resubmit_lost(runtime, jobs.EVAL_RUNS, again)


@serve.deployment(name="EvalModule", max_ongoing_requests=64)
@serve.ingress(create_app(behind_serve=True))
class EvalModule:
    """Serve replica of the eval module; all behaviour lives in the FastAPI app."""

    def __init__(self) -> None:
        # The run workers start with the replica, so the first run does not wait for them.
        from deployments.eval.tasks import start_workers

        start_workers(get_settings())


app = EvalModule.bind()  # type: ignore[attr-defined]  # added by @serve.deployment
