"""The gateway's common behaviour: health, request ids, error shape, validation, OpenAPI."""

from __future__ import annotations

import httpx
import pytest

from deployments.builtin import BUILTIN_MODULES
from tests.integration.conftest import Tenant

pytestmark = pytest.mark.integration


def test_healthz(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_postgres_redis_and_serve_applications(client: httpx.Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    checks = {c["name"]: c for c in response.json()["checks"]}
    assert set(checks) == {"postgresql", "redis", "serve_applications"}
    assert all(c["ok"] for c in checks.values()), checks


def test_every_response_has_exactly_one_request_id(client: httpx.Client, tenant: Tenant) -> None:
    for response in (
        client.get("/healthz"),
        client.get("/auth/me", headers=tenant.auth),
        client.get("/api/v1/example/hello", headers=tenant.auth),
        client.get("/auth/me"),
    ):
        assert len(response.headers.get_list("x-request-id")) == 1, response.headers


def test_incoming_request_id_is_kept_and_echoed_in_errors(client: httpx.Client) -> None:
    response = client.get("/auth/me", headers={"X-Request-ID": "trace-me-123"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "trace-me-123"
    assert response.json()["error"]["request_id"] == "trace-me-123"


def test_errors_share_one_shape(client: httpx.Client) -> None:
    for response in (client.get("/no/such/route"), client.get("/auth/me")):
        error = response.json()["error"]
        assert set(error) >= {"code", "message", "request_id"}
        assert error["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"org_name": "A", "email": "not-an-email", "password": "x" * 20}, "email"),
        ({"org_name": "", "email": "a@b.example.com", "password": "x" * 20}, "org_name"),
        ({"email": "a@b.example.com", "password": "x" * 20}, "org_name"),
        ({"org_name": "A", "email": "a@b.example.com", "password": "short"}, "password"),
        ({"org_name": "A", "email": "a@b.example.com", "password": "x" * 20, "x": 1}, "x"),
        (
            {
                "org_name": "A",
                "email": "a@b.example.com",
                "password": "x" * 20,
                "org_slug": "Not A Slug",
            },
            "org_slug",
        ),
    ],
)
def test_malformed_bodies_are_422_naming_the_field(
    client: httpx.Client, body: dict[str, object], field: str
) -> None:
    response = client.post("/auth/signup", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["field"] == field
    assert field in error["message"]


def test_a_422_lists_every_problem(client: httpx.Client) -> None:
    response = client.post("/auth/login", json={"email": 12})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "email"
    assert [e["field"] for e in error["errors"]] == ["email", "password"]
    assert all(e["message"] for e in error["errors"])
    signup = client.post("/auth/signup", json={"org_name": "", "email": "nope", "x": 1})
    assert signup.status_code == 422
    fields = [e["field"] for e in signup.json()["error"]["errors"]]
    assert {"org_name", "email", "password", "x"} <= set(fields)
    assert signup.json()["error"]["field"] == fields[0]


def test_a_route_422_carries_the_list_too(client: httpx.Client, tenant: Tenant) -> None:
    # Raised by the route, not by validation: one problem, still as a list.
    response = client.get(
        "/api/v1/memory/search", headers=tenant.auth, params={"query": "x", "filter": "nocolon"}
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["errors"] == [{"field": "filter", "message": error["message"][len("filter: ") :]}]


def test_malformed_json_is_422(client: httpx.Client) -> None:
    response = client.post(
        "/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_module_validation_names_the_field(client: httpx.Client, tenant: Tenant) -> None:
    response = client.post(
        "/api/v1/example/echo", headers=tenant.auth, json={"message": "hi", "repeat": 99}
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "repeat"


def test_openapi_lists_core_and_every_builtin_module_route(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for route in ("/auth/signup", "/auth/api-keys/{key_id}", "/modules/{name}", "/audit"):
        assert route in paths
    for module in BUILTIN_MODULES:
        assert any(p.startswith(module.route_prefix + "/") for p in paths), module
    # The memory API at both of its prefixes, each operation with its own id.
    for route in ("/memory/store", "/memory/search", "/api/v1/memory/store"):
        assert route in paths
    memory_ids = [
        op["operationId"]
        for path, item in paths.items()
        if "/memory/" in path
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    assert len(memory_ids) == len(set(memory_ids))
    # Every error answer documents the list of problems.
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert "errors" in schemas["ErrorBody"]["properties"]
    # Each operation states the permission it needs.
    assert paths["/audit"]["get"]["x-liftos-permission"] == "audit:read"
    assert paths["/auth/api-keys"]["post"]["x-liftos-permission"] == "api_keys:manage"
    assert paths["/auth/login"]["post"]["x-liftos-permission"] == "public"
    assert paths["/api/v1/example/hello"]["get"]["x-liftos-permission"] == "modules:call"
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
