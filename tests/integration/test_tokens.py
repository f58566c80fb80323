"""Every way an access token can be wrong is a 401 that says why."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt
import pytest

from tests.integration.conftest import JWT_KEYS, Tenant

pytestmark = pytest.mark.integration

KID, SECRET = next(iter(JWT_KEYS.items()))


def _claims(tenant: Tenant, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "liftos",
        "aud": "liftos-api",
        "sub": tenant.owner_id,
        "org": tenant.org_id,
        "role": "owner",
        "plan": "free",
        "jti": "a" * 32,
        "iat": now,
        "exp": now + 300,
        "typ": "access",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict[str, Any], *, key: str = SECRET, kid: str = KID, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _assert_401(client: httpx.Client, token: str, reason: str) -> None:
    response = client.get("/api/v1/example/hello", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == reason
    assert reason in response.headers["www-authenticate"]


def test_a_well_formed_token_is_accepted(client: httpx.Client, tenant: Tenant) -> None:
    token = _sign(_claims(tenant))
    response = client.get("/api/v1/example/hello", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_alg_none(client: httpx.Client, tenant: Tenant) -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': KID})}.{_b64(_claims(tenant))}."
    _assert_401(client, token, "unsupported_algorithm")


def test_other_algorithm(client: httpx.Client, tenant: Tenant) -> None:
    token = _sign(_claims(tenant), key=SECRET * 2, alg="HS512")
    _assert_401(client, token, "unsupported_algorithm")


def test_wrong_audience(client: httpx.Client, tenant: Tenant) -> None:
    _assert_401(client, _sign(_claims(tenant, aud="someone-else")), "invalid_audience")


def test_wrong_issuer(client: httpx.Client, tenant: Tenant) -> None:
    _assert_401(client, _sign(_claims(tenant, iss="evil")), "invalid_issuer")


def test_expired(client: httpx.Client, tenant: Tenant) -> None:
    past = int(time.time()) - 3600
    _assert_401(client, _sign(_claims(tenant, iat=past, exp=past + 60)), "expired")


def test_tampered_payload(client: httpx.Client, tenant: Tenant) -> None:
    header, _, signature = tenant.access_token.split(".")
    payload = _b64(_claims(tenant, role="owner", org="00000000-0000-0000-0000-000000000000"))
    _assert_401(client, f"{header}.{payload}.{signature}", "invalid_signature")


def test_signed_with_another_key(client: httpx.Client, tenant: Tenant) -> None:
    _assert_401(client, _sign(_claims(tenant), key="z" * 48), "invalid_signature")


def test_unknown_kid(client: httpx.Client, tenant: Tenant) -> None:
    _assert_401(client, _sign(_claims(tenant), kid="retired-key"), "unknown_key")


def test_missing_org_claim(client: httpx.Client, tenant: Tenant) -> None:
    _assert_401(client, _sign(_claims(tenant, org=None)), "missing_claim")


def test_garbage(client: httpx.Client) -> None:
    _assert_401(client, "not.a.jwt", "malformed")


def test_missing_credentials(client: httpx.Client) -> None:
    response = client.get("/api/v1/example/hello")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_credentials"
