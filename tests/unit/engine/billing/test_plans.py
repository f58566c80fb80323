"""Billing plans: parsed from settings with errors that name the place, quota decisions at
the boundary, the upgrade path, and the month a usage is counted in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from engine.billing.plans import (
    DEFAULT_BILLING_PLANS,
    METERS,
    PlanError,
    decide,
    parse_billing_plans,
    period_of,
    upgrade_for,
)


def test_plans_parse_with_their_quotas() -> None:
    plans = parse_billing_plans(
        {
            "free": {"quotas": {"mmm_fits": 2}},
            "pro": {
                "price_id": "price_123",
                "rate_plan": "pro",
                "rank": 1,
                "quotas": {"mmm_fits": 100, "api_calls": None},
            },
        }
    )
    assert plans["pro"].price_id == "price_123"
    assert plans["pro"].quota("mmm_fits") == 100.0
    assert plans["pro"].quota("api_calls") is None
    assert plans["free"].rate_plan == "free"
    assert plans["free"].price_id is None


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"pro": []}, "billing_plans.pro"),
        ({"pro": {"price": "x"}}, "billing_plans.pro"),
        ({"pro": {"price_id": ""}}, "billing_plans.pro.price_id"),
        ({"pro": {"rank": True}}, "billing_plans.pro.rank"),
        ({"pro": {"quotas": {"fits": 1}}}, "billing_plans.pro.quotas.fits"),
        ({"pro": {"quotas": {"mmm_fits": -1}}}, "billing_plans.pro.quotas.mmm_fits"),
        ({"pro": {"quotas": {"mmm_fits": True}}}, "billing_plans.pro.quotas.mmm_fits"),
    ],
)
def test_bad_plans_name_the_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(PlanError) as raised:
        parse_billing_plans(raw)
    assert raised.value.field == field


def test_quota_decisions_at_the_boundary() -> None:
    free = DEFAULT_BILLING_PLANS["free"]
    limit = free.quota("mmm_fits")
    assert limit is not None
    assert decide(free, "mmm_fits", used=limit - 1, requested=1).allowed
    over = decide(free, "mmm_fits", used=limit, requested=1)
    assert not over.allowed
    assert over.remaining == 0
    enterprise = DEFAULT_BILLING_PLANS["enterprise"]
    assert all(enterprise.quota(m) is None for m in METERS)
    assert decide(enterprise, "api_calls", used=1e12, requested=1e12).allowed
    with pytest.raises(ValueError, match="unknown meter"):
        decide(free, "fits", used=0, requested=1)


def test_the_upgrade_path_is_the_cheapest_plan_that_fits() -> None:
    plans = DEFAULT_BILLING_PLANS
    free = plans["free"]
    assert upgrade_for(plans, free, "mmm_fits", 20) == plans["pro"]
    assert upgrade_for(plans, free, "mmm_fits", 10_000) == plans["enterprise"]
    assert upgrade_for(plans, plans["enterprise"], "mmm_fits", 1) is None


def test_usage_is_counted_in_the_utc_month() -> None:
    assert period_of(datetime(2026, 3, 31, 23, 30, tzinfo=UTC)) == date(2026, 3, 1)
    late = datetime(2026, 3, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert period_of(late) == date(2026, 4, 1)
    assert period_of(datetime(2026, 12, 1)) == date(2026, 12, 1)
