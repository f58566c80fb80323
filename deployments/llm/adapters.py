"""One adapter per provider SDK, all speaking ``engine.llm.types``.

Each adapter drives the provider's official SDK (``openai`` for OpenAI and every
OpenAI-compatible server: vLLM and Ray Serve LLM, TGI's Messages API, Together, Ollama;
``anthropic``; ``cohere``'s v2 chat; ``huggingface_hub``'s InferenceClient) and maps its
answers and its errors to the one internal shape. SDK-level retries are off: the router
(``deployments.llm.router``) retries, honouring ``Retry-After``, and falls back across
providers, which no single SDK can do.

``local`` is LiftOS's deterministic stand-in for demos and tests without a provider: it writes
text from the words of the prompt, and every response it makes says ``simulated``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import anthropic
import cohere
import httpx
import openai
from cohere.core.api_error import ApiError as CohereApiError
from huggingface_hub import AsyncInferenceClient, ChatCompletionInputStreamOptions
from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError

from engine.llm.types import (
    Completion,
    CompletionRequest,
    ErrorCode,
    Message,
    ProviderError,
    TextDelta,
    Usage,
    error_for_status,
    parse_retry_after,
)

ProviderKind = Literal["openai", "anthropic", "cohere", "huggingface", "local"]
PROVIDER_KINDS: tuple[ProviderKind, ...] = ("openai", "anthropic", "cohere", "huggingface", "local")
StreamItem = TextDelta | Completion


class Adapter(Protocol):
    kind: ProviderKind
    simulated: bool

    async def complete(self, request: CompletionRequest) -> Completion: ...

    def stream(self, request: CompletionRequest) -> AsyncIterator[StreamItem]:
        """Text deltas, then the whole :class:`Completion` (usage included) last."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class ProviderConfig:
    kind: ProviderKind
    base_url: str | None
    api_key: str | None


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    milliseconds = parse_retry_after(lowered.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000
    return parse_retry_after(lowered.get("retry-after"))


def _message_of(body: object, fallback: str) -> str:
    # Providers nest their message differently: {"error": {"message"}}, {"message"}, a string.
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            message = inner.get("message") or inner.get("detail")
            if message:
                return str(message)
        if isinstance(inner, str):
            return inner
        message = body.get("message")
        if message:
            return str(message)
    if isinstance(body, str) and body:
        return body
    return fallback


def _without_key(error: ProviderError, api_key: str | None) -> ProviderError:
    """The error with the org's key cut out of its message.

    Some servers echo the key they rejected ("invalid api key: sk-..."), and the message goes
    into the error response, the attempts list and the logs. The SDK's exception is dropped
    rather than chained for the same reason: its text and body carry the provider's words.
    """
    if api_key and api_key in error.message:
        return ProviderError(
            error.code,
            error.message.replace(api_key, "[redacted]"),
            status=error.status,
            retry_after_s=error.retry_after_s,
        )
    return error


def _finish(reason: str | None) -> str:
    normalised = {
        "end_turn": "stop",
        "stop_sequence": "stop",
        "complete": "stop",
        "eos_token": "stop",
        "max_tokens": "length",
        "length": "length",
        "tool_use": "tool_calls",
        "refusal": "content_filter",
    }
    if reason is None:
        return "stop"
    return normalised.get(reason.lower(), reason.lower())


def _split_system(messages: tuple[Message, ...]) -> tuple[str, list[dict[str, str]]]:
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    rest = [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]
    return system, rest


def _openai_messages(messages: tuple[Message, ...]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


# --- OpenAI and OpenAI-compatible servers -------------------------------------------------


class OpenAIAdapter:
    kind: ProviderKind = "openai"
    simulated = False

    def __init__(self, config: ProviderConfig, *, timeout_s: float) -> None:
        self._api_key = config.api_key
        self._official = config.base_url is None or "api.openai.com" in config.base_url
        # Self-hosted servers (vLLM, TGI, Ollama) accept any key; the SDK insists on one.
        self._client = openai.AsyncOpenAI(
            api_key=config.api_key or "not-needed",
            base_url=config.base_url,
            max_retries=0,
            timeout=timeout_s,
        )

    def _arguments(self, request: CompletionRequest) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "model": request.provider_model,
            "messages": _openai_messages(request.messages),
            "temperature": request.temperature,
            "timeout": request.timeout_s,
        }
        # OpenAI's own reasoning models refuse max_tokens; compatible servers may not know the
        # newer name.
        key = "max_completion_tokens" if self._official else "max_tokens"
        arguments[key] = request.max_tokens
        if request.seed is not None:
            arguments["seed"] = request.seed
        return arguments

    @staticmethod
    def _usage(usage: Any) -> Usage:
        if usage is None:
            return Usage()
        prompt = int(usage.prompt_tokens or 0)
        prompt_details = getattr(usage, "prompt_tokens_details", None)
        cached = int(getattr(prompt_details, "cached_tokens", 0) or 0)
        completion_details = getattr(usage, "completion_tokens_details", None)
        reasoning = int(getattr(completion_details, "reasoning_tokens", 0) or 0)
        # OpenAI counts cached tokens inside prompt_tokens: charge them once, at their rate.
        return Usage(
            input_tokens=max(0, prompt - cached),
            output_tokens=int(usage.completion_tokens or 0),
            cached_input_tokens=cached,
            reasoning_tokens=reasoning,
        )

    @staticmethod
    def _error(exc: Exception) -> ProviderError:
        if isinstance(exc, openai.APIStatusError):
            return error_for_status(
                exc.status_code,
                _message_of(exc.body, exc.message),
                retry_after_s=_retry_after(dict(exc.response.headers)),
            )
        if isinstance(exc, openai.APITimeoutError):
            return ProviderError(ErrorCode.TIMEOUT, "the provider did not answer in time")
        return ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, f"provider unreachable: {exc}")

    async def complete(self, request: CompletionRequest) -> Completion:
        started = time.perf_counter()
        try:
            response = await self._client.chat.completions.create(**self._arguments(request))
        except openai.OpenAIError as exc:
            raise _without_key(self._error(exc), self._api_key) from None
        choice = response.choices[0]
        return Completion(
            text=choice.message.content or "",
            usage=self._usage(response.usage),
            finish_reason=_finish(choice.finish_reason),
            latency_s=time.perf_counter() - started,
            ttft_s=None,
            provider_model=response.model or request.provider_model,
        )

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamItem]:
        started = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        usage = Usage()
        finish: str | None = None
        model = request.provider_model
        try:
            chunks = await self._client.chat.completions.create(
                **self._arguments(request),
                stream=True,
                stream_options={"include_usage": True},
            )
            async for chunk in chunks:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = self._usage(chunk.usage)
                for choice in chunk.choices:
                    if choice.finish_reason:
                        finish = choice.finish_reason
                    text = choice.delta.content if choice.delta else None
                    if text:
                        first = first if first is not None else time.perf_counter() - started
                        parts.append(text)
                        yield TextDelta(text)
        except openai.OpenAIError as exc:
            raise _without_key(self._error(exc), self._api_key) from None
        yield Completion(
            "".join(parts), usage, _finish(finish), time.perf_counter() - started, first, model
        )

    async def close(self) -> None:
        await self._client.close()


# --- Anthropic ------------------------------------------------------------------------------


class AnthropicAdapter:
    kind: ProviderKind = "anthropic"
    simulated = False

    def __init__(self, config: ProviderConfig, *, timeout_s: float) -> None:
        self._api_key = config.api_key
        self._client = anthropic.AsyncAnthropic(
            api_key=config.api_key, base_url=config.base_url, max_retries=0, timeout=timeout_s
        )

    @staticmethod
    def _arguments(request: CompletionRequest) -> dict[str, Any]:
        system, messages = _split_system(request.messages)
        arguments: dict[str, Any] = {
            "model": request.provider_model,
            "messages": messages,
            "max_tokens": request.max_tokens,
            # The current Messages API takes no sampling temperature (models choose their own).
            "timeout": request.timeout_s,
        }
        if system:
            arguments["system"] = system
        return arguments

    @staticmethod
    def _usage(usage: Any) -> Usage:
        # Anthropic reports cache reads and writes apart from input_tokens.
        return Usage(
            input_tokens=int(getattr(usage, "input_tokens", 0) or 0),
            output_tokens=int(getattr(usage, "output_tokens", 0) or 0),
            cached_input_tokens=int(getattr(usage, "cache_read_input_tokens", 0) or 0),
            cache_write_tokens=int(getattr(usage, "cache_creation_input_tokens", 0) or 0),
        )

    @staticmethod
    def _error(exc: Exception) -> ProviderError:
        if isinstance(exc, anthropic.APIStatusError):
            return error_for_status(
                exc.status_code,
                _message_of(exc.body, exc.message),
                retry_after_s=_retry_after(dict(exc.response.headers)),
            )
        if isinstance(exc, anthropic.APITimeoutError):
            return ProviderError(ErrorCode.TIMEOUT, "the provider did not answer in time")
        return ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, f"provider unreachable: {exc}")

    async def complete(self, request: CompletionRequest) -> Completion:
        started = time.perf_counter()
        try:
            response = await self._client.messages.create(**self._arguments(request))
        except anthropic.AnthropicError as exc:
            raise _without_key(self._error(exc), self._api_key) from None
        text = "".join(block.text for block in response.content if block.type == "text")
        return Completion(
            text=text,
            usage=self._usage(response.usage),
            finish_reason=_finish(response.stop_reason),
            latency_s=time.perf_counter() - started,
            ttft_s=None,
            provider_model=response.model or request.provider_model,
        )

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamItem]:
        started = time.perf_counter()
        first: float | None = None
        try:
            async with self._client.messages.stream(**self._arguments(request)) as events:
                async for text in events.text_stream:
                    if text:
                        first = first if first is not None else time.perf_counter() - started
                        yield TextDelta(text)
                final = await events.get_final_message()
        except anthropic.AnthropicError as exc:
            raise _without_key(self._error(exc), self._api_key) from None
        text = "".join(block.text for block in final.content if block.type == "text")
        yield Completion(
            text,
            self._usage(final.usage),
            _finish(final.stop_reason),
            time.perf_counter() - started,
            first,
            final.model or request.provider_model,
        )

    async def close(self) -> None:
        await self._client.close()


# --- Cohere (v2 chat) -----------------------------------------------------------------------


class CohereAdapter:
    kind: ProviderKind = "cohere"
    simulated = False

    def __init__(self, config: ProviderConfig, *, timeout_s: float) -> None:
        self._api_key = config.api_key
        self._client = cohere.AsyncClientV2(
            api_key=config.api_key or "not-needed",
            base_url=config.base_url,
            timeout=timeout_s,
            max_retries=0,
        )

    @staticmethod
    def _arguments(request: CompletionRequest) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "model": request.provider_model,
            "messages": _openai_messages(request.messages),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "request_options": {"timeout_in_seconds": int(max(1, request.timeout_s))},
        }
        if request.seed is not None:
            arguments["seed"] = request.seed
        return arguments

    @staticmethod
    def _usage(usage: Any) -> Usage:
        tokens = getattr(usage, "tokens", None) or getattr(usage, "billed_units", None)
        return Usage(
            input_tokens=int(getattr(tokens, "input_tokens", 0) or 0),
            output_tokens=int(getattr(tokens, "output_tokens", 0) or 0),
            cached_input_tokens=int(getattr(usage, "cached_tokens", 0) or 0),
        )

    @staticmethod
    def _error(exc: Exception) -> ProviderError:
        if isinstance(exc, CohereApiError):
            return error_for_status(
                int(exc.status_code or 502),
                _message_of(exc.body, "provider error"),
                retry_after_s=_retry_after(exc.headers),
            )
        if isinstance(exc, httpx.TimeoutException):
            return ProviderError(ErrorCode.TIMEOUT, "the provider did not answer in time")
        return ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, f"provider unreachable: {exc}")

    @staticmethod
    def _text(message: Any) -> str:
        content = getattr(message, "content", None) or []
        return "".join(getattr(item, "text", "") or "" for item in content)

    async def complete(self, request: CompletionRequest) -> Completion:
        started = time.perf_counter()
        try:
            response = await self._client.chat(**self._arguments(request))
        except (CohereApiError, httpx.HTTPError) as exc:
            raise _without_key(self._error(exc), self._api_key) from None
        return Completion(
            text=self._text(response.message),
            usage=self._usage(response.usage),
            finish_reason=_finish(response.finish_reason),
            latency_s=time.perf_counter() - started,
            ttft_s=None,
            provider_model=request.provider_model,
        )

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamItem]:
        started = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        usage = Usage()
        finish: str | None = None
        try:
            async for event in self._client.chat_stream(**self._arguments(request)):
                if event.type == "content-delta":
                    message = event.delta.message if event.delta else None
                    content = message.content if message else None
                    text = content.text if content else None
                    if text:
                        first = first if first is not None else time.perf_counter() - started
                        parts.append(text)
                        yield TextDelta(text)
                elif event.type == "message-end" and event.delta is not None:
                    usage = self._usage(event.delta.usage)
                    finish = event.delta.finish_reason
        except (CohereApiError, httpx.HTTPError) as exc:
            raise _without_key(self._error(exc), self._api_key) from None
        yield Completion(
            "".join(parts),
            usage,
            _finish(finish),
            time.perf_counter() - started,
            first,
            request.provider_model,
        )

    async def close(self) -> None:
        return None  # the SDK's own httpx client closes with the process


# --- Hugging Face (InferenceClient: Inference Providers, Endpoints, TGI) ---------------------


class HuggingFaceAdapter:
    kind: ProviderKind = "huggingface"
    simulated = False

    def __init__(self, config: ProviderConfig, *, timeout_s: float) -> None:
        self._api_key = config.api_key
        self._client = AsyncInferenceClient(
            base_url=config.base_url, api_key=config.api_key, timeout=timeout_s
        )
        self._has_base_url = config.base_url is not None

    def _arguments(self, request: CompletionRequest) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "messages": _openai_messages(request.messages),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "model": request.provider_model,
        }
        if request.seed is not None:
            arguments["seed"] = request.seed
        return arguments

    @staticmethod
    def _usage(usage: Any) -> Usage:
        if usage is None:
            return Usage()
        return Usage(
            input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        )

    @staticmethod
    def _error(exc: Exception) -> ProviderError:
        if isinstance(exc, HfHubHTTPError) and exc.response is not None:
            response = exc.response
            try:
                body: object = response.json()
            except ValueError:
                body = response.text
            return error_for_status(
                response.status_code,
                _message_of(body, str(exc)),
                retry_after_s=_retry_after(dict(response.headers)),
            )
        if isinstance(exc, InferenceTimeoutError | TimeoutError | httpx.TimeoutException):
            return ProviderError(ErrorCode.TIMEOUT, "the provider did not answer in time")
        return ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, f"provider unreachable: {exc}")

    async def complete(self, request: CompletionRequest) -> Completion:
        started = time.perf_counter()
        try:
            response = await self._client.chat_completion(**self._arguments(request))
        except (HfHubHTTPError, InferenceTimeoutError, httpx.HTTPError, TimeoutError) as exc:
            raise _without_key(self._error(exc), self._api_key) from None
        choice = response.choices[0]
        return Completion(
            text=choice.message.content or "",
            usage=self._usage(response.usage),
            finish_reason=_finish(choice.finish_reason),
            latency_s=time.perf_counter() - started,
            ttft_s=None,
            provider_model=response.model or request.provider_model,
        )

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamItem]:
        started = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        usage = Usage()
        finish: str | None = None
        try:
            chunks = await self._client.chat_completion(
                **self._arguments(request),
                stream=True,
                stream_options=ChatCompletionInputStreamOptions(include_usage=True),
            )
            async for chunk in chunks:
                if getattr(chunk, "usage", None) is not None:
                    usage = self._usage(chunk.usage)
                for choice in chunk.choices or []:
                    if choice.finish_reason:
                        finish = choice.finish_reason
                    text = choice.delta.content if choice.delta else None
                    if text:
                        first = first if first is not None else time.perf_counter() - started
                        parts.append(text)
                        yield TextDelta(text)
        except (HfHubHTTPError, InferenceTimeoutError, httpx.HTTPError, TimeoutError) as exc:
            raise _without_key(self._error(exc), self._api_key) from None
        yield Completion(
            "".join(parts),
            usage,
            _finish(finish),
            time.perf_counter() - started,
            first,
            request.provider_model,
        )

    async def close(self) -> None:
        await self._client.close()  # type: ignore[no-untyped-call]  # untyped in the SDK


# --- The deterministic local provider -------------------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)


class LocalAdapter:
    """Deterministic text from the prompt's own words: no model, no network, for demos and
    tests. Labelled ``simulated`` in every response; never a stand-in for a real provider."""

    kind: ProviderKind = "local"
    simulated = True

    def __init__(self, config: ProviderConfig, *, timeout_s: float) -> None:
        del config, timeout_s

    @staticmethod
    def _write(request: CompletionRequest) -> str:
        prompt = "\n".join(m.content for m in request.messages)
        words = _WORD.findall(prompt) or ["text"]
        digest = hashlib.sha256(prompt.encode()).digest()

        def phrase(max_chars: int | None, salt: int) -> str:
            start = (digest[salt % len(digest)] + salt) % len(words)
            out: list[str] = []
            for offset in range(min(len(words), 24)):
                candidate = " ".join([*out, words[(start + offset) % len(words)]])
                if max_chars is not None and len(candidate) > max_chars:
                    break
                out = candidate.split(" ")
            return " ".join(out) or words[start][: max_chars or None]

        if not request.response_fields:
            return phrase(None, 0)
        document: dict[str, object] = {}
        salt = 0
        for name, max_chars, count in request.response_fields:
            items = []
            for _ in range(max(1, count)):
                salt += 1
                items.append(phrase(max_chars, salt))
            document[name] = items if count > 1 else items[0]
        return json.dumps(document, ensure_ascii=False)

    async def complete(self, request: CompletionRequest) -> Completion:
        started = time.perf_counter()
        text = self._write(request)
        prompt_words = sum(len(_WORD.findall(m.content)) for m in request.messages)
        usage = Usage(input_tokens=prompt_words, output_tokens=len(_WORD.findall(text)))
        return Completion(
            text, usage, "stop", time.perf_counter() - started, None, request.provider_model
        )

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamItem]:
        completion = await self.complete(request)
        for index in range(0, len(completion.text), 16):
            yield TextDelta(completion.text[index : index + 16])
        yield dataclasses.replace(completion, ttft_s=completion.latency_s)

    async def close(self) -> None:
        return None


_ADAPTERS: Mapping[str, Callable[..., Adapter]] = {
    "openai": OpenAIAdapter,
    "anthropic": AnthropicAdapter,
    "cohere": CohereAdapter,
    "huggingface": HuggingFaceAdapter,
    "local": LocalAdapter,
}


def make_adapter(config: ProviderConfig, *, timeout_s: float) -> Adapter:
    return _ADAPTERS[config.kind](config, timeout_s=timeout_s)
