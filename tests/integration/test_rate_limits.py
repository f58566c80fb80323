"""Rate limits per principal and per org, configured per plan, answered with 429 + Retry-After."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from tests.integration.conftest import RATE_PLANS, Stack, Tenant, bearer, login

pytestmark = pytest.mark.integration


def _set_plan(stack: Stack, org_id: str, plan: str) -> None:
    # Billing owns plan changes; here the owner role stands in for it.
    async def update() -> None:
        conn = await asyncpg.connect(stack.urls.migration_url)
        try:
            await conn.execute("UPDATE orgs SET plan = $2 WHERE id = $1::uuid", org_id, plan)
        finally:
            await conn.close()

    asyncio.run(update())


def test_principal_limit_answers_429_with_retry_after(
    stack: Stack, client: httpx.Client, tenant: Tenant
) -> None:
    key = client.post(
        "/auth/api-keys", headers=tenant.auth, json={"name": "k", "role": "viewer"}
    ).json()
    _set_plan(stack, tenant.org_id, "tiny")
    # The plan travels in the access token, so it applies from the next login on.
    token = login(client, tenant.email)["access_token"]
    burst = RATE_PLANS["tiny"]["principal"]["burst"]
    statuses = [
        client.get("/api/v1/example/hello", headers=bearer(token)).status_code
        for _ in range(burst + 2)
    ]
    assert statuses[:burst] == [200] * burst
    assert statuses[burst:] == [429, 429]
    limited = client.get("/api/v1/example/hello", headers=bearer(token))
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"
    # Limits are per principal: an API key of the same org has its own allowance.
    assert client.get("/api/v1/example/hello", headers={"X-API-Key": key["secret"]}).is_success


def test_other_orgs_are_not_affected(
    stack: Stack, client: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    _set_plan(stack, tenant.org_id, "tiny")
    token = login(client, tenant.email)["access_token"]
    while client.get("/api/v1/example/hello", headers=bearer(token)).status_code != 429:
        pass
    assert client.get("/api/v1/example/hello", headers=other_tenant.auth).status_code == 200
