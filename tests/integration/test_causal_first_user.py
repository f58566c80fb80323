"""A new user's first fits through HTTP: the smallest dataset (no platform claims, no controls),
some channels with claims, controls without the calendar, their own column names, and the
product description's request exactly as written."""

from __future__ import annotations

import io
import time
from datetime import date, timedelta
from typing import Any

import httpx
import numpy as np
import polars as pl
import pytest

from engine.causal.simulate import simulate
from tests.integration.conftest import Tenant, signup

pytestmark = pytest.mark.integration

BASE = "/api/v1/causal"
QUICK_FIT = {"chains": 1, "warmup": 60, "samples": 60, "seed": 4}
CHANNELS = ("facebook", "google", "email")
# 2023-01-02 .. 2024-03-25: five quarters of weeks, the last one 2024-Q1.
START = date(2023, 1, 2)
PERIODS = 65
WAIT = {"wait_seconds": 240}
LONG = httpx.Timeout(300.0)


def first_frame(
    *, attributed: tuple[str, ...] = (), price: bool = False, prefix: str = "spend_"
) -> pl.DataFrame:
    sim = simulate(periods=PERIODS, channels=len(CHANNELS), seed=7)
    columns: dict[str, Any] = {"date": [START + timedelta(weeks=i) for i in range(PERIODS)]}
    for index, name in enumerate(CHANNELS):
        columns[f"{prefix}{name}"] = sim.data.spend[:, index].round(2)
        if name in attributed:
            columns[f"attributed_{name}"] = (2.5 * sim.contributions[:, index]).round(2)
    columns["revenue"] = sim.data.kpi.round(2)
    if price:
        columns["price"] = 10 + np.sin(np.arange(PERIODS))
    return pl.DataFrame(columns)


def upload(
    client: httpx.Client, tenant: Tenant, frame: pl.DataFrame, **fields: str
) -> dict[str, Any]:
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    response = client.post(
        f"{BASE}/datasets",
        headers=tenant.auth,
        files={"file": ("first.csv", buffer.getvalue(), "text/csv")},
        data=fields,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def analyze(client: httpx.Client, tenant: Tenant, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"{BASE}/attribution/analyze", headers=tenant.auth, json=body, timeout=LONG)


def fitted_model(client: httpx.Client, tenant: Tenant, response: httpx.Response) -> Any:
    """The model a 200 answered with, or (after a 202) the model of the job once it is done."""
    if response.status_code == 200:
        return response.json()
    assert response.status_code == 202, response.text
    status_url = response.json()["status_url"]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        job = client.get(status_url, headers=tenant.auth).json()
        if job["status"] in ("succeeded", "failed"):
            assert job["status"] == "succeeded", job
            model = client.get(f"{BASE}/models/{job['model_id']}", headers=tenant.auth)
            assert model.status_code == 200, model.text
            return model.json()
        time.sleep(1)
    raise AssertionError(f"{status_url} did not finish")


def check_answers(model: dict[str, Any], channels: tuple[str, ...] = CHANNELS) -> None:
    assert set(model["incremental_roas"]) == set(channels)
    for interval in model["incremental_roas"].values():
        assert interval["lower"] <= interval["median"] <= interval["upper"]
    assert model["diagnostics"]["divergences"] >= 0


def test_the_smallest_dataset_fits_and_answers_at_once(client: httpx.Client) -> None:
    tenant = signup(client, prefix="first")
    dataset = upload(client, tenant, first_frame())
    assert dataset["summary"]["attributed"] == []
    response = analyze(client, tenant, {"dataset_id": dataset["id"], "fit": QUICK_FIT, **WAIT})
    assert response.status_code == 200, response.text
    model = response.json()
    check_answers(model)
    assert model["dataset_id"] == dataset["id"]
    assert model["result"]["analysis"]["platform_claims"] is None
    assert model["window"] is None


def test_claims_for_some_channels_only(client: httpx.Client) -> None:
    tenant = signup(client, prefix="first")
    dataset = upload(client, tenant, first_frame(attributed=("facebook",)))
    response = analyze(client, tenant, {"dataset_id": dataset["id"], "fit": QUICK_FIT, **WAIT})
    assert response.status_code == 200, response.text
    claims = response.json()["result"]["analysis"]["platform_claims"]
    assert [c["channel"] for c in claims["channels"]] == ["facebook"]
    assert claims["claimed_total"] > 0


def test_controls_without_the_calendar(client: httpx.Client) -> None:
    tenant = signup(client, prefix="first")
    dataset = upload(client, tenant, first_frame(price=True))
    response = analyze(
        client,
        tenant,
        {"dataset_id": dataset["id"], "calendar_controls": False, "fit": QUICK_FIT, **WAIT},
    )
    assert response.status_code == 200, response.text
    model = response.json()
    check_answers(model)
    assert model["result"]["data"]["controls"] == ["price"]


def test_the_users_own_column_names(client: httpx.Client) -> None:
    tenant = signup(client, prefix="first")
    frame = first_frame(prefix="")  # date, facebook, google, email, revenue
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    refused = client.post(
        f"{BASE}/datasets",
        headers=tenant.auth,
        files={"file": ("mine.csv", buffer.getvalue(), "text/csv")},
    )
    assert refused.status_code == 422, refused.text
    assert "spend_columns" in refused.json()["error"]["message"]
    dataset = upload(client, tenant, frame, spend_columns="facebook,google,email")
    assert dataset["summary"]["channels"] == list(CHANNELS)
    response = analyze(client, tenant, {"dataset_id": dataset["id"], "fit": QUICK_FIT, **WAIT})
    assert response.status_code == 200, response.text
    check_answers(response.json())


def test_the_seed_request_as_written(client: httpx.Client) -> None:
    """The product description's request, with a token and nothing else: the dataset is the
    org's latest with those channels, 2024-Q1 is answered from a fit of the whole history."""
    tenant = signup(client, prefix="seed")
    none_yet = analyze(
        client,
        tenant,
        {"channels": list(CHANNELS), "date_range": "2024-Q1", "model_type": "bayesian_structural"},
    )
    assert none_yet.status_code == 422, none_yet.text
    assert none_yet.json()["error"]["field"] == "dataset_id"

    older = upload(client, tenant, first_frame())
    newer_without_email = upload(client, tenant, first_frame().drop("spend_email"))
    response = analyze(
        client,
        tenant,
        {"channels": list(CHANNELS), "date_range": "2024-Q1", "model_type": "bayesian_structural"},
    )
    model = fitted_model(client, tenant, response)
    assert model["dataset_id"] == older["id"]
    check_answers(model)
    window = model["window"]
    assert (window["start"], window["end"], window["periods"]) == ("2024-01-01", "2024-03-25", 13)
    assert model["result"]["data"]["periods"] == PERIODS
    for channel in window["channels"]:
        assert model["incremental_roas"][channel["channel"]] == channel["roas"]

    two = analyze(
        client,
        tenant,
        {"channels": ["facebook", "google"], "fit": QUICK_FIT, "wait_seconds": 0},
    )
    assert two.status_code == 202, two.text
    assert two.json()["dataset_id"] == newer_without_email["id"]
