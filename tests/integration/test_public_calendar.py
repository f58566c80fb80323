"""The calendar dimension without credentials (it holds no tenant data), rate-limited per
client address; everything tenant-scoped stays authenticated."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import Tenant

pytestmark = pytest.mark.integration

CALENDAR = "/api/v1/causal/eda/calendar-dimension"


def test_the_quick_start_curl_works_without_credentials(client: httpx.Client) -> None:
    # curl "http://localhost:8000/api/v1/causal/eda/calendar-dimension?start_date=2024-01-01&end_date=2024-03-31"
    response = client.get(f"{CALENDAR}?start_date=2024-01-01&end_date=2024-03-31")
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["data"]) == 91
    assert len(body["schema"]["fields"]) == 61
    new_year = body["data"][0]
    assert new_year["date"] == "2024-01-01"
    assert new_year["is_holiday"] is True
    # Bad input is still a 422 naming the field, with the list.
    bad = client.get(CALENDAR, params={"start_date": "2024-02-01", "end_date": "2024-01-01"})
    assert bad.status_code == 422
    assert bad.json()["error"]["errors"][0]["field"] == "end_date"


def test_a_token_is_still_accepted_and_a_bad_one_refused(
    client: httpx.Client, tenant: Tenant
) -> None:
    params = {"start_date": "2024-01-01", "end_date": "2024-01-07"}
    assert client.get(CALENDAR, params=params, headers=tenant.auth).status_code == 200
    for headers in (
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "lft_not-a-key"},
    ):
        response = client.get(CALENDAR, params=params, headers=headers)
        assert response.status_code == 401, (headers, response.text)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/causal/datasets"),
        ("post", "/api/v1/causal/eda/temporal"),
        ("post", "/api/v1/causal/attribution/analyze"),
        ("get", "/api/v1/memory/search?query=x"),
        ("get", "/memory/search?query=x"),
        ("post", "/memory/store"),
        ("get", "/auth/me"),
        ("get", "/modules"),
        ("get", "/api/v1/example/hello"),
    ],
)
def test_tenant_scoped_routes_still_need_credentials(
    client: httpx.Client, method: str, path: str
) -> None:
    response = client.request(method, path, json={} if method == "post" else None)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "missing_credentials"


def test_openapi_says_which_routes_are_public(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert paths[CALENDAR]["get"]["x-liftos-permission"] == "public"
    assert paths["/api/v1/causal/eda/temporal"]["post"]["x-liftos-permission"] == "causal:read"


def test_anonymous_calls_are_rate_limited_by_address_not_by_what_they_claim(
    client: httpx.Client, tenant: Tenant
) -> None:
    # The suite trusts no proxy (LIFTOS_TRUSTED_PROXY_HOPS=0): a caller that writes its own
    # X-Forwarded-For gets one shared bucket whatever it writes, so rotating "addresses" does
    # not buy more calls.
    params = {"start_date": "2024-01-01", "end_date": "2024-01-02"}
    statuses = []
    for i in range(60):
        forged = {"X-Forwarded-For": f"192.0.2.{i}"}
        statuses.append(client.get(CALENDAR, params=params, headers=forged))
    refused = [r for r in statuses if r.status_code == 429]
    assert refused, [r.status_code for r in statuses]
    assert {r.status_code for r in statuses} == {200, 429}
    error = refused[0].json()["error"]
    assert error["code"] == "rate_limited"
    assert int(refused[0].headers["retry-after"]) >= 1
    # The caller's real address has a bucket of its own, and a token its plan's limits.
    assert client.get(CALENDAR, params=params).status_code == 200
    assert client.get(CALENDAR, params=params, headers=tenant.auth).status_code == 200
