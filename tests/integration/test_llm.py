"""The LLM module over HTTP, against local servers speaking each provider's wire format: the
real SDK clients, streaming, platform repair, retries and fallbacks, budgets under
concurrency, cost equal to the price table's arithmetic, outcomes -> leaderboard, the cache,
tenancy and roles."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest

from engine.llm.pricing import load_price_table
from tests.integration.conftest import Tenant, add_user
from tests.llm_servers import Reply, WireServer

pytestmark = pytest.mark.integration

BASE = "/api/v1/llm"
SEED_BODY = {
    "template": "ad_copy",
    "product": "wireless headphones",
    "target_audience": "fitness enthusiasts",
    "platform": "facebook_ads",
    "model": "gpt-4",
}
META_REPLY = json.dumps(
    {
        "primary_text": "Train longer with sweat-proof wireless headphones that stay put.",
        "headline": "Headphones that keep up",
        "description": "Sweat-proof fit",
    }
)
GOOD_GOOGLE = json.dumps(
    {
        "headlines": ["Wireless Gym Headphones", "Sweat-Proof Fit", "Train Without Wires"],
        "descriptions": ["Secure earbuds for every workout.", "Long battery, fast charge."],
    }
)
LONG_GOOGLE = json.dumps(
    {
        "headlines": [
            "Wireless Headphones For Every Single Workout",  # 43 characters: over 30
            "Sweat-Proof Fit",
            "Train Without Wires",
        ],
        "descriptions": ["Secure earbuds for every workout.", "Long battery, fast charge."],
    }
)
SECRET = "sk-test-secret-0123456789abcd"


@pytest.fixture(scope="module")
def wire() -> Iterator[WireServer]:
    server = WireServer().start()
    yield server
    server.stop()


def configure(client: httpx.Client, tenant: Tenant, wire: WireServer, **extra: Any) -> None:
    """The seed's model names through four providers' SDKs, all on the local wire server."""
    prices = {"input_usd_per_mtok": "2.50", "output_usd_per_mtok": "10.00"}
    providers = [
        {
            "name": "openai",
            "kind": "openai",
            "base_url": f"{wire.base_url}/v1",
            "api_key": SECRET,
            "models": [
                {
                    "name": "gpt-4",
                    "provider_model": f"gpt-4o-{tenant.org_id[:8]}",
                    "cached_input_usd_per_mtok": "1.25",
                    **prices,
                    **extra.get("gpt4", {}),
                }
            ],
        },
        {
            "name": "anthropic",
            "kind": "anthropic",
            "base_url": wire.base_url,
            "api_key": SECRET,
            "models": [
                {
                    "name": "claude-3",
                    "provider_model": f"claude-{tenant.org_id[:8]}",
                    "input_usd_per_mtok": "3",
                    "output_usd_per_mtok": "15",
                    "cached_input_usd_per_mtok": "0.30",
                    "cache_write_usd_per_mtok": "3.75",
                }
            ],
        },
        {
            "name": "cohere",
            "kind": "cohere",
            "base_url": wire.base_url,
            "api_key": SECRET,
            "models": [
                {
                    "name": "command",
                    "provider_model": f"command-{tenant.org_id[:8]}",
                    "input_usd_per_mtok": "0.15",
                    "output_usd_per_mtok": "0.60",
                }
            ],
        },
        {
            "name": "tgi",
            "kind": "huggingface",
            "base_url": wire.base_url,
            "models": [
                {
                    "name": "custom-model",
                    "provider_model": f"tgi-{tenant.org_id[:8]}",
                    "input_usd_per_mtok": "0",
                    "output_usd_per_mtok": "0",
                    "usd_per_second": "0.0005",
                }
            ],
        },
    ]
    for provider in providers:
        response = client.post(f"{BASE}/providers", headers=tenant.auth, json=provider)
        assert response.status_code == 201, response.text


def provider_model(tenant: Tenant, name: str) -> str:
    prefix = {"gpt-4": "gpt-4o", "claude-3": "claude", "command": "command", "custom-model": "tgi"}
    return f"{prefix[name]}-{tenant.org_id[:8]}"


def test_generation_without_a_provider_is_a_409_saying_how_to_configure_one(
    client: httpx.Client, tenant: Tenant
) -> None:
    response = client.post(f"{BASE}/prompts/generate", headers=tenant.auth, json=SEED_BODY)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "no_provider"
    assert "POST /api/v1/llm/providers" in error["message"]


def test_provider_keys_are_never_returned_and_unknown_prices_are_refused(
    client: httpx.Client, tenant: Tenant, wire: WireServer
) -> None:
    configure(client, tenant, wire)
    listed = client.get(f"{BASE}/providers", headers=tenant.auth)
    assert listed.status_code == 200
    assert SECRET not in listed.text
    openai = next(p for p in listed.json()["providers"] if p["name"] == "openai")
    assert openai["api_key_configured"] is True
    assert openai["api_key_hint"] == SECRET[-4:]
    refused = client.post(
        f"{BASE}/providers",
        headers=tenant.auth,
        json={
            "name": "mystery",
            "kind": "openai",
            "base_url": f"{wire.base_url}/v1",
            "models": [{"name": "mystery", "provider_model": "not-in-any-table"}],
        },
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "models[0].input_usd_per_mtok"
    # The price table's own entry needs no price from the org.
    tabled = client.post(
        f"{BASE}/providers",
        headers=tenant.auth,
        json={
            "name": "official",
            "kind": "openai",
            "base_url": f"{wire.base_url}/v1",
            "models": [{"name": "mini", "provider_model": "gpt-4o-mini"}],
        },
    )
    assert tabled.status_code == 201, tabled.text
    model = tabled.json()["models"][0]
    assert model["price_source"] == f"table:{load_price_table().version}"
    assert Decimal(model["input_usd_per_mtok"]) == Decimal("0.15")


@pytest.mark.parametrize("model", ["gpt-4", "claude-3", "command", "custom-model"])
def test_the_seed_body_generates_through_each_sdk_with_cost_from_the_price_arithmetic(
    client: httpx.Client, tenant: Tenant, wire: WireServer, model: str
) -> None:
    configure(client, tenant, wire)
    wire.default(provider_model(tenant, model), Reply(text=META_REPLY, cached_tokens=4))
    response = client.post(
        f"{BASE}/prompts/generate", headers=tenant.auth, json={**SEED_BODY, "model": model}
    )
    assert response.status_code == 200, response.text
    generation = response.json()["generations"][0]
    assert generation["platform"] == "meta"
    assert generation["simulated"] is False
    assert generation["content"]["headline"] == ["Headphones that keep up"]
    assert generation["violations"] == []
    usage = generation["usage"]
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] > 0
    provider = next(
        m
        for p in client.get(f"{BASE}/providers", headers=tenant.auth).json()["providers"]
        for m in p["models"]
        if m["name"] == model
    )

    def rate(name: str, fallback: str = "input_usd_per_mtok") -> Decimal:
        return Decimal(provider[name] if provider[name] is not None else provider[fallback])

    expected = (
        usage["input_tokens"] * rate("input_usd_per_mtok")
        + usage["cached_input_tokens"] * rate("cached_input_usd_per_mtok")
        + usage["cache_write_tokens"] * rate("cache_write_usd_per_mtok")
        + usage["output_tokens"] * rate("output_usd_per_mtok")
    ) / Decimal(1_000_000)
    cost = Decimal(generation["cost_usd"])
    if model == "custom-model":  # priced per second of the call
        assert Decimal(0) < cost <= Decimal("0.0005") * Decimal(generation["latency_ms"]) / 1000
    else:
        assert cost == expected.quantize(Decimal("0.000000001"))
    if model == "gpt-4":
        assert usage["cached_input_tokens"] == 4  # OpenAI's cached tokens charged once, cheaper
    stored = client.get(f"{BASE}/generations/{generation['id']}", headers=tenant.auth).json()
    assert Decimal(stored["cost_usd"]) == cost
    sent = wire.requests_for(provider_model(tenant, model))[-1]
    assert "wireless headphones" in json.dumps(sent.body)
    if model != "custom-model":
        assert SECRET in (sent.headers.get("authorization", "") + sent.headers.get("x-api-key", ""))


def test_streaming_answers_server_sent_events_and_stores_the_generation(
    client: httpx.Client, tenant: Tenant, wire: WireServer
) -> None:
    configure(client, tenant, wire)
    wire.default(provider_model(tenant, "claude-3"), Reply(text=META_REPLY))
    events: list[tuple[str, Any]] = []
    with client.stream(
        "POST",
        f"{BASE}/prompts/generate",
        headers=tenant.auth,
        json={**SEED_BODY, "model": "claude-3", "stream": True},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                events.append((event or "", json.loads(line[6:])))
    kinds = [k for k, _ in events]
    assert kinds[0] == "start"
    assert kinds[-1] == "done"
    assert "delta" in kinds
    text = "".join(d["text"] for k, d in events if k == "delta")
    done = events[-1][1]
    assert text == done["output"] == META_REPLY
    assert done["ttft_ms"] is not None
    assert done["ttft_ms"] <= done["latency_ms"]
    assert client.get(f"{BASE}/generations/{done['id']}", headers=tenant.auth).status_code == 200


def test_an_output_over_the_platform_limit_is_repaired_by_one_constrained_retry(
    client: httpx.Client, tenant: Tenant, wire: WireServer
) -> None:
    configure(client, tenant, wire)
    model = provider_model(tenant, "command")
    wire.script(model, Reply(text=LONG_GOOGLE), Reply(text=GOOD_GOOGLE))
    before = len(wire.requests_for(model))
    response = client.post(
        f"{BASE}/prompts/generate",
        headers=tenant.auth,
        json={**SEED_BODY, "model": "command", "platform": "google_ads"},
    )
    assert response.status_code == 200, response.text
    generation = response.json()["generations"][0]
    assert generation["repaired"] is True
    assert generation["violations"] == []
    calls = wire.requests_for(model)[before:]
    assert len(calls) == 2
    repair_prompt = json.dumps(calls[1].body)
    assert "headlines[0]" in repair_prompt
    assert "30" in repair_prompt
    # Still too long after the retry: returned, with the violation listed.
    wire.script(model, Reply(text=LONG_GOOGLE), Reply(text=LONG_GOOGLE))
    again = client.post(
        f"{BASE}/prompts/generate",
        headers=tenant.auth,
        json={**SEED_BODY, "model": "command", "platform": "google_ads"},
    ).json()["generations"][0]
    assert [v["rule"] for v in again["violations"]] == ["max_chars"]
    assert again["violations"][0]["limit"] == 30


def test_a_429_is_retried_after_retry_after_and_500s_fall_back_to_the_next_model(
    client: httpx.Client, tenant: Tenant, wire: WireServer
) -> None:
    configure(client, tenant, wire, gpt4={"fallbacks": []})
    gpt = provider_model(tenant, "gpt-4")
    wire.default(gpt, Reply(text=META_REPLY))
    wire.script(gpt, Reply(status=429, retry_after="1"))
    retried = client.post(f"{BASE}/prompts/generate", headers=tenant.auth, json=SEED_BODY)
    assert retried.status_code == 200, retried.text
    assert retried.json()["generations"][0]["model"] == "gpt-4"
    # A second org model that falls back to claude-3.
    fallback_org = client.post(
        f"{BASE}/providers",
        headers=tenant.auth,
        json={
            "name": "flaky",
            "kind": "openai",
            "base_url": f"{wire.base_url}/v1",
            "api_key": SECRET,
            "models": [
                {
                    "name": "flaky",
                    "provider_model": f"flaky-{tenant.org_id[:8]}",
                    "input_usd_per_mtok": "1",
                    "output_usd_per_mtok": "1",
                    "fallbacks": ["claude-3"],
                }
            ],
        },
    )
    assert fallback_org.status_code == 201, fallback_org.text
    wire.default(f"flaky-{tenant.org_id[:8]}", Reply(status=500))
    wire.default(provider_model(tenant, "claude-3"), Reply(text=META_REPLY))
    fell_back = client.post(
        f"{BASE}/prompts/generate", headers=tenant.auth, json={**SEED_BODY, "model": "flaky"}
    )
    assert fell_back.status_code == 200, fell_back.text
    generation = fell_back.json()["generations"][0]
    assert generation["model"] == "claude-3"
    assert len(wire.requests_for(f"flaky-{tenant.org_id[:8]}")) >= 2  # retried, then fell back
    # No fallback left: the mapped error in the common shape.
    wire.default(provider_model(tenant, "command"), Reply(status=401, error_message="bad key"))
    failed = client.post(
        f"{BASE}/prompts/generate", headers=tenant.auth, json={**SEED_BODY, "model": "command"}
    )
    assert failed.status_code == 502
    assert failed.json()["error"]["code"] == "auth_failed"


def test_twenty_concurrent_requests_never_spend_more_than_a_budget_that_fits_five(
    client: httpx.Client, tenant: Tenant, wire: WireServer
) -> None:
    configure(client, tenant, wire)
    model = provider_model(tenant, "gpt-4")
    wire.default(model, Reply(text=META_REPLY, delay_s=0.3))
    body = {**SEED_BODY, "max_tokens": 64}
    probe = client.post(f"{BASE}/prompts/generate", headers=tenant.auth, json=body)
    assert probe.status_code == 200, probe.text
    one = Decimal(probe.json()["generations"][0]["cost_usd"])
    # What a request reserves is its worst case; a cap of five worst cases, on top of the probe.
    prompt_bytes = sum(
        len(m["content"].encode()) + 16 for m in wire.requests_for(model)[-1].body["messages"]
    )
    worst = (Decimal(prompt_bytes) * Decimal("2.50") + 64 * Decimal("10")) / Decimal(10**6)
    cap = one + 5 * worst
    put = client.put(
        f"{BASE}/budgets",
        headers=tenant.auth,
        json={"scope": "org", "period": "day", "limit_usd": str(cap)},
    )
    assert put.status_code == 200, put.text

    def call(_: int) -> httpx.Response:
        return client.post(f"{BASE}/prompts/generate", headers=tenant.auth, json=body)

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(call, range(20)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 402}, statuses
    assert statuses.count(402) > 0
    assert statuses.count(200) >= 5
    spent = one + sum(
        (
            Decimal(r.json()["generations"][0]["cost_usd"])
            for r in responses
            if r.status_code == 200
        ),
        Decimal(0),
    )
    assert spent <= cap
    refused = next(r for r in responses if r.status_code == 402).json()["error"]
    assert refused["code"] == "budget_exceeded"
    budget = client.get(f"{BASE}/budgets", headers=tenant.auth).json()["budgets"][0]
    assert Decimal(budget["spent_usd"]) == spent
    assert Decimal(budget["reserved_usd"]) == 0


def test_outcomes_feed_a_leaderboard_with_intervals_and_tied_ranks(
    client: httpx.Client, tenant: Tenant, wire: WireServer
) -> None:
    configure(client, tenant, wire)
    for model in ("gpt-4", "claude-3", "command"):
        wire.default(provider_model(tenant, model), Reply(text=META_REPLY))
    clicks = {"gpt-4": 400, "claude-3": 40, "command": 42}
    for model, conversions in (("gpt-4", 120), ("claude-3", 4), ("command", 5)):
        generated = client.post(
            f"{BASE}/prompts/generate", headers=tenant.auth, json={**SEED_BODY, "model": model}
        ).json()
        generation_id = generated["generations"][0]["id"]
        outcome = {
            "impressions": 10_000,
            "clicks": clicks[model],
            "conversions": conversions,
            "external_id": f"report-{model}",
        }
        first = client.post(
            f"{BASE}/generations/{generation_id}/outcomes", headers=tenant.auth, json=outcome
        )
        assert first.status_code == 201, first.text
        replay = client.post(
            f"{BASE}/generations/{generation_id}/outcomes", headers=tenant.auth, json=outcome
        )
        assert replay.json()["replayed"] is True
    board = client.get(
        f"{BASE}/models/leaderboard?task=content_generation&metric=ctr", headers=tenant.auth
    )
    assert board.status_code == 200, board.text
    entries = {e["model"]: e for e in board.json()["entries"]}
    assert entries["gpt-4"]["rank"] == 1
    assert entries["claude-3"]["rank"] == entries["command"]["rank"] == 2
    assert "command|ad_copy" in entries["claude-3"]["tied_with"]
    assert entries["gpt-4"]["impressions"] == 10_000  # the replay counted once
    low, high = entries["gpt-4"]["interval"]["low"], entries["gpt-4"]["interval"]["high"]
    assert low < 0.04 < high
    seed_path = client.get(
        "/api/v1/models/leaderboard?task=content_generation&metric=conversion_rate",
        headers=tenant.auth,
    )
    assert seed_path.status_code == 200, seed_path.text
    assert seed_path.json()["entries"][0]["model"] == "gpt-4"


def test_quality_ratings_rank_models_one_rating_per_generation(
    client: httpx.Client, tenant: Tenant, wire: WireServer
) -> None:
    configure(client, tenant, wire)
    ratings = {"gpt-4": [[0.9], [0.8, 1.0], [0.95]], "command": [[0.2], [0.3], [0.25]]}
    for model, per_generation in ratings.items():
        wire.default(provider_model(tenant, model), Reply(text=META_REPLY))
        for scores in per_generation:
            generated = client.post(
                f"{BASE}/prompts/generate", headers=tenant.auth, json={**SEED_BODY, "model": model}
            ).json()
            generation_id = generated["generations"][0]["id"]
            for score in scores:
                rated = client.post(
                    f"{BASE}/generations/{generation_id}/outcomes",
                    headers=tenant.auth,
                    json={"quality": score, "source": "review"},
                )
                assert rated.status_code == 201, rated.text
                assert rated.json()["quality"] == score
    refused = client.post(
        f"{BASE}/generations/{generation_id}/outcomes", headers=tenant.auth, json={"quality": 1.5}
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "quality"
    board = client.get(f"{BASE}/models/leaderboard?metric=quality", headers=tenant.auth).json()
    entries = {e["model"]: e for e in board["entries"]}
    assert entries["gpt-4"]["n"] == 3  # the generation rated twice counts once, at its mean
    assert entries["gpt-4"]["estimate"] == pytest.approx((0.9 + 0.9 + 0.95) / 3)
    assert entries["command"]["estimate"] == pytest.approx(0.25)
    assert entries["gpt-4"]["rank"] == 1
    assert entries["command"]["rank"] == 2
    assert entries["gpt-4"]["interval"]["low"] > entries["command"]["interval"]["high"]


def test_identical_temperature_zero_requests_answer_from_the_cache_at_no_cost(
    client: httpx.Client, tenant: Tenant, wire: WireServer
) -> None:
    configure(client, tenant, wire)
    model = provider_model(tenant, "gpt-4")
    wire.default(model, Reply(text=META_REPLY))
    body = {**SEED_BODY, "temperature": 0}
    first = client.post(f"{BASE}/prompts/generate", headers=tenant.auth, json=body).json()
    calls = len(wire.requests_for(model))
    second = client.post(f"{BASE}/prompts/generate", headers=tenant.auth, json=body).json()
    assert len(wire.requests_for(model)) == calls
    a, b = first["generations"][0], second["generations"][0]
    assert a["cached"] is False
    assert b["cached"] is True
    assert Decimal(b["cost_usd"]) == 0
    assert b["output"] == a["output"]


def test_the_seed_short_path_and_the_local_provider_labelled_simulated(
    client: httpx.Client, tenant: Tenant
) -> None:
    local = client.post(
        f"{BASE}/providers",
        headers=tenant.auth,
        json={
            "name": "demo",
            "kind": "local",
            "models": [{"name": "gpt-4", "provider_model": "simulator"}],
        },
    )
    assert local.status_code == 201, local.text
    response = client.post("/api/v1/prompts/generate", headers=tenant.auth, json=SEED_BODY)
    assert response.status_code == 200, response.text
    generation = response.json()["generations"][0]
    assert generation["simulated"] is True
    assert generation["provider_kind"] == "local"
    assert set(generation["content"]) == {"primary_text", "headline", "description"}


def test_other_tenants_see_404_and_viewers_cannot_configure_or_generate(
    client: httpx.Client, tenant: Tenant, other_tenant: Tenant, wire: WireServer
) -> None:
    configure(client, tenant, wire)
    wire.default(provider_model(tenant, "gpt-4"), Reply(text=META_REPLY))
    generation = client.post(
        f"{BASE}/prompts/generate", headers=tenant.auth, json=SEED_BODY
    ).json()["generations"][0]
    assert (
        client.get(f"{BASE}/generations/{generation['id']}", headers=other_tenant.auth).status_code
        == 404
    )
    assert (
        client.post(
            f"{BASE}/generations/{generation['id']}/outcomes",
            headers=other_tenant.auth,
            json={"clicks": 1},
        ).status_code
        == 404
    )
    assert client.get(f"{BASE}/providers", headers=other_tenant.auth).json()["providers"] == []
    provider_id = client.get(f"{BASE}/providers", headers=tenant.auth).json()["providers"][0]["id"]
    assert (
        client.delete(f"{BASE}/providers/{provider_id}", headers=other_tenant.auth).status_code
        == 404
    )
    viewer = add_user(client, tenant, "viewer")
    assert client.get(f"{BASE}/providers", headers=viewer.auth).status_code == 200
    denied = client.post(f"{BASE}/prompts/generate", headers=viewer.auth, json=SEED_BODY)
    assert denied.status_code == 403
    assert (
        client.post(
            f"{BASE}/providers",
            headers=viewer.auth,
            json={"name": "x", "kind": "local", "models": [{"name": "x", "provider_model": "x"}]},
        ).status_code
        == 403
    )
    assert client.get(f"{BASE}/generations/{uuid.uuid4()}", headers=tenant.auth).status_code == 404


def test_org_templates_are_versioned_and_labelled_and_rendered_with_checked_variables(
    client: httpx.Client, tenant: Tenant, other_tenant: Tenant, wire: WireServer
) -> None:
    configure(client, tenant, wire)
    wire.default(provider_model(tenant, "gpt-4"), Reply(text="Fresh copy."))
    template = {
        "name": "launch",
        "purpose": "social_post",
        "language": "en",
        "user": "Announce {{ product }} for {{ audience }}.",
        "variables": [
            {"name": "product"},
            {"name": "audience", "required": False, "default": "everyone"},
        ],
        "label": "production",
    }
    v1 = client.post(f"{BASE}/templates", headers=tenant.auth, json=template)
    assert v1.status_code == 201, v1.text
    v2 = client.post(
        f"{BASE}/templates",
        headers=tenant.auth,
        json={**template, "user": "Say hello to {{ product }}.", "label": "staging"},
    )
    assert v2.json()["version"] == 2
    versions = client.get(f"{BASE}/templates/launch/versions", headers=tenant.auth).json()
    assert [(t["version"], t["label"]) for t in versions["templates"]] == [
        (2, "staging"),
        (1, "production"),
    ]
    generated = client.post(
        f"{BASE}/prompts/generate",
        headers=tenant.auth,
        json={"template": "launch", "product": "the Aero lamp", "model": "gpt-4"},
    ).json()["generations"][0]
    assert generated["template"] == {
        "name": "launch",
        "language": "en",
        "version": 1,
        "source": "org",
    }
    sent = json.dumps(wire.requests_for(provider_model(tenant, "gpt-4"))[-1].body)
    assert "Announce the Aero lamp for everyone." in sent
    bad = client.post(
        f"{BASE}/prompts/generate",
        headers=tenant.auth,
        json={
            "template": "launch",
            "model": "gpt-4",
            "variables": {"audience": 3, "colour": "red"},
        },
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["error"]["errors"]}
    assert {"variables.product", "variables.colour", "variables.audience"} <= fields
    undeclared = client.post(
        f"{BASE}/templates", headers=tenant.auth, json={**template, "user": "{{ secret }}"}
    )
    assert undeclared.status_code == 422
    assert "secret" in undeclared.text
    assert (
        client.get(f"{BASE}/templates/launch/versions", headers=other_tenant.auth).status_code
        == 404
    )
    builtins = client.get(f"{BASE}/templates?source=builtin&language=ja", headers=tenant.auth)
    assert {t["purpose"] for t in builtins.json()["templates"]} >= {"ad_copy", "email"}


EMAIL_REPLY = json.dumps(
    {
        "subject": "Your workouts, wire-free",
        "preheader": "Headphones that stay put",
        "body": "Meet the headphones built for sweat and speed.",
    }
)


def test_the_seed_compare_body_runs_every_model_on_the_same_briefs(
    client: httpx.Client, tenant: Tenant, wire: WireServer
) -> None:
    configure(client, tenant, wire)
    for model in ("gpt-4", "command", "claude-3"):
        wire.default(provider_model(tenant, model), Reply(text=EMAIL_REPLY))
    wire.default(provider_model(tenant, "command"), Reply(text="not the JSON asked for"))
    response = client.post(
        "/api/v1/models/compare",
        headers=tenant.auth,
        json={
            "models": ["gpt-4", "command", "claude-3"],
            "task": "email_marketing",
            "metrics": ["conversion_rate", "engagement", "cost_per_token"],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cases"] == 5
    by_model = {m["model"]: m for m in body["models"]}
    assert set(by_model) == {"gpt-4", "command", "claude-3"}
    assert by_model["gpt-4"]["constraint_pass_rate"] == 1.0
    assert by_model["command"]["constraint_pass_rate"] == 0.0  # unparseable, even after repair
    assert Decimal(by_model["gpt-4"]["cost_per_token_usd"]) > 0
    assert by_model["gpt-4"]["conversion_rate"]["estimate"] is None  # no outcomes yet, said so
    assert by_model["gpt-4"]["conversion_rate"]["note"]
    assert 0 < by_model["gpt-4"]["similarity_to_brief"] <= 1
    assert by_model["gpt-4"]["bertscore"] is None  # the built-in briefs bring no references
    assert "references" in by_model["gpt-4"]["bertscore_note"]
    pass_test = next(
        c
        for c in body["comparisons"]
        if c["metric"] == "constraint_pass" and {c["a"], c["b"]} == {"gpt-4", "command"}
    )
    assert abs(pass_test["difference"]) == 1.0
    assert pass_test["p_value"] < 0.1


def test_compare_scores_quality_against_references_in_any_script(
    client: httpx.Client, tenant: Tenant, wire: WireServer
) -> None:
    configure(client, tenant, wire)
    reference = "ワイヤレスヘッドホンで快適なトレーニング"
    wire.default(provider_model(tenant, "gpt-4"), Reply(text=reference))
    wire.default(provider_model(tenant, "claude-3"), Reply(text="まったく別の文章です"))
    cases = [
        {
            "product": "ワイヤレスヘッドホン",
            "platform": "generic",
            "language": "ja",
            "references": [reference],
        },
        {
            "product": "ワイヤレスイヤホン",
            "platform": "generic",
            "language": "ja",
            "references": [reference],
        },
    ]
    response = client.post(
        f"{BASE}/models/compare",
        headers=tenant.auth,
        json={"models": ["gpt-4", "claude-3"], "task": "product_description", "cases": cases},
    )
    assert response.status_code == 200, response.text
    by_model = {m["model"]: m for m in response.json()["models"]}
    assert by_model["gpt-4"]["quality"]["chrf"] == pytest.approx(100.0)
    assert by_model["gpt-4"]["quality"]["rouge_l"] == pytest.approx(1.0)
    assert by_model["claude-3"]["quality"]["rouge_l"] < 0.5
    assert by_model["gpt-4"]["bertscore"] == pytest.approx(1.0, abs=1e-4)
    assert by_model["claude-3"]["bertscore"] < by_model["gpt-4"]["bertscore"]
    assert "all-MiniLM-L6-v2" in by_model["gpt-4"]["bertscore_note"]
    assert any(c["metric"] == "bertscore" for c in response.json()["comparisons"])
