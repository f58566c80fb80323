"""Authentication, RBAC and rate limits as a FastAPI dependency.

``require(Permission.X)`` on a route: resolves the caller from a JWT (verified in-process, no
database round trip) or an API key (cached per replica), charges the Redis rate limits and checks
revocation in one round trip, then checks the role's permissions. The permission is recorded on
the route so OpenAPI shows it.

``public_or(Permission.X)`` is for the few routes that hold no tenant data (the calendar
dimension): a caller without credentials is served, rate-limited per client address
(``deployments.common.client_address``), and one with credentials is authenticated exactly as
``require`` does. A credential that does not verify is a 401, never a silent downgrade to
anonymous.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from cluster import usage_counter
from cluster.repositories import auth as auth_repo
from cluster.repositories import billing as billing_repo
from cluster.settings import Settings
from deployments.common.client_address import client_key
from deployments.common.errors import ApiError, quota_exceeded
from deployments.common.principal import Principal
from deployments.common.runtime import Runtime
from engine.auth.rbac import Permission, Role, has_permission
from engine.auth.tokens import TokenError, parse_api_key, verify_secret
from engine.billing.plans import upgrade_for
from engine.ratelimit import RateLimit, RatePlan, retry_after_seconds

log = logging.getLogger(__name__)

API_KEY_PREFIX = "lft_"
PERMISSION_ATTRIBUTE = "__liftos_permission__"
MAX_CACHED_TOKENS = 50_000
PUBLIC = "public"

# Credential-less calls of public routes. ``principal`` is per client address and ``org`` caps
# every anonymous caller together (without trusted proxies all of them may share one address).
# A plan named "anonymous" in LIFTOS_RATE_LIMIT_PLANS replaces these.
ANONYMOUS_PLAN = "anonymous"
DEFAULT_ANONYMOUS_PLAN = RatePlan(
    name=ANONYMOUS_PLAN,
    principal=RateLimit(requests_per_minute=60, burst=20),
    org=RateLimit(requests_per_minute=3000, burst=300),
)

_bearer = HTTPBearer(auto_error=False, description="Access JWT from /auth/login, or an API key")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="LiftOS API key")


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _unauthorized(reason: str, message: str) -> ApiError:
    return ApiError(401, reason, message, headers={"WWW-Authenticate": f'Bearer error="{reason}"'})


async def _principal_from_api_key(runtime: Runtime, plaintext: str) -> Principal:
    try:
        key_id, _ = parse_api_key(plaintext)
    except TokenError as exc:
        raise _unauthorized("invalid_api_key", f"API key rejected: {exc}") from exc
    credential = await runtime.api_keys.get(
        key_id, lambda: auth_repo.find_api_key(runtime.db, key_id=key_id)
    )
    if credential is None or not verify_secret(plaintext, credential.secret_hash):
        raise _unauthorized("invalid_api_key", "API key rejected: unknown key or wrong secret")
    if credential.revoked:
        raise _unauthorized("revoked", "API key has been revoked")
    if runtime.should_touch_api_key(key_id):
        runtime.spawn(
            auth_repo.touch_api_key(runtime.db, org_id=credential.org_id, key_id=key_id),
            what="api key last_used_at",
        )
    return Principal("api_key", key_id, credential.org_id, Role(credential.role), credential.plan)


def _principal_from_jwt(runtime: Runtime, token: str) -> Principal:
    # A client sends the same token for up to 15 minutes: remember the verified result for that
    # exact string (unforgeable) until its exp. Revocation is still checked on every request.
    cached = runtime.verified_tokens.get(token)
    if cached is not None and (cached.token_expires_at or 0) > time.time():
        return cached
    principal = _verify_jwt(runtime, token)
    if len(runtime.verified_tokens) >= MAX_CACHED_TOKENS:
        runtime.verified_tokens.clear()
    runtime.verified_tokens[token] = principal
    return principal


def _verify_jwt(runtime: Runtime, token: str) -> Principal:
    try:
        claims = runtime.tokens.verify_access_token(token)
        return Principal(
            "user",
            uuid.UUID(claims.subject),
            uuid.UUID(claims.org_id),
            Role(claims.role),
            claims.plan,
            token_id=claims.token_id,
            token_expires_at=claims.expires_at,
        )
    except TokenError as exc:
        raise _unauthorized(exc.reason, f"access token rejected: {exc}") from exc
    except ValueError as exc:
        raise _unauthorized("malformed", "access token rejected: malformed claims") from exc


async def authenticate(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    api_key: str | None = Depends(_api_key_header),
) -> Principal:
    """Resolve, rate-limit and revocation-check the caller (no permission check)."""
    runtime = runtime_of(request)
    if api_key is not None:
        principal = await _principal_from_api_key(runtime, api_key)
    elif bearer is not None:
        credential = bearer.credentials
        principal = (
            await _principal_from_api_key(runtime, credential)
            if credential.startswith(API_KEY_PREFIX)
            else _principal_from_jwt(runtime, credential)
        )
    else:
        raise _unauthorized(
            "missing_credentials",
            "authentication required: send 'Authorization: Bearer <token>' or 'X-API-Key'",
        )
    plan_name = principal.plan
    if runtime.settings.billing_enabled:
        # The plan follows the subscription at once; the token's claim may predate a change.
        plan_name = await org_plan(runtime, principal.org_id) or principal.plan
    plan = (
        runtime.settings.rate_limit_plans.get(_rate_plan_of(runtime.settings, plan_name))
        or (runtime.settings.rate_limit_plans[runtime.settings.default_plan])
    )
    revocation_keys: tuple[str, ...]
    if principal.kind == "user":
        revocation_keys = (
            runtime.guard.revocation_key("jti", principal.token_id or ""),
            runtime.guard.revocation_key("user", str(principal.id)),
        )
    else:
        revocation_keys = (runtime.guard.revocation_key("api_key", str(principal.id)),)
    verdict = await runtime.guard.check(
        principal=f"{principal.kind}:{principal.id}",
        org_id=str(principal.org_id),
        plan=plan,
        revocation_keys=revocation_keys,
    )
    request.state.principal = principal
    if verdict.revoked:
        raise _unauthorized("revoked", "credential has been revoked")
    if not verdict.allowed:
        wait = retry_after_seconds(verdict.retry_after_us)
        raise ApiError(
            429,
            "rate_limited",
            f"rate limit of plan '{plan.name}' exceeded; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    await _count_api_call(runtime, request, principal, plan_name)
    return principal


# Routes an org over its ``api_calls`` quota may still call (counted, never refused), so that
# it can see its usage, sign in and upgrade.
_QUOTA_EXEMPT_PREFIXES = ("/billing", "/auth")
_API_CALLS = usage_counter.METER


async def _count_api_call(
    runtime: Runtime, request: Request, principal: Principal, plan_name: str
) -> None:
    """Count the request in the org's ``api_calls`` (Redis only, one round trip) and, with
    billing on and a quota on the plan, refuse it (402) once the month's calls are used up.

    What PostgreSQL holds of the month is cached per replica for a few seconds
    (``Runtime.api_call_usage``), so enforcement can lag a flush by that long; the Redis count
    itself is exact. A failure of the counter is logged and the request is served."""
    settings = runtime.settings
    plan = settings.billing_plans.get(plan_name) if settings.billing_enabled else None
    limit = plan.quota(_API_CALLS) if plan is not None else None
    if limit is not None and request.url.path.startswith(_QUOTA_EXEMPT_PREFIXES):
        limit = None
    try:
        allowance = None
        if limit is not None:
            period = usage_counter.period_now()

            async def flushed() -> float:
                used = await billing_repo.used(
                    runtime.db, org_id=principal.org_id, meters=[_API_CALLS], period=period
                )
                return used[_API_CALLS]

            allowance = limit - await runtime.api_call_usage.get(
                (principal.org_id, period), flushed
            )
        counted = await usage_counter.count(runtime.redis, principal.org_id, allowance=allowance)
    except Exception:
        log.warning("api_calls of org %s not counted", principal.org_id, exc_info=True)
        return
    if counted is None and plan is not None and limit is not None:
        better = upgrade_for(settings.billing_plans, plan, _API_CALLS, limit + 1)
        metered = billing_repo.Metered(
            _API_CALLS, 1, limit, plan=plan.name, upgrade=better.name if better else None
        )
        raise quota_exceeded(billing_repo.QuotaExceededError(metered, used=limit))


def _insist(principal: Principal, permission: Permission) -> Principal:
    if not has_permission(principal.role, permission):
        raise ApiError(
            403,
            "forbidden",
            f"role '{principal.role.value}' lacks permission '{permission.value}'",
        )
    return principal


def audited_read(request: Request) -> None:
    """Route dependency: this read returns sensitive data (a dataset, memories, a catalog,
    provider settings), so the ingress audits it like a mutation."""
    request.state.audit_read = True


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """Dependency factory: authenticate, then insist on ``permission``."""

    async def dependency(principal: Principal = Depends(authenticate)) -> Principal:
        return _insist(principal, permission)

    dependency.__name__ = f"require_{permission.name.lower()}"
    setattr(dependency, PERMISSION_ATTRIBUTE, permission.value)  # read by document_permissions
    return dependency


async def org_plan(runtime: Runtime, org_id: uuid.UUID) -> str | None:
    """The org's plan now (cached per replica for the auth cache's TTL)."""

    async def load() -> str | None:
        org = await auth_repo.get_org(runtime.db, org_id=org_id)
        return org.plan if org else None

    return await runtime.org_plans.get(org_id, load)


def _rate_plan_of(settings: Settings, plan_name: str) -> str:
    """The rate-limit plan a billing plan names (the same name unless it says otherwise)."""
    billing = settings.billing_plans.get(plan_name) if settings.billing_enabled else None
    return billing.rate_plan if billing is not None else plan_name


def anonymous_plan(settings: Settings) -> RatePlan:
    return settings.rate_limit_plans.get(ANONYMOUS_PLAN) or DEFAULT_ANONYMOUS_PLAN


async def charge_anonymous(request: Request) -> str:
    """Charge a credential-less request to its client address; returns that key."""
    runtime = runtime_of(request)
    peer = request.client.host if request.client else None
    key = client_key(
        peer,
        request.headers.getlist("x-forwarded-for"),
        runtime.settings.trusted_proxy_hops,
    )
    plan = anonymous_plan(runtime.settings)
    verdict = await runtime.guard.check(principal=f"anon:{key}", org_id=ANONYMOUS_PLAN, plan=plan)
    if not verdict.allowed:
        wait = retry_after_seconds(verdict.retry_after_us)
        raise ApiError(
            429,
            "rate_limited",
            f"anonymous rate limit exceeded; retry in {wait} s, or authenticate to use your "
            "plan's limits",
            headers={"Retry-After": str(wait)},
        )
    return key


def public_or(permission: Permission) -> Callable[..., Awaitable[Principal | None]]:
    """Dependency factory for routes without tenant data: ``None`` for an anonymous caller
    (rate-limited per client address), else the authenticated caller holding ``permission``."""

    async def dependency(
        request: Request,
        bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
        api_key: str | None = Depends(_api_key_header),
    ) -> Principal | None:
        if bearer is None and api_key is None:
            if request.headers.get("authorization") is not None:
                # Sent, but not as "Bearer <credential>": a mistake to report, not to ignore.
                raise _unauthorized(
                    "unsupported_scheme",
                    "Authorization must be 'Bearer <token>'; or send no credentials at all",
                )
            await charge_anonymous(request)
            return None
        return _insist(await authenticate(request, bearer, api_key), permission)

    dependency.__name__ = f"public_or_{permission.name.lower()}"
    setattr(dependency, PERMISSION_ATTRIBUTE, PUBLIC)
    return dependency


def _required_permission(dependant: Dependant) -> str | None:
    """The permission a route's dependencies demand, ``authenticated`` for any caller."""
    for sub_dependant in dependant.dependencies:
        permission = getattr(sub_dependant.call, PERMISSION_ATTRIBUTE, None)
        if permission:
            return str(permission)
        if sub_dependant.call is authenticate:
            return "authenticated"
        nested = _required_permission(sub_dependant)
        if nested:
            return nested
    return None


def document_permissions(router: APIRouter) -> None:
    """Put each route's permission in its OpenAPI operation (``x-liftos-permission``)."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            permission = _required_permission(route.dependant) or PUBLIC
            route.openapi_extra = {**(route.openapi_extra or {}), "x-liftos-permission": permission}
