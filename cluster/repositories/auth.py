"""Organisations, users, refresh-token families and API keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from cluster.state import Database


class DuplicateError(Exception):
    """A unique constraint refused the row; ``field`` names what collided."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class OrgRow:
    id: uuid.UUID
    name: str
    slug: str
    plan: str
    created_at: datetime


@dataclass(frozen=True)
class UserRow:
    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    full_name: str
    role: str
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True)
class LoginRecord:
    user_id: uuid.UUID
    org_id: uuid.UUID
    password_hash: str
    role: str
    is_active: bool
    plan: str


@dataclass(frozen=True)
class ApiKeyRow:
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    role: str
    display_prefix: str
    created_by: uuid.UUID
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class ApiKeyCredential:
    org_id: uuid.UUID
    secret_hash: str
    role: str
    revoked: bool
    plan: str


@dataclass(frozen=True)
class RefreshTokenRow:
    id: uuid.UUID
    org_id: uuid.UUID
    user_id: uuid.UUID
    family_id: uuid.UUID
    expires_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None


_USER_COLUMNS = "id, org_id, email, full_name, role, is_active, created_at, last_login_at"
_KEY_COLUMNS = (
    "id, org_id, name, role, display_prefix, created_by, created_at, last_used_at, revoked_at"
)


async def create_org_with_owner(
    db: Database,
    *,
    org_id: uuid.UUID,
    org_name: str,
    slug: str,
    plan: str,
    owner_id: uuid.UUID,
    email: str,
    full_name: str,
    password_hash: str,
) -> tuple[OrgRow, UserRow]:
    async with db.tenant(org_id) as conn:
        try:
            org = await conn.fetchrow(
                "INSERT INTO orgs (id, name, slug, plan) VALUES ($1, $2, $3, $4) "
                "RETURNING id, name, slug, plan, created_at",
                org_id,
                org_name,
                slug,
                plan,
            )
        except asyncpg.UniqueViolationError as exc:
            raise DuplicateError("org_slug", f"organisation slug '{slug}' is taken") from exc
        user = await _insert_user(
            conn,
            org_id=org_id,
            user_id=owner_id,
            email=email,
            full_name=full_name,
            password_hash=password_hash,
            role="owner",
            created_by=None,
        )
    return OrgRow(**dict(org)), user


async def _insert_user(
    conn: asyncpg.Connection,
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    email: str,
    full_name: str,
    password_hash: str,
    role: str,
    created_by: uuid.UUID | None,
) -> UserRow:
    try:
        row = await conn.fetchrow(
            "INSERT INTO users (id, org_id, email, full_name, password_hash, role, created_by) "
            f"VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_USER_COLUMNS}",
            user_id,
            org_id,
            email,
            full_name,
            password_hash,
            role,
            created_by,
        )
    except asyncpg.UniqueViolationError as exc:
        raise DuplicateError("email", f"a user with e-mail '{email}' already exists") from exc
    return UserRow(**dict(row))


async def create_user(
    db: Database,
    *,
    org_id: uuid.UUID,
    email: str,
    full_name: str,
    password_hash: str,
    role: str,
    created_by: uuid.UUID,
) -> UserRow:
    async with db.tenant(org_id) as conn:
        return await _insert_user(
            conn,
            org_id=org_id,
            user_id=uuid.uuid4(),
            email=email,
            full_name=full_name,
            password_hash=password_hash,
            role=role,
            created_by=created_by,
        )


async def get_org(db: Database, *, org_id: uuid.UUID) -> OrgRow | None:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            "SELECT id, name, slug, plan, created_at FROM orgs WHERE id = $1", org_id
        )
    return OrgRow(**dict(row)) if row else None


async def get_user(db: Database, *, org_id: uuid.UUID, user_id: uuid.UUID) -> UserRow | None:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1", user_id)
    return UserRow(**dict(row)) if row else None


async def list_users(db: Database, *, org_id: uuid.UUID) -> list[UserRow]:
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(f"SELECT {_USER_COLUMNS} FROM users ORDER BY created_at")
    return [UserRow(**dict(r)) for r in rows]


async def deactivate_user(db: Database, *, org_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Deactivate a user and revoke their sessions; False when no such user in this org."""
    async with db.tenant(org_id) as conn:
        status = await conn.execute(
            "UPDATE users SET is_active = false WHERE id = $1 AND is_active", user_id
        )
        await conn.execute(
            "UPDATE refresh_tokens SET revoked_at = now() "
            "WHERE user_id = $1 AND revoked_at IS NULL",
            user_id,
        )
    return bool(status.endswith(" 1"))


async def find_login(db: Database, *, email: str) -> LoginRecord | None:
    """The one lookup by e-mail across orgs (SECURITY DEFINER function; see 0001_core.sql)."""
    async with db.unscoped() as conn:
        row = await conn.fetchrow("SELECT * FROM liftos.lookup_login($1)", email)
    return LoginRecord(**dict(row)) if row else None


async def record_login(db: Database, *, org_id: uuid.UUID, user_id: uuid.UUID) -> None:
    async with db.tenant(org_id) as conn:
        await conn.execute("UPDATE users SET last_login_at = now() WHERE id = $1", user_id)


async def update_password_hash(
    db: Database, *, org_id: uuid.UUID, user_id: uuid.UUID, password_hash: str
) -> None:
    async with db.tenant(org_id) as conn:
        await conn.execute(
            "UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash
        )


async def store_refresh_token(
    db: Database,
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    token_hash: str,
    expires_at: datetime,
) -> None:
    async with db.tenant(org_id) as conn:
        await conn.execute(
            "INSERT INTO refresh_tokens (id, org_id, user_id, family_id, token_hash, expires_at) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            uuid.uuid4(),
            org_id,
            user_id,
            family_id,
            token_hash,
            expires_at,
        )


@dataclass(frozen=True)
class RotationOutcome:
    """What presenting a refresh token did.

    ``status`` is ``rotated`` (new token stored), ``reused`` (the token had already been rotated:
    its family is now revoked), ``revoked``, ``expired``, ``inactive_user`` or ``unknown``.
    """

    status: str
    org_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    role: str | None = None
    plan: str | None = None


async def rotate_refresh_token(
    db: Database,
    *,
    presented_hash: str,
    new_hash: str,
    new_expires_at: datetime,
) -> RotationOutcome:
    """Swap a refresh token for a new one of the same family, atomically.

    The row is locked (``FOR UPDATE``) so two concurrent refreshes with the same token cannot
    both succeed: the second sees it rotated and revokes the family, as a replay should.
    """
    async with db.unscoped() as conn:
        found = await conn.fetchrow("SELECT * FROM liftos.lookup_refresh_token($1)", presented_hash)
    if found is None:
        return RotationOutcome("unknown")
    org_id: uuid.UUID = found["org_id"]
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            "SELECT t.id, t.user_id, t.family_id, t.expires_at, t.rotated_at, t.revoked_at, "
            "u.role, u.is_active, o.plan "
            "FROM refresh_tokens t JOIN users u ON u.id = t.user_id JOIN orgs o ON o.id = t.org_id "
            "WHERE t.id = $1 FOR UPDATE OF t",
            found["token_id"],
        )
        if row is None:
            return RotationOutcome("unknown")
        if row["rotated_at"] is not None:
            await conn.execute(
                "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) "
                "WHERE family_id = $1",
                row["family_id"],
            )
            return RotationOutcome("reused", org_id=org_id, user_id=row["user_id"])
        if row["revoked_at"] is not None:
            return RotationOutcome("revoked", org_id=org_id, user_id=row["user_id"])
        if row["expires_at"] <= await conn.fetchval("SELECT now()"):
            return RotationOutcome("expired", org_id=org_id, user_id=row["user_id"])
        if not row["is_active"]:
            return RotationOutcome("inactive_user", org_id=org_id, user_id=row["user_id"])
        await conn.execute("UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1", row["id"])
        await conn.execute(
            "INSERT INTO refresh_tokens (id, org_id, user_id, family_id, token_hash, expires_at) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            uuid.uuid4(),
            org_id,
            row["user_id"],
            row["family_id"],
            new_hash,
            new_expires_at,
        )
        return RotationOutcome(
            "rotated", org_id=org_id, user_id=row["user_id"], role=row["role"], plan=row["plan"]
        )


async def revoke_refresh_family(db: Database, *, token_hash: str) -> uuid.UUID | None:
    """Log out: revoke the family of this refresh token. Returns its org, or None if unknown."""
    async with db.unscoped() as conn:
        found = await conn.fetchrow("SELECT * FROM liftos.lookup_refresh_token($1)", token_hash)
    if found is None:
        return None
    org_id: uuid.UUID = found["org_id"]
    async with db.tenant(org_id) as conn:
        await conn.execute(
            "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) "
            "WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE id = $1)",
            found["token_id"],
        )
    return org_id


async def create_api_key(
    db: Database,
    *,
    org_id: uuid.UUID,
    key_id: uuid.UUID,
    name: str,
    role: str,
    display_prefix: str,
    secret_hash: str,
    created_by: uuid.UUID,
) -> ApiKeyRow:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            "INSERT INTO api_keys (id, org_id, name, role, display_prefix, secret_hash, "
            f"created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_KEY_COLUMNS}",
            key_id,
            org_id,
            name,
            role,
            display_prefix,
            secret_hash,
            created_by,
        )
    return ApiKeyRow(**dict(row))


async def list_api_keys(db: Database, *, org_id: uuid.UUID) -> list[ApiKeyRow]:
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at DESC")
    return [ApiKeyRow(**dict(r)) for r in rows]


async def get_api_key(db: Database, *, org_id: uuid.UUID, key_id: uuid.UUID) -> ApiKeyRow | None:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = $1", key_id)
    return ApiKeyRow(**dict(row)) if row else None


async def revoke_api_key(db: Database, *, org_id: uuid.UUID, key_id: uuid.UUID) -> bool:
    async with db.tenant(org_id) as conn:
        status = await conn.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id
        )
    return bool(status.endswith(" 1"))


async def find_api_key(db: Database, *, key_id: uuid.UUID) -> ApiKeyCredential | None:
    async with db.unscoped() as conn:
        row = await conn.fetchrow("SELECT * FROM liftos.lookup_api_key($1)", key_id)
    return ApiKeyCredential(**dict(row)) if row else None


async def touch_api_key(db: Database, *, org_id: uuid.UUID, key_id: uuid.UUID) -> None:
    async with db.tenant(org_id) as conn:
        await conn.execute("UPDATE api_keys SET last_used_at = now() WHERE id = $1", key_id)
