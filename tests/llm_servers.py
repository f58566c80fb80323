"""Local HTTP servers that speak each provider's wire format, for tests and bench/llm.py.

One Starlette app answers OpenAI's ``/v1/chat/completions`` (which TGI's Messages API, vLLM and
Hugging Face's router share), Anthropic's ``/v1/messages`` and Cohere's ``/v2/chat``, with and
without streaming, in the shapes those APIs return (recorded from their API references). The
real SDK clients talk to it over loopback exactly as they would to the provider.

Replies are scripted per model: ``server.script(model, Reply(...), ...)`` queues answers (an
error status with ``Retry-After``, a text, token counts); when the queue is empty the model's
default reply is used. Every request is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from cluster.local import free_port


@dataclass(frozen=True)
class Reply:
    text: str = "ok"
    status: int = 200
    retry_after: str | None = None
    error_message: str = "scripted error"
    delay_s: float = 0.0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def _words(text: str) -> int:
    return len(text.split())


@dataclass
class WireServer:
    defaults: dict[str, Reply] = field(default_factory=dict)
    queues: dict[str, deque[Reply]] = field(default_factory=lambda: defaultdict(deque))
    requests: list[RecordedRequest] = field(default_factory=list)
    port: int = 0
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- scripting --------------------------------------------------------------------------
    def script(self, model: str, *replies: Reply) -> None:
        with self._lock:
            self.queues[model].extend(replies)

    def default(self, model: str, reply: Reply) -> None:
        with self._lock:
            self.defaults[model] = reply

    def requests_for(self, model: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.body.get("model") == model]

    def _next(self, model: str) -> Reply:
        with self._lock:
            queue = self.queues.get(model)
            if queue:
                return queue.popleft()
            return self.defaults.get(model, Reply())

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> WireServer:
        self.port = free_port()
        config = uvicorn.Config(
            self.app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("wire server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- the app ----------------------------------------------------------------------------
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._openai, methods=["POST"]),
                Route("/v1/messages", self._anthropic, methods=["POST"]),
                Route("/v2/chat", self._cohere, methods=["POST"]),
            ]
        )

    async def _begin(self, request: Request) -> tuple[dict[str, Any], Reply, int]:
        body = await request.json()
        self.requests.append(RecordedRequest(request.url.path, dict(request.headers), body))
        reply = self._next(str(body.get("model", "")))
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        prompt_text = (
            " ".join(
                m["content"] if isinstance(m.get("content"), str) else json.dumps(m.get("content"))
                for m in body.get("messages", [])
            )
            + " "
            + (body.get("system") or "")
        )
        prompt_tokens = (
            reply.prompt_tokens if reply.prompt_tokens is not None else max(1, _words(prompt_text))
        )
        return body, reply, prompt_tokens

    @staticmethod
    def _error(reply: Reply, shape: str) -> Response:
        headers = {"retry-after": reply.retry_after} if reply.retry_after is not None else {}
        if shape == "anthropic":
            kind = "rate_limit_error" if reply.status == 429 else "api_error"
            content: Any = {
                "type": "error",
                "error": {"type": kind, "message": reply.error_message},
            }
        elif shape == "cohere":
            content = {"message": reply.error_message}
        else:
            content = {"error": {"message": reply.error_message, "type": "error", "code": None}}
        return JSONResponse(content, status_code=reply.status, headers=headers)

    @staticmethod
    def _sse(events: Iterator[tuple[str | None, Any]]) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            for event, data in events:
                text = data if isinstance(data, str) else json.dumps(data)
                prefix = f"event: {event}\n" if event else ""
                yield f"{prefix}data: {text}\n\n".encode()
                await asyncio.sleep(0)

        return StreamingResponse(body(), media_type="text/event-stream")

    @staticmethod
    def _pieces(text: str) -> list[str]:
        return [text[i : i + 8] for i in range(0, len(text), 8)] or [""]

    async def _openai(self, request: Request) -> Response:
        body, reply, prompt_tokens = await self._begin(request)
        if reply.status != 200:
            return self._error(reply, "openai")
        model = body["model"]
        completion_tokens = reply.completion_tokens or max(1, _words(reply.text))
        usage = {
            # OpenAI counts cached tokens inside prompt_tokens.
            "prompt_tokens": prompt_tokens + reply.cached_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + reply.cached_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
        }
        ident, created = f"chatcmpl-{uuid.uuid4().hex[:12]}", int(time.time())
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": ident,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply.text},
                            "finish_reason": "stop",
                            "logprobs": None,
                        }
                    ],
                    "usage": usage,
                }
            )

        def events() -> Iterator[tuple[str | None, Any]]:
            base = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
            }
            for index, piece in enumerate(self._pieces(reply.text)):
                delta = (
                    {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
                )
                yield (
                    None,
                    {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
                )
            yield None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            if (body.get("stream_options") or {}).get("include_usage"):
                yield None, {**base, "choices": [], "usage": usage}
            yield None, "[DONE]"

        return self._sse(events())

    async def _anthropic(self, request: Request) -> Response:
        body, reply, prompt_tokens = await self._begin(request)
        if reply.status != 200:
            return self._error(reply, "anthropic")
        model = body["model"]
        completion_tokens = reply.completion_tokens or max(1, _words(reply.text))
        usage = {
            "input_tokens": prompt_tokens,
            "output_tokens": completion_tokens,
            "cache_read_input_tokens": reply.cached_tokens,
            "cache_creation_input_tokens": reply.cache_write_tokens,
        }
        ident = f"msg_{uuid.uuid4().hex[:12]}"
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": ident,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": reply.text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": usage,
                }
            )

        def events() -> Iterator[tuple[str | None, Any]]:
            start_usage = {**usage, "output_tokens": 1}
            yield (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": ident,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": start_usage,
                    },
                },
            )
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            for piece in self._pieces(reply.text):
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
            yield "content_block_stop", {"type": "content_block_stop", "index": 0}
            yield (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": completion_tokens},
                },
            )
            yield "message_stop", {"type": "message_stop"}

        return self._sse(events())

    async def _cohere(self, request: Request) -> Response:
        body, reply, prompt_tokens = await self._begin(request)
        if reply.status != 200:
            return self._error(reply, "cohere")
        completion_tokens = reply.completion_tokens or max(1, _words(reply.text))
        usage = {
            "billed_units": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens},
            "tokens": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens},
        }
        ident = str(uuid.uuid4())
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": ident,
                    "finish_reason": "COMPLETE",
                    "message": {
                        "role": "assistant",
                        "content": [{"type": "text", "text": reply.text}],
                    },
                    "usage": usage,
                }
            )

        def events() -> Iterator[tuple[str | None, Any]]:
            yield (
                "message-start",
                {
                    "type": "message-start",
                    "id": ident,
                    "delta": {
                        "message": {
                            "role": "assistant",
                            "content": [],
                            "tool_plan": "",
                            "tool_calls": [],
                            "citations": [],
                        }
                    },
                },
            )
            yield (
                "content-start",
                {
                    "type": "content-start",
                    "index": 0,
                    "delta": {"message": {"content": {"type": "text", "text": ""}}},
                },
            )
            for piece in self._pieces(reply.text):
                yield (
                    "content-delta",
                    {
                        "type": "content-delta",
                        "index": 0,
                        "delta": {"message": {"content": {"text": piece}}},
                    },
                )
            yield "content-end", {"type": "content-end", "index": 0}
            yield (
                "message-end",
                {"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": usage}},
            )

        return self._sse(events())
