"""Client addresses of anonymous callers and the ``public_or`` dependency, without Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cluster.guard import GuardResult
from cluster.settings import Settings
from deployments.common.client_address import UNKNOWN, UNVERIFIED, client_key
from deployments.common.errors import install_error_handlers
from deployments.common.principal import Principal
from deployments.common.security import (
    DEFAULT_ANONYMOUS_PLAN,
    document_permissions,
    public_or,
    require,
)
from engine.auth.rbac import Permission
from engine.auth.tokens import TokenService
from engine.ratelimit import RatePlan, gcra_decide

# -- client_key ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "forwarded", "hops", "expected"),
    [
        # No trusted proxy: the peer, and a forwarding header is nobody's word.
        ("198.51.100.7", [], 0, "ip:198.51.100.7"),
        ("198.51.100.7", ["203.0.113.9"], 0, UNVERIFIED),
        ("127.0.0.1", ["203.0.113.9, 10.0.0.1"], 0, UNVERIFIED),
        (None, [], 0, UNKNOWN),
        # One trusted proxy: the entry it appended, whatever the client wrote to its left.
        ("10.0.0.5", ["203.0.113.9"], 1, "ip:203.0.113.9"),
        ("10.0.0.5", ["1.1.1.1, 2.2.2.2", "203.0.113.9"], 1, "ip:203.0.113.9"),
        ("10.0.0.5", ["6.6.6.6, 203.0.113.9, 10.1.1.1"], 2, "ip:203.0.113.9"),
        ("10.0.0.5", ["203.0.113.9:4711"], 1, "ip:203.0.113.9"),
        # Fewer entries than trusted proxies: the chain did not come through all of them.
        ("10.0.0.5", ["203.0.113.9"], 2, UNVERIFIED),
        # Not through the proxies at all (inside the cluster): the peer.
        ("10.0.0.5", [], 1, "ip:10.0.0.5"),
        ("10.0.0.5", ["not-an-address"], 1, UNVERIFIED),
        # IPv6 by /64; a v4-mapped address is its IPv4 address.
        ("2001:db8:1:2:aaaa::1", [], 0, "ip6:2001:db8:1:2::/64"),
        ("10.0.0.5", ["[2001:db8:1:2::99]:443"], 1, "ip6:2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", [], 0, "ip:203.0.113.9"),
    ],
)
def test_client_key(peer: str | None, forwarded: list[str], hops: int, expected: str) -> None:
    assert client_key(peer, forwarded, hops) == expected


def test_spoofed_entries_never_choose_the_bucket() -> None:
    keys = {client_key("127.0.0.1", [f"192.0.2.{i}"], 0) for i in range(50)}
    assert keys == {UNVERIFIED}
    behind_one_proxy = {client_key("10.0.0.5", [f"192.0.2.{i}, 203.0.113.9"], 1) for i in range(9)}
    assert behind_one_proxy == {"ip:203.0.113.9"}


def test_negative_hops_are_refused() -> None:
    with pytest.raises(ValueError, match="trusted_hops"):
        client_key("198.51.100.7", [], -1)


# -- public_or -------------------------------------------------------------------------------

JWT_KEYS = {"u-1": "unit-test-signing-key-0123456789abcdefghij"}


@dataclass
class InMemoryGuard:
    """The Redis guard's decision (both limits must pass), kept in a dict, with a fixed clock."""

    now_us: int = 1_000_000_000
    tats: dict[str, int] = field(default_factory=dict)
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    def revocation_key(self, kind: str, ident: str) -> str:
        return f"revoked:{kind}:{ident}"

    async def check(
        self, *, principal: str, org_id: str, plan: RatePlan, revocation_keys: Sequence[str] = ()
    ) -> GuardResult:
        self.calls.append((principal, org_id, plan.name))
        keys = (f"p:{principal}", f"o:{org_id}")
        decisions = [
            gcra_decide(tat_us=self.tats.get(key), now_us=self.now_us, limit=limit)
            for key, limit in zip(keys, (plan.principal, plan.org), strict=True)
        ]
        if all(d.allowed for d in decisions):
            for key, decision in zip(keys, decisions, strict=True):
                self.tats[key] = decision.new_tat_us
            return GuardResult(allowed=True, revoked=False, retry_after_us=0, remaining=0)
        retry = max(d.retry_after_us for d in decisions)
        return GuardResult(allowed=False, revoked=False, retry_after_us=retry, remaining=0)


@pytest.fixture
def guard() -> InMemoryGuard:
    return InMemoryGuard()


@pytest.fixture
def tokens() -> TokenService:
    return TokenService(keys=JWT_KEYS, active_kid="u-1", issuer="liftos", audience="liftos-api")


@pytest.fixture
def client(guard: InMemoryGuard, tokens: TokenService) -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.state.runtime = SimpleNamespace(
        # Billing off whatever the environment says (the integration stack's turns it on).
        settings=Settings(
            jwt_keys={k: SecretStr(v) for k, v in JWT_KEYS.items()},
            jwt_active_kid="u-1",
            stripe_api_key=None,
            stripe_webhook_secret=None,
        ),
        guard=guard,
        tokens=tokens,
        verified_tokens={},
    )

    @app.get("/calendar")
    async def calendar(
        principal: Principal | None = Depends(public_or(Permission.CAUSAL_READ)),
    ) -> dict[str, Any]:
        return {"principal": str(principal.id) if principal else None}

    @app.get("/run")
    async def run(
        principal: Principal | None = Depends(public_or(Permission.CAUSAL_RUN)),
    ) -> dict[str, Any]:
        return {"principal": str(principal.id) if principal else None}

    @app.get("/private")
    async def private(principal: Principal = Depends(require(Permission.CAUSAL_READ))) -> str:
        return str(principal.org_id)

    document_permissions(app.router)
    with TestClient(app) as test_client:
        yield test_client


def _token(tokens: TokenService, role: str = "viewer") -> dict[str, str]:
    issued = tokens.issue_access_token(
        user_id=str(uuid.uuid4()), org_id=str(uuid.uuid4()), role=role, plan="free"
    )
    return {"Authorization": f"Bearer {issued.token}"}


def test_anonymous_callers_are_served_and_charged_to_their_address(
    client: TestClient, guard: InMemoryGuard
) -> None:
    response = client.get("/calendar")
    assert response.status_code == 200, response.text
    assert response.json() == {"principal": None}
    # TestClient's peer is "testclient", not an address: keyed as the peer it is.
    assert guard.calls == [("anon:peer:testclient", "anonymous", "anonymous")]


def test_anonymous_burst_then_429_with_retry_after(
    client: TestClient, guard: InMemoryGuard
) -> None:
    burst = DEFAULT_ANONYMOUS_PLAN.principal.burst
    statuses = [client.get("/calendar").status_code for _ in range(burst + 1)]
    assert statuses == [200] * burst + [429]
    refused = client.get("/calendar")
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    # Another address has its own bucket; so has a caller with a token.
    assert client.get("/calendar", headers={"X-Forwarded-For": "192.0.2.1"}).status_code == 200
    guard.now_us += 60_000_000  # a minute later the address may call again
    assert client.get("/calendar").status_code == 200


def test_a_token_is_still_authenticated_and_uses_the_callers_plan(
    client: TestClient, guard: InMemoryGuard, tokens: TokenService
) -> None:
    response = client.get("/calendar", headers=_token(tokens))
    assert response.status_code == 200
    assert response.json()["principal"] is not None
    assert guard.calls[-1][2] == "free"
    assert guard.calls[-1][0].startswith("user:")


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"X-API-Key": "lft_bogus"},
    ],
)
def test_a_bad_credential_is_a_401_never_anonymous(
    client: TestClient, guard: InMemoryGuard, headers: dict[str, str]
) -> None:
    response = client.get("/calendar", headers=headers)
    assert response.status_code == 401, response.text
    assert not any(call[0].startswith("anon:") for call in guard.calls)


def test_permission_still_applies_to_authenticated_callers(
    client: TestClient, tokens: TokenService
) -> None:
    assert client.get("/run", headers=_token(tokens, "viewer")).status_code == 403
    assert client.get("/run", headers=_token(tokens, "analyst")).status_code == 200


def test_tenant_routes_stay_authenticated_and_docs_say_public(client: TestClient) -> None:
    assert client.get("/private").status_code == 401
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/calendar"]["get"]["x-liftos-permission"] == "public"
    assert paths["/private"]["get"]["x-liftos-permission"] == "causal:read"
