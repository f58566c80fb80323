"""/auth: signup, login, refresh rotation, logout, me, users and API keys."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Request, Response, status

from cluster.repositories import auth as auth_repo
from cluster.repositories.auth import DuplicateError
from deployments.common.errors import ApiError, not_found
from deployments.common.principal import Principal
from deployments.common.runtime import Runtime
from deployments.common.security import authenticate, require, runtime_of
from deployments.core.schemas import (
    ApiKeyCreated,
    ApiKeyOut,
    CreateApiKeyRequest,
    CreateUserRequest,
    LoginRequest,
    LogoutRequest,
    MeResponse,
    OrgOut,
    RefreshRequest,
    SignupRequest,
    SignupResponse,
    TokenPair,
    UserOut,
)
from engine.auth.passwords import WeakPasswordError, validate_password_strength
from engine.auth.rbac import ROLE_PERMISSIONS, Permission, Role, can_grant_role
from engine.auth.tokens import hash_secret, new_api_key, new_refresh_token

router = APIRouter(prefix="/auth", tags=["auth"])

_REFRESH_REJECTIONS = {
    "unknown": "refresh token not recognised",
    "reused": "refresh token was already used; every session of this login has been revoked",
    "revoked": "refresh token has been revoked",
    "expired": "refresh token has expired",
    "inactive_user": "user is deactivated",
}


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48].strip("-")
    return slug if len(slug) >= 2 else f"org-{uuid.uuid4().hex[:8]}"


def _check_password(password: str) -> None:
    try:
        validate_password_strength(password)
    except WeakPasswordError as exc:
        raise ApiError(422, "validation_error", f"password: {exc}", field="password") from exc


async def _hash_password(runtime: Runtime, password: str) -> str:
    # argon2 is deliberately slow; keep it off the event loop so other requests keep flowing.
    return await asyncio.to_thread(runtime.passwords.hash, password)


async def _issue_pair(
    runtime: Runtime,
    *,
    user_id: uuid.UUID,
    org_id: uuid.UUID,
    role: str,
    plan: str,
    family_id: uuid.UUID | None = None,
) -> TokenPair:
    access = runtime.tokens.issue_access_token(
        user_id=str(user_id), org_id=str(org_id), role=role, plan=plan
    )
    refresh_plain, refresh_hash = new_refresh_token()
    await auth_repo.store_refresh_token(
        runtime.db,
        org_id=org_id,
        user_id=user_id,
        family_id=family_id or uuid.uuid4(),
        token_hash=refresh_hash,
        expires_at=datetime.now(UTC) + timedelta(days=runtime.settings.refresh_token_ttl_days),
    )
    return TokenPair(
        access_token=access.token,
        expires_in=runtime.settings.access_token_ttl_seconds,
        refresh_token=refresh_plain,
    )


def _user_out(row: auth_repo.UserRow) -> UserOut:
    return UserOut(
        id=row.id,
        org_id=row.org_id,
        email=row.email,
        full_name=row.full_name,
        role=Role(row.role),
        is_active=row.is_active,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


def _org_out(row: auth_repo.OrgRow) -> OrgOut:
    return OrgOut(id=row.id, name=row.name, slug=row.slug, plan=row.plan, created_at=row.created_at)


def _key_out(row: auth_repo.ApiKeyRow) -> ApiKeyOut:
    return ApiKeyOut(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        display_prefix=row.display_prefix,
        created_by=row.created_by,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


@router.post("/signup", response_model=SignupResponse, status_code=status.HTTP_201_CREATED)
async def signup(body: SignupRequest, request: Request) -> SignupResponse:
    """Create an organisation and its owner, and log the owner in."""
    runtime = runtime_of(request)
    _check_password(body.password)
    org_id, owner_id = uuid.uuid4(), uuid.uuid4()
    plan = runtime.settings.default_plan
    try:
        org, user = await auth_repo.create_org_with_owner(
            runtime.db,
            org_id=org_id,
            org_name=body.org_name,
            slug=body.org_slug or _slugify(body.org_name),
            plan=plan,
            owner_id=owner_id,
            email=str(body.email),
            full_name=body.full_name,
            password_hash=await _hash_password(runtime, body.password),
        )
    except DuplicateError as exc:
        raise ApiError(409, "conflict", str(exc), field=exc.field) from exc
    request.state.audit_org_id, request.state.audit_actor_id = org_id, owner_id
    tokens = await _issue_pair(runtime, user_id=owner_id, org_id=org_id, role="owner", plan=plan)
    return SignupResponse(org=_org_out(org), user=_user_out(user), tokens=tokens)


@router.post("/login", response_model=TokenPair)
async def login(body: LoginRequest, request: Request) -> TokenPair:
    """Exchange e-mail and password for an access JWT (≤ 15 min) and a refresh token."""
    runtime = runtime_of(request)
    record = await auth_repo.find_login(runtime.db, email=str(body.email))
    if record is None:
        await asyncio.to_thread(runtime.passwords.dummy_verify, body.password)
        raise ApiError(401, "invalid_credentials", "e-mail or password is wrong")
    request.state.audit_org_id, request.state.audit_actor_id = record.org_id, record.user_id
    ok = await asyncio.to_thread(runtime.passwords.verify, record.password_hash, body.password)
    if not ok:
        raise ApiError(401, "invalid_credentials", "e-mail or password is wrong")
    if not record.is_active:
        raise ApiError(401, "inactive_user", "this user has been deactivated")
    if runtime.passwords.needs_rehash(record.password_hash):
        await auth_repo.update_password_hash(
            runtime.db,
            org_id=record.org_id,
            user_id=record.user_id,
            password_hash=await _hash_password(runtime, body.password),
        )
    await auth_repo.record_login(runtime.db, org_id=record.org_id, user_id=record.user_id)
    return await _issue_pair(
        runtime, user_id=record.user_id, org_id=record.org_id, role=record.role, plan=record.plan
    )


@router.post("/refresh", response_model=TokenPair)
async def refresh(body: RefreshRequest, request: Request) -> TokenPair:
    """Rotate a refresh token. Presenting a rotated one again revokes its whole family."""
    runtime = runtime_of(request)
    new_plain, new_hash = new_refresh_token()
    outcome = await auth_repo.rotate_refresh_token(
        runtime.db,
        presented_hash=hash_secret(body.refresh_token),
        new_hash=new_hash,
        new_expires_at=datetime.now(UTC) + timedelta(days=runtime.settings.refresh_token_ttl_days),
    )
    if outcome.org_id is not None:
        request.state.audit_org_id, request.state.audit_actor_id = outcome.org_id, outcome.user_id
    if outcome.status != "rotated":
        raise ApiError(401, f"refresh_{outcome.status}", _REFRESH_REJECTIONS[outcome.status])
    if not (outcome.user_id and outcome.org_id and outcome.role and outcome.plan):
        raise RuntimeError("a rotated refresh token must carry its user, org, role and plan")
    access = runtime.tokens.issue_access_token(
        user_id=str(outcome.user_id),
        org_id=str(outcome.org_id),
        role=outcome.role,
        plan=outcome.plan,
    )
    return TokenPair(
        access_token=access.token,
        expires_in=runtime.settings.access_token_ttl_seconds,
        refresh_token=new_plain,
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    body: LogoutRequest, request: Request, principal: Principal = Depends(authenticate)
) -> Response:
    """Revoke the presented access token now and, if given, the refresh token's family."""
    runtime = runtime_of(request)
    if principal.kind == "user" and principal.token_id and principal.token_expires_at:
        remaining = principal.token_expires_at - int(datetime.now(UTC).timestamp())
        await runtime.guard.revoke("jti", principal.token_id, ttl_seconds=remaining + 5)
    if body.refresh_token:
        await auth_repo.revoke_refresh_family(
            runtime.db, token_hash=hash_secret(body.refresh_token)
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=MeResponse)
async def me(request: Request, principal: Principal = Depends(authenticate)) -> MeResponse:
    runtime = runtime_of(request)
    org = await auth_repo.get_org(runtime.db, org_id=principal.org_id)
    if org is None:
        raise not_found("organisation")
    user = None
    if principal.kind == "user":
        row = await auth_repo.get_user(runtime.db, org_id=principal.org_id, user_id=principal.id)
        user = _user_out(row) if row else None
    return MeResponse(
        principal_type=principal.kind,
        principal_id=principal.id,
        role=principal.role,
        permissions=sorted(p.value for p in ROLE_PERMISSIONS[principal.role]),
        org=_org_out(org),
        user=user,
    )


def _check_grant(principal: Principal, role: Role) -> None:
    if not can_grant_role(principal.role, role):
        raise ApiError(
            403,
            "forbidden",
            f"role '{principal.role.value}' cannot grant role '{role.value}'",
            field="role",
        )


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def create_user(
    body: CreateUserRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.USERS_MANAGE)),
) -> UserOut:
    """Add a user to the caller's org with a role no higher than the caller may grant."""
    runtime = runtime_of(request)
    _check_grant(principal, body.role)
    _check_password(body.password)
    try:
        row = await auth_repo.create_user(
            runtime.db,
            org_id=principal.org_id,
            email=str(body.email),
            full_name=body.full_name,
            password_hash=await _hash_password(runtime, body.password),
            role=body.role.value,
            created_by=principal.id,
        )
    except DuplicateError as exc:
        raise ApiError(409, "conflict", str(exc), field=exc.field) from exc
    return _user_out(row)


@router.get("/users", response_model=list[UserOut])
async def list_users(
    request: Request, principal: Principal = Depends(require(Permission.USERS_READ))
) -> list[UserOut]:
    rows = await auth_repo.list_users(runtime_of(request).db, org_id=principal.org_id)
    return [_user_out(r) for r in rows]


@router.get("/users/{user_id}", response_model=UserOut)
async def get_user(
    user_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.USERS_READ)),
) -> UserOut:
    row = await auth_repo.get_user(runtime_of(request).db, org_id=principal.org_id, user_id=user_id)
    if row is None:
        raise not_found("user")
    return _user_out(row)


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def deactivate_user(
    user_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.USERS_MANAGE)),
) -> Response:
    """Deactivate a user (kept for the audit trail) and revoke their refresh tokens."""
    runtime = runtime_of(request)
    target = await auth_repo.get_user(runtime.db, org_id=principal.org_id, user_id=user_id)
    if target is None:
        raise not_found("user")
    if target.id == principal.id:
        raise ApiError(409, "conflict", "you cannot deactivate yourself", field="user_id")
    _check_grant(principal, Role(target.role))
    await auth_repo.deactivate_user(runtime.db, org_id=principal.org_id, user_id=user_id)
    # Their access tokens verify without the database; refuse them until the last one expires.
    await runtime.guard.revoke(
        "user", str(user_id), ttl_seconds=runtime.settings.access_token_ttl_seconds + 5
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_api_key(
    body: CreateApiKeyRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.API_KEYS_MANAGE)),
) -> ApiKeyCreated:
    """Create an API key for the org. The secret is in this response only; LiftOS keeps a hash."""
    runtime = runtime_of(request)
    _check_grant(principal, body.role)
    secret = new_api_key()
    row = await auth_repo.create_api_key(
        runtime.db,
        org_id=principal.org_id,
        key_id=secret.key_id,
        name=body.name,
        role=body.role.value,
        display_prefix=secret.display_prefix,
        secret_hash=secret.secret_hash,
        created_by=principal.id,
    )
    return ApiKeyCreated(**_key_out(row).model_dump(), secret=secret.plaintext)


@router.get("/api-keys", response_model=list[ApiKeyOut])
async def list_api_keys(
    request: Request, principal: Principal = Depends(require(Permission.API_KEYS_READ))
) -> list[ApiKeyOut]:
    rows = await auth_repo.list_api_keys(runtime_of(request).db, org_id=principal.org_id)
    return [_key_out(r) for r in rows]


@router.get("/api-keys/{key_id}", response_model=ApiKeyOut)
async def get_api_key(
    key_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.API_KEYS_READ)),
) -> ApiKeyOut:
    row = await auth_repo.get_api_key(
        runtime_of(request).db, org_id=principal.org_id, key_id=key_id
    )
    if row is None:
        raise not_found("API key")
    return _key_out(row)


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(
    key_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.API_KEYS_MANAGE)),
) -> Response:
    """Revoke an API key; every replica refuses it from the next request on."""
    runtime = runtime_of(request)
    row = await auth_repo.get_api_key(runtime.db, org_id=principal.org_id, key_id=key_id)
    if row is None:
        raise not_found("API key")
    await auth_repo.revoke_api_key(runtime.db, org_id=principal.org_id, key_id=key_id)
    # Replicas cache key lookups for a few seconds; the Redis mark closes that window at once.
    await runtime.guard.revoke("api_key", str(key_id), ttl_seconds=86_400)
    runtime.api_keys.invalidate(key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
