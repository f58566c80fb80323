"""/billing: subscribe, the subscription, the customer portal, cancel, and Stripe's webhooks.

Owners manage billing (``billing:manage``), admins read it (``billing:read``). The webhook is
public: its Stripe signature over the raw body is its credential.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request

from cluster import usage_counter
from cluster.repositories import auth as auth_repo
from cluster.repositories import billing as repo
from cluster.repositories import memory as memory_repo
from deployments.billing import quotas, service
from deployments.billing.schemas import (
    MeterUsageOut,
    PlanOut,
    PortalOut,
    SubscribeOut,
    SubscribeRequest,
    SubscriptionOut,
    UsageOut,
    WebhookOut,
)
from deployments.billing.stripe_gateway import StripeGateway
from deployments.common.principal import Principal
from deployments.common.security import require, runtime_of
from engine.auth.rbac import Permission
from engine.billing.plans import LEVEL_METERS, METERS

router = APIRouter(prefix="/billing", tags=["billing"])


def _gateway(request: Request) -> StripeGateway:
    gateway: StripeGateway | None = getattr(request.app.state, "stripe_gateway", None)
    if gateway is None:
        gateway = service.gateway_of(runtime_of(request).settings)
        request.app.state.stripe_gateway = gateway
    return gateway


async def _subscription(request: Request, org_id: uuid.UUID) -> SubscriptionOut:
    runtime = runtime_of(request)
    settings = runtime.settings
    account = await repo.get_account(runtime.db, org_id=org_id)
    org = await auth_repo.get_org(runtime.db, org_id=org_id)
    return SubscriptionOut(
        billing_enabled=settings.billing_enabled,
        plan=org.plan if org else service.FREE,
        subscription_id=account.subscription_id if account else None,
        status=account.subscription_status if account else None,
        current_period_end=account.current_period_end if account else None,
        cancel_at_period_end=account.cancel_at_period_end if account else False,
        grace_until=account.grace_until if account else None,
        has_customer=bool(account and account.stripe_customer_id),
        plans=[
            PlanOut(
                name=p.name,
                rank=p.rank,
                rate_plan=p.rate_plan,
                purchasable=p.price_id is not None,
                quotas=dict(p.quotas),
            )
            for p in sorted(settings.billing_plans.values(), key=lambda p: (p.rank, p.name))
        ],
    )


@router.post("/subscribe", response_model=SubscribeOut)
async def subscribe(
    body: SubscribeRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.BILLING_MANAGE)),
) -> SubscribeOut:
    """A Stripe Checkout link for a new subscription, or, when the org already pays, the plan
    changed at once with proration."""
    result = await service.subscribe(
        runtime_of(request),
        _gateway(request),
        org_id=principal.org_id,
        principal=principal,
        plan_name=body.plan,
        attempt=body.attempt,
    )
    return SubscribeOut(
        checkout_url=result.checkout_url,
        checkout_session_id=result.checkout_session_id,
        subscription=await _subscription(request, principal.org_id),
        message="open checkout_url to pay; the plan changes when Stripe confirms the payment"
        if result.checkout_url
        else f"the subscription moved to '{body.plan}', prorated",
    )


@router.get("/subscription", response_model=SubscriptionOut)
async def subscription(
    request: Request, principal: Principal = Depends(require(Permission.BILLING_READ))
) -> SubscriptionOut:
    return await _subscription(request, principal.org_id)


@router.get("/usage", response_model=UsageOut)
async def usage(
    request: Request, principal: Principal = Depends(require(Permission.BILLING_READ))
) -> UsageOut:
    """This month's usage per meter against the plan's quota. ``api_calls`` includes the calls
    counted in Redis and not yet flushed to PostgreSQL; ``memory_bytes`` is the level now."""
    runtime = runtime_of(request)
    settings = runtime.settings
    org_id = principal.org_id
    plan_name = await quotas.current_plan(runtime, org_id=org_id)
    plan = settings.billing_plans.get(plan_name)
    period = repo.current_period()
    rows = {r.meter: r for r in await repo.usage(runtime.db, org_id=org_id, period=period)}
    live = {
        usage_counter.METER: float(await usage_counter.pending(runtime.redis, org_id, period)),
        "memory_bytes": float(await memory_repo.stored_bytes(runtime.db, org_id=org_id)),
    }
    meters = []
    for meter in METERS:
        row = rows.get(meter)
        used = row.quantity if row else 0.0
        if meter in LEVEL_METERS:
            used = live[meter]
        elif meter in live:
            used += live[meter]
        quota = plan.quota(meter) if plan else None
        meters.append(
            MeterUsageOut(
                meter=meter,
                used=used,
                quota=quota,
                remaining=None if quota is None else max(quota - used, 0.0),
                reported_to_stripe=row.reported if row else 0.0,
            )
        )
    return UsageOut(
        plan=plan_name,
        period_start=repo.current_period(),
        enforced=settings.billing_enabled,
        meters=meters,
    )


@router.post("/portal", response_model=PortalOut)
async def portal(
    request: Request, principal: Principal = Depends(require(Permission.BILLING_MANAGE))
) -> PortalOut:
    """A link to Stripe's customer portal (payment methods, invoices)."""
    url = await service.portal(runtime_of(request), _gateway(request), org_id=principal.org_id)
    return PortalOut(url=url)


@router.post("/cancel", response_model=SubscriptionOut)
async def cancel(
    request: Request, principal: Principal = Depends(require(Permission.BILLING_MANAGE))
) -> SubscriptionOut:
    """Cancel at the end of the paid period (the plan stays until then)."""
    await service.cancel(runtime_of(request), _gateway(request), org_id=principal.org_id)
    return await _subscription(request, principal.org_id)


@router.post("/webhooks/stripe", response_model=WebhookOut)
async def stripe_webhook(request: Request) -> WebhookOut:
    """Stripe's events, verified on the raw body; each event id is applied once."""
    outcome = await service.webhook(
        runtime_of(request),
        _gateway(request),
        payload=await request.body(),
        signature=request.headers.get("stripe-signature"),
    )
    return WebhookOut(
        received=True,
        event_id=outcome.event_id,
        type=outcome.type,
        applied=outcome.applied,
        detail=outcome.detail,
    )
