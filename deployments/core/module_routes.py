"""/modules (the per-org registry) and /api/v1/{name}/... (calls into registered modules).

Built-in modules have their own route prefixes in serve_config.yaml and never reach these
handlers. A registered module is either ``external`` (an HTTP service the gateway proxies to) or
``python`` (an ASGI factory LiftOS deploys as its own Serve application without an HTTP route).
Either way the gateway authenticates the caller, charges the org's rate limits, checks the
permission the manifest declares for the endpoint and passes the request on with trusted
identity headers instead of the caller's credentials.
"""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

from fastapi import APIRouter, Depends, Request, Response, status
from opentelemetry.trace import SpanKind

from cluster.repositories import modules as modules_repo
from cluster.repositories.auth import DuplicateError
from cluster.telemetry import inject_context, tracer
from deployments.common.errors import ApiError, not_found
from deployments.common.principal import Principal
from deployments.common.runtime import Runtime
from deployments.common.security import authenticate, require, runtime_of
from deployments.core.forwarding import (
    ForwardedRequest,
    ForwardedResponse,
    forward_headers,
    response_headers,
)
from deployments.core.schemas import ModuleList, ModuleOut
from deployments.modules.forward import call_external, call_python, manifest_of
from engine.auth.rbac import Permission, has_permission
from engine.modules import ModuleManifest

log = logging.getLogger(__name__)
_tracer = tracer("liftos.gateway")

MAX_FORWARDED_BODY = 10 * 1024 * 1024
_PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class ModuleDeployer(Protocol):
    """Runs registered Python modules; the Ray implementation is deployments.modules.host."""

    async def deploy(self, *, app_name: str, import_path: str) -> None: ...
    async def status(self, app_name: str) -> tuple[str, str]: ...
    async def call(self, app_name: str, request: ForwardedRequest) -> ForwardedResponse: ...
    async def delete(self, app_name: str) -> None: ...


def deployer_of(request: Request) -> ModuleDeployer:
    deployer: ModuleDeployer = request.app.state.module_deployer
    return deployer


def _app_name(org_id: uuid.UUID, name: str) -> str:
    # Serve application names are global to the cluster; the org prefix keeps tenants apart.
    return f"mod-{org_id.hex[:16]}-{name}"


def _module_out(row: modules_repo.ModuleRow) -> ModuleOut:
    return ModuleOut(
        id=row.id,
        name=row.name,
        version=row.version,
        kind=row.kind,  # type: ignore[arg-type]
        status=row.status,  # type: ignore[arg-type]
        status_detail=row.status_detail,
        mount_path=f"/api/v1/{row.name}",
        manifest=row.manifest,
        created_at=row.created_at,
    )


router = APIRouter(tags=["modules"])


@router.post("/modules", response_model=ModuleOut, status_code=status.HTTP_201_CREATED)
async def register_module(
    manifest: ModuleManifest,
    request: Request,
    principal: Principal = Depends(require(Permission.MODULES_REGISTER)),
) -> ModuleOut:
    """Register a module from its module.json for the caller's org.

    An external module is ready at once. A Python module is deployed on the cluster in the
    background: the answer says ``deploying`` and ``GET /modules/{name}`` follows it.
    """
    runtime = runtime_of(request)
    app_name = _app_name(principal.org_id, manifest.name) if manifest.kind == "python" else None
    try:
        row = await modules_repo.create(
            runtime.db,
            org_id=principal.org_id,
            name=manifest.name,
            version=manifest.version,
            kind=manifest.kind,
            manifest=manifest.model_dump(mode="json"),
            app_name=app_name,
            status="deploying" if app_name else "ready",
            created_by=principal.id,
        )
    except DuplicateError as exc:
        raise ApiError(409, "conflict", str(exc), field="name") from exc
    runtime.modules.invalidate((principal.org_id, manifest.name))
    if app_name is not None:
        assert manifest.import_path is not None
        deployer = deployer_of(request)
        try:
            await deployer.deploy(app_name=app_name, import_path=manifest.import_path)
        except Exception as exc:
            log.warning("deploying module %s failed: %s", manifest.name, exc)
            _, detail = await deployer.status(app_name)
            await modules_repo.set_status(
                runtime.db,
                org_id=principal.org_id,
                name=manifest.name,
                status="failed",
                detail=f"deployment failed: {detail or exc}",
            )
            failed = await modules_repo.get(runtime.db, org_id=principal.org_id, name=manifest.name)
            row = failed or row
    return _module_out(row)


async def _refresh_status(
    runtime: Runtime, deployer: ModuleDeployer, row: modules_repo.ModuleRow
) -> modules_repo.ModuleRow:
    """A deploying module's state comes from Serve; persist it once it settles."""
    if row.status != "deploying" or row.app_name is None:
        return row
    state, detail = await deployer.status(row.app_name)
    if state == "deploying":
        return row
    await modules_repo.set_status(
        runtime.db, org_id=row.org_id, name=row.name, status=state, detail=detail
    )
    refreshed = await modules_repo.get(runtime.db, org_id=row.org_id, name=row.name)
    return refreshed or row


@router.get("/modules", response_model=ModuleList)
async def list_modules(
    request: Request, principal: Principal = Depends(require(Permission.MODULES_READ))
) -> ModuleList:
    runtime, deployer = runtime_of(request), deployer_of(request)
    rows = await modules_repo.list_all(runtime.db, org_id=principal.org_id)
    return ModuleList(
        items=[_module_out(await _refresh_status(runtime, deployer, r)) for r in rows]
    )


@router.get("/modules/{name}", response_model=ModuleOut)
async def get_module(
    name: str, request: Request, principal: Principal = Depends(require(Permission.MODULES_READ))
) -> ModuleOut:
    runtime = runtime_of(request)
    row = await modules_repo.get(runtime.db, org_id=principal.org_id, name=name)
    if row is None:
        raise not_found(f"module '{name}'")
    return _module_out(await _refresh_status(runtime, deployer_of(request), row))


@router.delete("/modules/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_module(
    name: str,
    request: Request,
    principal: Principal = Depends(require(Permission.MODULES_REGISTER)),
) -> Response:
    """Unregister a module; a Python module's Serve application is removed too."""
    runtime = runtime_of(request)
    row = await modules_repo.delete(runtime.db, org_id=principal.org_id, name=name)
    if row is None:
        raise not_found(f"module '{name}'")
    runtime.modules.invalidate((principal.org_id, name))
    if row.app_name:
        await deployer_of(request).delete(row.app_name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.api_route(
    "/api/v1/{name}/{path:path}",
    methods=_PROXY_METHODS,
    summary="Call a registered module",
    response_class=Response,
)
async def call_module(
    name: str, path: str, request: Request, principal: Principal = Depends(authenticate)
) -> Response:
    """Forward to the org's registered module ``name`` (404 when this org has none)."""
    runtime = runtime_of(request)
    cache = runtime.modules
    row = await cache.get(
        (principal.org_id, name),
        lambda: modules_repo.get(runtime.db, org_id=principal.org_id, name=name),
    )
    if row is None:
        raise not_found(f"module '{name}'")
    manifest = manifest_of(row)
    subpath = "/" + path
    try:
        permission = manifest.endpoint_permission(request.method, subpath)
    except LookupError as exc:
        raise not_found(f"endpoint {request.method} {subpath} of module '{name}'") from exc
    if not has_permission(principal.role, permission):
        raise ApiError(
            403, "forbidden", f"role '{principal.role.value}' lacks permission '{permission.value}'"
        )
    body = await request.body()
    if len(body) > MAX_FORWARDED_BODY:
        raise ApiError(413, "payload_too_large", "request body exceeds 10 MiB")
    trusted = {
        "x-liftos-org": str(principal.org_id),
        "x-liftos-principal": str(principal.id),
        "x-liftos-principal-type": principal.kind,
        "x-liftos-role": principal.role.value,
        "x-request-id": str(request.state.request_id),
    }
    headers = forward_headers(request.headers.items(), trusted)
    with _tracer.start_as_current_span(
        f"module {name}", kind=SpanKind.CLIENT, attributes={"liftos.module": name}
    ):
        inject_context(headers)
        forwarded = ForwardedRequest(
            method=request.method,
            path=subpath,
            query=tuple(request.query_params.multi_items()),
            headers=headers,
            body=body,
        )
        if manifest.kind == "external":
            result = await call_external(runtime, manifest, forwarded)
        else:
            if row.status == "deploying":
                settled = await _refresh_status(runtime, deployer_of(request), row)
                if settled.status != "deploying":
                    cache.invalidate((principal.org_id, name))
                row = settled
            result = await call_python(deployer_of(request), row, forwarded)
    return Response(
        content=result.body,
        status_code=result.status_code,
        headers=dict(response_headers(result.headers)),
    )
