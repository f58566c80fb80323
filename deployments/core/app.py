"""The core gateway application: mounted at / and the home of auth, audit and the registry."""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from fastapi import FastAPI
from ray import serve

from cluster.settings import Settings
from deployments.billing import routes as billing_routes
from deployments.billing.reporting import report_periodically
from deployments.builtin import BUILTIN_MODULES, import_attr
from deployments.common.app import create_service_app
from deployments.common.runtime import Runtime
from deployments.core import audit_routes, auth_routes, health, module_routes, seed_routes
from deployments.core.module_routes import ModuleDeployer
from deployments.eval import routes as eval_routes

log = logging.getLogger(__name__)


def merged_openapi(app: FastAPI) -> dict[str, Any]:
    """The core schema plus every built-in module's routes under their route prefixes, so
    /docs documents the whole platform even though each module is its own Serve app."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {})
    tags = {t["name"]: t for t in schema.get("tags", [])}
    operation_ids = {op.get("operationId") for op in _operations(schema["paths"])}
    module_schemas: dict[str, dict[str, Any]] = {}
    for module in BUILTIN_MODULES:
        module_schema = module_schemas.get(module.factory)
        if module_schema is None:
            module_app: FastAPI = import_attr(module.factory)()
            module_schema = module_schemas[module.factory] = module_app.openapi()
        for path, item in module_schema.get("paths", {}).items():
            # A module served at two prefixes (memory) has the same operations twice: the
            # second copy gets the application's name in front, so ids stay unique.
            copied = copy.deepcopy(item)
            for operation in _operations({path: copied}):
                if operation.get("operationId") in operation_ids:
                    prefix = module.name.replace("-", "_")
                    operation["operationId"] = f"{prefix}_{operation['operationId']}"
                operation_ids.add(operation.get("operationId"))
            schema["paths"][module.route_prefix + path] = copied
        for kind, entries in module_schema.get("components", {}).items():
            components.setdefault(kind, {}).update(entries)
        for tag in module_schema.get("tags", []):
            tags.setdefault(tag["name"], tag)
    for seed in seed_routes.SEED_PATHS:
        operation = copy.deepcopy(schema["paths"][seed.target][seed.method.lower()])
        operation["operationId"] = f"seed_{operation['operationId']}"
        operation["description"] = (
            f"The product description's short path for `{seed.method} {seed.target}`: the "
            f"same operation. {operation.get('description', '')}"
        ).strip()
        schema["paths"].setdefault(seed.path, {})[seed.method.lower()] = operation
    if tags:
        schema["tags"] = list(tags.values())
    app.openapi_schema = schema
    return schema


def _operations(paths: dict[str, Any]) -> list[dict[str, Any]]:
    methods = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
    return [item[m] for item in paths.values() for m in methods if isinstance(item.get(m), dict)]


def create_app(
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    deployer: ModuleDeployer | None = None,
    *,
    behind_serve: bool = False,
) -> FastAPI:
    app = create_service_app(
        service="core",
        title="LiftOS API",
        description=(
            "Causal marketing intelligence. Authenticate with `POST /auth/login` and send "
            "`Authorization: Bearer <access_token>`, or send an API key as `X-API-Key`."
        ),
        routers=[
            health.router,
            auth_routes.router,
            audit_routes.router,
            billing_routes.router,
            # The seed's POST /api/v1/evaluate and /api/v1/benchmark (the eval module's own
            # handlers) before the registry's /api/v1/{module} catch-all.
            eval_routes.seed_router,
            # The seed's short paths of causal and surfacing, answered by those modules.
            seed_routes.router,
            module_routes.router,
        ],
        settings=settings,
        runtime=runtime,
        behind_serve=behind_serve,
        background=[report_periodically] if behind_serve else [],
    )
    if behind_serve:
        # Only inside Serve can readiness ask the controller about the applications.
        app.state.readiness_probes = {"serve_applications": serve_applications_probe}
    if deployer is None:
        from deployments.modules.host import RayModuleDeployer

        deployer = RayModuleDeployer()
    app.state.module_deployer = deployer
    app.openapi = lambda: merged_openapi(app)  # type: ignore[method-assign]
    return app


async def serve_applications_probe() -> tuple[bool, str]:
    """Readiness of every Serve application (built-in and registered) as the controller sees it."""
    statuses = await asyncio.to_thread(serve.status)
    unhealthy = {
        name: str(app.status)
        for name, app in statuses.applications.items()
        if str(app.status) not in ("RUNNING", "ApplicationStatus.RUNNING")
    }
    missing = [m.name for m in BUILTIN_MODULES if m.name not in statuses.applications]
    if missing:
        return False, f"built-in applications not deployed: {', '.join(missing)}"
    if unhealthy:
        return False, ", ".join(f"{k}={v}" for k, v in sorted(unhealthy.items()))
    return True, f"{len(statuses.applications)} applications running"


@serve.deployment(name="CoreGateway", max_ongoing_requests=256)
@serve.ingress(create_app(behind_serve=True))
class CoreGateway:
    """Serve replica of the core API; all behaviour lives in the FastAPI app."""


app = CoreGateway.bind()  # type: ignore[attr-defined]  # added by @serve.deployment
