"""Request and response bodies of the core API (storage rows live in cluster.repositories)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from engine.auth.rbac import Role

Password = Annotated[str, Field(min_length=1, max_length=256)]
Slug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$", min_length=2, max_length=63)
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignupRequest(_Request):
    org_name: str = Field(min_length=1, max_length=200)
    org_slug: Slug | None = Field(
        default=None, description="URL-safe org id; derived from org_name when omitted"
    )
    email: EmailStr = Field(max_length=254)
    password: Password
    full_name: str = Field(default="", max_length=200)


class LoginRequest(_Request):
    email: EmailStr = Field(max_length=254)
    password: Password


class RefreshRequest(_Request):
    refresh_token: str = Field(min_length=10, max_length=200)


class LogoutRequest(_Request):
    refresh_token: str | None = Field(default=None, min_length=10, max_length=200)


class TokenPair(_Response):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_token: str


class OrgOut(_Response):
    id: uuid.UUID
    name: str
    slug: str
    plan: str
    created_at: datetime


class UserOut(_Response):
    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    full_name: str
    role: Role
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


class SignupResponse(_Response):
    org: OrgOut
    user: UserOut
    tokens: TokenPair


class MeResponse(_Response):
    principal_type: Literal["user", "api_key"]
    principal_id: uuid.UUID
    role: Role
    permissions: list[str]
    org: OrgOut
    user: UserOut | None


class CreateUserRequest(_Request):
    email: EmailStr = Field(max_length=254)
    password: Password
    role: Role
    full_name: str = Field(default="", max_length=200)


class CreateApiKeyRequest(_Request):
    name: str = Field(min_length=1, max_length=100)
    role: Role


class ApiKeyOut(_Response):
    id: uuid.UUID
    name: str
    role: Role
    display_prefix: str
    created_by: uuid.UUID
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    secret: str = Field(description="The full API key. Shown once; store it now.")


class AuditEntryOut(_Response):
    id: int
    actor_type: str
    actor_id: uuid.UUID | None
    action: str
    target: str
    status_code: int
    result: str
    request_id: str
    created_at: datetime


class AuditPage(_Response):
    items: list[AuditEntryOut]
    next_before_id: int | None


class ModuleOut(_Response):
    id: uuid.UUID
    name: str
    version: str
    kind: Literal["python", "external"]
    status: Literal["deploying", "ready", "failed"]
    status_detail: str
    mount_path: str
    manifest: dict[str, Any]
    created_at: datetime


class ModuleList(_Response):
    items: list[ModuleOut]


class HealthResponse(_Response):
    status: Literal["ok"]


class ReadinessCheck(_Response):
    name: str
    ok: bool
    detail: str


class ReadinessResponse(_Response):
    status: Literal["ready", "not_ready"]
    checks: list[ReadinessCheck]
