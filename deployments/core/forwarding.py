"""How the gateway passes a request on to a registered module, and what comes back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Never forwarded: hop-by-hop headers, the caller's credentials (a module is not trusted with
# them) and any identity header a client tries to smuggle in.
_DROPPED_REQUEST_HEADERS = frozenset(
    {
        "authorization",
        "x-api-key",
        "cookie",
        "host",
        "connection",
        "keep-alive",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
_DROPPED_RESPONSE_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "x-request-id",
        "server",
        "date",
    }
)
TRUSTED_PREFIX = "x-liftos-"


@dataclass(frozen=True)
class ForwardedRequest:
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: dict[str, str]
    body: bytes
    # The caller's TCP peer, for a built-in module that keys anonymous limits by it.
    client: tuple[str, int] | None = None


@dataclass(frozen=True)
class ForwardedResponse:
    status_code: int
    headers: list[tuple[str, str]]
    body: bytes


def forward_headers(
    incoming: Iterable[tuple[str, str]], trusted: Mapping[str, str]
) -> dict[str, str]:
    """Client headers minus credentials and hop-by-hop ones, plus the gateway's identity headers."""
    out = {
        k: v
        for k, v in incoming
        if k.lower() not in _DROPPED_REQUEST_HEADERS and not k.lower().startswith(TRUSTED_PREFIX)
    }
    out.update(trusted)
    return out


def response_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() not in _DROPPED_RESPONSE_HEADERS]


def passthrough_headers(incoming: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Client headers for a built-in module, which authenticates the caller itself: the
    credentials stay, hop-by-hop headers and any smuggled identity header go."""
    dropped = _DROPPED_REQUEST_HEADERS - {"authorization", "x-api-key", "cookie"}
    return {
        k: v
        for k, v in incoming
        if k.lower() not in dropped and not k.lower().startswith(TRUSTED_PREFIX)
    }
