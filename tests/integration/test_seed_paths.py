"""The product description's module examples at its short paths, as written, with a token:
``POST /api/v1/analyze``, ``POST /api/v1/attribution/analyze`` and
``GET /api/v1/eda/calendar-dimension`` (the module-prefixed paths are tested with each module).
The gateway hands them to the module's replica, which authenticates, counts and answers them."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import Tenant, signup
from tests.integration.test_causal_first_user import CHANNELS, LONG, QUICK_FIT, first_frame, upload

pytestmark = pytest.mark.integration

SEED_ANALYZE = {
    "product_description": "Premium wireless headphones with noise cancellation...",
    "price_point": 299.99,
    "competitors": ["sony", "bose", "apple"],
    "market_focus": "premium",
}
SEED_ATTRIBUTION = {
    "channels": list(CHANNELS),
    "date_range": "2024-Q1",
    "model_type": "bayesian_structural",
}


def api_calls(client: httpx.Client, tenant: Tenant) -> float:
    meters = client.get("/billing/usage", headers=tenant.auth).json()["meters"]
    return float(next(m["used"] for m in meters if m["meter"] == "api_calls"))


def test_calendar_dimension_at_the_short_path(client: httpx.Client) -> None:
    # GET /api/v1/eda/calendar-dimension?start_date=2024-01-01&end_date=2024-12-31
    response = client.get(
        "/api/v1/eda/calendar-dimension?start_date=2024-01-01&end_date=2024-12-31"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["data"]) == 366  # 2024 is a leap year
    fields = {f["name"]: f["type"] for f in body["schema"]["fields"]}
    assert len(fields) == 61
    assert (fields["date"], fields["is_holiday"], fields["fiscal_quarter"]) == (
        "date",
        "boolean",
        "integer",
    )
    assert fields["marketing_season"] == "string"
    same = client.get(
        "/api/v1/causal/eda/calendar-dimension?start_date=2024-01-01&end_date=2024-12-31"
    )
    assert same.json() == body
    csv = client.get(
        "/api/v1/eda/calendar-dimension",
        params={"start_date": "2024-01-01", "end_date": "2024-01-31", "format": "csv"},
    )
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text.strip().splitlines()) == 32
    bad = client.get(
        "/api/v1/eda/calendar-dimension", params={"start_date": "2024-13-01", "end_date": "x"}
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["error"]["errors"]} == {"start_date", "end_date"}


def test_surfacing_analyze_at_the_short_path(client: httpx.Client, tenant: Tenant) -> None:
    anonymous = client.post("/api/v1/analyze", json=SEED_ANALYZE)
    assert anonymous.status_code == 401, anonymous.text
    before = api_calls(client, tenant)
    response = client.post("/api/v1/analyze", headers=tenant.auth, json=SEED_ANALYZE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"seo_score", "ai_discoverability", "revenue_impact"}
    assert body["optimization_recommendations"]
    assert body["ai_discoverability"] is None  # no audited catalog yet, and the reason says so
    assert "audit" in body["ai_discoverability_reason"]
    # One call each: the analyze and the usage read after `before` (not two for the analyze).
    assert api_calls(client, tenant) - before == 2
    prefixed = client.post("/api/v1/surfacing/analyze", headers=tenant.auth, json=SEED_ANALYZE)
    assert prefixed.json()["seo_score"] == body["seo_score"]
    bad = client.post("/api/v1/analyze", headers=tenant.auth, json={"price_point": "cheap"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["error"]["errors"]} >= {
        "product_description",
        "price_point",
    }


def test_attribution_at_the_short_path(client: httpx.Client) -> None:
    tenant = signup(client, prefix="seedshort")
    none_yet = client.post(
        "/api/v1/attribution/analyze", headers=tenant.auth, json=SEED_ATTRIBUTION
    )
    assert none_yet.status_code == 422, none_yet.text
    assert none_yet.json()["error"]["field"] == "dataset_id"
    dataset = upload(client, tenant, first_frame())
    response = client.post(
        "/api/v1/attribution/analyze",
        headers=tenant.auth,
        json={**SEED_ATTRIBUTION, "fit": QUICK_FIT, "wait_seconds": 240},
        timeout=LONG,
    )
    assert response.status_code == 200, response.text
    model = response.json()
    assert model["dataset_id"] == dataset["id"]
    assert set(model["incremental_roas"]) == set(CHANNELS)
    assert model["window"]["periods"] == 13
    other = signup(client, prefix="seedshort")
    foreign = client.get(f"/api/v1/causal/models/{model['id']}", headers=other.auth)
    assert foreign.status_code == 404


def test_short_paths_are_documented_and_reserved(client: httpx.Client, tenant: Tenant) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/api/v1/analyze"]["post"]["x-liftos-permission"] == "surfacing:run"
    assert "post" in paths["/api/v1/attribution/analyze"]
    assert paths["/api/v1/eda/calendar-dimension"]["get"]["x-liftos-permission"] == "public"
    manifest = {
        "name": "attribution",
        "version": "1.0.0",
        "endpoints": [{"method": "POST", "path": "/analyze", "permission": "modules:call"}],
        "base_url": "https://example.com",
    }
    taken = client.post("/modules", headers=tenant.auth, json=manifest)
    assert taken.status_code == 422, taken.text
    assert "reserved" in taken.text
