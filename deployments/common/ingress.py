"""The ingress layer every LiftOS service runs in-process, so that a request crosses one hop.

A pure ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware on the hot path) that
- assigns the request id (a sane incoming ``X-Request-ID`` is kept) and returns it as a header,
- tags the server span (opened by FastAPI, continuing the caller's W3C trace context),
- records the request's count and latency by route template, status class and org
  (cluster.metrics; off with ``LIFTOS_METRICS_ENABLED=false``),
- appends an audit-log row for every mutating request whose org is known, and for reads of
  sensitive objects (routes that depend on ``security.audited_read``).
Authentication and rate limits are the ``require`` dependency (deployments.common.security).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cluster.metrics import RequestMetrics
from cluster.repositories import audit as audit_repo

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_KEY = REQUEST_ID_HEADER.encode()
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class IngressMiddleware:
    def __init__(self, app: ASGIApp, *, service: str, behind_serve: bool = False) -> None:
        self.app = app
        self.service = service
        # Ray Serve's own request-id middleware wraps the app and adds the response header (with
        # the id we read from the scope); adding it here too would send it twice.
        self._add_header = not behind_serve
        # Decided on the first request, from the settings of the runtime the lifespan started.
        self._metrics: RequestMetrics | None = None
        self._metrics_decided = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = next(
            (v.decode("latin-1") for k, v in scope.get("headers", ()) if k == _REQUEST_ID_KEY), ""
        )
        request_id = incoming if _VALID_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        method: str = scope["method"]
        status_holder = [500]
        request_id_bytes = request_id.encode()

        span = trace.get_current_span()
        recording = span.is_recording()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                # Now, not after the app returns: the server span ends with the response.
                principal = state.get("principal")
                if recording and principal is not None:
                    span.set_attribute("liftos.org_id", str(principal.org_id))
                    span.set_attribute("liftos.principal_type", principal.kind)
                if self._add_header:
                    message["headers"] = [
                        *message.get("headers", []),
                        (b"x-request-id", request_id_bytes),
                    ]
            await send(message)

        # FastAPI's native OpenTelemetry support opens the server span (continuing the caller's
        # traceparent) around this middleware; we only add what LiftOS knows about the request.
        if recording:
            span.set_attribute("liftos.service", self.service)
            span.set_attribute("liftos.request_id", request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            principal = state.get("principal")
            metrics = self._metrics if self._metrics_decided else self._metrics_for(scope)
            if metrics is not None:
                route = getattr(scope.get("route"), "path_format", None)
                metrics.record(
                    route=f"{scope.get('root_path', '')}{route}" if route else "unmatched",
                    method=method,
                    status=status_holder[0],
                    org_id=principal.org_id if principal is not None else None,
                    seconds=time.perf_counter() - started,
                )
            if method in _MUTATING or state.get("audit_read"):
                await self._audit(scope, state, status_holder[0], request_id)

    def _metrics_for(self, scope: Scope) -> RequestMetrics | None:
        app = scope.get("app")
        runtime = getattr(app.state, "runtime", None) if app is not None else None
        if runtime is None:
            return None  # not started yet: decide on a later request
        settings = runtime.settings
        self._metrics_decided = True
        self._metrics = (
            RequestMetrics(self.service, org_label_limit=settings.metrics_org_label_limit)
            if settings.metrics_enabled
            else None
        )
        return self._metrics

    async def _audit(self, scope: Scope, state: dict[str, Any], status: int, rid: str) -> None:
        principal = state.get("principal")
        org_id = principal.org_id if principal else state.get("audit_org_id")
        if org_id is None:
            return  # nobody to attribute it to (e.g. a login for an unknown e-mail)
        runtime = scope["app"].state.runtime if "app" in scope else None
        if runtime is None:
            return
        route = scope.get("route")
        template = getattr(route, "path_format", None) or scope["path"]
        try:
            await audit_repo.record(
                runtime.db,
                org_id=org_id,
                actor_type=principal.kind if principal else state.get("audit_actor_type", "user"),
                actor_id=principal.id if principal else state.get("audit_actor_id"),
                action=f"{scope['method']} {scope.get('root_path', '')}{template}",
                target=str(scope["path"])[:500],
                status_code=status,
                request_id=rid,
            )
        except Exception:
            log.exception("audit write failed for request %s", rid)
