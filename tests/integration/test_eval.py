"""The eval module over HTTP: evaluations and benchmarks against local servers speaking the
providers' wire formats (the real SDK clients, through the LLM module), versioned suites, the
budget sandbox on a model the causal module fitted (built-in, LLM-driven and HTTP agents),
paired comparisons, the deployment gate, the report, tenancy and roles."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cluster.local import free_port
from tests.integration.conftest import Tenant, add_user, signup
from tests.integration.test_causal import QUICK_FIT, upload, wait_for_job, weekly_frame
from tests.llm_servers import Reply, WireServer

pytestmark = pytest.mark.integration

BASE = "/api/v1/eval"
SECRET = "sk-test-secret-eval-0123456789"
GOOD = "Sweat-proof wireless earbuds with 40 hours of battery for your runs."
LEAKY = "Sweat-proof earbuds. Questions? Write to jane.doe@example.com or call +1 415 555 0100."


@pytest.fixture(scope="module")
def wire() -> Iterator[WireServer]:
    server = WireServer().start()
    yield server
    server.stop()


def configure(client: httpx.Client, tenant: Tenant, wire: WireServer) -> dict[str, str]:
    """gpt-4 through the OpenAI SDK and claude-3 through Anthropic's, both on the wire server;
    returns the provider model ids the server sees."""
    ids = {"gpt-4": f"gpt-eval-{tenant.org_id[:8]}", "claude-3": f"claude-eval-{tenant.org_id[:8]}"}
    providers = [
        {
            "name": "openai",
            "kind": "openai",
            "base_url": f"{wire.base_url}/v1",
            "api_key": SECRET,
            "models": [
                {
                    "name": "gpt-4",
                    "provider_model": ids["gpt-4"],
                    "input_usd_per_mtok": "2.50",
                    "output_usd_per_mtok": "10.00",
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
                    "provider_model": ids["claude-3"],
                    "input_usd_per_mtok": "3",
                    "output_usd_per_mtok": "15",
                }
            ],
        },
    ]
    for provider in providers:
        response = client.post("/api/v1/llm/providers", headers=tenant.auth, json=provider)
        assert response.status_code == 201, response.text
    return ids


def wait_for_run(
    client: httpx.Client, tenant: Tenant, run_id: str, timeout_s: float = 240, **params: Any
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(f"{BASE}/runs/{run_id}", headers=tenant.auth, params=params)
        assert response.status_code == 200, response.text
        run = response.json()
        if run["status"] in ("succeeded", "failed"):
            return run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish in {timeout_s} s: {run}")


@pytest.fixture(scope="module")
def llm_tenant(client: httpx.Client, wire: WireServer) -> dict[str, Any]:
    tenant = signup(client, prefix="eval")
    ids = configure(client, tenant, wire)
    wire.default(ids["gpt-4"], Reply(text=GOOD))
    wire.default(ids["claude-3"], Reply(text=LEAKY))
    return {"tenant": tenant, "ids": ids}


SEED_CASES = [
    {"input": "Describe wireless earbuds for runners", "expected": "earbuds"},
    {"input": "Describe earbuds with a long battery", "expected": "40 hours"},
    {"input": "Describe a cast-iron pan", "expected": "skillet", "context": "pan"},
    {"input": "Describe a cast-iron pan for campers", "expected": "skillet", "context": "pan"},
]


def test_seed_evaluate_scores_each_case_with_intervals(
    client: httpx.Client, llm_tenant: dict[str, Any], wire: WireServer
) -> None:
    tenant: Tenant = llm_tenant["tenant"]
    response = client.post(
        "/api/v1/evaluate",
        headers=tenant.auth,
        json={
            "model_type": "gpt-4",
            "test_cases": SEED_CASES,
            "metrics": ["accuracy", "latency", "safety"],
        },
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["cases_total"] == 4
    run = wait_for_run(client, tenant, accepted["run_id"])
    assert run["status"] == "succeeded", run
    (model,) = run["summary"]["models"]
    metrics = {m["metric"]: m for m in model["metrics"]}
    # GOOD mentions earbuds and 40 hours, never a skillet: 2 of 4 cases are accurate.
    assert metrics["accuracy"]["n"] == 4
    assert metrics["accuracy"]["value"] == 0.5
    low, high = metrics["accuracy"]["interval"]["low"], metrics["accuracy"]["interval"]["high"]
    assert 0 < low < 0.5 < high < 1  # a Wilson interval, not a bare rate
    assert metrics["safety"]["value"] == 1.0
    assert metrics["latency_ms"]["n"] == 4
    assert metrics["latency_ms"]["value"] > 0
    # The two pan cases share a context: the latency's standard error is clustered.
    assert metrics["latency_ms"]["clusters"] == 3
    cases = run["cases"]
    assert [c["case_index"] for c in cases] == [0, 1, 2, 3]
    first = cases[0]
    assert first["output"] == GOOD
    assert first["error"] is None
    assert first["checks"] == {"accuracy": True, "safety": True}
    assert first["generation_id"]
    assert first["input_tokens"] > 0
    assert first["seed"] == 0
    assert first["provider_model"] == llm_tenant["ids"]["gpt-4"]
    assert float(first["cost_usd"]) > 0
    assert first["latency_ms"] > 0
    assert {a["type"] for a in first["assertions"]} >= {"icontains", "no-pii"}
    # The prompt the model saw is the case's input.
    seen = wire.requests_for(llm_tenant["ids"]["gpt-4"])
    assert any("Describe a cast-iron pan for campers" in json.dumps(r.body) for r in seen)


def test_the_plainest_evaluate_takes_strings_and_says_what_it_could_not_measure(
    client: httpx.Client, llm_tenant: dict[str, Any]
) -> None:
    tenant: Tenant = llm_tenant["tenant"]
    response = client.post(
        "/api/v1/evaluate",
        headers=tenant.auth,
        json={"model_type": "gpt-4", "test_cases": ["Write an ad for trail shoes", "And a pan"]},
    )
    assert response.status_code == 202, response.text
    run = wait_for_run(client, tenant, response.json()["run_id"])
    assert run["status"] == "succeeded", run
    (model,) = run["summary"]["models"]
    assert {m["metric"] for m in model["metrics"]} == {"safety", "latency_ms"}
    assert run["summary"]["notes"] == [
        "accuracy: not measured: no case has an expected answer or assertions of its own "
        "(give expected)"
    ]
    assert [c["variables"] for c in run["cases"]] == [
        {"input": "Write an ad for trail shoes"},
        {"input": "And a pan"},
    ]


def test_benchmark_compares_models_pairwise_and_flags_ties(
    client: httpx.Client, llm_tenant: dict[str, Any]
) -> None:
    tenant: Tenant = llm_tenant["tenant"]
    suite = """
name: earbuds-copy
description: short product copy
prompts:
  - text: "Write one sentence about {{ product }}."
defaultTest:
  assert:
    - {type: no-pii}
    - {type: latency, threshold: 30000}
tests:
"""
    suite += "".join(
        f'  - {{description: "case {i}", vars: {{product: "earbuds model {i}"}}, '
        "assert: [{type: icontains, value: earbuds}]}\n"
        for i in range(12)
    )
    created = client.post(f"{BASE}/suites", headers=tenant.auth, json={"source": suite})
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1
    assert created.json()["cases"] == 12
    response = client.post(
        "/api/v1/benchmark",
        headers=tenant.auth,
        json={"models": ["gpt-4", "claude-3"], "evaluation_suite": "earbuds-copy"},
    )
    assert response.status_code == 202, response.text
    run = wait_for_run(client, tenant, response.json()["run_id"], limit=0)
    assert run["status"] == "succeeded", run
    assert run["suite_name"] == "earbuds-copy"
    assert run["suite_version"] == 1
    assert run["cases_done"] == 24
    assert run["cases"] == []
    summary = run["summary"]
    boards = {b["metric"]: b for b in summary["leaderboards"]}
    # claude-3's copy leaks an e-mail address and a phone number on every case.
    no_pii = boards["no-pii"]["ranking"]
    assert [r["model"] for r in no_pii] == ["gpt-4", "claude-3"]
    assert no_pii[0]["tied_with_best"]
    assert not no_pii[1]["tied_with_best"]
    # Both mention earbuds every time: tied.
    assert all(r["tied_with_best"] for r in boards["icontains"]["ranking"])
    pii = next(c for c in summary["comparisons"] if c["metric"] == "no-pii")
    assert pii["test"] == "mcnemar"
    assert pii["n"] == 12
    assert pii["significant"]
    assert pii["p_adjusted"] >= pii["p_value"]
    assert summary["adjustment"] == "holm"
    assert summary["cases_per_second"] > 0
    failed = client.get(
        f"{BASE}/runs/{run['id']}",
        headers=tenant.auth,
        params={"failed": "true", "model": "claude-3"},
    ).json()["cases"]
    assert len(failed) == 12
    assert all(not c["checks"]["no-pii"] for c in failed)
    evidence = next(a for a in failed[0]["assertions"] if a["type"] == "no-pii")
    assert "email" in evidence["reason"].lower() or "e-mail" in evidence["reason"].lower()


def test_built_in_suites_run_through_the_llm_modules_templates(
    client: httpx.Client, llm_tenant: dict[str, Any]
) -> None:
    """The seed's benchmark as written: a built-in suite of LLM-module templates (ad copy,
    e-mail, SEO meta across platforms and languages) with embedding similarity; and the
    offline safety suite, injection probes included."""
    tenant: Tenant = llm_tenant["tenant"]
    response = client.post(
        "/api/v1/benchmark",
        headers=tenant.auth,
        json={"models": ["gpt-4"], "evaluation_suite": "marketing-automation"},
    )
    assert response.status_code == 202, response.text
    safety = client.post(
        f"{BASE}/benchmark",
        headers=tenant.auth,
        json={"models": ["claude-3"], "evaluation_suite": "safety"},
    )
    assert safety.status_code == 202, safety.text
    run = wait_for_run(client, tenant, response.json()["run_id"], limit=500)
    assert run["status"] == "succeeded", run
    assert run["suite_name"] == "marketing-automation"
    assert run["suite_version"] is None  # built in
    templates = {c["prompt_template"] for c in run["cases"]}
    assert {"ad_copy", "email", "seo_meta"} <= templates
    assert all(c["error"] is None for c in run["cases"])
    # gpt-4 writes about earbuds whatever the brief: the memory embedder's cosines say so.
    close = {c["description"] for c in run["cases"] if c["checks"]["similar"]}
    assert close == {"running earbuds", "earbuds for commuters"}
    (model,) = run["summary"]["models"]
    assert {m["metric"] for m in model["metrics"]} >= {"pass", "similar", "no-claims", "score"}

    checked = wait_for_run(client, tenant, safety.json()["run_id"], limit=500)
    assert checked["status"] == "succeeded", checked
    probes = [c for c in checked["cases"] if c["description"].startswith("injection probe")]
    assert len(probes) >= 9
    assert all(c["checks"]["canary-absent"] for c in probes)  # LEAKY carries no canary
    assert not any(c["checks"]["no-pii"] for c in checked["cases"] if "no-pii" in c["checks"])


def test_suites_are_versioned_and_bad_ones_name_the_field(
    client: httpx.Client, llm_tenant: dict[str, Any]
) -> None:
    tenant: Tenant = llm_tenant["tenant"]
    body = {
        "suite": {
            "name": "tiny",
            "prompts": [{"text": "Say {{ word }}"}],
            "tests": [{"vars": {"word": "hi"}, "assert": [{"type": "equals", "value": "hi"}]}],
        }
    }
    first = client.post(f"{BASE}/suites", headers=tenant.auth, json=body)
    second = client.post(f"{BASE}/suites", headers=tenant.auth, json=body)
    assert first.status_code == second.status_code == 201
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    versions = client.get(f"{BASE}/suites/tiny/versions", headers=tenant.auth).json()["items"]
    assert [v["version"] for v in versions] == [2, 1]
    listed = client.get(f"{BASE}/suites", headers=tenant.auth).json()["items"]
    names = {(s["name"], s["builtin"]) for s in listed}
    assert {("tiny", False), ("marketing-automation", True), ("safety", True)} <= names
    assert client.get(f"{BASE}/suites/tiny?version=1", headers=tenant.auth).json()["version"] == 1

    bad = json.loads(json.dumps(body))
    bad["suite"]["tests"][0]["assert"][0]["type"] = "contain"
    response = client.post(f"{BASE}/suites", headers=tenant.auth, json=bad)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "tests[0].assert[0].type", response.text
    missing = json.loads(json.dumps(body))
    missing["suite"]["tests"][0]["vars"] = {"other": "x"}
    response = client.post(f"{BASE}/suites", headers=tenant.auth, json=missing)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "tests[0].vars", response.text
    assert "word" in response.json()["error"]["message"]


def test_evaluate_rejects_bad_requests_before_queueing(
    client: httpx.Client, llm_tenant: dict[str, Any]
) -> None:
    tenant: Tenant = llm_tenant["tenant"]
    cases = [{"input": "x"}]
    unknown = client.post(
        f"{BASE}/evaluate", headers=tenant.auth, json={"model_type": "gpt-5", "test_cases": cases}
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "model_type"
    metric = client.post(
        f"{BASE}/evaluate",
        headers=tenant.auth,
        json={"model_type": "gpt-4", "test_cases": cases, "metrics": ["vibes"]},
    )
    assert metric.status_code == 422
    assert "metrics" in metric.text
    assertion = client.post(
        f"{BASE}/evaluate",
        headers=tenant.auth,
        json={
            "model_type": "gpt-4",
            "test_cases": [{"input": "x", "assert": [{"type": "regex", "value": "("}]}],
        },
    )
    assert assertion.status_code == 422, assertion.text
    assert assertion.json()["error"]["field"] == "test_cases[0].assert[0].value"
    suite = client.post(
        f"{BASE}/benchmark", headers=tenant.auth, json={"evaluation_suite": "no-such-suite"}
    )
    assert suite.status_code == 404
    fresh = signup(client, prefix="eval-none")
    none = client.post(
        f"{BASE}/evaluate", headers=fresh.auth, json={"model_type": "gpt-4", "test_cases": cases}
    )
    assert none.status_code == 409
    assert none.json()["error"]["code"] == "no_provider"


# --- sandbox ----------------------------------------------------------------------------------


class AgentServer:
    """An external agent over HTTP: asks for ten times what is left of the budget, on the
    first channel, every period (the "$50K weekend" the sandbox must stop)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[dict[str, Any]] = []
        self.module_requests: list[dict[str, Any]] = []

        async def act(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append(body)
            observation = body["observation"]
            first = observation["channels"][0]
            return JSONResponse({"spend": {first: 10 * observation["remaining_budget"]}})

        async def steady(request: Request) -> JSONResponse:
            # A registered module's agent: what is left, paced evenly over the channels.
            body = await request.json()
            self.module_requests.append({"headers": dict(request.headers), "body": body})
            observation = body["observation"]
            left = observation["periods"] - observation["period"]
            share = observation["remaining_budget"] / max(left, 1) / len(observation["channels"])
            return JSONResponse({"spend": dict.fromkeys(observation["channels"], share)})

        app = Starlette(
            routes=[
                Route("/act", act, methods=["POST"]),
                Route("/steady", steady, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/act"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AgentServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def agent_server() -> Iterator[AgentServer]:
    server = AgentServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sandbox(
    client: httpx.Client, llm_tenant: dict[str, Any], wire: WireServer, agent_server: AgentServer
) -> dict[str, Any]:
    """A model fitted by the causal module, played by built-in, LLM and HTTP agents."""
    tenant: Tenant = llm_tenant["tenant"]
    response = upload(client, tenant, weekly_frame())
    assert response.status_code == 201, response.text
    fit = client.post(
        "/api/v1/causal/attribution/analyze",
        headers=tenant.auth,
        json={"dataset_id": response.json()["id"], "fit": QUICK_FIT, "wait_seconds": 0},
    )
    assert fit.status_code == 202, fit.text
    job = wait_for_job(client, tenant, fit.json()["job_id"])
    assert job["status"] == "succeeded", job
    # The LLM agent's model answers with a steady allocation of the right shape.
    allocation = json.dumps({"spend": {"channel_1": 900.0, "channel_2": 900.0}})
    wire.default(llm_tenant["ids"]["gpt-4"], Reply(text=allocation))
    module = client.post(
        "/modules",
        headers=tenant.auth,
        json={
            "name": "budget-bot",
            "version": "1.0.0",
            "description": "a partner's budget agent",
            "capabilities": ["budget-agent"],
            "endpoints": [{"method": "POST", "path": "/steady", "permission": "eval:run"}],
            "permissions": ["eval:run"],
            "base_url": agent_server.base_url,
        },
    )
    assert module.status_code == 201, module.text
    body = {
        "model_id": job["model_id"],
        "agents": [
            "optimizer",
            "equal_split",
            "repeat",
            "thompson",
            {"name": "gpt-planner", "type": "llm", "model": "gpt-4"},
            {"name": "spender", "type": "http", "url": agent_server.url},
            {"name": "partner", "type": "module", "module": "budget-bot", "path": "/steady"},
        ],
        "episodes": 12,
        "periods": 8,
        "seed": 7,
    }
    response = client.post(f"{BASE}/sandbox/runs", headers=tenant.auth, json=body)
    assert response.status_code == 202, response.text
    run = wait_for_run(client, tenant, response.json()["run_id"])
    assert run["status"] == "succeeded", run
    return {"tenant": tenant, "run": run, "model_id": job["model_id"], "body": body}


def _agent(run: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in run["summary"]["agents"] if a["agent"] == name)


def test_sandbox_scores_every_agent_against_the_reference(
    sandbox: dict[str, Any], agent_server: AgentServer
) -> None:
    run = sandbox["run"]
    summary = run["summary"]
    assert summary["episodes"] == 12
    assert summary["periods"] == 8
    assert [a["agent"] for a in summary["agents"]] == [
        "optimizer",
        "equal_split",
        "repeat",
        "thompson",
        "gpt-planner",
        "spender",
        "partner",
    ]
    optimizer = _agent(run, "optimizer")
    assert optimizer["regret"]["n"] == 12
    assert optimizer["regret"]["interval"] is not None
    assert optimizer["violation_rate"]["passed"] == 0
    # The spender asked for far beyond the budget: stopped, and the attempt recorded.
    spender = _agent(run, "spender")
    assert spender["violations"]["budget"] >= 12
    assert spender["attempted_over_budget"] > 0
    assert spender["violation_rate"]["rate"] == 1.0
    assert agent_server.requests[0]["protocol"] == "liftos.sandbox.v1"
    assert agent_server.requests[0]["observation"]["periods"] == 8
    partner = _agent(run, "partner")
    assert partner["violation_rate"]["passed"] == 0
    assert partner["violations"].get("invalid_action", 0) == 0
    sent = agent_server.module_requests[0]
    assert sent["headers"]["x-liftos-org"] == sandbox["tenant"].org_id
    assert "authorization" not in sent["headers"]
    assert sent["body"]["protocol"] == "liftos.sandbox.v1"
    planner = _agent(run, "gpt-planner")
    assert planner["episodes"] == 12
    assert planner["violations"].get("invalid_action", 0) == 0
    assert run["report_url"] == f"{BASE}/runs/{run['id']}/report"


def test_sandbox_report_compare_and_gate(client: httpx.Client, sandbox: dict[str, Any]) -> None:
    tenant: Tenant = sandbox["tenant"]
    run = sandbox["run"]
    report = client.get(run["report_url"], headers=tenant.auth)
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    assert "Cumulative profit" in report.text
    assert "data:image/png;base64," in report.text

    compared = client.post(
        f"{BASE}/sandbox/compare",
        headers=tenant.auth,
        json={"run_id": run["id"], "a": "optimizer", "b": "spender"},
    )
    assert compared.status_code == 200, compared.text
    result = compared.json()
    assert result["episodes"] == 12
    assert result["profit"]["n"] == 12
    assert result["passes"]["n"] == 12
    assert result["winner"] in ("optimizer", None)
    sequential = client.post(
        f"{BASE}/sandbox/compare",
        headers=tenant.auth,
        json={
            "run_id": run["id"],
            "a": "optimizer",
            "b": "equal_split",
            "sequential": True,
            "looks": 3,
        },
    )
    assert sequential.status_code == 200, sequential.text
    assert sequential.json()["sequential"]["looks"] >= 1
    assert sequential.json()["profit"] is None
    unknown = client.post(
        f"{BASE}/sandbox/compare",
        headers=tenant.auth,
        json={"run_id": run["id"], "a": "optimizer", "b": "nobody"},
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "b"

    blocked = client.post(f"{BASE}/gates/check", headers=tenant.auth, json={"agent": "spender"})
    assert blocked.status_code == 200, blocked.text
    gate = blocked.json()
    assert gate["run_id"] == run["id"]
    assert gate["passed"] is False
    violations = next(c for c in gate["checks"] if c["name"] == "violations")
    assert violations["passed"] is False
    assert "12 of 12" in violations["evidence"]
    lenient = client.post(
        f"{BASE}/gates/check",
        headers=tenant.auth,
        json={"agent": "optimizer", "thresholds": {"max_regret": 100, "max_violation_rate": 0}},
    )
    assert lenient.status_code == 200
    assert lenient.json()["passed"] is True


def test_sandbox_rejects_bad_requests_before_queueing(
    client: httpx.Client, sandbox: dict[str, Any]
) -> None:
    tenant: Tenant = sandbox["tenant"]
    body = {"model_id": sandbox["model_id"], "agents": ["optimizer"]}
    cases = [
        ({**body, "agents": ["genius"]}, "agents[0]"),
        ({**body, "constraints": {"channel_caps": {"tv": 10}}}, "constraints.channel_caps"),
        ({**body, "constraints": {"blackout": ["channel_1", "channel_2"]}}, "constraints.blackout"),
        (
            {**body, "agents": [{"name": "x", "type": "llm", "model": "gpt-4"}], "episodes": 10000},
            "episodes",
        ),
    ]
    for payload, field in cases:
        response = client.post(f"{BASE}/sandbox/runs", headers=tenant.auth, json=payload)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["error"]["field"] == field, response.text
    auction = client.post(
        f"{BASE}/sandbox/runs",
        headers=tenant.auth,
        json={**body, "auction": {"channels": ["tv"]}},
    )
    assert auction.status_code == 422
    assert auction.json()["error"]["field"] == "auction.channels"
    surge = client.post(
        f"{BASE}/sandbox/runs",
        headers=tenant.auth,
        json={
            **body,
            "agents": ["optimizer", "equal_split"],
            "episodes": 20,
            "periods": 6,
            "auction": {"channels": ["channel_1"], "pressure": [1, 2]},
        },
    )
    assert surge.status_code == 202, surge.text
    run = wait_for_run(client, tenant, surge.json()["run_id"])
    assert run["status"] == "succeeded", run
    assert [a["agent"] for a in run["summary"]["agents"]] == ["optimizer", "equal_split"]
    report = client.get(run["report_url"], headers=tenant.auth).text
    assert "second-price auction" in report
    missing = client.post(
        f"{BASE}/sandbox/runs",
        headers=tenant.auth,
        json={**body, "model_id": "00000000-0000-0000-0000-000000000001"},
    )
    assert missing.status_code == 404


def test_other_tenants_get_404_and_viewers_cannot_run(
    client: httpx.Client, sandbox: dict[str, Any], other_tenant: Tenant
) -> None:
    tenant: Tenant = sandbox["tenant"]
    run_id = sandbox["run"]["id"]
    assert client.get(f"{BASE}/runs/{run_id}", headers=other_tenant.auth).status_code == 404
    report = client.get(f"{BASE}/runs/{run_id}/report", headers=other_tenant.auth)
    assert report.status_code == 404
    compare = client.post(
        f"{BASE}/sandbox/compare",
        headers=other_tenant.auth,
        json={"run_id": run_id, "a": "optimizer", "b": "repeat"},
    )
    assert compare.status_code == 404
    gate = client.post(
        f"{BASE}/gates/check",
        headers=other_tenant.auth,
        json={"agent": "optimizer", "run_id": run_id},
    )
    assert gate.status_code == 404
    foreign_model = client.post(
        f"{BASE}/sandbox/runs",
        headers=other_tenant.auth,
        json={"model_id": sandbox["model_id"], "agents": ["optimizer"]},
    )
    assert foreign_model.status_code == 404
    assert client.get(f"{BASE}/suites/tiny", headers=other_tenant.auth).status_code == 404

    viewer = add_user(client, tenant, "viewer")
    assert client.get(f"{BASE}/runs/{run_id}", headers=viewer.auth).status_code == 200
    for path, payload in (
        ("/api/v1/evaluate", {"model_type": "gpt-4", "test_cases": [{"input": "x"}]}),
        (f"{BASE}/sandbox/runs", {"model_id": sandbox["model_id"]}),
        (f"{BASE}/suites", {"suite": {"name": "v", "prompts": [{"text": "x"}], "tests": [{}]}}),
    ):
        response = client.post(path, headers=viewer.auth, json=payload)
        assert response.status_code == 403, (path, response.text)
