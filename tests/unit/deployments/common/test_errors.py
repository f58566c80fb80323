"""The common error shape: a 422 lists every problem, first one also in ``field``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field, field_validator

from deployments.common.errors import (
    ERROR_RESPONSES,
    ApiError,
    install_error_handlers,
    validation_problems,
)
from deployments.common.ingress import IngressMiddleware


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3)
    password: str = Field(min_length=8)


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1)

    @field_validator("sku")
    @classmethod
    def _sku(cls, value: str) -> str:
        if not value.isupper():
            raise ValueError("must be upper case")
        return value


class Order(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: list[Line]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = FastAPI(responses=ERROR_RESPONSES)
    install_error_handlers(app)

    @app.post("/login")
    async def login(body: Login) -> dict[str, str]:
        return {"email": body.email}

    @app.post("/orders")
    async def orders(order: Order) -> dict[str, int]:
        return {"lines": len(order.lines)}

    @app.get("/report")
    async def report(
        limit: Annotated[int, Query(ge=1, le=50)],
        day: Annotated[str, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")],
    ) -> dict[str, int]:
        return {"limit": limit}

    @app.get("/too-big")
    async def too_big() -> None:
        raise ApiError(422, "validation_error", "content: 40000 bytes is too many", field="content")

    @app.get("/several")
    async def several() -> None:
        raise ApiError(
            422,
            "validation_error",
            "items[0].content: too large (and 1 more problem)",
            errors=[("items[0].content", "too large"), ("items[2].content", "too large")],
        )

    @app.get("/no-field")
    async def no_field() -> None:
        raise ApiError(422, "invalid_data", "at least one platform export is required")

    @app.get("/conflict")
    async def conflict() -> None:
        raise ApiError(409, "conflict", "already there", field="name")

    app.add_middleware(IngressMiddleware, service="unit")
    with TestClient(app) as test_client:
        yield test_client


def _error(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] in ("validation_error", "invalid_data")
    assert error["request_id"] == response.headers["x-request-id"]
    return error


def test_every_problem_of_a_body_is_listed_first_one_also_in_field(client: TestClient) -> None:
    error = _error(client.post("/login", json={"email": 12}))
    assert error["field"] == "email"
    assert [e["field"] for e in error["errors"]] == ["email", "password"]
    assert error["errors"][1]["message"] == "Field required"
    assert error["message"].startswith("email: ")
    assert error["message"].endswith("(and 1 more problem)")


def test_nested_problems_name_their_item_and_drop_the_value_error_prefix(
    client: TestClient,
) -> None:
    body = {
        "lines": [
            {"sku": "A", "quantity": 1},
            {"sku": "b", "quantity": 0},
            {"sku": "C", "quantity": 2, "colour": "red"},
        ]
    }
    error = _error(client.post("/orders", json=body))
    assert error["errors"] == [
        {"field": "lines[1].sku", "message": "must be upper case"},
        {"field": "lines[1].quantity", "message": "Input should be greater than or equal to 1"},
        {"field": "lines[2].colour", "message": "Extra inputs are not permitted"},
    ]
    assert error["field"] == "lines[1].sku"
    assert error["message"] == "lines[1].sku: must be upper case (and 2 more problems)"


def test_every_bad_query_parameter_is_listed(client: TestClient) -> None:
    error = _error(client.get("/report", params={"limit": 99, "day": "yesterday"}))
    assert [e["field"] for e in error["errors"]] == ["limit", "day"]
    missing = _error(client.get("/report"))
    assert [(e["field"], e["message"]) for e in missing["errors"]] == [
        ("limit", "Field required"),
        ("day", "Field required"),
    ]


def test_malformed_json_is_one_problem_on_the_body(client: TestClient) -> None:
    response = client.post(
        "/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    error = _error(response)
    assert len(error["errors"]) == 1
    assert error["errors"][0]["field"] == error["field"]


def test_a_route_422_with_one_field_still_has_the_list(client: TestClient) -> None:
    error = _error(client.get("/too-big"))
    assert error["field"] == "content"
    assert error["message"] == "content: 40000 bytes is too many"
    assert error["errors"] == [{"field": "content", "message": "40000 bytes is too many"}]


def test_a_route_may_report_several_problems(client: TestClient) -> None:
    error = _error(client.get("/several"))
    assert error["field"] == "items[0].content"
    assert [e["field"] for e in error["errors"]] == ["items[0].content", "items[2].content"]


def test_a_422_without_a_field_lists_the_request_as_a_whole(client: TestClient) -> None:
    error = _error(client.get("/no-field"))
    assert "field" not in error
    assert error["errors"] == [
        {"field": None, "message": "at least one platform export is required"}
    ]


def test_other_errors_keep_their_shape(client: TestClient) -> None:
    response = client.get("/conflict")
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "conflict",
        "message": "already there",
        "field": "name",
        "request_id": response.headers["x-request-id"],
    }


def test_openapi_error_schema_documents_the_list(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    body = schema["components"]["schemas"]["ErrorBody"]
    assert "errors" in body["properties"]
    problem = schema["components"]["schemas"]["FieldProblem"]
    assert set(problem["properties"]) == {"field", "message"}
    login_422 = schema["paths"]["/login"]["post"]["responses"]["422"]
    assert login_422["content"]["application/json"]["schema"]["$ref"].endswith("ErrorResponse")


def test_identical_problems_are_listed_once() -> None:
    twice = [{"loc": ("body", "x"), "msg": "bad"}, {"loc": ("body", "x"), "msg": "bad"}]
    assert validation_problems(twice) == [("x", "bad")]
    assert validation_problems([]) == [("body", "invalid request")]
