"""The billing use cases: subscribe (Checkout, or a prorated plan change), the subscription,
the customer portal, cancellation, and Stripe's webhooks.

The org's plan follows its Stripe subscription as Stripe reports it: every event that concerns
a subscription is answered by reading the subscription's current state from Stripe, so events
that arrive late or out of order cannot roll the plan back; each event id is applied once (its
id and its effect are stored in one transaction). A failed payment keeps the plan for
``LIFTOS_BILLING_GRACE_DAYS``; past that, or when the subscription ends, the org is on free.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cluster.repositories import auth as auth_repo
from cluster.repositories import billing as repo
from cluster.settings import Settings
from deployments.billing.stripe_gateway import (
    BadSignatureError,
    StripeGateway,
    StripeUnavailableError,
    SubscriptionState,
    WebhookEvent,
)
from deployments.common.errors import ApiError
from deployments.common.principal import Principal
from deployments.common.runtime import Runtime
from engine.billing.plans import BillingPlan

FREE = "free"
LIVE = frozenset({"active", "trialing"})
# Stripe's subscription statuses after which nothing more will be paid.
ENDED = frozenset({"canceled", "unpaid", "incomplete_expired"})
# Events whose subscription LiftOS reads back and applies.
SUBSCRIPTION_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.paid",
        "invoice.payment_failed",
    }
)


def disabled() -> ApiError:
    return ApiError(
        503,
        "billing_disabled",
        "billing is not configured on this deployment: set LIFTOS_STRIPE_API_KEY and "
        "LIFTOS_STRIPE_WEBHOOK_SECRET (see docs/billing.md); every org is on its plan's "
        "limits without a subscription",
    )


def gateway_of(settings: Settings) -> StripeGateway:
    if settings.stripe_api_key is None:
        raise disabled()
    return StripeGateway(
        api_key=settings.stripe_api_key.get_secret_value(),
        api_base=settings.stripe_api_base,
        webhook_secret=settings.stripe_webhook_secret.get_secret_value()
        if settings.stripe_webhook_secret
        else None,
    )


def _stripe_error(error: StripeUnavailableError) -> ApiError:
    return ApiError(502, "stripe_unavailable", str(error))


def plan_named(settings: Settings, name: str) -> BillingPlan:
    plan = settings.billing_plans.get(name)
    if plan is None:
        raise ApiError(
            422,
            "validation_error",
            f"plan: unknown plan '{name}'; plans: {', '.join(settings.billing_plans)}",
            field="plan",
        )
    return plan


def plan_of_price(settings: Settings, price_id: str | None) -> BillingPlan | None:
    return next((p for p in settings.billing_plans.values() if p.price_id == price_id), None)


@dataclass(frozen=True)
class Subscribed:
    checkout_url: str | None
    checkout_session_id: str | None
    account: repo.AccountRow | None


async def _customer(
    runtime: Runtime, gateway: StripeGateway, *, org_id: uuid.UUID, principal: Principal
) -> repo.AccountRow:
    account = await repo.get_account(runtime.db, org_id=org_id)
    if account is not None and account.stripe_customer_id:
        return account
    org = await auth_repo.get_org(runtime.db, org_id=org_id)
    user = (
        await auth_repo.get_user(runtime.db, org_id=org_id, user_id=principal.id)
        if principal.kind == "user"
        else None
    )
    try:
        customer = await gateway.ensure_customer(
            org_id=org_id, name=org.name if org else str(org_id), email=user.email if user else None
        )
    except StripeUnavailableError as error:
        raise _stripe_error(error) from None
    return await repo.save_customer(runtime.db, org_id=org_id, customer_id=customer)


def change_of(
    settings: Settings, state: SubscriptionState, account: repo.AccountRow | None
) -> repo.SubscriptionChange:
    """The account a subscription's current state implies."""
    now = datetime.now(UTC)
    priced = plan_of_price(settings, state.price_id)
    grace_until = account.grace_until if account else None
    if state.status in LIVE and priced is not None:
        plan, grace_until = priced.name, None
    elif state.status == "past_due" and priced is not None:
        grace_until = grace_until or now + timedelta(days=settings.billing_grace_days)
        plan = priced.name if now < grace_until else FREE
    else:
        plan = FREE
    return repo.SubscriptionChange(
        subscription_id=state.id,
        status=state.status,
        price_id=state.price_id,
        plan=plan,
        current_period_end=datetime.fromtimestamp(state.current_period_end, UTC)
        if state.current_period_end
        else None,
        cancel_at_period_end=state.cancel_at_period_end,
        grace_until=grace_until,
        # When LiftOS read this state: a later read is never older, whatever the event order.
        version=time.time_ns() // 1000,
    )


async def subscribe(
    runtime: Runtime,
    gateway: StripeGateway,
    *,
    org_id: uuid.UUID,
    principal: Principal,
    plan_name: str,
    attempt: str,
) -> Subscribed:
    settings = runtime.settings
    plan = plan_named(settings, plan_name)
    if plan.price_id is None:
        # Nothing to buy: no Stripe customer is created for it.
        current = await repo.get_account(runtime.db, org_id=org_id)
        if (
            current is None
            or current.subscription_id is None
            or (current.subscription_status in ENDED)
        ):
            raise ApiError(
                409,
                "already_on_plan",
                f"'{plan.name}' needs no subscription, and the org has none to cancel",
                field="plan",
            )
        raise ApiError(
            409,
            "cancel_instead",
            f"'{plan.name}' has no price: cancel the subscription (POST /billing/cancel) and the "
            "org moves to it at the end of the paid period",
            field="plan",
        )
    account = await _customer(runtime, gateway, org_id=org_id, principal=principal)
    live = account.subscription_id is not None and account.subscription_status not in ENDED
    try:
        if live:
            assert account.subscription_id is not None
            state = await gateway.subscription(account.subscription_id)
            if state.price_id == plan.price_id and not state.cancel_at_period_end:
                raise ApiError(
                    409, "already_on_plan", f"the org is already on '{plan.name}'", field="plan"
                )
            state = await gateway.change_price(state, price_id=plan.price_id, plan=plan.name)
            await repo.apply_event(
                runtime.db,
                org_id=org_id,
                event_id=f"liftos-change-{state.id}-{plan.price_id}-{uuid.uuid4().hex}",
                event_type="liftos.plan_change",
                created=int(time.time()),
                change=change_of(settings, state, account),
            )
            return Subscribed(None, None, await repo.get_account(runtime.db, org_id=org_id))
        assert account.stripe_customer_id is not None
        session_id, url = await gateway.checkout_url(
            org_id=org_id,
            customer_id=account.stripe_customer_id,
            plan=plan.name,
            price_id=plan.price_id,
            success_url=settings.billing_success_url,
            cancel_url=settings.billing_cancel_url,
            attempt=attempt,
        )
    except StripeUnavailableError as error:
        raise _stripe_error(error) from None
    return Subscribed(url, session_id, account)


async def portal(runtime: Runtime, gateway: StripeGateway, *, org_id: uuid.UUID) -> str:
    account = await repo.get_account(runtime.db, org_id=org_id)
    if account is None or account.stripe_customer_id is None:
        raise ApiError(409, "no_customer", "the org has no billing account yet: subscribe first")
    try:
        return await gateway.portal_url(
            customer_id=account.stripe_customer_id, return_url=runtime.settings.billing_success_url
        )
    except StripeUnavailableError as error:
        raise _stripe_error(error) from None


async def cancel(runtime: Runtime, gateway: StripeGateway, *, org_id: uuid.UUID) -> repo.AccountRow:
    account = await repo.get_account(runtime.db, org_id=org_id)
    if account is None or account.subscription_id is None or (account.subscription_status in ENDED):
        raise ApiError(409, "no_subscription", "the org has no subscription to cancel")
    try:
        state = await gateway.subscription(account.subscription_id)
        state = await gateway.cancel_at_period_end(state)
    except StripeUnavailableError as error:
        raise _stripe_error(error) from None
    await repo.apply_event(
        runtime.db,
        org_id=org_id,
        event_id=f"liftos-cancel-{state.id}-{uuid.uuid4().hex}",
        event_type="liftos.cancel",
        created=int(time.time()),
        change=change_of(runtime.settings, state, account),
    )
    account = await repo.get_account(runtime.db, org_id=org_id)
    assert account is not None
    return account


@dataclass(frozen=True)
class WebhookOutcome:
    event_id: str
    type: str
    applied: bool  # False: a replay (or an event of no concern), acknowledged and ignored
    detail: str


async def webhook(
    runtime: Runtime, gateway: StripeGateway, *, payload: bytes, signature: str | None
) -> WebhookOutcome:
    try:
        event: WebhookEvent = gateway.verify(payload, signature)
    except BadSignatureError as error:
        raise ApiError(
            400, "bad_signature", f"the webhook's signature does not verify: {error}"
        ) from None
    org_id = (
        await repo.org_of_customer(runtime.db, customer_id=event.customer_id)
        if event.customer_id
        else None
    )
    if org_id is None:
        return WebhookOutcome(event.id, event.type, False, "no org has this Stripe customer")
    change = None
    if event.type in SUBSCRIPTION_EVENTS and event.subscription_id:
        account = await repo.get_account(runtime.db, org_id=org_id)
        try:
            state = await gateway.subscription(event.subscription_id)
        except StripeUnavailableError as error:
            # 502: Stripe retries the delivery later; nothing was recorded.
            raise _stripe_error(error) from None
        change = change_of(runtime.settings, state, account)
    applied = await repo.apply_event(
        runtime.db,
        org_id=org_id,
        event_id=event.id,
        event_type=event.type,
        created=event.created,
        change=change,
    )
    if not applied:
        return WebhookOutcome(event.id, event.type, False, "already processed")
    runtime.org_plans.invalidate(org_id)  # this replica at once, the others within the TTL
    what = f"plan {change.plan} ({change.status})" if change else "recorded"
    return WebhookOutcome(event.id, event.type, True, what)
