"""The ``module.json`` manifest that third-party modules register with.

A module is either in-process Python (``import_path`` such as ``pkg.mod:factory``) or an
external HTTP service (``base_url``). Each declared endpoint names the permission a caller
needs; a module that declares no endpoints is callable anywhere with ``modules:call``. The
product description's ``"endpoints": {"my_endpoint": "/api/v1/my-endpoint"}`` is accepted
as written: each named path, for any method, with ``modules:call``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Literal

import semver
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    PrivateAttr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from engine.auth.rbac import Permission

__all__ = [
    "RESERVED_MODULE_NAMES",
    "ModuleEndpoint",
    "ModuleManifest",
]

RESERVED_MODULE_NAMES: frozenset[str] = frozenset(
    {
        "auth",
        "modules",
        "audit",
        "healthz",
        "readyz",
        "docs",
        "openapi",
        "api",
        "causal",
        "surfacing",
        "memory",
        "eval",
        "llm",
        "billing",
        "core",
        "example",
        "admin",
        "static",
        # The product description's short paths, which built-in modules answer
        # (serve_config.yaml, deployments.core.seed_routes, deployments.eval.routes).
        "prompts",
        "models",
        "evaluate",
        "benchmark",
        "analyze",
        "attribution",
        "eda",
    }
)

_PARAM_SEGMENT = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)

_Capability = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9_.:-]+$")
]


class ModuleEndpoint(BaseModel):
    """One route a module serves and the permission a caller needs for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # ANY: every method, what the product description's ``{"name": "/path"}`` form declares.
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "ANY"]
    path: str = Field(max_length=200)
    name: _Capability | None = None
    permission: Permission = Permission.MODULES_CALL
    description: str = Field(default="", max_length=500)

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("path must start with '/'")
        if ".." in value:
            raise ValueError("path must not contain '..'")
        if any(ch.isspace() for ch in value):
            raise ValueError("path must not contain whitespace")
        if "?" in value or "#" in value:
            raise ValueError("path must not contain a query or fragment")
        return value


def _field_error(field: str, message: str) -> ValidationError:
    """A model-level check reported at the field it is about (not at the whole body)."""
    return ValidationError.from_exception_data(
        "ModuleManifest",
        [
            InitErrorDetails(
                type=PydanticCustomError("module_manifest", message), loc=(field,), input=None
            )
        ],
    )


def _param_count(path: str) -> int:
    return sum(1 for segment in path.split("/") if _PARAM_SEGMENT.fullmatch(segment))


def _compile_path(path: str) -> re.Pattern[str]:
    # A segment that is exactly "{name}" matches one non-empty segment; everything else is
    # literal, so manifest authors cannot smuggle regex syntax into routing.
    parts = [
        "[^/]+" if _PARAM_SEGMENT.fullmatch(segment) else re.escape(segment)
        for segment in path.split("/")
    ]
    return re.compile("/".join(parts))


class ModuleManifest(BaseModel):
    """A validated ``module.json``. Treat instances as immutable: routing is precompiled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
    version: str
    description: str = Field(default="", max_length=1000)
    capabilities: list[_Capability] = Field(default_factory=list, max_length=50)
    endpoints: list[ModuleEndpoint] = Field(default_factory=list, max_length=200)
    permissions: list[Permission] = Field(default_factory=list, max_length=50)
    import_path: str | None = Field(
        default=None, max_length=200, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"
    )
    base_url: str | None = Field(default=None, max_length=500)

    # (method, compiled path, permission), most literal routes first.
    _routes: tuple[tuple[str, re.Pattern[str], Permission], ...] = PrivateAttr(default=())

    @field_validator("endpoints", mode="before")
    @classmethod
    def _endpoints_by_name(cls, value: object) -> object:
        """The product description's form, ``{"my_endpoint": "/api/v1/my-endpoint"}``: each
        name's path, for any method (or ``{"my_endpoint": {"method": ..., "path": ...}}``)."""
        if not isinstance(value, Mapping):
            return value
        return [
            {"name": name, "method": "ANY", "path": spec}
            if isinstance(spec, str)
            else {"name": name, "method": "ANY", **spec}
            if isinstance(spec, Mapping)
            else spec
            for name, spec in value.items()
        ]

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if value in RESERVED_MODULE_NAMES:
            raise ValueError(f"module name '{value}' is reserved")
        return value

    @field_validator("version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        try:
            semver.Version.parse(value)
        except ValueError:
            raise ValueError(
                f"version must be semantic (MAJOR.MINOR.PATCH), got '{value}'"
            ) from None
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # Checked on the raw text too: the parser drops an empty "?" or "#".
        if "?" in value or "#" in value:
            raise ValueError("base_url must not have a query or fragment")
        try:
            url = _HTTP_URL.validate_python(value)
        except ValidationError:
            raise ValueError("base_url must be an http or https URL") from None
        if url.username is not None or url.password is not None:
            raise ValueError("base_url must not contain credentials")
        # No trailing slash, so base_url + endpoint.path is the upstream URL.
        return str(url).rstrip("/")

    @model_validator(mode="after")
    def _check_target_and_routes(self) -> ModuleManifest:
        if self.import_path is None and self.base_url is None:
            raise _field_error(
                "base_url",
                "say where the module runs: base_url (the http(s) URL of the service, e.g. the "
                "container built from it) or import_path ('package.module:factory', a FastAPI "
                "app factory installed in the cluster's environment)",
            )
        if self.import_path is not None and self.base_url is not None:
            raise _field_error("import_path", "give base_url or import_path, not both")
        seen: set[tuple[str, str]] = set()
        for endpoint in self.endpoints:
            key = (endpoint.method, endpoint.path)
            if key in seen:
                raise ValueError(f"endpoint {endpoint.method} {endpoint.path} is declared twice")
            seen.add(key)
        # Fewest parameters first so "/items/export" wins over "/items/{id}", and a method's
        # own declaration over an ANY one; sorted() is stable, so ties keep declaration order.
        ordered = sorted(self.endpoints, key=lambda e: (_param_count(e.path), e.method == "ANY"))
        self._routes = tuple((e.method, _compile_path(e.path), e.permission) for e in ordered)
        return self

    @property
    def kind(self) -> Literal["python", "external"]:
        """``python`` for an in-process import, ``external`` for an HTTP service."""
        return "python" if self.import_path is not None else "external"

    def endpoint_permission(self, method: str, path: str) -> Permission:
        """The permission needed to call ``method path`` on this module.

        Raises LookupError when the manifest declares endpoints and none matches, so
        undeclared routes are unreachable rather than open.
        """
        if not self.endpoints:
            return Permission.MODULES_CALL
        wanted = method.upper()
        for route_method, pattern, permission in self._routes:
            if route_method in (wanted, "ANY") and pattern.fullmatch(path):
                return permission
        raise LookupError(f"module '{self.name}' declares no endpoint {wanted} {path}")
