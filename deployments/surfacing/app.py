"""The surfacing module at /api/v1/surfacing: catalogs, audits, fixes, the seed's analyze.

Uploads are validated in the replica (a bad row is a 422 naming the row and the field, and
nothing is stored); audits run off the request path as Ray tasks that drive a Ray Data
pipeline (``deployments.surfacing.tasks``) and are polled through ``/audits/{id}``. Every
object is tenant-scoped: another org's id is a 404.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from ray import serve

from cluster.repositories import jobs
from cluster.settings import Settings
from deployments.builtin import builtin_module
from deployments.common.app import create_service_app
from deployments.common.handle_calls import AnswersHandedOverRequests
from deployments.common.job_tasks import resubmit_lost
from deployments.common.runtime import Runtime
from deployments.surfacing import analyze, audits, catalogs
from deployments.surfacing.service import AuditRunner
from deployments.surfacing.tasks import RayAuditRunner


def create_app(
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    *,
    runner: AuditRunner | None = None,
    behind_serve: bool = False,
) -> FastAPI:
    app = create_service_app(
        service="surfacing",
        title="LiftOS surfacing module",
        description=(
            "Measured AI findability of a whole catalog: every product's rank for the queries "
            "shoppers use, feed and markup checks with their sources, and the fixes that move "
            "the rank, measured."
        ),
        routers=[catalogs.router, audits.router, analyze.router],
        settings=settings,
        runtime=runtime,
        behind_serve=behind_serve,
        warm_up=[analyze.warm_analyze_tools, resubmit_lost_audits] if behind_serve else [],
    )
    app.state.audit_runner = runner or RayAuditRunner()
    return app


async def resubmit_lost_audits(app: FastAPI) -> None:
    """Audits whose cluster went away while they were queued or running, submitted again."""
    runtime: Runtime = app.state.runtime
    runner: AuditRunner = app.state.audit_runner

    async def again(org_id: uuid.UUID, audit_id: uuid.UUID) -> None:
        runner.submit(runtime, org_id=org_id, audit_id=audit_id)

    await resubmit_lost(runtime, jobs.SURFACING_AUDITS, again)


@serve.deployment(name="SurfacingModule", max_ongoing_requests=64)
@serve.ingress(create_app(behind_serve=True))
class SurfacingModule(AnswersHandedOverRequests):
    """Serve replica of the surfacing module; all behaviour lives in the FastAPI app."""

    mount_path = builtin_module("surfacing").route_prefix


app = SurfacingModule.bind()  # type: ignore[attr-defined]  # added by @serve.deployment
