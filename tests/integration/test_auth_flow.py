"""Signup → login → refresh → API key → module call, and the ways each step refuses."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.integration.conftest import PASSWORD, Tenant, add_user, bearer, login, signup

pytestmark = pytest.mark.integration


def test_signup_login_refresh_api_key_then_call_a_module(client: httpx.Client) -> None:
    tenant = signup(client)
    tokens = login(client, tenant.email)
    assert tokens["token_type"] == "bearer"
    assert 0 < tokens["expires_in"] <= 900

    refreshed = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    fresh = refreshed.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]

    created = client.post(
        "/auth/api-keys",
        headers=bearer(fresh["access_token"]),
        json={"name": "etl", "role": "analyst"},
    )
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["secret"].startswith(key["display_prefix"])

    hello = client.get("/api/v1/example/hello", headers={"X-API-Key": key["secret"]})
    assert hello.status_code == 200, hello.text
    assert hello.json() == {
        "module": "example",
        "org_id": tenant.org_id,
        "principal_id": key["id"],
        "principal_type": "api_key",
        "role": "analyst",
    }
    # The same key as a bearer credential.
    as_bearer = client.get("/api/v1/example/hello", headers=bearer(key["secret"]))
    assert as_bearer.status_code == 200


def test_me_describes_the_caller(client: httpx.Client, tenant: Tenant) -> None:
    body = client.get("/auth/me", headers=tenant.auth).json()
    assert body["principal_type"] == "user"
    assert body["role"] == "owner"
    assert body["org"]["id"] == tenant.org_id
    assert body["user"]["email"] == tenant.email
    assert "billing:manage" in body["permissions"]


def test_wrong_password_and_unknown_email_look_the_same(
    client: httpx.Client, tenant: Tenant
) -> None:
    wrong = client.post("/auth/login", json={"email": tenant.email, "password": "x" * 20})
    unknown = client.post(
        "/auth/login", json={"email": "nobody@nowhere.example.com", "password": "x" * 20}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]


def test_duplicate_email_is_409(client: httpx.Client, tenant: Tenant) -> None:
    response = client.post(
        "/auth/signup",
        json={"org_name": "Copycat", "email": tenant.email.upper(), "password": PASSWORD},
    )
    assert response.status_code == 409
    assert response.json()["error"]["field"] == "email"


def test_reusing_a_rotated_refresh_token_revokes_the_family(
    client: httpx.Client, tenant: Tenant
) -> None:
    first = tenant.refresh_token
    second = client.post("/auth/refresh", json={"refresh_token": first}).json()["refresh_token"]

    replay = client.post("/auth/refresh", json={"refresh_token": first})
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "refresh_reused"
    # The thief's replay also kills the legitimate successor.
    after = client.post("/auth/refresh", json={"refresh_token": second})
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "refresh_revoked"
    # Another login is a new family and works.
    assert (
        client.post(
            "/auth/refresh", json={"refresh_token": login(client, tenant.email)["refresh_token"]}
        ).status_code
        == 200
    )


def test_logout_revokes_access_token_and_refresh_family(
    client: httpx.Client, tenant: Tenant
) -> None:
    assert client.get("/auth/me", headers=tenant.auth).status_code == 200
    response = client.post(
        "/auth/logout", headers=tenant.auth, json={"refresh_token": tenant.refresh_token}
    )
    assert response.status_code == 204
    me = client.get("/auth/me", headers=tenant.auth)
    assert me.status_code == 401
    assert me.json()["error"]["code"] == "revoked"
    refresh = client.post("/auth/refresh", json={"refresh_token": tenant.refresh_token})
    assert refresh.status_code == 401


def test_role_denial_is_403(client: httpx.Client, tenant: Tenant) -> None:
    viewer = add_user(client, tenant, "viewer")
    analyst = add_user(client, tenant, "analyst")
    admin = add_user(client, tenant, "admin")

    assert client.get("/api/v1/example/hello", headers=viewer.auth).status_code == 200
    for caller in (viewer, analyst):
        for method, path, body in (
            ("POST", "/auth/api-keys", {"name": "k", "role": "viewer"}),
            ("GET", "/auth/api-keys", None),
            (
                "POST",
                "/auth/users",
                {"email": "x@y.example.com", "password": PASSWORD, "role": "viewer"},
            ),
            ("GET", "/audit", None),
            (
                "POST",
                "/modules",
                {"name": "m-mod", "version": "1.0.0", "base_url": "http://127.0.0.1:9"},
            ),
        ):
            response = client.request(method, path, headers=caller.auth, json=body)
            assert response.status_code == 403, (caller.email, method, path, response.text)
            assert response.json()["error"]["code"] == "forbidden"

    # An admin may manage users, but may not mint an owner or an owner-level key.
    response = client.post(
        "/auth/users",
        headers=admin.auth,
        json={"email": "boss@acme.example.com", "password": PASSWORD, "role": "owner"},
    )
    assert response.status_code == 403
    assert response.json()["error"]["field"] == "role"
    assert (
        client.post(
            "/auth/api-keys", headers=admin.auth, json={"name": "k", "role": "owner"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/auth/api-keys", headers=admin.auth, json={"name": "k", "role": "admin"}
        ).status_code
        == 201
    )


def test_api_key_lifecycle(client: httpx.Client, tenant: Tenant) -> None:
    created = client.post(
        "/auth/api-keys", headers=tenant.auth, json={"name": "nightly", "role": "viewer"}
    ).json()
    listed = client.get("/auth/api-keys", headers=tenant.auth).json()
    assert [k["id"] for k in listed] == [created["id"]]
    assert "secret" not in listed[0]
    assert listed[0]["last_used_at"] is None

    assert client.get("/api/v1/example/hello", headers={"X-API-Key": created["secret"]}).is_success
    # last_used_at is written off the request path.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        one = client.get(f"/auth/api-keys/{created['id']}", headers=tenant.auth).json()
        if one["last_used_at"] is not None:
            break
        time.sleep(0.2)
    assert one["last_used_at"] is not None

    assert client.delete(f"/auth/api-keys/{created['id']}", headers=tenant.auth).status_code == 204
    denied = client.get("/api/v1/example/hello", headers={"X-API-Key": created["secret"]})
    assert denied.status_code == 401
    assert denied.json()["error"]["code"] == "revoked"
    assert (
        client.get(f"/auth/api-keys/{created['id']}", headers=tenant.auth).json()["revoked_at"]
        is not None
    )


def test_a_wrong_api_key_secret_is_401(client: httpx.Client, tenant: Tenant) -> None:
    created = client.post(
        "/auth/api-keys", headers=tenant.auth, json={"name": "k", "role": "viewer"}
    ).json()
    forged = created["secret"][:-4] + ("AAAA" if not created["secret"].endswith("AAAA") else "BBBB")
    for headers in ({"X-API-Key": forged}, {"X-API-Key": "lft_nothex_abc"}):
        response = client.get("/api/v1/example/hello", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"


def test_admin_creates_and_deactivates_users(client: httpx.Client, tenant: Tenant) -> None:
    member = add_user(client, tenant, "analyst")
    users = client.get("/auth/users", headers=tenant.auth).json()
    assert {u["email"] for u in users} == {tenant.email, member.email}
    assert client.get("/api/v1/example/hello", headers=member.auth).status_code == 200
    assert client.delete(f"/auth/users/{member.id}", headers=tenant.auth).status_code == 204
    # The access token they still hold is refused at once, not when it expires.
    cut_off = client.get("/api/v1/example/hello", headers=member.auth)
    assert cut_off.status_code == 401
    assert cut_off.json()["error"]["code"] == "revoked"
    response = client.post("/auth/login", json={"email": member.email, "password": PASSWORD})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "inactive_user"
    assert client.delete(f"/auth/users/{tenant.owner_id}", headers=tenant.auth).status_code == 409
