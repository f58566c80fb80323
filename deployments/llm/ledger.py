"""The LLM module's shared state in Redis: budget reservations, deployment cooldowns, the
response cache. Shared by every replica, so limits hold across replicas, not per process.

Budgets: before a provider call the worst-case cost of that call is reserved against every
budget that applies (org, API key, model; per day and per month) in one Lua script, so two
replicas cannot both take the last dollar; after the call the reservation is settled with the
real cost. Amounts are integer nano-dollars, the precision costs are computed and stored in.
A budget's counter starts from what PostgreSQL says was spent in the period (the generations
are the truth; Redis is the fast, atomic copy), so losing Redis loses no spend.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, cast

import redis.asyncio as aioredis

from deployments.llm.router import Health

Period = Literal["day", "month"]
Scope = Literal["org", "api_key", "model"]
NANO = Decimal("1e9")

# KEYS: the budget hashes; ARGV: amount, ttl seconds, then one limit per key.
# Returns {1} when reserved, {0, index, spent, reserved} for the first budget it would break,
# {-1, index} when a budget's counter is not initialised yet (the caller seeds it, retries).
_RESERVE = """
local amount = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 0 then return {-1, i} end
  local spent = tonumber(redis.call('HGET', key, 'spent') or '0')
  local reserved = tonumber(redis.call('HGET', key, 'reserved') or '0')
  if spent + reserved + amount > tonumber(ARGV[2 + i]) then
    return {0, i, spent, reserved}
  end
end
for _, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'reserved', amount)
  redis.call('EXPIRE', key, tonumber(ARGV[2]))
end
return {1}
"""
# KEYS: the budget hashes; ARGV: reserved amount, actual cost.
_SETTLE = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    redis.call('HINCRBY', key, 'reserved', -tonumber(ARGV[1]))
    redis.call('HINCRBY', key, 'spent', tonumber(ARGV[2]))
  end
end
return 1
"""


def to_nano(usd: Decimal) -> int:
    return int((usd * NANO).to_integral_value())


def from_nano(nano: int) -> Decimal:
    return (Decimal(nano) / NANO).quantize(Decimal("0.000000001"))


def period_bounds(period: Period, now: datetime) -> tuple[date, datetime]:
    """(first day of the period, the moment it ends), in UTC."""
    today = now.astimezone(UTC).date()
    if period == "day":
        start = today
        end_day = today + timedelta(days=1)
    else:
        start = today.replace(day=1)
        end_day = (start + timedelta(days=32)).replace(day=1)
    return start, datetime(end_day.year, end_day.month, end_day.day, tzinfo=UTC)


@dataclass(frozen=True)
class BudgetLimit:
    scope: Scope
    target: str  # "" for the org, the API key id, or the model name
    period: Period
    limit_usd: Decimal


@dataclass(frozen=True)
class Breach:
    budget: BudgetLimit
    spent_usd: Decimal
    reserved_usd: Decimal
    resets_at: datetime


@dataclass(frozen=True)
class Reservation:
    keys: tuple[str, ...]
    amount_nano: int

    @property
    def empty(self) -> bool:
        return not self.keys


# What PostgreSQL says a budget's scope spent since the period began.
SpentLoader = Callable[[BudgetLimit, date], Awaitable[Decimal]]


class BudgetLedger:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)

    @staticmethod
    def key(org_id: uuid.UUID, budget: BudgetLimit, start: date) -> str:
        return f"llm:budget:{org_id}:{budget.scope}:{budget.target}:{budget.period}:{start}"

    async def reserve(
        self,
        *,
        org_id: uuid.UUID,
        budgets: Sequence[BudgetLimit],
        amount_usd: Decimal,
        load_spent: SpentLoader,
        now: datetime | None = None,
    ) -> Reservation | Breach:
        if not budgets:
            return Reservation((), 0)
        moment = now or datetime.now(UTC)
        bounds = [period_bounds(b.period, moment) for b in budgets]
        keys = [self.key(org_id, b, start) for b, (start, _) in zip(budgets, bounds, strict=True)]
        ttl = max(int((end - moment).total_seconds()) for _, end in bounds) + 86_400
        amount = to_nano(amount_usd)
        limits = [to_nano(b.limit_usd) for b in budgets]
        for _ in range(len(keys) + 1):
            result = cast(list[Any], await self._reserve(keys=keys, args=[amount, ttl, *limits]))
            status = int(result[0])
            if status == 1:
                return Reservation(tuple(keys), amount)
            index = int(result[1]) - 1
            if status == -1:
                budget = budgets[index]
                spent = await load_spent(budget, bounds[index][0])
                # HSETNX: a replica that seeded it first wins; both read the same history.
                await self._redis.hsetnx(keys[index], "spent", to_nano(spent))
                await self._redis.hsetnx(keys[index], "reserved", 0)
                await self._redis.expire(keys[index], ttl)
                continue
            return Breach(
                budget=budgets[index],
                spent_usd=from_nano(int(result[2])),
                reserved_usd=from_nano(int(result[3])),
                resets_at=bounds[index][1],
            )
        raise RuntimeError("budget counters could not be initialised")

    async def settle(self, reservation: Reservation, *, actual_usd: Decimal) -> None:
        if reservation.empty:
            return
        await self._settle(
            keys=list(reservation.keys), args=[reservation.amount_nano, to_nano(actual_usd)]
        )

    async def spent(
        self, *, org_id: uuid.UUID, budget: BudgetLimit, now: datetime | None = None
    ) -> tuple[Decimal, Decimal] | None:
        """(spent, reserved) now, or None when the counter has not been started."""
        start, _ = period_bounds(budget.period, now or datetime.now(UTC))
        values = await self._redis.hmget(self.key(org_id, budget, start), ["spent", "reserved"])
        if values[0] is None:
            return None
        return from_nano(int(values[0])), from_nano(int(values[1] or 0))


class RedisCooldowns:
    """Deployment health shared across replicas (``deployments.llm.router.CooldownStore``)."""

    def __init__(self, redis: aioredis.Redis, org_id: uuid.UUID) -> None:
        self._redis = redis
        self._prefix = f"llm:health:{org_id}"

    async def health(self, keys: Sequence[str]) -> list[Health]:
        if not keys:
            return []
        kinds = ("cooldown", "failures")
        names = [f"{self._prefix}:{kind}:{key}" for key in keys for kind in kinds]
        values = await self._redis.mget(names)
        return [
            Health(cooling=values[2 * i] is not None, failures=int(values[2 * i + 1] or 0))
            for i in range(len(keys))
        ]

    async def failed(self, key: str, *, threshold: int, cooldown_s: float) -> bool:
        failures_key = f"{self._prefix}:failures:{key}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(failures_key)
            pipe.expire(failures_key, max(1, int(cooldown_s)))
            failures, _ = await pipe.execute()
        if int(failures) >= threshold and cooldown_s > 0:
            await self._redis.set(
                f"{self._prefix}:cooldown:{key}", "1", px=max(1, int(cooldown_s * 1000))
            )
            await self._redis.delete(failures_key)
            return True
        return False

    async def succeeded(self, key: str) -> None:
        await self._redis.delete(f"{self._prefix}:failures:{key}")


class ResponseCache:
    """Identical temperature-0 requests of one org answer from here, at no cost."""

    def __init__(self, redis: aioredis.Redis, ttl_s: int) -> None:
        self._redis = redis
        self._ttl = ttl_s

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    @staticmethod
    def key(org_id: uuid.UUID, identity: dict[str, object]) -> str:
        canonical = json.dumps(identity, sort_keys=True, ensure_ascii=False, default=str)
        return f"llm:cache:{org_id}:{hashlib.sha256(canonical.encode()).hexdigest()}"

    async def get(self, key: str) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        raw = await self._redis.get(key)
        if raw is None:
            return None
        value: dict[str, Any] = json.loads(raw)
        return value

    async def put(self, key: str, value: dict[str, Any]) -> None:
        if self.enabled:
            await self._redis.set(key, json.dumps(value, ensure_ascii=False), ex=self._ttl)
