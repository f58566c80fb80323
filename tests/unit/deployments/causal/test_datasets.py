"""The upload route on its own (no Ray, no database): column roles as form fields and JSON."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from deployments.causal import datasets
from deployments.causal.schemas import DatasetOut
from deployments.common.errors import ApiError, install_error_handlers
from deployments.common.principal import Principal
from engine.auth.rbac import Role
from engine.causal.canonical import CanonicalDataset
from engine.causal.data import DataError

PERIODS = 24


def spreadsheet() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "date": [date(2024, 1, 1) + timedelta(weeks=i) for i in range(PERIODS)],
            "facebook": [200.0 + 10 * (i % 4) for i in range(PERIODS)],
            "google": [150.0 + 7 * (i % 3) for i in range(PERIODS)],
            "email": [20.0 + i % 2 for i in range(PERIODS)],
            "revenue": [5000.0 + 40 * i for i in range(PERIODS)],
        }
    )


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch) -> list[CanonicalDataset]:
    """Datasets the route would store; storing itself is the repository's (integration tests)."""
    kept: list[CanonicalDataset] = []

    async def store(
        runtime: object, principal: Principal, *, name: str, source: str, dataset: CanonicalDataset
    ) -> DatasetOut:
        kept.append(dataset)
        return DatasetOut(
            id=uuid.uuid4(),
            name=name,
            source=source,
            frequency=dataset.frequency,
            summary=dataset.summary(),
            content_sha256="0" * 64,
            created_at=datetime.now(UTC),
        )

    monkeypatch.setattr(datasets, "_store_dataset", store)
    return kept


@pytest.fixture
def client(stored: list[CanonicalDataset]) -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(datasets.router)
    app.state.runtime = SimpleNamespace(
        settings=SimpleNamespace(causal_max_upload_bytes=10 * 1024 * 1024), db=None
    )
    principal = Principal("user", uuid.uuid4(), uuid.uuid4(), Role.ANALYST, "free")
    for route in datasets.router.routes:
        assert isinstance(route, APIRoute)
        for dependency in route.dependant.dependencies:
            if dependency.call is not None and dependency.call.__name__.startswith("require_"):
                app.dependency_overrides[dependency.call] = lambda: principal
    with TestClient(app) as test_client:
        yield test_client


def upload(client: TestClient, **fields: str) -> Any:
    content = spreadsheet().write_csv().encode()
    return client.post("/datasets", files={"file": ("mmm.csv", content, "text/csv")}, data=fields)


def test_form_spend_columns_as_a_comma_list(client: TestClient) -> None:
    response = upload(client, spend_columns="facebook, google,email")
    assert response.status_code == 201, response.text
    summary = response.json()["summary"]
    assert summary["channels"] == ["facebook", "google", "email"]
    assert summary["source_columns"]["spend_google"] == "google"


def test_form_spend_columns_as_json_object_and_controls(
    client: TestClient, stored: list[CanonicalDataset]
) -> None:
    response = upload(
        client,
        spend_columns=json.dumps({"meta": "facebook", "search": "google"}),
        control_columns="[]",
        kpi_column="revenue",
        kpi="conversions",
    )
    assert response.status_code == 201, response.text
    summary = response.json()["summary"]
    assert summary["channels"] == ["meta", "search"]
    assert summary["kpis"] == ["conversions"]
    assert summary["ignored_columns"] == ["email"]
    assert summary["source_columns"] == {
        "date": "date",
        "spend_meta": "facebook",
        "spend_search": "google",
        "conversions": "revenue",
    }
    assert stored[0].frame.columns == ["date", "spend_meta", "spend_search", "conversions"]


def test_without_roles_the_422_says_how_to_name_spend(client: TestClient) -> None:
    response = upload(client)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "spend"
    assert "spend_columns=facebook,google,email" in error["message"]


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"spend_columns": "facebook,,google"}, "spend_columns", "an empty name"),
        ({"spend_columns": '{"facebook": 3}'}, "spend_columns", "both text"),
        ({"spend_columns": "[1, 2]"}, "spend_columns", "all text"),
        ({"spend_columns": "{oops"}, "spend_columns", "not valid JSON"),
        ({"spend_columns": "Facebook"}, "spend_columns", "'Facebook' is not a column"),
        ({"spend_columns": "x" * 20_001}, "spend_columns", "at most 20000 characters"),
        ({"attributed_columns": "facebook"}, "attributed_columns", "JSON object"),
        ({"control_columns": '{"a": "b"}'}, "control_columns", "must be a list"),
        ({"kpi": "orders", "kpi_column": "revenue"}, "kpi", "'orders'"),
        ({"kpi": "conversions"}, "kpi", "send kpi_column too"),
        ({"kpi_column": "x" * 201}, "kpi_column", "at most 200 characters"),
        ({"date_column": "Week"}, "date_column", "'Week' is not a column"),
        ({"geo_column": "region"}, "geo_column", "'region' is not a column"),
        (
            {"spend_columns": "facebook", "attributed_columns": '{"tiktok": "email"}'},
            "attributed_columns",
            "'tiktok' has no spend column",
        ),
    ],
)
def test_form_role_mistakes_name_the_form_field(
    client: TestClient,
    stored: list[CanonicalDataset],
    fields: dict[str, str],
    field: str,
    fragment: str,
) -> None:
    response = upload(client, **fields)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert fragment in error["message"]
    assert stored == []


def test_json_rows_with_roles(client: TestClient) -> None:
    rows = spreadsheet().with_columns(pl.col("date").cast(pl.String)).to_dicts()
    body = {"name": "rows", "rows": rows, "spend_columns": ["facebook", "google"]}
    response = client.post("/datasets", json=body)
    assert response.status_code == 201, response.text
    summary = response.json()["summary"]
    assert summary["channels"] == ["facebook", "google"]
    assert summary["controls"] == ["email"]
    mapped = {**body, "spend_columns": {"fb spend": "facebook"}}
    response = client.post("/datasets", json=mapped)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "spend_columns"
    unknown = {**body, "spend_column": ["facebook"]}
    response = client.post("/datasets", json=unknown)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "spend_column"


def test_column_roles_states_none_without_roles() -> None:
    assert datasets.column_roles() is None
    roles = datasets.column_roles(spend_columns=["FB Spend"])
    assert roles is not None
    assert dict(roles.spend_columns or {}) == {"fb_spend": "FB Spend"}
    with pytest.raises(DataError) as info:
        datasets.column_roles(spend_columns="facebook")
    assert info.value.field == "spend_columns"
    with pytest.raises(ApiError) as problem:
        datasets.parse_role_field("attributed_columns", '["a"]')
    assert problem.value.field == "attributed_columns"


def test_upload_doc_lists_every_role_field() -> None:
    properties = datasets._UPLOAD_DOC["requestBody"]["content"]["multipart/form-data"]["schema"][
        "properties"
    ]
    assert set(datasets.ROLE_FIELDS) <= set(properties)
