"""Retries, fallbacks and cooldowns across an org's configured models.

A call goes to the requested model's deployment first, then to each of its fallbacks in
order. On one deployment, a retryable failure (429, 5xx, timeout) is retried with exponential
backoff and full jitter, or after exactly the ``Retry-After`` the provider asked for when it
did (if that wait exceeds ``max_wait_s`` the router moves to the next model at once rather
than hold the request). A deployment failing ``cooldown_failures`` calls in a row is cooled
down for ``cooldown_s``: every replica skips it (the state is in Redis) until then.

Errors that no retry can fix (a bad request) stop at once; errors another model might not
have (an over-long context, a rejected key) move to the fallback.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from deployments.llm.adapters import Adapter, StreamItem
from engine.llm.types import (
    FALLBACK_ON,
    RETRYABLE,
    Completion,
    CompletionRequest,
    ErrorCode,
    ProviderError,
    TextDelta,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 2
    base_backoff_s: float = 0.25
    max_wait_s: float = 10.0
    cooldown_failures: int = 3
    cooldown_s: float = 60.0


@dataclass(frozen=True)
class Deployment:
    """One model as the org configured it, with the adapter that reaches it."""

    model: str  # the org's name for it (its alias)
    provider_id: str
    provider_name: str
    provider_model: str
    adapter: Adapter

    @property
    def key(self) -> str:
        return f"{self.provider_id}:{self.provider_model}"


@dataclass(frozen=True)
class Health:
    cooling: bool
    failures: int  # recent consecutive failures, counted across replicas


class CooldownStore(Protocol):
    async def health(self, keys: Sequence[str]) -> list[Health]:
        """Every key's state in one round trip: this is on the path of every call."""
        ...

    async def failed(self, key: str, *, threshold: int, cooldown_s: float) -> bool: ...

    async def succeeded(self, key: str) -> None: ...


@dataclass
class Attempt:
    model: str
    provider_model: str
    error: str | None  # the mapped error code, None for the attempt that answered
    message: str | None = None
    waited_s: float = 0.0


@dataclass
class Routed:
    deployment: Deployment
    attempts: list[Attempt] = field(default_factory=list)


class AllFailedError(Exception):
    """Every deployment failed; ``last`` is the error to report."""

    def __init__(self, last: ProviderError, attempts: list[Attempt]) -> None:
        super().__init__(last.message)
        self.last = last
        self.attempts = attempts


def _backoff(policy: RetryPolicy, attempt: int, error: ProviderError) -> float | None:
    """Seconds to wait before retrying, or None to give up on this deployment."""
    if error.retry_after_s is not None:
        return error.retry_after_s if error.retry_after_s <= policy.max_wait_s else None
    ceiling = min(policy.max_wait_s, policy.base_backoff_s * 2**attempt)
    return random.uniform(0, ceiling)  # noqa: S311  # jitter, not cryptography


def _completer(adapter: Adapter, request: CompletionRequest) -> Callable[[], Awaitable[Completion]]:
    def call() -> Awaitable[Completion]:
        return adapter.complete(request)

    return call


class Router:
    def __init__(self, cooldowns: CooldownStore, policy: RetryPolicy) -> None:
        self._cooldowns = cooldowns
        self._policy = policy

    async def _available(self, chain: Sequence[Deployment]) -> list[tuple[Deployment, int]]:
        """The deployments not cooling down, each with its count of recent failures."""
        health = await self._cooldowns.health([d.key for d in chain])
        states = list(zip(chain, health, strict=True))
        open_ = [(d, h.failures) for d, h in states if not h.cooling]
        # Every deployment cooling down: try them anyway rather than refuse outright.
        return open_ or [(d, h.failures) for d, h in states]

    async def _succeeded(self, deployment: Deployment, failures: int, failed_here: bool) -> None:
        # Only a count that exists needs resetting; skipping the write otherwise keeps a
        # round trip off every healthy call.
        if failures or failed_here:
            await self._cooldowns.succeeded(deployment.key)

    async def _on(
        self,
        deployment: Deployment,
        failures: int,
        call: Callable[[], Awaitable[T]],
        attempts: list[Attempt],
    ) -> T:
        for attempt in range(self._policy.retries + 1):
            try:
                result = await call()
            except ProviderError as error:
                attempts.append(
                    Attempt(deployment.model, deployment.provider_model, error.code, error.message)
                )
                if error.code in RETRYABLE:
                    cooled = await self._cooldowns.failed(
                        deployment.key,
                        threshold=self._policy.cooldown_failures,
                        cooldown_s=self._policy.cooldown_s,
                    )
                    wait = _backoff(self._policy, attempt, error)
                    if cooled or wait is None or attempt == self._policy.retries:
                        raise
                    attempts[-1].waited_s = wait
                    await asyncio.sleep(wait)
                    continue
                raise
            await self._succeeded(deployment, failures, failed_here=attempt > 0)
            attempts.append(Attempt(deployment.model, deployment.provider_model, None))
            return result
        raise AssertionError("unreachable: the loop returns or raises")

    async def complete(
        self, chain: Sequence[Deployment], request_for: Callable[[Deployment], CompletionRequest]
    ) -> tuple[Completion, Routed]:
        attempts: list[Attempt] = []
        last: ProviderError | None = None
        for deployment, failures in await self._available(chain):
            request = request_for(deployment)
            try:
                completion = await self._on(
                    deployment, failures, _completer(deployment.adapter, request), attempts
                )
            except ProviderError as error:
                last = error
                if error.code in FALLBACK_ON:
                    continue
                raise AllFailedError(error, attempts) from error
            return completion, Routed(deployment, attempts)
        assert last is not None, "a chain holds at least the requested model"
        raise AllFailedError(last, attempts)

    async def stream(
        self, chain: Sequence[Deployment], request_for: Callable[[Deployment], CompletionRequest]
    ) -> AsyncIterator[tuple[StreamItem, Routed]]:
        """Streams from the first deployment that starts answering. Once text has gone to the
        client a failure is final: retrying would repeat text the client already has."""
        attempts: list[Attempt] = []
        last: ProviderError | None = None
        for deployment, failures in await self._available(chain):
            request = request_for(deployment)
            routed = Routed(deployment, attempts)
            for attempt in range(self._policy.retries + 1):
                sent = False
                try:
                    async for item in deployment.adapter.stream(request):
                        sent = sent or isinstance(item, TextDelta)
                        if isinstance(item, Completion):
                            await self._succeeded(deployment, failures, failed_here=attempt > 0)
                            attempts.append(
                                Attempt(deployment.model, deployment.provider_model, None)
                            )
                        yield item, routed
                    return
                except ProviderError as error:
                    attempts.append(
                        Attempt(
                            deployment.model, deployment.provider_model, error.code, error.message
                        )
                    )
                    last = error
                    if sent:
                        raise AllFailedError(error, attempts) from error
                    if error.code not in RETRYABLE:
                        break
                    cooled = await self._cooldowns.failed(
                        deployment.key,
                        threshold=self._policy.cooldown_failures,
                        cooldown_s=self._policy.cooldown_s,
                    )
                    wait = _backoff(self._policy, attempt, error)
                    if cooled or wait is None or attempt == self._policy.retries:
                        break
                    attempts[-1].waited_s = wait
                    await asyncio.sleep(wait)
            if last is not None and last.code not in FALLBACK_ON:
                raise AllFailedError(last, attempts)
        raise AllFailedError(
            last or ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, "no deployment answered"),
            attempts,
        )
