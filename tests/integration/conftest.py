"""One session-scoped LiftOS stack for every integration test.

The real thing, on loopback: embedded PostgreSQL and Redis in a temporary state directory, a
local Ray cluster, and serve_config.yaml deployed through the same code as `liftos up`, on free
ports so a developer's own `liftos up` can keep running beside the suite.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cluster import local, serving
from cluster.local import free_port
from cluster.scaffold import scaffold_module
from cluster.settings import Settings
from tests.stripe_server import StripeServer

JWT_KEYS = {"it-1": "integration-signing-key-0123456789abcdefghijklmnop"}
RATE_PLANS = {
    "free": {
        "principal": {"requests_per_minute": 60000, "burst": 5000},
        "org": {"requests_per_minute": 60000, "burst": 10000},
    },
    "tiny": {
        "principal": {"requests_per_minute": 6, "burst": 3},
        "org": {"requests_per_minute": 600, "burst": 100},
    },
    # The billing plans' own limits: what a subscription moves an org to.
    "pro": {
        "principal": {"requests_per_minute": 120000, "burst": 20000},
        "org": {"requests_per_minute": 120000, "burst": 40000},
    },
    "enterprise": {
        "principal": {"requests_per_minute": 240000, "burst": 40000},
        "org": {"requests_per_minute": 240000, "burst": 80000},
    },
}
STARTER_PRICE = "price_liftos_starter_test"
METERED_PRICE = "price_liftos_metered_test"
PRO_PRICE = "price_liftos_pro_test"
ENTERPRISE_PRICE = "price_liftos_enterprise_test"
BILLING_PLANS = {
    "free": {"rate_plan": "free", "rank": 0, "quotas": {"mmm_fits": 1000}},
    # Tiny quotas, so the tests can run into them.
    "starter": {
        "price_id": STARTER_PRICE,
        "rate_plan": "free",
        "rank": 1,
        "quotas": {"mmm_fits": 1, "audited_products": 3, "llm_spend_usd": 0.0},
    },
    # Tiny api_calls and memory_bytes quotas (tests/integration/test_billing.py).
    "metered": {
        "price_id": METERED_PRICE,
        "rate_plan": "free",
        "rank": 1,
        "quotas": {"api_calls": 25, "memory_bytes": 4096},
    },
    "pro": {"price_id": PRO_PRICE, "rate_plan": "pro", "rank": 2, "quotas": {"mmm_fits": 5000}},
    "enterprise": {"price_id": ENTERPRISE_PRICE, "rate_plan": "enterprise", "rank": 3},
}
PASSWORD = "correct horse battery staple"
SCAFFOLDED_MODULE = "acme-scores"


@dataclass(frozen=True)
class Stack:
    base_url: str
    settings: Settings
    urls: local.StateUrls
    modules_dir: Path
    stripe: StripeServer
    traces: Path  # the spans every process of the cluster wrote (the file exporter)
    metrics_url: str  # Ray's Prometheus endpoint on this node


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    import ray

    stripe = StripeServer().start()
    state_dir = tmp_path_factory.mktemp("state")
    modules_dir = tmp_path_factory.mktemp("modules")
    scaffold_module(SCAFFOLDED_MODULE, modules_dir)
    env = {
        "LIFTOS_ENV": "dev",
        "LIFTOS_STATE_DIR": str(state_dir),
        "LIFTOS_REDIS_PORT": str(free_port()),
        "LIFTOS_JWT_KEYS": json.dumps(JWT_KEYS),
        "LIFTOS_JWT_ACTIVE_KID": "it-1",
        "LIFTOS_RATE_LIMIT_PLANS": json.dumps(RATE_PLANS),
        # Fast hashing: the suite signs up hundreds of users; production keeps the defaults.
        "LIFTOS_ARGON2_TIME_COST": "1",
        "LIFTOS_ARGON2_MEMORY_KIB": "1024",
        "LIFTOS_ARGON2_PARALLELISM": "1",
        "LIFTOS_AUTH_CACHE_TTL_SECONDS": "1",
        # Traces as `liftos up` writes them: JSON Lines in a file, from every process.
        "LIFTOS_OTEL_EXPORTER": "file",
        "LIFTOS_OTEL_FILE": str(state_dir / "traces.jsonl"),
        # Billing against the local Stripe (tests/stripe_server.py), through the real SDK.
        "LIFTOS_STRIPE_API_KEY": "sk_test_liftos_integration_0123456789",
        "LIFTOS_STRIPE_WEBHOOK_SECRET": stripe.webhook_secret,
        "LIFTOS_STRIPE_API_BASE": stripe.base_url,
        "LIFTOS_BILLING_PLANS": json.dumps(BILLING_PLANS),
        # Keep clear of a developer's running cluster.
        **local.side_by_side_env(ingress_port_base=32100),
        # Registered Python modules must be importable on every Ray worker.
        "PYTHONPATH": os.pathsep.join([str(modules_dir / SCAFFOLDED_MODULE), *sys.path]),
    }
    for name in ("DATABASE_URL", "REDIS_URL", "RAY_ADDRESS", "LIFTOS_DATABASE_MIGRATION_URL"):
        os.environ.pop(name, None)
    saved = dict(os.environ)
    os.environ.update(env)
    settings = Settings()
    urls = local.prepare_state(settings)
    # Workers inherit the raylet's environment, which inherits ours: the same mechanism as
    # `liftos up`, where `ray start` gets these variables.
    os.environ.update(local.service_env(settings, urls))
    http_port = free_port()
    metrics_port = free_port()
    try:
        # Logical CPUs, as `liftos up` gives a small machine: enough for the memory shards, a
        # causal fit and its Tune trials to be scheduled at once, whatever order tests run in.
        ray.init(
            address="local",
            num_cpus=8,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            _metrics_export_port=metrics_port,
            # Workers push their metrics to the node's exporter every second, not every ten.
            _system_config={"metrics_report_interval_ms": 1000},
        )
        config = serving.load_serve_config(http_port=http_port)
        config["http_options"]["host"] = "127.0.0.1"
        serving.deploy(config)
        serving.wait_until_running([a["name"] for a in config["applications"]], timeout_s=240)
        yield Stack(
            f"http://127.0.0.1:{http_port}",
            settings,
            urls,
            modules_dir,
            stripe,
            traces=state_dir / "traces.jsonl",
            metrics_url=f"http://127.0.0.1:{metrics_port}/metrics",
        )
    finally:
        # The cluster belongs to this process: ray.shutdown() stops every actor of it, HAProxy
        # included, without Serve's graceful drain (up to 30 s of waiting for nothing).
        ray.shutdown()
        local.stop_embedded(settings)
        stripe.stop()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=30) as http:
        yield http


@dataclass
class Tenant:
    """An org created through the public API, with its owner's tokens."""

    org_id: str
    org_slug: str
    owner_id: str
    email: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def signup(client: httpx.Client, *, prefix: str = "org") -> Tenant:
    tag = uuid.uuid4().hex[:10]
    response = client.post(
        "/auth/signup",
        json={
            "org_name": f"{prefix} {tag}",
            "email": f"owner-{tag}@{prefix}.example.com",
            "password": PASSWORD,
            "full_name": "Olive Owner",
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return Tenant(
        org_id=body["org"]["id"],
        org_slug=body["org"]["slug"],
        owner_id=body["user"]["id"],
        email=body["user"]["email"],
        access_token=body["tokens"]["access_token"],
        refresh_token=body["tokens"]["refresh_token"],
    )


def login(client: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Member:
    id: str
    email: str
    auth: dict[str, str]


def add_user(client: httpx.Client, tenant: Tenant, role: str) -> Member:
    """Create a user with ``role`` in ``tenant`` (through the API) and log them in."""
    email = f"{role}-{uuid.uuid4().hex[:8]}@members.example.com"
    response = client.post(
        "/auth/users",
        headers=tenant.auth,
        json={"email": email, "password": PASSWORD, "role": role},
    )
    assert response.status_code == 201, response.text
    tokens = login(client, email)
    return Member(response.json()["id"], email, bearer(tokens["access_token"]))


@pytest.fixture
def tenant(client: httpx.Client) -> Tenant:
    return signup(client)


@pytest.fixture
def other_tenant(client: httpx.Client) -> Tenant:
    return signup(client, prefix="rival")
