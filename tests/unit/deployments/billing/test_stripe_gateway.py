"""The Stripe adapter with the real stripe-python SDK against the local Stripe server: every
call that creates or charges is idempotent, states parse from Stripe's shapes, and webhooks
verify exactly as Stripe signs them (forged and stale ones are refused)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from deployments.billing.stripe_gateway import (
    BadSignatureError,
    StripeGateway,
    StripeUnavailableError,
)
from tests.stripe_server import StripeServer


@pytest.fixture(scope="module")
def server() -> Iterator[StripeServer]:
    stripe = StripeServer().start()
    yield stripe
    stripe.stop()


@pytest.fixture
def gateway(server: StripeServer) -> StripeGateway:
    return StripeGateway(
        api_key="sk_test_unit", api_base=server.base_url, webhook_secret=server.webhook_secret
    )


async def test_customers_and_checkout_are_idempotent(
    gateway: StripeGateway, server: StripeServer
) -> None:
    org = uuid.uuid4()
    first = await gateway.ensure_customer(org_id=org, name="Acme", email="o@acme.example")
    second = await gateway.ensure_customer(org_id=org, name="Acme", email="o@acme.example")
    assert first == second
    assert sum(c["metadata"]["org_id"] == str(org) for c in server.customers.values()) == 1
    args = {
        "org_id": org,
        "customer_id": first,
        "plan": "pro",
        "price_id": "price_pro",
        "success_url": "https://app.example/ok",
        "cancel_url": "https://app.example/no",
    }
    one = await gateway.checkout_url(**args, attempt="1")
    again = await gateway.checkout_url(**args, attempt="1")
    other = await gateway.checkout_url(**args, attempt="2")
    assert one == again
    assert other[0] != one[0]
    session = server.sessions[one[0]]
    assert session["subscription_data"]["metadata"] == {"org_id": str(org), "plan": "pro"}


async def test_subscription_state_and_prorated_change(
    gateway: StripeGateway, server: StripeServer
) -> None:
    org = uuid.uuid4()
    customer = await gateway.ensure_customer(org_id=org, name="Beta", email=None)
    session_id, _ = await gateway.checkout_url(
        org_id=org,
        customer_id=customer,
        plan="pro",
        price_id="price_pro",
        success_url="https://x.example/ok",
        cancel_url="https://x.example/no",
        attempt="1",
    )
    sub_id = server.complete_checkout(session_id)["subscription"]
    state = await gateway.subscription(sub_id)
    assert (state.status, state.price_id, state.customer_id) == ("active", "price_pro", customer)
    assert state.org_id == str(org)
    assert state.current_period_end is not None
    assert state.current_period_end > time.time()
    changed = await gateway.change_price(state, price_id="price_ent", plan="enterprise")
    assert changed.price_id == "price_ent"
    assert server.subscriptions[sub_id]["proration_behavior_seen"] == "create_prorations"
    cancelled = await gateway.cancel_at_period_end(changed)
    assert cancelled.cancel_at_period_end
    with pytest.raises(StripeUnavailableError, match="No such subscription"):
        await gateway.subscription("sub_missing")


async def test_usage_reports_are_counted_once_per_identifier(
    gateway: StripeGateway, server: StripeServer
) -> None:
    for _ in range(3):
        await gateway.report_usage(
            event_name="liftos_api_calls", customer_id="cus_1", value=42, identifier="org-1-m"
        )
    assert server.meter_events["org-1-m"]["payload"] == {
        "stripe_customer_id": "cus_1",
        "value": "42",
    }
    assert len([k for k in server.meter_events if k == "org-1-m"]) == 1


def test_webhooks_verify_like_stripe(gateway: StripeGateway, server: StripeServer) -> None:
    sub = {"id": "sub_1", "object": "subscription", "customer": "cus_9", "metadata": {}}
    payload, headers = server.event("customer.subscription.updated", sub, event_id="evt_1")
    event = gateway.verify(payload, headers["Stripe-Signature"])
    assert (event.id, event.type, event.subscription_id, event.customer_id) == (
        "evt_1",
        "customer.subscription.updated",
        "sub_1",
        "cus_9",
    )
    forged, forged_headers = server.event("customer.subscription.updated", sub, secret="whsec_x")
    with pytest.raises(BadSignatureError):
        gateway.verify(forged, forged_headers["Stripe-Signature"])
    stale, stale_headers = server.event(
        "customer.subscription.updated", sub, timestamp=int(time.time()) - 301
    )
    with pytest.raises(BadSignatureError):
        gateway.verify(stale, stale_headers["Stripe-Signature"])
    with pytest.raises(BadSignatureError):
        gateway.verify(payload + b" ", headers["Stripe-Signature"])  # the body was altered
    with pytest.raises(BadSignatureError):
        gateway.verify(payload, None)
