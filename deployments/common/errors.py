"""One error shape for every service: ``{"error": {"code", "message", "field"?, "errors"?,
"request_id"}}``.

Every 422 carries ``errors``, the list of every problem found (``[{field, message}]``, in the
order the validator reported them), so a client can fix a request in one round trip; ``field``
and ``message`` describe the first one, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from cluster.repositories.billing import QuotaExceededError

log = logging.getLogger(__name__)

# (field or None, message): one problem, as routes and handlers collect them.
Problem = tuple[str | None, str]


class FieldProblem(BaseModel):
    """One problem of a rejected request: where (``None`` when it is the request as a whole)
    and what."""

    model_config = ConfigDict(extra="forbid")
    field: str | None
    message: str


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    message: str
    field: str | None = Field(default=None, description="the (first) offending field")
    errors: list[FieldProblem] | None = Field(
        default=None, description="every problem found; always present on a 422"
    )
    request_id: str


class ErrorResponse(BaseModel):
    """The body of every 4xx/5xx answer."""

    model_config = ConfigDict(extra="forbid")
    error: ErrorBody


class ApiError(Exception):
    """Raise from any handler or dependency to answer with the common error shape.

    ``errors`` lists several problems at once (``field`` then defaults to the first one's); a
    422 without it gets the single entry ``[{field, message}]``.
    """

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        errors: Sequence[Problem] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.field = field if field is not None or not errors else errors[0][0]
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


def _without_field_prefix(field: str | None, message: str) -> str:
    # Routes write "content: too large" for the top-level message; in a list entry the field
    # has its own key.
    prefix = f"{field}: "
    return message[len(prefix) :] if field and message.startswith(prefix) else message


def error_response(
    request: Request,
    status_code: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    errors: Sequence[Problem] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    if errors is None and status_code == 422:
        errors = [(field, message)]
    if errors is not None:
        body["errors"] = [
            {"field": where, "message": _without_field_prefix(where, what)}
            for where, what in errors
        ]
    body["request_id"] = request_id_of(request)
    return JSONResponse({"error": body}, status_code=status_code, headers=dict(headers or {}))


def _field_path(loc: Sequence[Any]) -> str:
    # ("body", "user", 0, "email") -> "user[0].email"; the location kind is implied by the route.
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or (str(loc[0]) if loc else "body")


def _problem_message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg") or "invalid value")
    # A validator's ValueError arrives as "Value error, <its text>": the text is the message.
    return message.removeprefix("Value error, ")


def validation_problems(errors: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """Every problem of a failed validation as ``(field, message)``, in pydantic's order; the
    same field and message twice (a union reporting each of its branches) is listed once."""
    problems: list[Problem] = []
    for error in errors:
        problem = (_field_path(error.get("loc", ())), _problem_message(error))
        if problem not in problems:
            problems.append(problem)
    return problems or [("body", "invalid request")]


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def quota_exceeded(error: QuotaExceededError) -> ApiError:
    """402 for an action the org's plan has no quota left for, with the way up."""
    usage = error.metered
    upgrade = (
        f"; upgrade to '{usage.upgrade}' (POST /billing/subscribe)"
        if usage.upgrade
        else "; this is the largest plan's quota: contact us to raise it"
    )
    return ApiError(
        402,
        "quota_exceeded",
        f"{error}. The quota resets on the 1st of next month (UTC){upgrade}",
        field=usage.meter,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(
            request,
            exc.status_code,
            exc.code,
            exc.message,
            field=exc.field,
            errors=exc.errors,
            headers=exc.headers,
        )

    @app.exception_handler(QuotaExceededError)
    async def _quota(request: Request, exc: QuotaExceededError) -> JSONResponse:
        error = quota_exceeded(exc)
        return error_response(
            request, error.status_code, error.code, error.message, field=error.field
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = validation_problems(exc.errors())
        field, first = problems[0]
        message = f"{field}: {first}"
        if len(problems) > 1:
            more = len(problems) - 1
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        return error_response(
            request, 422, "validation_error", message, field=field, errors=problems
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        return error_response(
            request, exc.status_code, code, str(exc.detail), headers=exc.headers or None
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(
            request, 500, "internal_error", "internal error; quote the request id to support"
        )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": code}
    for status, code in ((401, "unauthorized"), (403, "forbidden"), (422, "validation_error"))
}
