"""The product description's short paths that a built-in module answers, served at /.

``POST /api/v1/analyze`` (surfacing), ``POST /api/v1/attribution/analyze`` and
``GET /api/v1/eda/calendar-dimension`` (causal) are the module examples of the product
description, next to the module-prefixed paths of its quick start. The gateway hands such a
request, credentials and all, to the module's own replica over a deployment handle
(``deployments.common.handle_calls``): the module authenticates it, counts it and applies its
limits exactly as when it is called at its prefix, so nothing is checked or counted twice here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from opentelemetry.trace import SpanKind

from cluster.telemetry import inject_context, tracer
from deployments.builtin import builtin_module
from deployments.common.errors import ApiError
from deployments.core.forwarding import ForwardedRequest, passthrough_headers, response_headers
from deployments.core.module_routes import MAX_FORWARDED_BODY, deployer_of

log = logging.getLogger(__name__)
_tracer = tracer("liftos.gateway")


@dataclass(frozen=True)
class SeedPath:
    method: str
    path: str  # as the product description writes it
    module: str  # the built-in application that answers it
    module_path: str  # the same route below that application's prefix

    @property
    def target(self) -> str:
        return builtin_module(self.module).route_prefix + self.module_path


SEED_PATHS: tuple[SeedPath, ...] = (
    SeedPath("POST", "/api/v1/analyze", "surfacing", "/analyze"),
    SeedPath("POST", "/api/v1/attribution/analyze", "causal", "/attribution/analyze"),
    SeedPath("GET", "/api/v1/eda/calendar-dimension", "causal", "/eda/calendar-dimension"),
)

_BY_PATH = {seed.path: seed for seed in SEED_PATHS}

router = APIRouter()


# One module-level handler for every short path (the matched route says which): Serve's
# ingress pickles the app, and a closure would travel by value without the module's globals,
# leaving FastAPI unable to resolve ``Request`` from its string annotation.
async def hand_over(request: Request) -> Response:
    seed = _BY_PATH[request.scope["route"].path]
    body = await request.body()
    if len(body) > MAX_FORWARDED_BODY:
        raise ApiError(413, "payload_too_large", "request body exceeds 10 MiB")
    headers = passthrough_headers(request.headers.items())
    headers["x-request-id"] = str(request.state.request_id)
    with _tracer.start_as_current_span(
        f"module {seed.module}", kind=SpanKind.CLIENT, attributes={"liftos.module": seed.module}
    ):
        inject_context(headers)
        handed = ForwardedRequest(
            method=seed.method,
            path=seed.module_path,
            query=tuple(request.query_params.multi_items()),
            headers=headers,
            body=body,
            client=(request.client.host, request.client.port) if request.client else None,
        )
        try:
            answer = await deployer_of(request).call(seed.module, handed)
        except Exception as exc:  # the replica is gone or restarting: the module's own answer
            log.exception("handing %s %s to %s failed", seed.method, seed.path, seed.module)
            raise ApiError(
                503,
                "module_unavailable",
                f"the {seed.module} module did not answer; retry, or call {seed.target}",
                headers={"Retry-After": "2"},
            ) from exc
    return Response(
        content=answer.body,
        status_code=answer.status_code,
        headers=dict(response_headers(answer.headers)),
    )


for _seed in SEED_PATHS:
    router.add_api_route(
        _seed.path,
        hand_over,
        methods=[_seed.method],
        response_class=Response,
        name=f"seed_{_seed.module}_{_seed.module_path.strip('/').replace('/', '_')}",
        # Documented by the module's own operation, copied in by merged_openapi.
        include_in_schema=False,
    )
