"""Authentication and authorization: password hashing, tokens, API keys and RBAC."""

from engine.auth.passwords import (
    Argon2Params,
    PasswordHasher,
    WeakPasswordError,
    validate_password_strength,
)
from engine.auth.rbac import (
    ROLE_PERMISSIONS,
    Permission,
    Role,
    can_grant_role,
    has_permission,
    parse_role,
)
from engine.auth.tokens import (
    ALGORITHM,
    MAX_ACCESS_TTL,
    AccessClaims,
    ApiKeySecret,
    IssuedToken,
    TokenError,
    TokenService,
    hash_secret,
    new_api_key,
    new_refresh_token,
    parse_api_key,
    verify_secret,
)

__all__ = [
    "ALGORITHM",
    "MAX_ACCESS_TTL",
    "ROLE_PERMISSIONS",
    "AccessClaims",
    "ApiKeySecret",
    "Argon2Params",
    "IssuedToken",
    "PasswordHasher",
    "Permission",
    "Role",
    "TokenError",
    "TokenService",
    "WeakPasswordError",
    "can_grant_role",
    "has_permission",
    "hash_secret",
    "new_api_key",
    "new_refresh_token",
    "parse_api_key",
    "parse_role",
    "validate_password_strength",
    "verify_secret",
]
