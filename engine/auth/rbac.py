"""Roles and permissions within an org.

Roles are strictly nested: each role has every permission of the roles below it.

permission        owner  admin  analyst  viewer
----------------  -----  -----  -------  ------
org:manage          x
billing:manage      x
billing:read        x      x
users:read          x      x
users:manage        x      x
api_keys:read       x      x
api_keys:manage     x      x
audit:read          x      x
modules:register    x      x
llm:manage          x      x
memory:write        x      x       x
causal:run          x      x       x
surfacing:run       x      x       x
llm:generate        x      x       x
eval:run            x      x       x
modules:read        x      x       x       x
modules:call        x      x       x       x
memory:read         x      x       x       x
causal:read         x      x       x       x
surfacing:read      x      x       x       x
llm:read            x      x       x       x
eval:read           x      x       x       x

Reading members, API keys, the audit log and billing is admin-only: those concern the org's
people, credentials and money rather than its analytics.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "ROLE_PERMISSIONS",
    "Permission",
    "Role",
    "can_grant_role",
    "has_permission",
    "parse_role",
]


class Role(StrEnum):
    """A member's role in an org; compare privilege with ``rank``."""

    OWNER = "owner"
    ADMIN = "admin"
    ANALYST = "analyst"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        """Higher is more privileged: owner 4, admin 3, analyst 2, viewer 1."""
        return _RANKS[self]


_RANKS: Mapping[Role, int] = MappingProxyType(
    {Role.OWNER: 4, Role.ADMIN: 3, Role.ANALYST: 2, Role.VIEWER: 1}
)


class Permission(StrEnum):
    """An action on a resource family, spelled ``resource:action``."""

    ORG_MANAGE = "org:manage"
    USERS_READ = "users:read"
    USERS_MANAGE = "users:manage"
    API_KEYS_READ = "api_keys:read"
    API_KEYS_MANAGE = "api_keys:manage"
    AUDIT_READ = "audit:read"
    MODULES_READ = "modules:read"
    MODULES_REGISTER = "modules:register"
    MODULES_CALL = "modules:call"
    MEMORY_READ = "memory:read"
    MEMORY_WRITE = "memory:write"
    CAUSAL_READ = "causal:read"
    CAUSAL_RUN = "causal:run"
    SURFACING_READ = "surfacing:read"
    SURFACING_RUN = "surfacing:run"
    LLM_READ = "llm:read"
    LLM_GENERATE = "llm:generate"
    LLM_MANAGE = "llm:manage"
    EVAL_READ = "eval:read"
    EVAL_RUN = "eval:run"
    BILLING_READ = "billing:read"
    BILLING_MANAGE = "billing:manage"


_VIEWER = frozenset(
    {
        Permission.MODULES_READ,
        Permission.MODULES_CALL,
        Permission.MEMORY_READ,
        Permission.CAUSAL_READ,
        Permission.SURFACING_READ,
        Permission.LLM_READ,
        Permission.EVAL_READ,
    }
)
_ANALYST = _VIEWER | {
    Permission.MEMORY_WRITE,
    Permission.CAUSAL_RUN,
    Permission.SURFACING_RUN,
    Permission.LLM_GENERATE,
    Permission.EVAL_RUN,
}
_ADMIN = _ANALYST | {
    Permission.USERS_READ,
    Permission.USERS_MANAGE,
    Permission.API_KEYS_READ,
    Permission.API_KEYS_MANAGE,
    Permission.AUDIT_READ,
    Permission.MODULES_REGISTER,
    Permission.LLM_MANAGE,
    Permission.BILLING_READ,
}
_OWNER = frozenset(Permission)

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {Role.OWNER: _OWNER, Role.ADMIN: _ADMIN, Role.ANALYST: _ANALYST, Role.VIEWER: _VIEWER}
)


def _as_role(value: Role | str) -> Role | None:
    try:
        return Role(value)
    except ValueError:
        return None


def parse_role(value: str) -> Role:
    """Parse a role name, with an error message that lists the valid ones."""
    role = _as_role(value)
    if role is None:
        expected = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {value!r}; expected one of {expected}")
    return role


def has_permission(role: Role | str, permission: Permission | str) -> bool:
    """True if ``role`` grants ``permission``; unknown roles and permissions grant nothing."""
    parsed = _as_role(role)
    if parsed is None:
        return False
    try:
        return Permission(permission) in ROLE_PERMISSIONS[parsed]
    except ValueError:
        return False


def can_grant_role(actor: Role | str, target: Role | str) -> bool:
    """True if a member with role ``actor`` may give ``target`` to a new user or API key.

    Owners grant anything; admins grant up to their own level, so creating an owner always
    takes an owner. Everyone else grants nothing.
    """
    actor_role = _as_role(actor)
    target_role = _as_role(target)
    if actor_role is None or target_role is None:
        return False
    if actor_role is Role.OWNER:
        return True
    if actor_role is Role.ADMIN:
        return target_role.rank <= Role.ADMIN.rank
    return False
