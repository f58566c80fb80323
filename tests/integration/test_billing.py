"""Billing over HTTP, with the real stripe-python SDK against the local Stripe server
(tests/stripe_server.py): subscribe -> checkout -> signed webhook -> the plan changes;
forged, stale and replayed webhooks change nothing; out-of-order events cannot roll the plan
back; plan changes are prorated; failed payments get a grace period; cancel, portal, roles."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.integration.conftest import (
    ENTERPRISE_PRICE,
    PRO_PRICE,
    Stack,
    Tenant,
    add_user,
    signup,
)
from tests.stripe_server import StripeServer

pytestmark = pytest.mark.integration

WEBHOOK = "/billing/webhooks/stripe"


@pytest.fixture(scope="module")
def stripe(stack: Stack) -> StripeServer:
    return stack.stripe


def deliver(
    client: httpx.Client, stripe: StripeServer, event_type: str, obj: dict[str, Any], **kw: Any
) -> httpx.Response:
    payload, headers = stripe.event(event_type, obj, **kw)
    return client.post(WEBHOOK, content=payload, headers=headers)


def subscribed(client: httpx.Client, stripe: StripeServer, plan: str = "pro") -> dict[str, Any]:
    """A new org that has paid for ``plan``: its tenant, checkout session and subscription."""
    tenant = signup(client, prefix="billing")
    response = client.post("/billing/subscribe", headers=tenant.auth, json={"plan": plan})
    assert response.status_code == 200, response.text
    session_id = response.json()["checkout_session_id"]
    session = stripe.complete_checkout(session_id)
    delivered = deliver(client, stripe, "checkout.session.completed", session)
    assert delivered.status_code == 200, delivered.text
    return {"tenant": tenant, "session": session, "subscription_id": session["subscription"]}


def plan_of(client: httpx.Client, tenant: Tenant) -> dict[str, Any]:
    response = client.get("/billing/subscription", headers=tenant.auth)
    assert response.status_code == 200, response.text
    return response.json()


def test_subscribe_checkout_webhook_moves_the_org_to_the_plan(
    client: httpx.Client, stripe: StripeServer, tenant: Tenant
) -> None:
    before = plan_of(client, tenant)
    assert before["plan"] == "free"
    assert before["billing_enabled"] is True
    names = [p["name"] for p in before["plans"]]
    assert names == ["free", "metered", "starter", "pro", "enterprise"]

    first = client.post("/billing/subscribe", headers=tenant.auth, json={"plan": "pro"})
    assert first.status_code == 200, first.text
    again = client.post("/billing/subscribe", headers=tenant.auth, json={"plan": "pro"})
    body = first.json()
    # Retrying the same attempt: the same customer and the same checkout session.
    assert again.json()["checkout_session_id"] == body["checkout_session_id"]
    assert body["checkout_url"].startswith(stripe.base_url)
    mine = [c for c in stripe.customers.values() if c["metadata"]["org_id"] == tenant.org_id]
    assert len(mine) == 1
    session = stripe.sessions[body["checkout_session_id"]]
    assert session["line_items_requested"] == [{"price": PRO_PRICE, "quantity": "1"}]
    assert session["client_reference_id"] == tenant.org_id
    assert f"liftos-customer-{tenant.org_id}" in stripe.idempotency_keys
    assert f"liftos-checkout-{tenant.org_id}-pro-1" in stripe.idempotency_keys

    completed = stripe.complete_checkout(body["checkout_session_id"])
    response = deliver(client, stripe, "checkout.session.completed", completed)
    assert response.status_code == 200, response.text
    assert response.json()["applied"] is True
    after = plan_of(client, tenant)
    assert after["plan"] == "pro"
    assert after["status"] == "active"
    assert after["subscription_id"] == completed["subscription"]
    assert after["current_period_end"] is not None
    audit = client.get("/audit", headers=tenant.auth).json()["items"]
    changed = [e for e in audit if e["action"] == "billing.plan_changed"]
    assert len(changed) == 1
    assert "free -> pro" in changed[0]["target"]


def test_forged_stale_and_replayed_webhooks_change_nothing(
    client: httpx.Client, stripe: StripeServer
) -> None:
    paid = subscribed(client, stripe)
    tenant = paid["tenant"]
    sub = stripe.set_status(paid["subscription_id"], "canceled")

    forged = deliver(client, stripe, "customer.subscription.deleted", sub, secret="whsec_wrong")
    assert forged.status_code == 400
    assert forged.json()["error"]["code"] == "bad_signature"
    stale = deliver(
        client, stripe, "customer.subscription.deleted", sub, timestamp=int(time.time()) - 3600
    )
    assert stale.status_code == 400
    unsigned = client.post(WEBHOOK, content=b"{}", headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 400
    assert plan_of(client, tenant)["plan"] == "pro"  # none of them changed anything

    real = deliver(client, stripe, "customer.subscription.deleted", sub, event_id="evt_real_1")
    assert real.json()["applied"] is True
    assert plan_of(client, tenant)["plan"] == "free"
    # Stripe delivers it again: acknowledged, ignored.
    stripe.set_status(paid["subscription_id"], "active")
    replay = deliver(client, stripe, "customer.subscription.deleted", sub, event_id="evt_real_1")
    assert replay.status_code == 200
    assert replay.json()["applied"] is False
    assert replay.json()["detail"] == "already processed"
    assert plan_of(client, tenant)["plan"] == "free"


def test_events_out_of_order_cannot_roll_the_plan_back(
    client: httpx.Client, stripe: StripeServer
) -> None:
    paid = subscribed(client, stripe)
    tenant = paid["tenant"]
    active = dict(stripe.subscriptions[paid["subscription_id"]])
    canceled = stripe.set_status(paid["subscription_id"], "canceled")
    assert deliver(client, stripe, "customer.subscription.deleted", canceled).status_code == 200
    # An older "updated" event (the subscription still active in its payload) arrives late:
    # LiftOS reads the subscription's current state from Stripe, which is canceled.
    late = deliver(client, stripe, "customer.subscription.updated", active)
    assert late.status_code == 200
    assert late.json()["applied"] is True
    assert plan_of(client, tenant)["plan"] == "free"


def test_plan_change_is_prorated_and_failed_payment_gets_grace(
    client: httpx.Client, stripe: StripeServer
) -> None:
    paid = subscribed(client, stripe)
    tenant = paid["tenant"]
    upgraded = client.post("/billing/subscribe", headers=tenant.auth, json={"plan": "enterprise"})
    assert upgraded.status_code == 200, upgraded.text
    assert upgraded.json()["checkout_url"] is None
    assert upgraded.json()["subscription"]["plan"] == "enterprise"
    sub = stripe.subscriptions[paid["subscription_id"]]
    assert sub["items"]["data"][0]["price"]["id"] == ENTERPRISE_PRICE
    assert sub["proration_behavior_seen"] == "create_prorations"
    same = client.post("/billing/subscribe", headers=tenant.auth, json={"plan": "enterprise"})
    assert same.status_code == 409

    past_due = stripe.set_status(paid["subscription_id"], "past_due")
    invoice = {
        "id": "in_test_1",
        "object": "invoice",
        "customer": past_due["customer"],
        "subscription": past_due["id"],
    }
    assert deliver(client, stripe, "invoice.payment_failed", invoice).status_code == 200
    graced = plan_of(client, tenant)
    assert graced["plan"] == "enterprise"  # kept during the grace period
    assert graced["status"] == "past_due"
    assert graced["grace_until"] is not None

    stripe.set_status(paid["subscription_id"], "active")
    assert deliver(client, stripe, "invoice.paid", invoice).status_code == 200
    assert plan_of(client, tenant)["grace_until"] is None

    cancelled = client.post("/billing/cancel", headers=tenant.auth)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["cancel_at_period_end"] is True
    assert cancelled.json()["plan"] == "enterprise"  # until the paid period ends
    portal = client.post("/billing/portal", headers=tenant.auth)
    assert portal.status_code == 200
    assert portal.json()["url"].startswith(stripe.base_url)


def test_bad_requests_roles_and_stripe_outages(
    client: httpx.Client, stripe: StripeServer, tenant: Tenant
) -> None:
    unknown = client.post("/billing/subscribe", headers=tenant.auth, json={"plan": "gold"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "plan"
    free = client.post("/billing/subscribe", headers=tenant.auth, json={"plan": "free"})
    assert free.status_code == 409
    nothing = client.post("/billing/cancel", headers=tenant.auth)
    assert nothing.status_code == 409

    admin = add_user(client, tenant, "admin")
    assert client.get("/billing/subscription", headers=admin.auth).status_code == 200
    refused = client.post("/billing/subscribe", headers=admin.auth, json={"plan": "pro"})
    assert refused.status_code == 403
    analyst = add_user(client, tenant, "analyst")
    assert client.get("/billing/subscription", headers=analyst.auth).status_code == 403

    fresh = signup(client, prefix="billing-down")
    stripe.fail_next = 10
    try:
        down = client.post("/billing/subscribe", headers=fresh.auth, json={"plan": "pro"})
    finally:
        stripe.fail_next = 0
    assert down.status_code == 502
    assert down.json()["error"]["code"] == "stripe_unavailable"
    # The webhook of a customer no org has is acknowledged (Stripe stops retrying) and ignored.
    stranger = deliver(
        client,
        stripe,
        "customer.subscription.updated",
        {"id": "sub_x", "object": "subscription", "customer": "cus_nobody"},
    )
    assert stranger.status_code == 200
    assert stranger.json()["applied"] is False


def test_quotas_refuse_with_402_count_once_and_name_the_upgrade(
    client: httpx.Client, stripe: StripeServer
) -> None:
    from tests.integration.test_causal import QUICK_FIT, upload, wait_for_job, weekly_frame

    paid = subscribed(client, stripe, plan="starter")  # 1 fit, 3 audited products, $0 of LLM
    tenant = paid["tenant"]
    dataset = upload(client, tenant, weekly_frame()).json()
    body = {"dataset_id": dataset["id"], "fit": QUICK_FIT, "wait_seconds": 0}
    first = client.post("/api/v1/causal/attribution/analyze", headers=tenant.auth, json=body)
    assert first.status_code == 202, first.text
    second = client.post("/api/v1/causal/attribution/analyze", headers=tenant.auth, json=body)
    assert second.status_code == 402, second.text
    error = second.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert error["field"] == "mmm_fits"
    assert "upgrade to 'pro'" in error["message"]
    jobs = client.get("/api/v1/causal/jobs", headers=tenant.auth).json()["items"]
    assert len(jobs) == 1  # the refused fit stored nothing

    local = client.post(
        "/api/v1/llm/providers",
        headers=tenant.auth,
        json={"name": "demo", "kind": "local", "models": [{"name": "m", "provider_model": "s"}]},
    )
    assert local.status_code == 201, local.text
    generate = client.post(
        "/api/v1/prompts/generate",
        headers=tenant.auth,
        json={"template": "product_description", "product": "a pan", "model": "m"},
    )
    assert generate.status_code == 402, generate.text
    assert generate.json()["error"]["field"] == "llm_spend_usd"

    usage = client.get("/billing/usage", headers=tenant.auth)
    assert usage.status_code == 200, usage.text
    meters = {m["meter"]: m for m in usage.json()["meters"]}
    assert usage.json()["plan"] == "starter"
    assert usage.json()["enforced"] is True
    assert meters["mmm_fits"]["used"] == 1
    assert meters["mmm_fits"]["quota"] == 1
    assert meters["mmm_fits"]["remaining"] == 0
    assert meters["llm_spend_usd"]["used"] == 0
    # The fit that was accepted runs; when it ends, the CPU time it held is counted.
    job = wait_for_job(client, tenant, first.json()["job_id"])
    assert job["status"] == "succeeded", job
    held = {
        m["meter"]: m for m in client.get("/billing/usage", headers=tenant.auth).json()["meters"]
    }
    assert held["fit_cpu_seconds"]["used"] > 0


def test_usage_reaches_stripes_meters_exactly_once(
    client: httpx.Client, stripe: StripeServer, stack: Stack
) -> None:
    import asyncio
    import uuid

    from cluster.repositories import billing as repo
    from cluster.state import Database
    from deployments.billing.reporting import identifier, report_once
    from deployments.billing.stripe_gateway import StripeGateway
    from tests.integration.test_causal import QUICK_FIT, upload, weekly_frame

    paid = subscribed(client, stripe, plan="pro")
    tenant = paid["tenant"]
    customer = stripe.sessions[paid["session"]["id"]]["customer"]
    dataset = upload(client, tenant, weekly_frame()).json()
    body = {"dataset_id": dataset["id"], "fit": QUICK_FIT, "wait_seconds": 0}

    def fit() -> None:
        response = client.post("/api/v1/causal/attribution/analyze", headers=tenant.auth, json=body)
        assert response.status_code == 202, response.text

    def reported() -> float:
        return sum(
            float(e["payload"]["value"])
            for e in stripe.meter_events.values()
            if e["payload"]["stripe_customer_id"] == customer
            and e["event_name"] == "liftos_mmm_fits"
        )

    async def scenario() -> None:
        db = await Database.connect(stack.urls.database_url, min_size=1, max_size=2)
        gateway = StripeGateway(
            api_key="sk_test_liftos_integration_0123456789",
            api_base=stripe.base_url,
            webhook_secret=stripe.webhook_secret,
        )
        org = uuid.UUID(tenant.org_id)
        try:
            fit()
            await report_once(db, gateway)
            assert reported() == 1
            await report_once(db, gateway)  # nothing new: nothing sent
            assert reported() == 1
            # A reporter that died after Stripe took the event but before it settled.
            fit()
            (pending,) = await repo.snapshot_pending(db, org_id=org, meters=["mmm_fits"])
            await gateway.report_usage(
                event_name="liftos_mmm_fits",
                customer_id=customer,
                value=pending.pending - pending.reported,
                identifier=identifier(org, pending),
            )
            fit()  # more usage arrives meanwhile
            await report_once(db, gateway)  # resends the snapshot (deduplicated), settles it
            assert reported() == 2
            await report_once(db, gateway)  # then reports the rest
            assert reported() == 3
            usage = {u.meter: u for u in await repo.usage(db, org_id=org)}
            assert usage["mmm_fits"].quantity == usage["mmm_fits"].reported == 3
        finally:
            await db.close()

    asyncio.run(scenario())


def _meters(client: httpx.Client, tenant: Tenant) -> dict[str, dict[str, Any]]:
    response = client.get("/billing/usage", headers=tenant.auth)
    assert response.status_code == 200, response.text
    return {m["meter"]: m for m in response.json()["meters"]}


def test_api_calls_are_counted_in_redis_and_flushed_exactly_once(
    client: httpx.Client, stack: Stack
) -> None:
    import asyncio
    import uuid

    from cluster import usage_counter
    from cluster.repositories import billing as repo
    from cluster.state import Database, connect_redis

    tenant = signup(client, prefix="api-calls")  # the free plan: counted, no quota
    org = uuid.UUID(tenant.org_id)
    calls = 7

    def call(times: int) -> None:
        for _ in range(times):
            assert client.get("/audit", headers=tenant.auth).status_code == 200

    async def in_postgres(db: Database) -> float:
        return (await repo.used(db, org_id=org, meters=["api_calls"]))["api_calls"]

    async def scenario() -> None:
        db = await Database.connect(stack.urls.database_url, min_size=1, max_size=2)
        redis = connect_redis(stack.urls.redis_url)
        try:
            call(calls)
            assert await usage_counter.pending(redis, org) == calls
            assert await in_postgres(db) == 0  # no PostgreSQL write per request
            await usage_counter.flush(db, redis)
            assert await in_postgres(db) == calls
            assert await usage_counter.pending(redis, org) == 0
            # GET /billing/usage counts itself (before it reads): flushed + pending.
            assert _meters(client, tenant)["api_calls"]["used"] == calls + 1

            # A flusher that dies after PostgreSQL committed, before the Redis key is deleted.
            call(calls)
            key = await usage_counter.begin(redis, usage_counter.period_now())
            assert key is not None
            applied, _ = await usage_counter.apply(db, redis, key)  # PostgreSQL commits...
            assert applied >= 1  # ...and the flusher dies here, before usage_counter.finish
            assert await in_postgres(db) == 2 * calls + 1
            assert key.encode() in await redis.smembers(usage_counter.FLUSHING_SET)
            # The next flush re-applies the leftover key: recorded already, nothing added.
            done = await usage_counter.flush(db, redis)
            assert done.skipped >= 1
            assert await in_postgres(db) == 2 * calls + 1
            assert await redis.exists(key) == 0
            assert key.encode() not in await redis.smembers(usage_counter.FLUSHING_SET)
            await usage_counter.flush(db, redis)  # and again: still nothing twice
            assert await in_postgres(db) == 2 * calls + 1
            assert _meters(client, tenant)["api_calls"]["used"] == 2 * calls + 2
        finally:
            await redis.aclose()
            await db.close()

    asyncio.run(scenario())


def test_api_calls_quota_refuses_with_402_past_the_month(
    client: httpx.Client, stripe: StripeServer, stack: Stack
) -> None:
    import asyncio

    from cluster import usage_counter
    from cluster.state import Database, connect_redis

    paid = subscribed(client, stripe, plan="metered")  # 25 calls; subscribing was the first
    tenant = paid["tenant"]
    served = 0
    for _ in range(40):
        response = client.get("/audit", headers=tenant.auth)
        if response.status_code != 200:
            break
        served += 1
    assert served == 24
    assert response.status_code == 402, response.text
    error = response.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert error["field"] == "api_calls"
    assert "upgrade to 'pro'" in error["message"]
    # /billing stays reachable (to see the usage and upgrade); the refused call is not counted.
    meters = _meters(client, tenant)
    assert meters["api_calls"]["used"] == 26
    assert meters["api_calls"]["quota"] == 25
    assert meters["api_calls"]["remaining"] == 0

    async def flush() -> None:
        db = await Database.connect(stack.urls.database_url, min_size=1, max_size=2)
        redis = connect_redis(stack.urls.redis_url)
        try:
            await usage_counter.flush(db, redis)
        finally:
            await redis.aclose()
            await db.close()

    asyncio.run(flush())
    time.sleep(5.5)  # the replicas' cache of what PostgreSQL holds (Runtime.api_call_usage)
    refused = client.get("/audit", headers=tenant.auth)
    assert refused.status_code == 402, refused.text
    assert _meters(client, tenant)["api_calls"]["used"] == 27


def test_memory_bytes_is_the_stored_level_and_its_quota_refuses_stores(
    stripe: StripeServer, stack: Stack
) -> None:
    with httpx.Client(base_url=stack.base_url, timeout=240) as http:  # a shard may start
        paid = subscribed(http, stripe, plan="metered")  # 4096 bytes of memories
        tenant = paid["tenant"]
        body = {"memory_type": "note", "content": "x" * 1500, "metadata": {}}
        ids = []
        for _ in range(2):
            stored = http.post("/api/v1/memory/store", headers=tenant.auth, json=body)
            assert stored.status_code == 201, stored.text
            ids.append(stored.json()["id"])
        level = _meters(http, tenant)["memory_bytes"]
        assert 3000 < level["used"] < 3200  # the sealed content and the metadata
        assert level["quota"] == 4096
        assert level["reported_to_stripe"] == 0  # a level: never sent to Stripe's sum meters

        over = http.post("/api/v1/memory/store", headers=tenant.auth, json=body)
        assert over.status_code == 402, over.text
        assert over.json()["error"]["field"] == "memory_bytes"
        assert "upgrade to 'pro'" in over.json()["error"]["message"]
        batch = http.post(
            "/api/v1/memory/store/batch", headers=tenant.auth, json={"items": [body, body]}
        )
        assert batch.status_code == 402, batch.text
        assert _meters(http, tenant)["memory_bytes"]["used"] == level["used"]  # nothing stored

        # Deleting lowers the level: there is room again.
        deleted = http.delete(f"/api/v1/memory/{ids[0]}", headers=tenant.auth)
        assert deleted.status_code == 204, deleted.text
        assert _meters(http, tenant)["memory_bytes"]["used"] == level["used"] / 2
        again = http.post("/api/v1/memory/store", headers=tenant.auth, json=body)
        assert again.status_code == 201, again.text
