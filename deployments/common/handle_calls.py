"""A built-in module's FastAPI app answering a request that arrives over a deployment handle.

The gateway serves the product description's short paths (``POST /api/v1/analyze``,
``POST /api/v1/attribution/analyze``, ``GET /api/v1/eda/calendar-dimension``) by handing the
request to the module's own replica, where it runs through the same app, ingress, auth and
limits as a request that reached the module's route prefix directly. Ray Serve only routes by
prefix, so the alternative, one more application per short path, would cost a replica process
each.
"""

from __future__ import annotations

from typing import ClassVar

import httpx
from starlette.types import ASGIApp

from deployments.core.forwarding import ForwardedRequest, ForwardedResponse


async def call_app(app: ASGIApp, root_path: str, request: ForwardedRequest) -> ForwardedResponse:
    """``request`` (a path below ``root_path``) answered by ``app`` in this process.

    The scope is what Serve's proxy would have built: the full path under the application's
    ``root_path``, and the caller's own address as the client. The app's lifespan is already
    running (Serve started it), so the transport does not start it again.
    """
    transport = httpx.ASGITransport(
        app=app,
        # An exception the app's handlers did not turn into a response is a 500 from the app,
        # as over HTTP, not an exception in the gateway's handle call.
        raise_app_exceptions=False,
        root_path=root_path,
        client=request.client or ("127.0.0.1", 0),
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://module") as client:
        response = await client.request(
            request.method,
            root_path + request.path,
            params=request.query,
            headers=request.headers,
            content=request.body,
        )
    return ForwardedResponse(
        status_code=response.status_code,
        headers=list(response.headers.multi_items()),
        body=response.content,
    )


class AnswersHandedOverRequests:
    """Base of a built-in module's Serve ingress class: ``handle`` answers a request the gateway
    hands over, through the app this replica serves.

    That is the app of Serve's ingress wrapper (its ``app`` property): ``@serve.ingress`` keeps
    its own copy of the FastAPI app, and only that copy's lifespan (runtime, pools) has run.
    """

    mount_path: ClassVar[str]  # where serve_config.yaml mounts the application

    async def handle(self, request: ForwardedRequest) -> ForwardedResponse:
        app: ASGIApp = self.app  # type: ignore[attr-defined]  # Serve's ASGIAppReplicaWrapper
        return await call_app(app, self.mount_path, request)
