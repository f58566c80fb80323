"""The ``api_calls`` meter: counted in Redis on the request path, moved to PostgreSQL in batches.

Every authenticated request adds 1 to its org's field of the month's hash
``liftos:usage:api_calls:{YYYY-MM-DD}`` (one Redis round trip, no PostgreSQL transaction). A
Lua script does the count, refusing it when the org has no allowance left, so a refused call is
neither served nor counted.

:func:`flush` moves the counts into ``billing_usage`` exactly once:

1. the month's hash is renamed to ``liftos:usage:api_calls:flushing:{period}:{flush id}`` and
   the new name added to the set ``liftos:usage:api_calls:flushing`` (atomically, one script);
   new calls start a fresh hash at once;
2. for each org in it, one tenant transaction records ``(flush id, org)`` in
   ``billing_usage_flushes`` and adds the count to ``billing_usage``; a pair already recorded
   adds nothing;
3. the flushing key is deleted and removed from the set.

A flusher that dies anywhere leaves the key in the set; the next flush re-applies it first, and
step 2 makes that idempotent. Counts in a flushing key are not in :func:`pending` (they may
already be in PostgreSQL), so between steps 1 and 3 a live reading may briefly miss them.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import asyncpg
import redis.asyncio as aioredis

from cluster.state import Database

log = logging.getLogger(__name__)

METER = "api_calls"
_PREFIX = f"liftos:usage:{METER}:"
FLUSHING_SET = f"{_PREFIX}flushing"
_FLUSHING_PREFIX = f"{FLUSHING_SET}:"

# KEYS[1] the month's hash; ARGV[1] the org, ARGV[2] calls it may still make here (< 0: no
# limit). Returns the org's new count, or -1 when the allowance is used up (nothing counted).
_COUNT = """
local limit = tonumber(ARGV[2])
if limit >= 0 then
  local now = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
  if now + 1 > limit then return -1 end
end
return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
"""

# KEYS[1] the month's hash, KEYS[2] its flushing name, KEYS[3] the set of flushing keys.
_BEGIN = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SADD', KEYS[3], KEYS[2])
return 1
"""


def counter_key(period: date) -> str:
    return f"{_PREFIX}{period.isoformat()}"


def period_now(now: datetime | None = None) -> date:
    moment = now or datetime.now(UTC)
    return date(moment.year, moment.month, 1)


def previous_period(period: date) -> date:
    if period.month == 1:
        return date(period.year - 1, 12, 1)
    return date(period.year, period.month - 1, 1)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def flushing_key(period: date, flush_id: uuid.UUID) -> str:
    return f"{_FLUSHING_PREFIX}{period.isoformat()}:{flush_id}"


def parse_flushing_key(key: str) -> tuple[date, uuid.UUID]:
    """The period and flush id a flushing key names (ValueError if it is not one)."""
    if not key.startswith(_FLUSHING_PREFIX):
        raise ValueError(f"not a flushing key: {key!r}")
    period, _, flush_id = key.removeprefix(_FLUSHING_PREFIX).partition(":")
    return date.fromisoformat(period), uuid.UUID(flush_id)


async def count(
    redis: aioredis.Redis, org_id: uuid.UUID, *, allowance: float | None = None
) -> int | None:
    """Count one call of ``org_id`` this month; ``allowance``: how many calls it may still have
    counted here (its quota less what PostgreSQL already holds), None for no limit. Returns the
    org's pending count, or None when the call is refused (then it is not counted)."""
    limit = -1.0 if allowance is None else max(allowance, 0.0)
    result = await redis.eval(_COUNT, 1, counter_key(period_now()), str(org_id), repr(limit))
    value = int(result)
    return None if value < 0 else value


async def pending(redis: aioredis.Redis, org_id: uuid.UUID, period: date | None = None) -> int:
    """The org's calls counted in Redis and not yet flushed to PostgreSQL."""
    raw = await redis.hget(counter_key(period or period_now()), str(org_id))
    return int(raw or 0)


@dataclass(frozen=True)
class FlushRound:
    keys: int  # flushing keys applied (leftovers of an earlier flush included)
    orgs: int  # org batches added to billing_usage
    skipped: int  # org batches already applied by an earlier try


async def begin(redis: aioredis.Redis, period: date) -> str | None:
    """Step 1: move the month's counts aside under a new flush id; None when there are none."""
    key = flushing_key(period, uuid.uuid4())
    moved = await redis.eval(_BEGIN, 3, counter_key(period), key, FLUSHING_SET)
    return key if int(moved) else None


async def apply(db: Database, redis: aioredis.Redis, key: str) -> tuple[int, int]:
    """Step 2: add a flushing key's counts to ``billing_usage``, each org once per flush id;
    returns (orgs applied now, orgs applied before)."""
    period, flush_id = parse_flushing_key(key)
    counts = await redis.hgetall(key)
    applied = skipped = 0
    for raw_org, raw_count in counts.items():
        org_id, quantity = uuid.UUID(_text(raw_org)), int(raw_count)
        if quantity <= 0:
            continue
        try:
            async with db.tenant(org_id) as conn:
                first = await conn.fetchval(
                    "INSERT INTO billing_usage_flushes "
                    "(flush_id, org_id, meter, period_start, quantity) "
                    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (flush_id, org_id) DO NOTHING "
                    "RETURNING true",
                    flush_id,
                    org_id,
                    METER,
                    period,
                    float(quantity),
                )
                if first:
                    await conn.execute(
                        "INSERT INTO billing_usage (org_id, meter, period_start, quantity) "
                        "VALUES ($1, $2, $3, $4) ON CONFLICT (org_id, meter, period_start) "
                        "DO UPDATE SET quantity = billing_usage.quantity + EXCLUDED.quantity, "
                        "updated_at = now()",
                        org_id,
                        METER,
                        period,
                        float(quantity),
                    )
        except asyncpg.ForeignKeyViolationError:
            log.warning("api_calls of org %s dropped: the org no longer exists", org_id)
            continue
        if first:
            applied += 1
        else:
            skipped += 1
    return applied, skipped


async def finish(redis: aioredis.Redis, key: str) -> None:
    """Step 3: the flushing key is applied; forget it."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        pipe.srem(FLUSHING_SET, key)
        await pipe.execute()


async def flush(db: Database, redis: aioredis.Redis, *, now: datetime | None = None) -> FlushRound:
    """Move every pending count to PostgreSQL: leftovers of an interrupted flush first, then
    this month's and last month's hashes (the latter only around the turn of a month)."""
    keys = orgs = skipped = 0
    leftovers = await redis.smembers(FLUSHING_SET)
    todo = sorted(_text(k) for k in leftovers)
    current = period_now(now)
    for period in (previous_period(current), current):
        key = await begin(redis, period)
        if key is not None:
            todo.append(key)
    for key in todo:
        done, before = await apply(db, redis, key)
        await finish(redis, key)
        keys, orgs, skipped = keys + 1, orgs + done, skipped + before
    return FlushRound(keys, orgs, skipped)
