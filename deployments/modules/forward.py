"""Calling a registered module: the gateway's proxy and the eval sandbox's module agents use
the same path (an external module over HTTP, a Python module through its Serve application),
with trusted identity headers in place of any caller's credentials."""

from __future__ import annotations

import logging
from typing import Protocol

import httpx
from pydantic import ValidationError

from cluster.repositories import modules as modules_repo
from deployments.common.errors import ApiError
from deployments.common.runtime import Runtime
from deployments.core.forwarding import ForwardedRequest, ForwardedResponse
from engine.modules import ModuleManifest

log = logging.getLogger(__name__)


class PythonModules(Protocol):
    async def call(self, app_name: str, request: ForwardedRequest) -> ForwardedResponse: ...


def manifest_of(row: modules_repo.ModuleRow) -> ModuleManifest:
    try:
        return ModuleManifest.model_validate(row.manifest)
    except ValidationError as exc:  # stored by an older version with other rules
        raise ApiError(
            502, "module_manifest_invalid", f"module '{row.name}' needs re-registering"
        ) from exc


async def call_external(
    runtime: Runtime, manifest: ModuleManifest, request: ForwardedRequest
) -> ForwardedResponse:
    assert manifest.base_url is not None
    try:
        upstream = await runtime.http.request(
            request.method,
            manifest.base_url + request.path,
            params=request.query,
            headers=request.headers,
            content=request.body,
        )
    except httpx.TimeoutException as exc:
        raise ApiError(504, "module_timeout", f"module '{manifest.name}' did not answer") from exc
    except httpx.HTTPError as exc:
        raise ApiError(
            502, "module_unreachable", f"module '{manifest.name}' is unreachable: {exc}"
        ) from exc
    return ForwardedResponse(
        status_code=upstream.status_code,
        headers=list(upstream.headers.multi_items()),
        body=upstream.content,
    )


async def call_python(
    modules: PythonModules, row: modules_repo.ModuleRow, request: ForwardedRequest
) -> ForwardedResponse:
    assert row.app_name is not None
    if row.status == "deploying":
        raise ApiError(
            503,
            "module_deploying",
            f"module '{row.name}' is still deploying",
            headers={"Retry-After": "2"},
        )
    if row.status == "failed":
        raise ApiError(
            502, "module_failed", f"module '{row.name}' failed to deploy: {row.status_detail}"
        )
    try:
        return await modules.call(row.app_name, request)
    except Exception as exc:
        log.exception("module %s call failed", row.name)
        raise ApiError(502, "module_error", f"module '{row.name}' failed: {exc}") from exc
