"""Per-replica runtime: settings, pools and clients, created in the app's lifespan."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Generic, TypeVar

import httpx
import redis.asyncio as aioredis

from cluster import telemetry
from cluster.guard import RequestGuard
from cluster.repositories import auth as auth_repo
from cluster.repositories import modules as modules_repo
from cluster.settings import Settings
from cluster.state import Database, apply_migrations, connect_redis
from deployments.common.principal import Principal
from engine.auth.passwords import Argon2Params, PasswordHasher
from engine.auth.tokens import TokenService

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A small per-replica cache: lookups on the hot path must not hit PostgreSQL each time.

    Entries live ``ttl`` seconds; callers invalidate on writes they make themselves, and other
    replicas converge within ``ttl``. Concurrent misses for one key share a single load.
    """

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters (if any) re-raise it themselves
            raise
        finally:
            self._loading.pop(key, None)
        if self._ttl > 0:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[key] = (now + self._ttl, value)
        future.set_result(value)
        return value

    def invalidate(self, key: K) -> None:
        self._entries.pop(key, None)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: aioredis.Redis
    guard: RequestGuard
    tokens: TokenService
    passwords: PasswordHasher
    http: httpx.AsyncClient
    api_keys: TtlCache[uuid.UUID, auth_repo.ApiKeyCredential | None]
    modules: TtlCache[tuple[uuid.UUID, str], modules_repo.ModuleRow | None]
    # Each org's current plan, re-read at most this often: a plan a Stripe webhook changes
    # takes effect within the TTL, not when the caller's token next refreshes.
    org_plans: TtlCache[uuid.UUID, str | None] = field(default_factory=lambda: TtlCache(5.0))
    # The ``api_calls`` PostgreSQL holds per (org, month), re-read at most this often: the
    # quota check adds the live Redis count to it (deployments.common.security).
    api_call_usage: TtlCache[tuple[uuid.UUID, date], float] = field(
        default_factory=lambda: TtlCache(5.0)
    )
    # Verified access tokens by their exact string (see security._principal_from_jwt).
    verified_tokens: dict[str, Principal] = field(default_factory=dict)
    _background: set[asyncio.Task[Any]] = field(default_factory=set)
    _key_touched: dict[uuid.UUID, float] = field(default_factory=dict)

    @classmethod
    async def start(cls, settings: Settings, *, service_name: str) -> Runtime:
        if not settings.database_url or not settings.redis_url:
            raise RuntimeError(
                "DATABASE_URL and REDIS_URL must be set for a LiftOS service; "
                "`liftos up` sets them for the local cluster"
            )
        telemetry.configure_from(settings, component=service_name)
        if settings.database_migration_url:
            await apply_migrations(
                settings.database_migration_url, app_role=settings.database_app_role
            )
        db = await Database.connect(
            settings.database_url,
            min_size=settings.database_pool_min,
            max_size=settings.database_pool_max,
        )
        redis_client = connect_redis(settings.redis_url)
        return cls(
            settings=settings,
            db=db,
            redis=redis_client,
            guard=RequestGuard(redis_client),
            tokens=TokenService(
                keys=settings.jwt_secret_map,
                active_kid=settings.jwt_active_kid,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                access_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
            ),
            passwords=PasswordHasher(
                Argon2Params(
                    time_cost=settings.argon2_time_cost,
                    memory_cost_kib=settings.argon2_memory_kib,
                    parallelism=settings.argon2_parallelism,
                )
            ),
            http=httpx.AsyncClient(
                timeout=settings.module_request_timeout_seconds,
                follow_redirects=False,
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            ),
            api_keys=TtlCache(settings.auth_cache_ttl_seconds),
            modules=TtlCache(settings.auth_cache_ttl_seconds),
            org_plans=TtlCache(settings.auth_cache_ttl_seconds),
        )

    def spawn(self, coro: Coroutine[Any, Any, Any], *, what: str) -> asyncio.Task[None]:
        """Run work off the request path, keeping a reference so it is not garbage collected.
        The task never raises (a failure is logged), so callers may await it to know it ended."""

        async def _guarded() -> None:
            try:
                await coro
            except Exception:
                log.exception("background task failed: %s", what)

        task = asyncio.create_task(_guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def should_touch_api_key(self, key_id: uuid.UUID, *, every_seconds: float = 60.0) -> bool:
        """``last_used_at`` is written at most once a minute per key and replica."""
        now = time.monotonic()
        if now - self._key_touched.get(key_id, float("-inf")) < every_seconds:
            return False
        self._key_touched[key_id] = now
        return True

    async def close(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.http.aclose()
        await self.redis.aclose()
        await self.db.close()
