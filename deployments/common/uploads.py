"""What every upload route checks before it parses: the declared size against the module's
limit, the plain-text form fields beside the file, and a JSON body validated into the
common 422 shape (routes that take multipart or JSON parse the body themselves)."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from deployments.common.errors import ApiError

ModelT = TypeVar("ModelT", bound=BaseModel)


def check_upload_size(request: Request, limit: int, *, field: str = "file") -> None:
    """413 when the declared Content-Length is over ``limit`` bytes (the ingress bounds a
    body without one)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise ApiError(
            413,
            "payload_too_large",
            f"upload of {int(length)} bytes exceeds the limit of {limit} bytes",
            field=field,
        )


def form_problem(key: str, message: str) -> ApiError:
    return ApiError(422, "validation_error", f"{key}: {message}", field=key)


def form_text(form: Any, key: str, default: str | None = None, *, limit: int = 200) -> str | None:
    """A text field of a multipart form, stripped; ``default`` when absent or empty."""
    value = form.get(key)
    if value is None:
        return default
    if isinstance(value, UploadFile):
        raise form_problem(key, "expected a text field")
    text = str(value).strip()
    if len(text) > limit:
        raise form_problem(key, f"at most {limit} characters")
    return text or default


def json_body(model: type[ModelT], raw: bytes) -> ModelT:
    """The body validated as ``model``; its errors go to FastAPI's validation handler, so
    they have the common 422 shape."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc
