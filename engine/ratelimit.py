"""Rate-limit plans and the GCRA decision shared with the Redis Lua script.

GCRA (generic cell rate algorithm) keeps one number per key, the theoretical arrival time
(TAT): when the next request would be due if traffic arrived exactly at the sustained rate.
A request is allowed while the TAT is at most ``burst_tolerance_us`` ahead of now, so a
client that was idle may send ``burst`` requests at the same instant; the next one is denied
until one emission interval has passed. All arithmetic is integer milliseconds so that the
Lua mirror of ``gcra_decide`` gives bit-identical answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "DEFAULT_PLANS",
    "GcraDecision",
    "RateLimit",
    "RatePlan",
    "gcra_decide",
    "parse_plans",
    "retry_after_seconds",
]

_US_PER_MINUTE = 60_000_000


def _is_positive_int(value: object) -> bool:
    # bool is an int subclass; a JSON true must not read as a rate of 1.
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@dataclass(frozen=True)
class RateLimit:
    """A sustained rate plus how many requests may arrive back to back.

    Time is in whole microseconds (Redis TIME's resolution), so the emission interval is exact
    to within 1 µs at any rate a plan would set.
    """

    requests_per_minute: int
    burst: int

    def __post_init__(self) -> None:
        if not _is_positive_int(self.requests_per_minute):
            raise ValueError("requests_per_minute must be a positive integer")
        if not _is_positive_int(self.burst):
            raise ValueError("burst must be a positive integer")

    @property
    def emission_interval_us(self) -> int:
        """Milliseconds between requests at the sustained rate (T), at least 1."""
        return max(1, _US_PER_MINUTE // self.requests_per_minute)

    @property
    def burst_tolerance_us(self) -> int:
        """How far ahead of now the TAT may run before requests are denied."""
        return self.emission_interval_us * (self.burst - 1)


@dataclass(frozen=True)
class RatePlan:
    """Limits for one billing plan: ``principal`` per user or API key, ``org`` shared."""

    name: str
    principal: RateLimit
    org: RateLimit


DEFAULT_PLANS: Mapping[str, RatePlan] = MappingProxyType(
    {
        "free": RatePlan(
            name="free",
            principal=RateLimit(requests_per_minute=600, burst=60),
            org=RateLimit(requests_per_minute=1200, burst=120),
        ),
        "pro": RatePlan(
            name="pro",
            principal=RateLimit(requests_per_minute=6000, burst=300),
            org=RateLimit(requests_per_minute=30000, burst=1000),
        ),
        "enterprise": RatePlan(
            name="enterprise",
            principal=RateLimit(requests_per_minute=60000, burst=2000),
            org=RateLimit(requests_per_minute=300000, burst=10000),
        ),
    }
)

_SCOPES = ("principal", "org")
_LIMIT_FIELDS = ("requests_per_minute", "burst")


def _parse_limit(where: str, raw: object) -> RateLimit:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be an object")
    unknown = sorted(str(k) for k in raw if k not in _LIMIT_FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}")
    values: dict[str, int] = {}
    for field in _LIMIT_FIELDS:
        if field not in raw:
            raise ValueError(f"{where}: missing key {field!r}")
        value = raw[field]
        if not _is_positive_int(value):
            raise ValueError(f"{where}.{field} must be a positive integer, got {value!r}")
        values[field] = value
    return RateLimit(requests_per_minute=values["requests_per_minute"], burst=values["burst"])


def parse_plans(raw: Mapping[str, Mapping[str, Mapping[str, int]]]) -> dict[str, RatePlan]:
    """Build plans from JSON-shaped config such as
    ``{"free": {"principal": {"requests_per_minute": 600, "burst": 60}, "org": {...}}}``.

    Raises ValueError naming the offending path (e.g. ``free.org.burst``).
    """
    # Config arrives from JSON/env, so the declared types are checked rather than trusted.
    if not isinstance(raw, Mapping):
        raise ValueError("rate-limit plans must be an object of plan name to plan")
    plans: dict[str, RatePlan] = {}
    for name, body in raw.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"plan name {name!r} must be a non-empty string")
        if not isinstance(body, Mapping):
            raise ValueError(f"{name} must be an object with 'principal' and 'org'")
        unknown = sorted(str(k) for k in body if k not in _SCOPES)
        if unknown:
            raise ValueError(f"{name}: unknown key {unknown[0]!r}")
        for scope in _SCOPES:
            if scope not in body:
                raise ValueError(f"{name}: missing key {scope!r}")
        plans[name] = RatePlan(
            name=name,
            principal=_parse_limit(f"{name}.principal", body["principal"]),
            org=_parse_limit(f"{name}.org", body["org"]),
        )
    return plans


@dataclass(frozen=True)
class GcraDecision:
    """Outcome of one request. Store ``new_tat_us`` back (it is unchanged when denied)."""

    allowed: bool
    new_tat_us: int
    retry_after_us: int
    remaining: int


def gcra_decide(*, tat_us: int | None, now_us: int, limit: RateLimit) -> GcraDecision:
    """Decide one request given the stored TAT (None for a key never seen or expired).

    With T = emission interval and tau = burst tolerance::

        tat      = max(tat_us or now, now)
        new_tat  = tat + T
        allow_at = new_tat - (tau + T)
        now <  allow_at -> denied, retry after allow_at - now, TAT unchanged
        now >= allow_at -> allowed, TAT = new_tat, remaining = (now - allow_at) // T

    Any change here must be made identically in the Redis Lua script.
    """
    interval = limit.emission_interval_us
    tat = max(tat_us if tat_us is not None else now_us, now_us)
    new_tat = tat + interval
    allow_at = new_tat - (limit.burst_tolerance_us + interval)
    if now_us < allow_at:
        return GcraDecision(
            allowed=False, new_tat_us=tat, retry_after_us=allow_at - now_us, remaining=0
        )
    return GcraDecision(
        allowed=True,
        new_tat_us=new_tat,
        retry_after_us=0,
        remaining=(now_us - allow_at) // interval,
    )


def retry_after_seconds(retry_after_us: int) -> int:
    """Whole seconds for a Retry-After header: rounded up, never 0 (0 invites a hot retry)."""
    return max(1, -(-retry_after_us // 1_000_000))
