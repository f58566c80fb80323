"""Hosting of registered Python modules as their own Ray Serve applications.

A module registered with an ``import_path`` names a zero-argument factory returning an ASGI app
(FastAPI). LiftOS deploys it as a Serve application without an HTTP route, so it can only be
reached through the gateway, which authenticates the caller, applies the org's rate limits and
forwards the request over a deployment handle (one hop).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import Any

import httpx
from ray import serve
from ray.serve.schema import ApplicationStatus

from deployments.builtin import import_attr
from deployments.core.forwarding import ForwardedRequest, ForwardedResponse

log = logging.getLogger(__name__)


def _last_line(message: str) -> str:
    """A replica's failure message ends with the traceback's exception line: keep that."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


@serve.deployment(name="ModuleHost", max_ongoing_requests=128)
class ModuleHost:
    """One registered module's ASGI app, run in this replica, spoken to over a handle."""

    def __init__(self, import_path: str) -> None:
        factory = import_attr(import_path)
        self._app = factory()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self._app), base_url="http://module"
        )
        self._lifespan = AsyncExitStack()
        self._started = False
        self._start_lock = asyncio.Lock()

    async def _ensure_started(self) -> None:
        # httpx's ASGI transport does not run lifespan events; run the app's own, once.
        if self._started:
            return
        async with self._start_lock:
            if not self._started:
                lifespan = getattr(getattr(self._app, "router", None), "lifespan_context", None)
                if lifespan is not None:
                    await self._lifespan.enter_async_context(lifespan(self._app))
                self._started = True

    async def handle(self, request: ForwardedRequest) -> ForwardedResponse:
        await self._ensure_started()
        response = await self._client.request(
            request.method,
            request.path,
            params=request.query,
            headers=request.headers,
            content=request.body,
        )
        return ForwardedResponse(
            status_code=response.status_code,
            headers=[(k, v) for k, v in response.headers.multi_items()],
            body=response.content,
        )

    async def __del__(self) -> None:
        await self._lifespan.aclose()
        await self._client.aclose()


class RayModuleDeployer:
    """Deploys, reaches and removes registered Python modules on the Ray cluster."""

    def __init__(self) -> None:
        self._handles: dict[str, Any] = {}

    async def deploy(self, *, app_name: str, import_path: str) -> None:
        app = ModuleHost.bind(import_path)  # type: ignore[attr-defined]  # added by @serve.deployment
        await asyncio.to_thread(serve.run, app, name=app_name, route_prefix=None, blocking=False)

    async def status(self, app_name: str) -> tuple[str, str]:
        """``(state, detail)`` with state one of ``deploying``, ``ready``, ``failed``."""
        statuses = await asyncio.to_thread(serve.status)
        app_status = statuses.applications.get(app_name)
        if app_status is None:
            return "failed", "application is not deployed"
        if app_status.status == ApplicationStatus.RUNNING:
            return "ready", ""
        # The application's message is generic; the deployment's carries the replica's error
        # (an ImportError of the module, say), which is what the module's author needs.
        details = [app_status.message] + [
            _last_line(d.message) for d in app_status.deployments.values() if d.message
        ]
        detail = " | ".join(m for m in details if m)
        if app_status.status in (ApplicationStatus.DEPLOY_FAILED, ApplicationStatus.UNHEALTHY):
            return "failed", detail
        return "deploying", detail

    async def call(self, app_name: str, request: ForwardedRequest) -> ForwardedResponse:
        handle: Any = self._handles.get(app_name)
        if handle is None:
            handle = await asyncio.to_thread(serve.get_app_handle, app_name)
            self._handles[app_name] = handle
        response: ForwardedResponse = await handle.handle.remote(request)
        return response

    async def delete(self, app_name: str) -> None:
        self._handles.pop(app_name, None)
        await asyncio.to_thread(serve.delete, app_name, _blocking=False)
