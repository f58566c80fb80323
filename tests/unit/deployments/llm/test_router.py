"""The router's retry, fallback and cooldown rules, against scripted adapters (no network)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence

import pytest

from deployments.llm.adapters import StreamItem
from deployments.llm.router import AllFailedError, Deployment, Health, RetryPolicy, Router
from engine.llm.types import (
    Completion,
    CompletionRequest,
    ErrorCode,
    Message,
    ProviderError,
    TextDelta,
    Usage,
)


class MemoryCooldowns:
    """The CooldownStore contract kept in a dict, with a log of every write."""

    def __init__(self) -> None:
        self.failures: dict[str, int] = defaultdict(int)
        self.cooled: set[str] = set()
        self.writes: list[tuple[str, str]] = []

    async def health(self, keys: Sequence[str]) -> list[Health]:
        return [Health(cooling=k in self.cooled, failures=self.failures[k]) for k in keys]

    async def failed(self, key: str, *, threshold: int, cooldown_s: float) -> bool:
        self.writes.append(("failed", key))
        self.failures[key] += 1
        if self.failures[key] >= threshold:
            self.cooled.add(key)
            return True
        return False

    async def succeeded(self, key: str) -> None:
        self.writes.append(("succeeded", key))
        self.failures[key] = 0


class Scripted:
    """Answers each call with the next scripted outcome: an error to raise or text to return."""

    kind = "openai"
    simulated = False

    def __init__(self, *outcomes: ProviderError | str) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    def _next(self, request: CompletionRequest) -> Completion:
        outcome = self.outcomes[min(self.calls, len(self.outcomes) - 1)]
        self.calls += 1
        if isinstance(outcome, ProviderError):
            raise outcome
        return Completion(outcome, Usage(3, 2), "stop", 0.01, None, request.provider_model)

    async def complete(self, request: CompletionRequest) -> Completion:
        return self._next(request)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamItem]:
        completion = self._next(request)
        yield TextDelta(completion.text)
        yield completion

    async def close(self) -> None:
        return None


def deployment(name: str, adapter: Scripted) -> Deployment:
    return Deployment(name, f"provider-{name}", name, f"{name}-v1", adapter)


def request_for(target: Deployment) -> CompletionRequest:
    return CompletionRequest(target.provider_model, (Message("user", "hello"),))


FAST = RetryPolicy(retries=2, base_backoff_s=0.0, max_wait_s=1.0, cooldown_failures=3)


def rate_limited(after: float | None = None) -> ProviderError:
    return ProviderError(ErrorCode.RATE_LIMITED, "slow down", status=429, retry_after_s=after)


def server_error() -> ProviderError:
    return ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, "boom", status=500)


async def test_a_429_is_retried_after_exactly_the_wait_the_provider_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("deployments.llm.router.asyncio.sleep", record)
    adapter = Scripted(rate_limited(after=0.4), "ok")
    store = MemoryCooldowns()
    completion, routed = await Router(store, FAST).complete(
        [deployment("primary", adapter)], request_for
    )
    assert completion.text == "ok"
    assert slept == [0.4]
    assert [a.error for a in routed.attempts] == [ErrorCode.RATE_LIMITED, None]
    assert routed.attempts[0].waited_s == 0.4
    # The failure it counted is reset by the success that followed.
    assert store.failures["provider-primary:primary-v1"] == 0


async def test_a_wait_longer_than_the_policy_allows_moves_to_the_fallback_at_once() -> None:
    primary, fallback = Scripted(rate_limited(after=30.0)), Scripted("from fallback")
    completion, routed = await Router(MemoryCooldowns(), FAST).complete(
        [deployment("primary", primary), deployment("fallback", fallback)], request_for
    )
    assert completion.text == "from fallback"
    assert primary.calls == 1
    assert routed.deployment.model == "fallback"


async def test_repeated_500s_cool_the_deployment_down_for_every_later_request() -> None:
    primary, fallback = Scripted(server_error()), Scripted("fine")
    store = MemoryCooldowns()
    router = Router(store, FAST)
    chain = [deployment("primary", primary), deployment("fallback", fallback)]
    completion, _ = await router.complete(chain, request_for)
    assert completion.text == "fine"
    assert primary.calls == 3  # the threshold: the third failure cools it and stops retries
    assert "provider-primary:primary-v1" in store.cooled

    _, routed = await router.complete(chain, request_for)
    assert primary.calls == 3  # skipped while cooling
    assert [a.model for a in routed.attempts] == ["fallback"]


async def test_every_deployment_cooling_is_tried_rather_than_refused() -> None:
    store = MemoryCooldowns()
    store.cooled.add("provider-only:only-v1")
    completion, _ = await Router(store, FAST).complete(
        [deployment("only", Scripted("still here"))], request_for
    )
    assert completion.text == "still here"


async def test_a_healthy_call_writes_nothing_to_the_shared_store() -> None:
    store = MemoryCooldowns()
    await Router(store, FAST).complete([deployment("primary", Scripted("ok"))], request_for)
    assert store.writes == []


async def test_errors_no_retry_can_fix_stop_without_trying_the_fallback() -> None:
    fallback = Scripted("unused")
    bad = ProviderError(ErrorCode.BAD_REQUEST, "malformed", status=400)
    with pytest.raises(AllFailedError) as failure:
        await Router(MemoryCooldowns(), FAST).complete(
            [deployment("primary", Scripted(bad)), deployment("fallback", fallback)],
            request_for,
        )
    assert failure.value.last.code == ErrorCode.BAD_REQUEST
    assert fallback.calls == 0


async def test_a_rejected_key_falls_back_to_another_model() -> None:
    rejected = ProviderError(ErrorCode.AUTH_FAILED, "bad key", status=401)
    primary, fallback = Scripted(rejected), Scripted("other vendor")
    completion, routed = await Router(MemoryCooldowns(), FAST).complete(
        [deployment("primary", primary), deployment("fallback", fallback)], request_for
    )
    assert completion.text == "other vendor"
    assert primary.calls == 1  # a rejected key is not retried
    assert [a.error for a in routed.attempts] == [ErrorCode.AUTH_FAILED, None]


async def test_a_stream_falls_back_before_any_text_was_sent() -> None:
    chain = [deployment("primary", Scripted(server_error())), deployment("b", Scripted("hi"))]
    items = [item async for item, _ in Router(MemoryCooldowns(), FAST).stream(chain, request_for)]
    assert [type(i).__name__ for i in items] == ["TextDelta", "Completion"]
    assert isinstance(items[-1], Completion)
    assert items[-1].text == "hi"
