"""Reference module served at /api/v1/example: authenticated, tenant-scoped, rate-limited.

It exists to show (and to benchmark) the shape of a built-in module: a FastAPI app from the
common factory, permissions declared per route, and a thin Serve deployment around it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, ConfigDict, Field
from ray import serve

from cluster.settings import Settings
from deployments.common.app import create_service_app
from deployments.common.principal import Principal
from deployments.common.runtime import Runtime
from deployments.common.security import require
from engine.auth.rbac import Permission

router = APIRouter(tags=["example"])


class HelloResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    module: str
    org_id: str
    principal_id: str
    principal_type: str
    role: str


class EchoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(min_length=1, max_length=1000)
    repeat: int = Field(default=1, ge=1, le=10)


class EchoResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org_id: str
    echo: list[str]


@router.get("/hello", response_model=HelloResponse)
async def hello(principal: Principal = Depends(require(Permission.MODULES_CALL))) -> HelloResponse:
    """Who am I, as this module sees me: the cheapest authenticated call there is."""
    return HelloResponse(
        module="example",
        org_id=str(principal.org_id),
        principal_id=str(principal.id),
        principal_type=principal.kind,
        role=principal.role.value,
    )


@router.post("/echo", response_model=EchoResponse)
async def echo(
    body: EchoRequest, principal: Principal = Depends(require(Permission.MODULES_CALL))
) -> EchoResponse:
    return EchoResponse(org_id=str(principal.org_id), echo=[body.message] * body.repeat)


def create_app(
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    *,
    behind_serve: bool = False,
) -> FastAPI:
    return create_service_app(
        service="example",
        title="LiftOS example module",
        description="Reference module: the shape every built-in module follows.",
        routers=[router],
        settings=settings,
        runtime=runtime,
        behind_serve=behind_serve,
    )


@serve.deployment(name="ExampleModule", max_ongoing_requests=256)
@serve.ingress(create_app(behind_serve=True))
class ExampleModule:
    """Serve replica of the example module; all behaviour lives in the FastAPI app."""


app = ExampleModule.bind()  # type: ignore[attr-defined]  # added by @serve.deployment
