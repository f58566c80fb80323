"""Billing plans: what each plan costs on Stripe, which rate limits it gets, and its monthly
quotas per metered action; and the quota decision the services ask before they act.

Meters (``METERS``) are counted per org per calendar month (UTC):

- ``api_calls``: authenticated requests through the gateway and module ingresses;
- ``mmm_fits``: causal fits started; ``fit_cpu_seconds``: the CPU seconds they held;
- ``audited_products``: products in surfacing audits started;
- ``llm_spend_usd``: what generations cost at the price table;
- ``memory_bytes``: stored memory content (a level, not a count: the quota bounds the total).

A quota of ``None`` is unlimited. A plan's ``price_id`` is the Stripe price its subscription
uses (``None`` for the free plan, which needs no subscription).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import MappingProxyType

METERS = (
    "api_calls",
    "mmm_fits",
    "fit_cpu_seconds",
    "audited_products",
    "llm_spend_usd",
    "memory_bytes",
)
# Meters measured as a level (what is stored now), not summed over the month.
LEVEL_METERS = frozenset({"memory_bytes"})


class PlanError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class BillingPlan:
    name: str
    price_id: str | None
    rate_plan: str  # the gateway's rate-limit plan of the same org
    quotas: Mapping[str, float | None] = field(default_factory=dict)
    rank: int = 0  # upgrades go up in rank

    def quota(self, meter: str) -> float | None:
        return self.quotas.get(meter)


DEFAULT_BILLING_PLANS: Mapping[str, BillingPlan] = MappingProxyType(
    {
        "free": BillingPlan(
            name="free",
            price_id=None,
            rate_plan="free",
            quotas=MappingProxyType(
                {
                    "api_calls": 50_000,
                    "mmm_fits": 10,
                    "fit_cpu_seconds": 3_600,
                    "audited_products": 5_000,
                    "llm_spend_usd": 5.0,
                    "memory_bytes": 100 * 1024**2,
                }
            ),
            rank=0,
        ),
        "pro": BillingPlan(
            name="pro",
            price_id=None,
            rate_plan="pro",
            quotas=MappingProxyType(
                {
                    "api_calls": 2_000_000,
                    "mmm_fits": 500,
                    "fit_cpu_seconds": 360_000,
                    "audited_products": 500_000,
                    "llm_spend_usd": 500.0,
                    "memory_bytes": 20 * 1024**3,
                }
            ),
            rank=1,
        ),
        "enterprise": BillingPlan(
            name="enterprise",
            price_id=None,
            rate_plan="enterprise",
            quotas=MappingProxyType(dict.fromkeys(METERS)),
            rank=2,
        ),
    }
)


def parse_billing_plans(raw: Mapping[str, object]) -> dict[str, BillingPlan]:
    """Plans from JSON: ``{"pro": {"price_id": "price_…", "rate_plan": "pro", "rank": 1,
    "quotas": {"mmm_fits": 500, "api_calls": null}}, …}``; errors name the place."""
    plans: dict[str, BillingPlan] = {}
    for name, value in raw.items():
        where = f"billing_plans.{name}"
        if not isinstance(value, Mapping):
            raise PlanError(where, "must be an object with price_id, rate_plan and quotas")
        unknown = set(value) - {"price_id", "rate_plan", "quotas", "rank"}
        if unknown:
            raise PlanError(where, f"unknown keys: {', '.join(sorted(unknown))}")
        price_id = value.get("price_id")
        if price_id is not None and not (isinstance(price_id, str) and price_id):
            raise PlanError(f"{where}.price_id", "must be a Stripe price id or null")
        rate_plan = value.get("rate_plan", name)
        if not isinstance(rate_plan, str):
            raise PlanError(f"{where}.rate_plan", "must be the name of a rate-limit plan")
        rank = value.get("rank", 0)
        if isinstance(rank, bool) or not isinstance(rank, int):
            raise PlanError(f"{where}.rank", "must be an integer")
        quotas_raw = value.get("quotas", {})
        if not isinstance(quotas_raw, Mapping):
            raise PlanError(f"{where}.quotas", "must be an object of meter -> limit")
        quotas: dict[str, float | None] = {}
        for meter, limit in quotas_raw.items():
            if meter not in METERS:
                raise PlanError(
                    f"{where}.quotas.{meter}", f"unknown meter; meters: {', '.join(METERS)}"
                )
            if limit is not None and (
                isinstance(limit, bool)
                or not isinstance(limit, int | float)
                or not math.isfinite(limit)
                or limit < 0
            ):
                raise PlanError(f"{where}.quotas.{meter}", "must be a number >= 0 or null")
            quotas[meter] = None if limit is None else float(limit)
        plans[name] = BillingPlan(
            name=name,
            price_id=price_id,
            rate_plan=rate_plan,
            quotas=MappingProxyType(quotas),
            rank=rank,
        )
    return plans


def period_of(moment: datetime) -> date:
    """The first day (UTC) of the calendar month a usage is counted in."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return date(moment.year, moment.month, 1)


@dataclass(frozen=True)
class QuotaDecision:
    meter: str
    allowed: bool
    limit: float | None
    used: float
    requested: float

    @property
    def remaining(self) -> float | None:
        return None if self.limit is None else max(self.limit - self.used, 0.0)


def decide(plan: BillingPlan, meter: str, *, used: float, requested: float) -> QuotaDecision:
    """Whether ``requested`` more of ``meter`` fits in the plan's quota given ``used``."""
    if meter not in METERS:
        raise ValueError(f"unknown meter {meter!r}")
    limit = plan.quota(meter)
    allowed = limit is None or used + requested <= limit + 1e-9
    return QuotaDecision(meter, allowed, limit, used, requested)


def upgrade_for(
    plans: Mapping[str, BillingPlan], current: BillingPlan, meter: str, needed: float
) -> BillingPlan | None:
    """The lowest-ranked plan above ``current`` whose quota admits ``needed`` of ``meter``."""
    better = sorted(
        (p for p in plans.values() if p.rank > current.rank), key=lambda p: (p.rank, p.name)
    )
    for plan in better:
        limit = plan.quota(meter)
        if limit is None or needed <= limit:
            return plan
    return None
