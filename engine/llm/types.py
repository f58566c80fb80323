"""The one interface every provider adapter speaks: OpenAI-shaped messages in, a completion out.

Token counts are normalised here, once, because providers count differently and the price
arithmetic must not care which one answered:

- ``input_tokens`` are the prompt tokens billed at the full input rate: OpenAI's
  ``prompt_tokens`` *minus* its ``cached_tokens`` (OpenAI counts cached tokens inside the prompt
  total; Anthropic and Cohere report them apart).
- ``cached_input_tokens`` were read from the provider's prompt cache (cheaper rate) and
  ``cache_write_tokens`` were written to it (Anthropic bills those above the input rate).
- ``output_tokens`` include any reasoning tokens; ``reasoning_tokens`` says how many of them
  were reasoning (billed at the output rate, reported apart so nobody charges them twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Literal

MessageRole = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: MessageRole
    content: str


@dataclass(frozen=True)
class CompletionRequest:
    """One call to one provider model."""

    provider_model: str
    messages: tuple[Message, ...]
    max_tokens: int = 1024
    temperature: float = 0.7
    json_output: bool = False
    timeout_s: float = 60.0
    seed: int | None = None
    # (field, max characters, items) of the JSON object asked for. Real providers read the
    # instructions in the prompt; only the deterministic local provider reads this.
    response_fields: tuple[tuple[str, int | None, int], ...] = ()


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.cached_input_tokens
            + self.cache_write_tokens
            + self.output_tokens
        )


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage
    finish_reason: str  # "stop" | "length" | "content_filter" | "tool_calls" | provider's own
    latency_s: float
    ttft_s: float | None  # time to first token; None when the call was not streamed
    provider_model: str


@dataclass(frozen=True)
class TextDelta:
    """A piece of streamed output."""

    text: str


class ErrorCode(StrEnum):
    """Every provider failure maps to one of these."""

    RATE_LIMITED = "rate_limited"
    CONTEXT_TOO_LONG = "context_too_long"
    AUTH_FAILED = "auth_failed"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    TIMEOUT = "timeout"
    BAD_REQUEST = "bad_request"
    CONTENT_FILTERED = "content_filtered"


RETRYABLE = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.TIMEOUT})
# Another model may succeed where this one cannot (a larger context window, another vendor).
FALLBACK_ON = RETRYABLE | {ErrorCode.CONTEXT_TOO_LONG, ErrorCode.AUTH_FAILED}


class ProviderError(Exception):
    """A provider call failed; ``code`` is the mapped error, ``status`` the HTTP status if any."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s


_CONTEXT_MARKERS = (
    "context length",
    "context_length",
    "maximum context",
    "too many tokens",
    "prompt is too long",
    "input is too long",
    "too long",
)


def error_for_status(
    status: int, message: str, *, retry_after_s: float | None = None
) -> ProviderError:
    """The mapped error of an HTTP status (and, for 400/413, the provider's message)."""
    lowered = message.lower()
    if status == 429:
        code = ErrorCode.RATE_LIMITED
    elif status in (401, 403):
        code = ErrorCode.AUTH_FAILED
    elif status in (400, 413, 422) and any(marker in lowered for marker in _CONTEXT_MARKERS):
        code = ErrorCode.CONTEXT_TOO_LONG
    elif status in (408, 504):
        code = ErrorCode.TIMEOUT
    elif status >= 500 or status == 529:
        code = ErrorCode.PROVIDER_UNAVAILABLE
    else:
        code = ErrorCode.BAD_REQUEST
    return ProviderError(code, message, status=status, retry_after_s=retry_after_s)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` (or ``retry-after-ms``) header; None when absent or odd.

    HTTP dates are accepted too (RFC 9110 allows both forms)."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if seconds == seconds else None  # NaN is not a wait
