"""Which client an anonymous request comes from: the key of its rate limit.

Trust assumption. Behind Ray Serve a replica's TCP peer is never the client: it is HAProxy,
Ray's ingress on every node, and Ray's HAProxy adds no ``X-Forwarded-For`` of its own (it passes
on whatever arrives). So the client's address can only come from ``X-Forwarded-For`` entries
appended by proxies the operator runs in front of Ray (an L7 load balancer, an ingress
controller), and ``LIFTOS_TRUSTED_PROXY_HOPS`` says how many of them there are. The entry that
many places from the right is the address the outermost trusted proxy saw; entries to its left
were written by the client and are ignored. This holds only while HAProxy's port is reachable
through those proxies alone: a client that reaches it directly writes the entries it likes.

With no trusted proxy (0, the default, as on a laptop), any ``X-Forwarded-For`` is the caller's
own text. The peer address is used instead, except that the HTTP server inside a Ray replica
(uvicorn) replaces the peer with the header's value when the peer is a loopback address
(``FORWARDED_ALLOW_IPS``, default ``127.0.0.1,::1``). A request carrying the header is therefore
keyed ``unverified-forwarded``, one bucket for every such request, never by an address its
sender chose. Without trusted proxies every caller through one HAProxy shares that node's
address, which is why anonymous limits also have a cap over all anonymous callers together.

IPv6 clients are keyed by their /64 network: one subscriber usually holds a whole /64.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

UNVERIFIED = "unverified-forwarded"
UNKNOWN = "unknown"


def _parse(entry: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as proxies write it: bare, ``v4:port``, ``[v6]`` or ``[v6]:port``."""
    text = entry.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _key(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"ip:{address.ipv4_mapped}"
        return f"ip6:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"ip:{address}"


def forwarded_entries(header_values: Iterable[str]) -> list[str]:
    """Every ``X-Forwarded-For`` entry, in order (several headers read as one joined list)."""
    return [part.strip() for value in header_values for part in value.split(",") if part.strip()]


def client_key(peer: str | None, forwarded_for: Iterable[str], trusted_hops: int) -> str:
    """The rate-limit key of a request from TCP peer ``peer`` with these ``X-Forwarded-For``
    header values, when ``trusted_hops`` proxies in front of Ray append to that header."""
    if trusted_hops < 0:
        raise ValueError("trusted_hops must be at least 0")
    entries = forwarded_entries(forwarded_for)
    if entries:
        if trusted_hops == 0 or len(entries) < trusted_hops:
            # Nobody we trust wrote (all of) it: it says whatever the sender wanted.
            return UNVERIFIED
        address = _parse(entries[-trusted_hops])
        return _key(address) if address is not None else UNVERIFIED
    if peer is None:
        return UNKNOWN
    address = _parse(peer)
    return _key(address) if address is not None else f"peer:{peer[:64]}"
