"""The Redis guard script against the GCRA policy it mirrors (engine.ratelimit)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from cluster.guard import RequestGuard
from engine.ratelimit import RateLimit, RatePlan, gcra_decide
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
async def guard(stack: Stack) -> AsyncIterator[RequestGuard]:
    client = aioredis.Redis.from_url(stack.urls.redis_url)
    yield RequestGuard(client, namespace=uuid.uuid4().hex)
    await client.aclose()


def _plan(principal: RateLimit, org: RateLimit) -> RatePlan:
    return RatePlan(name="t", principal=principal, org=org)


async def test_burst_then_denial_matches_the_policy(guard: RequestGuard) -> None:
    limit = RateLimit(requests_per_minute=60, burst=4)  # one request a second, burst of four
    plan = _plan(limit, RateLimit(requests_per_minute=60_000, burst=1000))
    results = [await guard.check(principal="p", org_id="o", plan=plan) for _ in range(6)]
    # The same burst in the pure model, all at one instant.
    tat, expected = None, []
    for _ in range(6):
        decision = gcra_decide(tat_us=tat, now_us=1_000_000_000, limit=limit)
        tat = decision.new_tat_us
        expected.append(decision)
    assert [r.allowed for r in results] == [d.allowed for d in expected]
    assert [r.remaining for r in results if r.allowed] == [d.remaining for d in expected][:4]
    denied = results[-1]
    # A few milliseconds pass between the calls; the policy's answer is the upper bound.
    assert 0 < denied.retry_after_us <= expected[-1].retry_after_us


async def test_org_limit_binds_across_principals_and_denials_cost_nothing(
    guard: RequestGuard,
) -> None:
    plan = _plan(RateLimit(60, 10), RateLimit(60, 3))
    verdicts = [(await guard.check(principal=f"p{i}", org_id="org", plan=plan)) for i in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    # A denied request charged neither limit: the principal still has its own allowance left
    # for another org.
    other = await guard.check(principal="p3", org_id="other", plan=plan)
    assert other.allowed
    assert other.remaining == 2  # org limit (burst 3) is the tighter one: 3 - 1


async def test_revocation_is_checked_in_the_same_call(guard: RequestGuard) -> None:
    plan = _plan(RateLimit(600, 10), RateLimit(600, 10))
    for revoked_kind in ("jti", "user"):
        ident = uuid.uuid4().hex
        keys = (guard.revocation_key("jti", ident), guard.revocation_key("user", ident))
        assert (
            await guard.check(principal=ident, org_id="o", plan=plan, revocation_keys=keys)
        ).allowed
        await guard.revoke(revoked_kind, ident, ttl_seconds=60)
        verdict = await guard.check(principal=ident, org_id="o", plan=plan, revocation_keys=keys)
        assert verdict.revoked
        assert not verdict.allowed
