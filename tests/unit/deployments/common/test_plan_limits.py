"""With billing on, the gateway limits an org by its current plan (what its subscription is
now), not by the plan claim of a token issued before a change; the billing plan names the
rate-limit plan it gives."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cluster.settings import Settings
from deployments.common.errors import install_error_handlers
from deployments.common.principal import Principal
from deployments.common.runtime import TtlCache
from deployments.common.security import require
from engine.auth.rbac import Permission
from engine.auth.tokens import TokenService
from engine.billing.plans import parse_billing_plans
from engine.ratelimit import DEFAULT_PLANS
from tests.unit.deployments.common.test_public_access import JWT_KEYS, InMemoryGuard

ORG = uuid.uuid4()


def _app(guard: InMemoryGuard, tokens: TokenService, *, billing: bool) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    settings = Settings(
        jwt_keys={k: SecretStr(v) for k, v in JWT_KEYS.items()},
        jwt_active_kid="u-1",
        rate_limit_plans=dict(DEFAULT_PLANS),
        stripe_api_key=SecretStr("sk_test_unit") if billing else None,
        stripe_webhook_secret=SecretStr("whsec_unit") if billing else None,
        billing_plans=parse_billing_plans(
            {"free": {}, "pro": {"price_id": "price_p", "rate_plan": "enterprise", "rank": 1}}
        ),
    )
    plans: TtlCache[uuid.UUID, str | None] = TtlCache(60.0)

    async def now_pro() -> str | None:
        return "pro"

    asyncio.run(plans.get(ORG, now_pro))  # the subscription moved the org to pro
    app.state.runtime = SimpleNamespace(
        settings=settings, guard=guard, tokens=tokens, verified_tokens={}, org_plans=plans
    )

    @app.get("/private")
    async def private(principal: Principal = Depends(require(Permission.CAUSAL_READ))) -> str:
        return principal.plan

    return app


@pytest.fixture
def tokens() -> TokenService:
    return TokenService(keys=JWT_KEYS, active_kid="u-1", issuer="liftos", audience="liftos-api")


def _headers(tokens: TokenService) -> dict[str, str]:
    issued = tokens.issue_access_token(
        user_id=str(uuid.uuid4()), org_id=str(ORG), role="viewer", plan="free"
    )
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture
def guard() -> InMemoryGuard:
    return InMemoryGuard()


def test_the_current_plan_sets_the_limits_not_the_tokens_claim(
    guard: InMemoryGuard, tokens: TokenService
) -> None:
    with TestClient(_app(guard, tokens, billing=True)) as client:
        response = client.get("/private", headers=_headers(tokens))
    assert response.status_code == 200, response.text
    # The token said free; the org is on pro, whose rate-limit plan is enterprise.
    assert guard.calls[-1][2] == "enterprise"


def test_without_billing_the_tokens_plan_is_used(
    guard: InMemoryGuard, tokens: TokenService
) -> None:
    with TestClient(_app(guard, tokens, billing=False)) as client:
        response = client.get("/private", headers=_headers(tokens))
    assert response.status_code == 200, response.text
    assert guard.calls[-1][2] == "free"
