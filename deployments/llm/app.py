"""The LLM module at /api/v1/llm, and the seed's short paths /api/v1/prompts and
/api/v1/models (the same handlers, as their own Serve applications so HAProxy still forwards
straight into an LLM replica).

Providers are configured per org (keys sealed with the org's data key); generation goes
through ``deployments.llm.service``; every object is tenant-scoped, another org's id a 404.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from ray import serve

from cluster.settings import Settings
from deployments.common.app import create_service_app
from deployments.common.runtime import Runtime
from deployments.common.security import document_permissions
from deployments.llm import model_routes, routes
from deployments.llm.providers import AdapterPool

_DESCRIPTION = (
    "One interface to every provider (OpenAI and compatible servers, Anthropic, Cohere, "
    "Hugging Face), templates that respect each platform's published limits, and cost, "
    "budgets and conversions tracked per model."
)


def _mounted(router: APIRouter, prefix: str) -> APIRouter:
    document_permissions(router)  # the outer router only holds the inner one
    outer = APIRouter()
    outer.include_router(router, prefix=prefix)
    return outer


def create_app(
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    *,
    mount: str = "llm",
    behind_serve: bool = False,
) -> FastAPI:
    """``mount``: "llm" (everything under /api/v1/llm), "prompts" or "models" (the seed's
    /api/v1/prompts/... and /api/v1/models/... paths)."""
    if mount == "prompts":
        routers = [routes.prompts_router]
    elif mount == "models":
        routers = [model_routes.models_router]
    else:
        routers = [
            routes.providers_router,
            routes.templates_router,
            _mounted(routes.prompts_router, "/prompts"),
            _mounted(model_routes.models_router, "/models"),
            routes.tracking_router,
        ]
    app = create_service_app(
        service="llm",
        title="LiftOS LLM module",
        description=_DESCRIPTION,
        routers=routers,
        settings=settings,
        runtime=runtime,
        behind_serve=behind_serve,
    )
    app.state.adapter_pool = AdapterPool()
    return app


def create_prompts_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    return create_app(settings, runtime, mount="prompts")


def create_models_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    return create_app(settings, runtime, mount="models")


@serve.deployment(name="LlmModule", max_ongoing_requests=128)
@serve.ingress(create_app(behind_serve=True))
class LlmModule:
    """Serve replica of the LLM module; all behaviour lives in the FastAPI app."""


@serve.deployment(name="LlmPrompts", max_ongoing_requests=128)
@serve.ingress(create_app(mount="prompts", behind_serve=True))
class LlmPrompts:
    """The seed's /api/v1/prompts/generate."""


@serve.deployment(name="LlmModels", max_ongoing_requests=128)
@serve.ingress(create_app(mount="models", behind_serve=True))
class LlmModels:
    """The seed's /api/v1/models/compare and /api/v1/models/leaderboard."""


app = LlmModule.bind()  # type: ignore[attr-defined]  # added by @serve.deployment
prompts_app = LlmPrompts.bind()  # type: ignore[attr-defined]
models_app = LlmModels.bind()  # type: ignore[attr-defined]
