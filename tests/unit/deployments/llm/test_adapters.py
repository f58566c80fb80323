"""Adapters on the real SDKs, their HTTP answered in-process by a MockTransport (httpx for
openai; httpx2, the fork the anthropic SDK is built on, for anthropic)."""

from __future__ import annotations

import anthropic
import httpx
import httpx2
import openai

from deployments.llm.adapters import AnthropicAdapter, OpenAIAdapter, ProviderConfig
from engine.llm.types import CompletionRequest, ErrorCode, Message, ProviderError

KEY = "sk-live-0123456789abcdef"
REQUEST = CompletionRequest("some-model", (Message("user", "hi"),))


def echoing_the_key(request: httpx.Request | httpx2.Request) -> httpx.Response | httpx2.Response:
    # What a careless OpenAI-compatible server does with a key it rejects.
    sent = request.headers.get("authorization", "") or request.headers.get("x-api-key", "")
    body = {"error": {"message": f"invalid api key: {sent.removeprefix('Bearer ')}"}}
    if isinstance(request, httpx2.Request):
        return httpx2.Response(401, json=body)
    return httpx.Response(401, json=body)


async def failure_of(adapter: OpenAIAdapter | AnthropicAdapter) -> ProviderError:
    try:
        await adapter.complete(REQUEST)
    except ProviderError as error:
        return error
    raise AssertionError("the call succeeded")


async def test_a_key_the_server_echoes_never_reaches_the_error() -> None:
    adapter = OpenAIAdapter(ProviderConfig("openai", "http://provider.test/v1", KEY), timeout_s=5)
    adapter._client = openai.AsyncOpenAI(
        api_key=KEY,
        base_url="http://provider.test/v1",
        max_retries=0,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(echoing_the_key)),
    )
    error = await failure_of(adapter)
    assert error.code == ErrorCode.AUTH_FAILED
    assert error.message == "invalid api key: [redacted]"
    assert error.__cause__ is None  # the SDK's exception, which holds the body, is not chained
    assert error.__suppress_context__


async def test_the_same_holds_for_anthropic() -> None:
    adapter = AnthropicAdapter(
        ProviderConfig("anthropic", "http://provider.test", KEY), timeout_s=5
    )
    adapter._client = anthropic.AsyncAnthropic(
        api_key=KEY,
        base_url="http://provider.test",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(echoing_the_key)),
    )
    error = await failure_of(adapter)
    assert error.code == ErrorCode.AUTH_FAILED
    assert KEY not in error.message
    assert "[redacted]" in error.message
