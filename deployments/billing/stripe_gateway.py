"""Everything LiftOS asks of Stripe, through stripe-python, and nothing else imports ``stripe``.

The SDK's ``StripeClient`` (its requests-based client, called from a worker thread so the
event loop never waits on Stripe) is pointed at ``LIFTOS_STRIPE_API_BASE``: Stripe itself,
stripe-mock, or the tests' local server. Every call that creates or charges passes a
deterministic idempotency key derived from what it does (the org, the plan, the meter and
period), so a retried request or Ray task cannot create a second customer, session or charge.
Answers come back as the small typed records below; webhooks are verified with the SDK's
``Webhook.construct_event`` on the raw body (default tolerance).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import stripe


class StripeUnavailableError(Exception):
    """Stripe could not be reached or refused the call; the message says which."""


class BadSignatureError(Exception):
    """A webhook whose signature does not verify (forged, stale, or not from this account)."""


@dataclass(frozen=True)
class SubscriptionState:
    id: str
    customer_id: str
    status: str
    price_id: str | None
    item_id: str | None
    current_period_end: int | None
    cancel_at_period_end: bool
    org_id: str | None  # from the metadata LiftOS set on it
    version: int  # Stripe's timestamp of this state (newest wins)


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    created: int
    object_id: str | None
    customer_id: str | None
    subscription_id: str | None
    org_id: str | None


def _get(obj: Any, name: str) -> Any:
    try:
        return obj[name]
    except (KeyError, TypeError):
        return getattr(obj, name, None)


def _state(sub: Any) -> SubscriptionState:
    items = _get(_get(sub, "items"), "data") or []
    first = items[0] if items else None
    price = _get(first, "price") if first is not None else None
    # The period end moved from the subscription to its items in newer API versions.
    period_end = _get(sub, "current_period_end") or (
        _get(first, "current_period_end") if first is not None else None
    )
    metadata = _get(sub, "metadata") or {}
    customer = _get(sub, "customer")
    return SubscriptionState(
        id=str(_get(sub, "id")),
        customer_id=str(customer if isinstance(customer, str) else _get(customer, "id")),
        status=str(_get(sub, "status")),
        price_id=str(_get(price, "id")) if price is not None else None,
        item_id=str(_get(first, "id")) if first is not None else None,
        current_period_end=int(period_end) if period_end is not None else None,
        cancel_at_period_end=bool(_get(sub, "cancel_at_period_end")),
        org_id=_get(metadata, "org_id"),
        version=int(_get(sub, "created") or 0),
    )


class StripeGateway:
    def __init__(self, *, api_key: str, api_base: str, webhook_secret: str | None) -> None:
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            # requests, not the SDK's httpx client: that one hands httpx raw bytes as ``data``,
            # which httpx deprecates (a DeprecationWarning on every call).
            http_client=stripe.RequestsClient(),
            max_network_retries=2,
        )
        self._webhook_secret = webhook_secret

    async def _call(self, what: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(method, *args, **kwargs)
        except stripe.StripeError as error:
            message = getattr(error, "user_message", None) or str(error) or type(error).__name__
            raise StripeUnavailableError(f"Stripe refused to {what}: {message}") from None

    async def ensure_customer(self, *, org_id: uuid.UUID, name: str, email: str | None) -> str:
        """The org's Stripe customer, created once however often this is retried."""
        params: dict[str, Any] = {"name": name, "metadata": {"org_id": str(org_id)}}
        if email:
            params["email"] = email
        customer = await self._call(
            "create the customer",
            self._client.v1.customers.create,
            params,
            {"idempotency_key": f"liftos-customer-{org_id}"},
        )
        return str(customer.id)

    async def checkout_url(
        self,
        *,
        org_id: uuid.UUID,
        customer_id: str,
        plan: str,
        price_id: str,
        success_url: str,
        cancel_url: str,
        attempt: str,
    ) -> tuple[str, str]:
        """A Checkout Session for the plan's price: (session id, URL). ``attempt`` makes the
        idempotency key (the same attempt retried gets the same session)."""
        metadata = {"org_id": str(org_id), "plan": plan}
        session = await self._call(
            "open a checkout session",
            self._client.v1.checkout.sessions.create,
            {
                "mode": "subscription",
                "customer": customer_id,
                "client_reference_id": str(org_id),
                "line_items": [{"price": price_id, "quantity": 1}],
                "success_url": success_url,
                "cancel_url": cancel_url,
                "metadata": metadata,
                "subscription_data": {"metadata": metadata},
            },
            {"idempotency_key": f"liftos-checkout-{org_id}-{plan}-{attempt}"},
        )
        return str(session.id), str(session.url)

    async def portal_url(self, *, customer_id: str, return_url: str) -> str:
        session = await self._call(
            "open the customer portal",
            self._client.v1.billing_portal.sessions.create,
            {"customer": customer_id, "return_url": return_url},
        )
        return str(session.url)

    async def subscription(self, subscription_id: str) -> SubscriptionState:
        sub = await self._call(
            "read the subscription",
            self._client.v1.subscriptions.retrieve,
            subscription_id,
        )
        return _state(sub)

    async def change_price(
        self, state: SubscriptionState, *, price_id: str, plan: str
    ) -> SubscriptionState:
        """Move the subscription to another price now, prorated."""
        sub = await self._call(
            "change the plan",
            self._client.v1.subscriptions.update,
            state.id,
            {
                "items": [{"id": state.item_id, "price": price_id}],
                "proration_behavior": "create_prorations",
                "cancel_at_period_end": False,
                "metadata": {"org_id": state.org_id or "", "plan": plan},
            },
            {"idempotency_key": f"liftos-change-{state.id}-{price_id}-{state.version}"},
        )
        return _state(sub)

    async def cancel_at_period_end(self, state: SubscriptionState) -> SubscriptionState:
        sub = await self._call(
            "cancel the subscription",
            self._client.v1.subscriptions.update,
            state.id,
            {"cancel_at_period_end": True},
            {"idempotency_key": f"liftos-cancel-{state.id}-{state.version}"},
        )
        return _state(sub)

    async def report_usage(
        self, *, event_name: str, customer_id: str, value: float, identifier: str
    ) -> None:
        """One Billing Meter event; Stripe keeps one event per ``identifier``, so a retried
        report is not counted twice."""
        await self._call(
            "record usage",
            self._client.v1.billing.meter_events.create,
            {
                "event_name": event_name,
                "identifier": identifier,
                "payload": {"stripe_customer_id": customer_id, "value": f"{value:g}"},
            },
            {"idempotency_key": f"liftos-meter-{identifier}"},
        )

    def verify(self, payload: bytes, signature: str | None) -> WebhookEvent:
        """The event, when ``signature`` (the Stripe-Signature header) verifies over the raw
        ``payload`` with the webhook secret; otherwise :class:`BadSignatureError`."""
        if self._webhook_secret is None:
            raise BadSignatureError("no webhook secret is configured")
        try:
            event = stripe.Webhook.construct_event(payload, signature, self._webhook_secret)
        except stripe.SignatureVerificationError as error:
            raise BadSignatureError(str(error)) from None
        except ValueError as error:
            raise BadSignatureError(f"not a Stripe event: {error}") from None
        obj = _get(_get(event, "data"), "object")
        metadata = _get(obj, "metadata") or {}
        kind = _get(obj, "object")
        subscription = _get(obj, "subscription") if kind != "subscription" else _get(obj, "id")
        customer = _get(obj, "customer")
        return WebhookEvent(
            id=str(_get(event, "id")),
            type=str(_get(event, "type")),
            created=int(_get(event, "created") or 0),
            object_id=_get(obj, "id"),
            customer_id=customer if isinstance(customer, str) else _get(customer, "id"),
            subscription_id=subscription
            if isinstance(subscription, str | None)
            else str(_get(subscription, "id")),
            org_id=_get(metadata, "org_id") or _get(obj, "client_reference_id"),
        )
