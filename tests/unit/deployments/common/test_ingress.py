"""The ingress layer on its own (no Ray, no database): request ids, error shape, tracing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic import BaseModel, ConfigDict, Field

from cluster.telemetry import configure_tracing, inject_context
from deployments.common.errors import ApiError, install_error_handlers
from deployments.common.ingress import IngressMiddleware

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN = "b7ad6b7169203331"


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1)


class Order(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: list[Line]


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    """The spans this module's requests record.

    OpenTelemetry allows one tracer provider per process. When an earlier test in this session
    installed it (an integration test starts a service Runtime in-process, which configures
    tracing as a replica does), the exporter joins that provider instead."""
    spans = InMemorySpanExporter()
    if not configure_tracing(exporter="none", service_name="unit", span_exporter=spans):
        provider = trace.get_tracer_provider()
        assert isinstance(provider, TracerProvider), "a tracer provider this test can read"
        provider.add_span_processor(SimpleSpanProcessor(spans))
    return spans


@pytest.fixture(scope="module")
def client(exporter: InMemorySpanExporter) -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/outgoing")
    async def outgoing(request: Request) -> dict[str, str]:
        headers: dict[str, str] = {}
        inject_context(headers)
        return {"traceparent": headers["traceparent"], "request_id": request.state.request_id}

    @app.post("/orders")
    async def orders(order: Order) -> dict[str, int]:
        return {"lines": len(order.lines)}

    @app.get("/conflict")
    async def conflict() -> None:
        raise ApiError(409, "conflict", "already there", field="name")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("database password is hunter2")

    app.add_middleware(IngressMiddleware, service="unit")
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_request_id_is_generated_once(client: TestClient) -> None:
    response = client.get("/outgoing")
    ids = response.headers.get_list("x-request-id")
    assert len(ids) == 1
    assert response.json()["request_id"] == ids[0]


@pytest.mark.parametrize(("sent", "kept"), [("abc-123", True), ("x" * 200, False), ("a b", False)])
def test_incoming_request_id_is_kept_only_when_sane(
    client: TestClient, sent: str, kept: bool
) -> None:
    response = client.get("/outgoing", headers={"X-Request-ID": sent})
    assert (response.headers["x-request-id"] == sent) is kept


def test_server_span_continues_the_callers_trace_and_is_the_parent_of_outgoing_calls(
    client: TestClient, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    response = client.get("/outgoing", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN}-01"})
    (span,) = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == PARENT_SPAN
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["http.route"] == "/outgoing"
    assert span.attributes["liftos.service"] == "unit"
    assert span.attributes["liftos.request_id"] == response.headers["x-request-id"]
    # An outgoing call from the handler continues the same trace, under the server span
    # (directly, or through FastAPI's per-operation span).
    _, trace_id, parent_of_next_hop, _ = response.json()["traceparent"].split("-")
    assert trace_id == TRACE_ID
    by_id = {f"{s.context.span_id:016x}": s for s in exporter.get_finished_spans()}
    ancestor = by_id.get(parent_of_next_hop)
    chain = []
    while ancestor is not None:
        chain.append(ancestor)
        ancestor = by_id.get(f"{ancestor.parent.span_id:016x}") if ancestor.parent else None
    assert span in chain


def test_validation_error_names_the_nested_field(client: TestClient) -> None:
    response = client.post(
        "/orders", json={"lines": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 0}]}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "lines[1].quantity"
    assert error["message"].startswith("lines[1].quantity:")
    assert error["request_id"] == response.headers["x-request-id"]


def test_api_error_shape(client: TestClient) -> None:
    response = client.get("/conflict")
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "conflict",
        "message": "already there",
        "field": "name",
        "request_id": response.headers["x-request-id"],
    }


def test_unknown_route_and_unexpected_errors_keep_the_shape_and_hide_internals(
    client: TestClient,
) -> None:
    assert client.get("/nope").json()["error"]["code"] == "not_found"
    response = client.get("/boom")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal_error"
    assert "hunter2" not in response.text
