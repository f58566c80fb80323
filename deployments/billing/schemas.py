"""Request and response bodies of /billing (storage rows live in cluster.repositories.billing)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubscribeRequest(_Request):
    plan: str = Field(min_length=1, max_length=50, description="free, pro or enterprise")
    attempt: str = Field(
        default="1",
        pattern=r"^[A-Za-z0-9_-]{1,40}$",
        description="retrying the same attempt returns the same checkout session",
    )


class PlanOut(_Response):
    name: str
    rank: int
    rate_plan: str
    purchasable: bool
    quotas: dict[str, float | None]


class SubscriptionOut(_Response):
    billing_enabled: bool
    plan: str
    subscription_id: str | None
    status: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    grace_until: datetime | None
    has_customer: bool
    plans: list[PlanOut]


class SubscribeOut(_Response):
    checkout_url: str | None = Field(description="send the customer here to pay (new plans)")
    checkout_session_id: str | None
    subscription: SubscriptionOut
    message: str


class PortalOut(_Response):
    url: str


class WebhookOut(_Response):
    received: bool
    event_id: str
    type: str
    applied: bool
    detail: str


class MeterUsageOut(_Response):
    meter: str
    used: float
    quota: float | None = Field(description="this month's limit on the org's plan; null: none")
    remaining: float | None
    reported_to_stripe: float


class UsageOut(_Response):
    plan: str
    period_start: date
    enforced: bool = Field(description="quotas are enforced while billing is on")
    meters: list[MeterUsageOut]
