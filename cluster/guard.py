"""Per-request checks that need shared state: rate limits and revocations, in ONE Redis call.

Every authenticated request runs this Lua script once: it checks that the credential has not been
revoked (logout of an access token, revocation of an API key, deactivation of a user, whose
tokens stay cryptographically valid until they expire) and applies two GCRA limits, one
for the principal (user or API key) and one for the whole org. Both limits must pass before
either is charged, so a denied request costs nothing. The math mirrors ``engine.ratelimit``
(times in microseconds, from Redis TIME).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from engine.ratelimit import RateLimit, RatePlan

_GUARD_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if #KEYS > 2 and redis.call('EXISTS', unpack(KEYS, 3)) > 0 then
  return {-1, 0, 0}
end
local function ttl_ms(tat)
  return math.floor((tat - now) / 1000) + 1000
end
local function decide(key, interval, tolerance)
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - (tolerance + interval)
  if now < allow_at then
    return false, allow_at - now, new_tat, 0
  end
  return true, 0, new_tat, math.floor((now - allow_at) / interval)
end
local p_ok, p_retry, p_tat, p_left = decide(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
local o_ok, o_retry, o_tat, o_left = decide(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
if p_ok and o_ok then
  -- %d: Lua would print a 16-digit number in exponent form and lose microseconds.
  redis.call('SET', KEYS[1], string.format('%d', p_tat), 'PX', ttl_ms(p_tat))
  redis.call('SET', KEYS[2], string.format('%d', o_tat), 'PX', ttl_ms(o_tat))
  return {1, 0, math.min(p_left, o_left)}
end
return {0, math.max(p_retry, o_retry), 0}
"""


@dataclass(frozen=True)
class GuardResult:
    allowed: bool
    revoked: bool
    retry_after_us: int
    remaining: int


class RequestGuard:
    """Rate limiting and revocation checks backed by Redis."""

    def __init__(self, client: aioredis.Redis, *, namespace: str = "liftos") -> None:
        self._client = client
        self._ns = namespace
        self._script: Any = client.register_script(_GUARD_LUA)

    def revocation_key(self, kind: str, ident: str) -> str:
        return f"{self._ns}:revoked:{kind}:{ident}"

    async def check(
        self,
        *,
        principal: str,
        org_id: str,
        plan: RatePlan,
        revocation_keys: Sequence[str] = (),
    ) -> GuardResult:
        """Refuse if any of ``revocation_keys`` is set, else charge both limits."""
        p: RateLimit = plan.principal
        o: RateLimit = plan.org
        keys = [f"{self._ns}:rl:p:{principal}", f"{self._ns}:rl:o:{org_id}", *revocation_keys]
        args = [
            p.emission_interval_us,
            p.burst_tolerance_us,
            o.emission_interval_us,
            o.burst_tolerance_us,
        ]
        status, retry_after_us, remaining = await self._script(keys=keys, args=args)
        if status == -1:
            return GuardResult(allowed=False, revoked=True, retry_after_us=0, remaining=0)
        return GuardResult(
            allowed=status == 1,
            revoked=False,
            retry_after_us=int(retry_after_us),
            remaining=int(remaining),
        )

    async def revoke(self, kind: str, ident: str, *, ttl_seconds: int) -> None:
        """Mark a credential revoked for ``ttl_seconds`` (its remaining lifetime or longer)."""
        await self._client.set(self.revocation_key(kind, ident), b"1", ex=max(1, ttl_seconds))
