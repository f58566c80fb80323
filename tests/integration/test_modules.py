"""The module registry and calls through the gateway to external and Python modules."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request

from tests.integration.conftest import SCAFFOLDED_MODULE, Stack, Tenant, add_user, free_port

pytestmark = pytest.mark.integration


def _echo_service() -> FastAPI:
    """Stands in for a partner's service: reports exactly what the gateway sent it."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST", "DELETE"])
    async def echo(path: str, request: Request) -> dict[str, Any]:
        return {
            "path": "/" + path,
            "method": request.method,
            "query": dict(request.query_params),
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": (await request.body()).decode(),
        }

    return app


@pytest.fixture(scope="module")
def external_service() -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(_echo_service(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}/v2"
    server.should_exit = True
    thread.join(timeout=10)


def _manifest(name: str, base_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "version": "1.2.3",
        "description": "partner scoring service",
        "capabilities": ["scoring"],
        "endpoints": [
            {"method": "GET", "path": "/scores/{id}", "permission": "modules:call"},
            {"method": "POST", "path": "/scores", "permission": "causal:run"},
        ],
        "permissions": ["modules:call"],
        "base_url": base_url,
        **extra,
    }


def test_registered_external_module_is_reachable_through_the_gateway(
    client: httpx.Client, tenant: Tenant, external_service: str
) -> None:
    created = client.post(
        "/modules", headers=tenant.auth, json=_manifest("partner-scores", external_service)
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "ready"
    assert created.json()["mount_path"] == "/api/v1/partner-scores"

    response = client.get(
        "/api/v1/partner-scores/scores/42",
        params={"window": "28d"},
        headers={
            **tenant.auth,
            "X-LiftOS-Org": "00000000-0000-0000-0000-000000000000",  # a forgery attempt
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        },
    )
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["path"] == "/v2/scores/42"
    assert seen["query"] == {"window": "28d"}
    headers = seen["headers"]
    assert headers["x-liftos-org"] == tenant.org_id
    assert headers["x-liftos-principal"] == tenant.owner_id
    assert headers["x-liftos-role"] == "owner"
    assert headers["x-request-id"] == response.headers["x-request-id"]
    assert "authorization" not in headers
    assert "x-api-key" not in headers
    # The trace continues: same trace id as the caller's.
    assert headers["traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"

    posted = client.post(
        "/api/v1/partner-scores/scores", headers=tenant.auth, json={"channel": "tv"}
    )
    assert posted.status_code == 200
    assert json.loads(posted.json()["body"]) == {"channel": "tv"}


def test_the_product_descriptions_module_json(
    client: httpx.Client, tenant: Tenant, external_service: str
) -> None:
    seed = {
        "name": "my-module",
        "version": "1.0.0",
        "capabilities": ["custom_analysis"],
        "endpoints": {"my_endpoint": "/api/v1/my-endpoint"},
        "permissions": ["memory:read", "memory:write"],
    }
    # As written it says nothing of where the module runs (a container there): the 422 says
    # what to add.
    refused = client.post("/modules", headers=tenant.auth, json=seed)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "base_url"
    assert "say where the module runs" in refused.json()["error"]["message"]
    created = client.post(
        "/modules", headers=tenant.auth, json={**seed, "base_url": external_service}
    )
    assert created.status_code == 201, created.text
    assert created.json()["manifest"]["endpoints"][0]["method"] == "ANY"
    called = client.post("/api/v1/my-module/api/v1/my-endpoint", headers=tenant.auth, json={"x": 1})
    assert called.status_code == 200, called.text
    assert called.json()["path"] == "/v2/api/v1/my-endpoint"
    assert called.json()["method"] == "POST"
    undeclared = client.get("/api/v1/my-module/api/v1/other", headers=tenant.auth)
    assert undeclared.status_code == 404


def test_module_endpoint_permissions_and_undeclared_paths(
    client: httpx.Client, tenant: Tenant, external_service: str
) -> None:
    client.post("/modules", headers=tenant.auth, json=_manifest("perm-check", external_service))
    viewer = add_user(client, tenant, "viewer")
    assert client.get("/api/v1/perm-check/scores/1", headers=viewer.auth).status_code == 200
    denied = client.post("/api/v1/perm-check/scores", headers=viewer.auth, json={})
    assert denied.status_code == 403
    assert "causal:run" in denied.json()["error"]["message"]
    assert client.get("/api/v1/perm-check/admin", headers=tenant.auth).status_code == 404


def test_unregistered_module_is_404(client: httpx.Client, tenant: Tenant) -> None:
    response = client.get("/api/v1/never-registered/hello", headers=tenant.auth)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_registry_validation(client: httpx.Client, tenant: Tenant, external_service: str) -> None:
    assert (
        client.post(
            "/modules", headers=tenant.auth, json=_manifest("dupe-mod", external_service)
        ).status_code
        == 201
    )
    duplicate = client.post(
        "/modules", headers=tenant.auth, json=_manifest("dupe-mod", external_service)
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["field"] == "name"

    for body, field in (
        (_manifest("bad-version", external_service, version="1.0"), "version"),
        (_manifest("auth", external_service), "name"),
        (_manifest("ftp-mod", "ftp://example.com/x"), "base_url"),
        ({**_manifest("both-mod", external_service), "import_path": "a.b:c"}, None),
    ):
        response = client.post("/modules", headers=tenant.auth, json=body)
        assert response.status_code == 422, response.text
        if field:
            assert response.json()["error"]["field"] == field

    listed = client.get("/modules", headers=tenant.auth).json()["items"]
    assert [m["name"] for m in listed] == ["dupe-mod"]
    assert client.delete("/modules/dupe-mod", headers=tenant.auth).status_code == 204
    assert client.get("/modules/dupe-mod", headers=tenant.auth).status_code == 404
    assert client.get("/api/v1/dupe-mod/scores/1", headers=tenant.auth).status_code == 404


def test_python_module_from_the_scaffold_is_deployed_and_called(
    stack: Stack, client: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    manifest = json.loads(
        (stack.modules_dir / SCAFFOLDED_MODULE / "module.json").read_text(encoding="utf-8")
    )
    created = client.post("/modules", headers=tenant.auth, json=manifest)
    assert created.status_code == 201, created.text
    assert created.json()["kind"] == "python"

    deadline = time.monotonic() + 120
    status = created.json()["status"]
    while status == "deploying" and time.monotonic() < deadline:
        time.sleep(0.5)
        status = client.get(f"/modules/{SCAFFOLDED_MODULE}", headers=tenant.auth).json()["status"]
    assert status == "ready"

    response = client.get(f"/api/v1/{SCAFFOLDED_MODULE}/hello", headers=tenant.auth)
    assert response.status_code == 200, response.text
    assert response.json()["org_id"] == tenant.org_id
    assert response.json()["module"] == SCAFFOLDED_MODULE
    # Registration is per org: the same name means nothing to another tenant.
    assert (
        client.get(f"/api/v1/{SCAFFOLDED_MODULE}/hello", headers=other_tenant.auth).status_code
        == 404
    )

    assert client.delete(f"/modules/{SCAFFOLDED_MODULE}", headers=tenant.auth).status_code == 204
    gone = client.get(f"/api/v1/{SCAFFOLDED_MODULE}/hello", headers=tenant.auth)
    assert gone.status_code == 404


def test_python_module_that_cannot_import_reports_failure(
    client: httpx.Client, tenant: Tenant
) -> None:
    body = {"name": "broken-mod", "version": "0.0.1", "import_path": "no_such_pkg.app:create_app"}
    assert client.post("/modules", headers=tenant.auth, json=body).status_code == 201
    deadline = time.monotonic() + 120
    module = client.get("/modules/broken-mod", headers=tenant.auth).json()
    while module["status"] == "deploying" and time.monotonic() < deadline:
        time.sleep(0.5)
        module = client.get("/modules/broken-mod", headers=tenant.auth).json()
    assert module["status"] == "failed"
    assert "no_such_pkg" in module["status_detail"]
    call = client.get("/api/v1/broken-mod/hello", headers=tenant.auth)
    assert call.status_code == 502
    assert call.json()["error"]["code"] == "module_failed"
    assert client.delete("/modules/broken-mod", headers=tenant.auth).status_code == 204
