"""The gateway's short paths: what it hands to the module, and what it passes back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from deployments.builtin import builtin_module, import_attr
from deployments.common.errors import install_error_handlers
from deployments.core import seed_routes
from deployments.core.forwarding import ForwardedRequest, ForwardedResponse
from deployments.core.module_routes import MAX_FORWARDED_BODY
from engine.modules import RESERVED_MODULE_NAMES


class RecordingModules:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ForwardedRequest]] = []

    async def call(self, app_name: str, request: ForwardedRequest) -> ForwardedResponse:
        self.calls.append((app_name, request))
        return ForwardedResponse(
            status_code=202,
            headers=[
                ("content-type", "application/json"),
                ("content-length", "11"),
                ("x-module", "yes"),
            ],
            body=b'{"ok": true}',
        )


@pytest.fixture
def gateway() -> Iterator[tuple[TestClient, RecordingModules]]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(seed_routes.router)
    modules = RecordingModules()
    app.state.module_deployer = modules

    @app.middleware("http")
    async def request_id(request: Request, call_next):  # type: ignore[no-untyped-def]
        request.state.request_id = "req-1"
        return await call_next(request)

    with TestClient(app) as client:
        yield client, modules


def test_each_short_path_goes_to_its_module_with_the_callers_credentials(
    gateway: tuple[TestClient, RecordingModules],
) -> None:
    client, modules = gateway
    response = client.post(
        "/api/v1/attribution/analyze?x=1",
        json={"channels": ["tv"]},
        headers={
            "authorization": "Bearer token",
            "x-liftos-org": "smuggled",
            "connection": "keep-alive",
        },
    )
    assert response.status_code == 202
    assert response.json() == {"ok": True}
    assert response.headers["x-module"] == "yes"
    [(app_name, handed)] = modules.calls
    assert app_name == "causal"
    assert (handed.method, handed.path, handed.query) == (
        "POST",
        "/attribution/analyze",
        (("x", "1"),),
    )
    assert handed.headers["authorization"] == "Bearer token"
    assert handed.headers["x-request-id"] == "req-1"
    assert "x-liftos-org" not in handed.headers
    assert "connection" not in handed.headers
    assert handed.body == b'{"channels":["tv"]}'
    assert handed.client is not None
    assert handed.client[0] == "testclient"

    client.get("/api/v1/eda/calendar-dimension?start_date=2024-01-01&end_date=2024-01-02")
    client.post("/api/v1/analyze", json={})
    assert [(name, r.method, r.path) for name, r in modules.calls[1:]] == [
        ("causal", "GET", "/eda/calendar-dimension"),
        ("surfacing", "POST", "/analyze"),
    ]


def test_an_oversized_body_is_refused_before_it_is_handed_over(
    gateway: tuple[TestClient, RecordingModules],
) -> None:
    client, modules = gateway
    response = client.post("/api/v1/analyze", content=b"x" * (MAX_FORWARDED_BODY + 1))
    assert response.status_code == 413
    assert modules.calls == []


def test_a_short_path_with_the_wrong_method_is_not_handed_over(
    gateway: tuple[TestClient, RecordingModules],
) -> None:
    client, modules = gateway
    assert client.get("/api/v1/analyze").status_code == 405
    assert modules.calls == []


@pytest.mark.parametrize("seed", seed_routes.SEED_PATHS, ids=lambda s: s.path)
def test_every_short_path_names_a_route_of_its_module(seed: seed_routes.SeedPath) -> None:
    module_app: FastAPI = import_attr(builtin_module(seed.module).factory)()
    assert seed.method.lower() in module_app.openapi()["paths"][seed.module_path]
    assert seed.target == builtin_module(seed.module).route_prefix + seed.module_path


@pytest.mark.parametrize("seed", seed_routes.SEED_PATHS, ids=lambda s: s.path)
def test_no_registered_module_can_take_a_short_path(seed: seed_routes.SeedPath) -> None:
    assert seed.path.split("/")[3] in RESERVED_MODULE_NAMES


class UnreachableModules:
    async def call(self, app_name: str, request: ForwardedRequest) -> ForwardedResponse:
        raise RuntimeError("replica died")


def test_a_module_that_does_not_answer_is_a_503_naming_it(
    gateway: tuple[TestClient, RecordingModules], caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = gateway
    client.app.state.module_deployer = UnreachableModules()  # type: ignore[attr-defined]
    response = client.post("/api/v1/analyze", json={})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert "surfacing" in response.json()["error"]["message"]
    assert "/api/v1/surfacing/analyze" in response.json()["error"]["message"]
