from typing import Any

import pytest

from engine.ratelimit import (
    DEFAULT_PLANS,
    GcraDecision,
    RateLimit,
    RatePlan,
    gcra_decide,
    parse_plans,
    retry_after_seconds,
)

NOW = 1_700_000_000_000_000  # microseconds
SECOND = 1_000_000


def run(limit: RateLimit, times: list[int], tat: int | None = None) -> list[GcraDecision]:
    decisions = []
    for now in times:
        decision = gcra_decide(tat_us=tat, now_us=now, limit=limit)
        tat = decision.new_tat_us
        decisions.append(decision)
    return decisions


def test_limit_properties() -> None:
    limit = RateLimit(requests_per_minute=60, burst=5)
    assert limit.emission_interval_us == SECOND
    assert limit.burst_tolerance_us == 4 * SECOND
    assert RateLimit(requests_per_minute=7, burst=1).emission_interval_us == 8_571_428
    assert RateLimit(requests_per_minute=7, burst=1).burst_tolerance_us == 0


def test_high_rates_keep_their_resolution() -> None:
    assert RateLimit(requests_per_minute=300_000, burst=1).emission_interval_us == 200
    assert RateLimit(requests_per_minute=60_000, burst=1).emission_interval_us == 1000
    assert RateLimit(requests_per_minute=120_000_000, burst=1).emission_interval_us == 1


@pytest.mark.parametrize(
    ("rpm", "burst"), [(0, 1), (1, 0), (-5, 1), (1, -1), (True, 1), (1, True), (1.5, 1)]
)
def test_limit_validation(rpm: Any, burst: Any) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        RateLimit(requests_per_minute=rpm, burst=burst)


def test_burst_then_denied() -> None:
    limit = RateLimit(requests_per_minute=60, burst=5)
    decisions = run(limit, [NOW] * 6)
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    denied = decisions[-1]
    assert denied.retry_after_us == SECOND
    assert denied.new_tat_us == decisions[-2].new_tat_us == NOW + 5 * SECOND


def test_denied_request_does_not_consume() -> None:
    limit = RateLimit(requests_per_minute=60, burst=2)
    first, second, third, fourth = run(limit, [NOW, NOW, NOW + 400_000, NOW + SECOND])
    assert first.allowed
    assert second.allowed
    assert not third.allowed
    assert third.retry_after_us == 600_000
    assert fourth.allowed
    assert fourth.remaining == 0


def test_refill_after_time_passes() -> None:
    limit = RateLimit(requests_per_minute=60, burst=3)
    tat = run(limit, [NOW] * 3)[-1].new_tat_us
    assert not gcra_decide(tat_us=tat, now_us=NOW + SECOND - 1, limit=limit).allowed
    one = gcra_decide(tat_us=tat, now_us=NOW + SECOND, limit=limit)
    assert one.allowed
    assert one.remaining == 0
    full = gcra_decide(tat_us=tat, now_us=NOW + 60 * SECOND, limit=limit)
    assert full.allowed
    assert full.remaining == 2
    assert full.new_tat_us == NOW + 61 * SECOND


def test_fresh_key() -> None:
    limit = RateLimit(requests_per_minute=600, burst=60)
    decision = gcra_decide(tat_us=None, now_us=NOW, limit=limit)
    assert decision == GcraDecision(
        allowed=True, new_tat_us=NOW + 100_000, retry_after_us=0, remaining=59
    )


def test_stale_tat_is_same_as_fresh() -> None:
    limit = RateLimit(requests_per_minute=600, burst=60)
    stale = gcra_decide(tat_us=NOW - 10_000_000, now_us=NOW, limit=limit)
    assert stale == gcra_decide(tat_us=None, now_us=NOW, limit=limit)


def test_burst_of_one_is_strict_spacing() -> None:
    limit = RateLimit(requests_per_minute=60, burst=1)
    decisions = run(limit, [NOW, NOW + SECOND - 1, NOW + SECOND])
    assert [d.allowed for d in decisions] == [True, False, True]
    assert decisions[1].retry_after_us == 1


def test_sustained_rate_matches_limit() -> None:
    limit = RateLimit(requests_per_minute=120, burst=10)
    # One request every 10 ms for a minute: only burst + 120 can pass.
    decisions = run(limit, [NOW + i * 10_000 for i in range(6000)])
    allowed = sum(d.allowed for d in decisions)
    assert 10 + 119 <= allowed <= 10 + 120


def test_retry_after_seconds() -> None:
    assert retry_after_seconds(0) == 1
    assert retry_after_seconds(1) == 1
    assert retry_after_seconds(SECOND) == 1
    assert retry_after_seconds(SECOND + 1) == 2
    assert retry_after_seconds(59 * SECOND + 1) == 60


def test_default_plans() -> None:
    assert set(DEFAULT_PLANS) == {"free", "pro", "enterprise"}
    assert DEFAULT_PLANS["free"] == RatePlan(
        name="free",
        principal=RateLimit(requests_per_minute=600, burst=60),
        org=RateLimit(requests_per_minute=1200, burst=120),
    )
    assert DEFAULT_PLANS["pro"].principal == RateLimit(6000, 300)
    assert DEFAULT_PLANS["pro"].org == RateLimit(30000, 1000)
    assert DEFAULT_PLANS["enterprise"].principal == RateLimit(60000, 2000)
    assert DEFAULT_PLANS["enterprise"].org == RateLimit(300000, 10000)
    for name, plan in DEFAULT_PLANS.items():
        assert plan.name == name
    with pytest.raises(TypeError):
        DEFAULT_PLANS["free"] = DEFAULT_PLANS["pro"]  # type: ignore[index]


def good_raw() -> dict[str, Any]:
    return {
        "free": {
            "principal": {"requests_per_minute": 600, "burst": 60},
            "org": {"requests_per_minute": 1200, "burst": 120},
        },
        "team": {
            "principal": {"requests_per_minute": 10, "burst": 2},
            "org": {"requests_per_minute": 20, "burst": 4},
        },
    }


def test_parse_plans() -> None:
    plans = parse_plans(good_raw())
    assert plans["free"] == DEFAULT_PLANS["free"]
    assert plans["team"].org == RateLimit(20, 4)
    assert parse_plans({}) == {}


def test_parse_plans_round_trips_defaults() -> None:
    raw = {
        name: {
            scope: {
                "requests_per_minute": getattr(plan, scope).requests_per_minute,
                "burst": getattr(plan, scope).burst,
            }
            for scope in ("principal", "org")
        }
        for name, plan in DEFAULT_PLANS.items()
    }
    assert parse_plans(raw) == dict(DEFAULT_PLANS)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda r: r["free"].pop("org"), r"free: missing key 'org'"),
        (lambda r: r["free"].update(extra={}), r"free: unknown key 'extra'"),
        (lambda r: r["free"]["org"].pop("burst"), r"free\.org: missing key 'burst'"),
        (lambda r: r["team"]["principal"].update(rps=1), r"team\.principal: unknown key 'rps'"),
        (lambda r: r["free"]["org"].update(burst=0), r"free\.org\.burst must be a positive"),
        (
            lambda r: r["team"]["principal"].update(requests_per_minute="60"),
            r"team\.principal\.requests_per_minute must be a positive",
        ),
        (lambda r: r["free"]["org"].update(burst=True), r"free\.org\.burst"),
        (lambda r: r["free"].update(org=[1, 2]), r"free\.org must be an object"),
        (lambda r: r.update(gold=5), r"gold must be an object"),
        (lambda r: r.update({"": r["free"]}), r"plan name '' must be"),
    ],
)
def test_parse_plans_errors(mutate: Any, fragment: str) -> None:
    raw = good_raw()
    mutate(raw)
    with pytest.raises(ValueError, match=fragment):
        parse_plans(raw)
