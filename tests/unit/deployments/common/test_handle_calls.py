"""A request handed over a deployment handle reaches the app as Serve's proxy would deliver it."""

from __future__ import annotations

import asyncio
import json

from fastapi import FastAPI, Request

from deployments.common.handle_calls import AnswersHandedOverRequests, call_app
from deployments.core.forwarding import ForwardedRequest


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo/{item}")
    async def echo(item: str, request: Request) -> dict[str, object]:
        return {
            "item": item,
            "path": request.url.path,
            "root_path": request.scope["root_path"],
            "client": list(request.client) if request.client else None,
            "query": list(request.query_params.multi_items()),
            "authorization": request.headers.get("authorization"),
            "body": (await request.body()).decode(),
        }

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("unhandled")

    return app


def request(method: str, path: str, **fields: object) -> ForwardedRequest:
    defaults: dict[str, object] = {"query": (), "headers": {}, "body": b"", "client": None}
    return ForwardedRequest(method=method, path=path, **{**defaults, **fields})  # type: ignore[arg-type]


def test_the_app_sees_its_mount_the_caller_and_the_request() -> None:
    answer = asyncio.run(
        call_app(
            echo_app(),
            "/api/v1/thing",
            request(
                "POST",
                "/echo/42",
                query=(("a", "1"), ("a", "2")),
                headers={"authorization": "Bearer t", "content-type": "text/plain"},
                body=b"hello",
                client=("203.0.113.9", 5123),
            ),
        )
    )
    assert answer.status_code == 200
    seen = json.loads(answer.body)
    assert seen == {
        "item": "42",
        "path": "/api/v1/thing/echo/42",
        "root_path": "/api/v1/thing",
        "client": ["203.0.113.9", 5123],
        "query": [["a", "1"], ["a", "2"]],
        "authorization": "Bearer t",
        "body": "hello",
    }


def test_an_unhandled_error_is_the_apps_500_not_an_exception_here() -> None:
    answer = asyncio.run(call_app(echo_app(), "/m", request("GET", "/boom")))
    assert answer.status_code == 500


def test_a_route_the_app_lacks_is_its_404() -> None:
    answer = asyncio.run(call_app(echo_app(), "/m", request("GET", "/nowhere")))
    assert answer.status_code == 404


def test_the_ingress_base_uses_the_app_serve_runs() -> None:
    served = echo_app()

    class Replica(AnswersHandedOverRequests):
        mount_path = "/api/v1/thing"
        app = served  # what Serve's ASGIAppReplicaWrapper exposes

    answer = asyncio.run(Replica().handle(request("POST", "/echo/7")))
    assert json.loads(answer.body)["path"] == "/api/v1/thing/echo/7"
