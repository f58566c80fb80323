"""Who is calling: resolved once per request by deployments.common.security."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from engine.auth.rbac import Role


@dataclass(frozen=True)
class Principal:
    """Who is calling, on behalf of which org, with which role."""

    kind: Literal["user", "api_key"]
    id: uuid.UUID
    org_id: uuid.UUID
    role: Role
    plan: str
    token_id: str | None = None
    token_expires_at: int | None = None
