"""Traces and metrics on the session's cluster, as an operator sees them: one trace from a
request's server span into the Ray task or actor that did its work (read back from the file
exporter every process writes to), and LiftOS's metrics on Ray's Prometheus endpoint."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import Stack, Tenant

pytestmark = pytest.mark.integration

SURFACING = "/api/v1/surfacing"
MEMORY = "/api/v1/memory"


def traceparent() -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


def spans_of(stack: Stack, trace_id: str) -> list[dict[str, Any]]:
    if not stack.traces.exists():
        return []
    spans = [json.loads(line) for line in stack.traces.read_text().splitlines() if line]
    return [s for s in spans if s["context"]["trace_id"] == f"0x{trace_id}"]


def wait_for_spans(
    stack: Stack, trace_id: str, ready: Callable[[list[dict[str, Any]]], bool], seconds: float
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    while True:
        spans = spans_of(stack, trace_id)
        if ready(spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.5)


def ancestors(span: dict[str, Any], spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {s["context"]["span_id"]: s for s in spans}
    chain = []
    parent = by_id.get(span.get("parent_id") or "")
    while parent is not None:
        chain.append(parent)
        parent = by_id.get(parent.get("parent_id") or "")
    return chain


def service_of(span: dict[str, Any]) -> str:
    name: str = span["resource"]["attributes"]["service.name"]
    return name


def test_an_audit_is_one_trace_from_the_request_into_its_ray_task(
    client: httpx.Client, stack: Stack, tenant: Tenant
) -> None:
    products = [
        {"id": f"mug-{i}", "title": f"Stoneware mug {i}", "price": "12.00 USD"} for i in range(3)
    ]
    response = client.post(
        f"{SURFACING}/catalogs", headers=tenant.auth, json={"name": "mugs", "products": products}
    )
    assert response.status_code == 201, response.text
    trace_id, parent = traceparent()
    response = client.post(
        f"{SURFACING}/audits",
        headers={**tenant.auth, "traceparent": parent},
        json={"catalog_id": response.json()["id"]},
    )
    assert response.status_code == 202, response.text

    spans = wait_for_spans(
        stack,
        trace_id,
        lambda found: (
            any(s["name"] == "surfacing.audit" for s in found)
            and any(s["kind"] == "SpanKind.SERVER" for s in found)
        ),
        seconds=180,
    )
    (task,) = [s for s in spans if s["name"] == "surfacing.audit"]
    assert service_of(task) == "liftos-worker"
    assert task["attributes"]["liftos.org_id"] == tenant.org_id
    assert task["kind"] == "SpanKind.CONSUMER"
    # The task's span hangs under the surfacing replica's server span for the request, which
    # continues the caller's traceparent.
    chain = ancestors(task, spans)
    (server,) = [s for s in chain if s["kind"] == "SpanKind.SERVER"]
    assert service_of(server) == "liftos-surfacing"
    assert server["attributes"]["liftos.org_id"] == tenant.org_id
    assert server["parent_id"] == f"0x{parent.split('-')[2]}"


def test_a_memory_search_is_one_trace_from_the_request_into_the_shard_actor(
    client: httpx.Client, stack: Stack, tenant: Tenant
) -> None:
    stored = client.post(
        f"{MEMORY}/store",
        headers=tenant.auth,
        json={
            "content": "Q3 search spend lifted revenue in the north region",
            "memory_type": "note",
        },
    )
    assert stored.status_code == 201, stored.text
    trace_id, parent = traceparent()
    found = client.get(
        f"{MEMORY}/search",
        headers={**tenant.auth, "traceparent": parent},
        params={"query": "search spend north"},
    )
    assert found.status_code == 200, found.text

    spans = wait_for_spans(
        stack,
        trace_id,
        lambda got: (
            any(s["name"] == "memory.shard.search" for s in got)
            and any(s["kind"] == "SpanKind.SERVER" for s in got)
        ),
        seconds=30,
    )
    shard = next(s for s in spans if s["name"] == "memory.shard.search")
    assert service_of(shard) == "liftos-memory-shard"
    assert any(service_of(s) == "liftos-memory" for s in ancestors(shard, spans))


def scrape(stack: Stack) -> list[tuple[str, dict[str, str], float]]:
    text = httpx.get(stack.metrics_url, timeout=10).text
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("ray_liftos_")
    ]


def total(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    return sum(
        value
        for sample, got, value in samples
        if sample == name and all(got.get(k) == v for k, v in labels.items())
    )


def test_request_and_job_metrics_reach_rays_prometheus_endpoint(
    client: httpx.Client, stack: Stack, tenant: Tenant
) -> None:
    for _ in range(3):
        assert client.get(f"{SURFACING}/catalogs", headers=tenant.auth).status_code == 200
    assert client.get(f"{SURFACING}/catalogs/not-an-id", headers=tenant.auth).status_code == 422
    labels = {"service": "surfacing", "route": f"{SURFACING}/catalogs", "org": tenant.org_id}

    deadline = time.monotonic() + 60
    while True:
        samples = scrape(stack)
        served = total(samples, "ray_liftos_http_requests_total", **labels, status="2xx")
        if served >= 3 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert served == 3
    latency = total(samples, "ray_liftos_http_request_seconds_count", **labels, method="GET")
    assert latency == 3
    # The route is its template: a bad id is counted under it, as a client error.
    assert (
        total(
            samples,
            "ray_liftos_http_requests_total",
            service="surfacing",
            route=f"{SURFACING}/catalogs/{{catalog_id}}",
            org=tenant.org_id,
            status="4xx",
        )
        == 1
    )
