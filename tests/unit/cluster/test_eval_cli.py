"""`liftos eval run`: the suite checked locally, stored, benchmarked and polled over HTTP.

The API is an ``httpx.MockTransport`` behind the CLI's client factory: no network, no Ray.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from cluster import cli, eval_cli

RUN_ID = str(uuid.UUID(int=7))
GOOD_SUITE = """\
name: headlines
description: two briefs, one raw-text prompt
models: [gpt-small]
prompts:
  - text: "Write a headline for {{ product }}"
tests:
  - description: earbuds
    vars: {product: wireless earbuds}
    assert:
      - {type: icontains, value: earbuds}
  - description: shoes
    vars: {product: trail shoes}
    assert:
      - {type: icontains, value: shoes}
"""
BAD_SUITE = GOOD_SUITE.replace("type: icontains, value: earbuds", "type: contain, value: earbuds")
# Credentials, URL and timeout come from options here, never from the developer's shell.
CLEAN_ENV: dict[str, str | None] = {
    "LIFTOS_API_URL": None,
    "LIFTOS_API_KEY": None,
    "LIFTOS_TOKEN": None,
}


def _interval(low: float, high: float) -> dict[str, float]:
    return {"low": low, "high": high, "level": 0.95}


SUMMARY: dict[str, Any] = {
    "models": [
        {"model": "gpt-small", "cases": 2, "errors": 0, "metrics": []},
        {"model": "claude-mini", "cases": 2, "errors": 1, "metrics": []},
    ],
    "comparisons": [],
    "leaderboards": [
        {
            "metric": "pass_rate",
            "lower_is_better": False,
            "ranking": [
                {
                    "model": "gpt-small",
                    "value": 1.0,
                    "interval": _interval(0.342, 1.0),
                    "tied_with_best": True,
                },
                {
                    "model": "claude-mini",
                    "value": 0.5,
                    "interval": _interval(0.0945, 0.9055),
                    "tied_with_best": True,
                },
            ],
        },
        {
            "metric": "latency_ms",
            "lower_is_better": True,
            "ranking": [
                {"model": "claude-mini", "value": 812.5, "interval": None, "tied_with_best": True},
                {"model": "gpt-small", "value": 2450.0, "interval": None, "tied_with_best": False},
            ],
        },
    ],
    "level": 0.95,
    "alpha": 0.05,
    "adjustment": "holm",
    "seconds": 3.2,
    "cases_per_second": 1.25,
}


def _run(status: str, done: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": RUN_ID,
        "kind": "benchmark",
        "suite_name": "headlines",
        "suite_version": 3,
        "status": status,
        "stage": "calls" if status == "running" else "done",
        "progress": done / 4,
        "cases_total": 4,
        "cases_done": done,
        "attempts": 1,
        "error": None,
        "created_at": "2026-01-01T00:00:00Z",
        "started_at": "2026-01-01T00:00:01Z",
        "finished_at": None,
        "summary": None,
        "cases": [],
        "report_url": None,
        **extra,
    }


@dataclass
class FakeApi:
    """The eval routes the command calls, answering from scripted run states."""

    runs: list[dict[str, Any]]
    suite_answer: tuple[int, dict[str, Any]] | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    clients: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "POST" and path == "/api/v1/eval/suites":
            status, body = self.suite_answer or (
                201,
                {"name": "headlines", "version": 3, "kind": "prompts", "cases": 2},
            )
            return httpx.Response(status, json=body)
        if request.method == "POST" and path == "/api/v1/eval/benchmark":
            return httpx.Response(
                202,
                json={
                    "run_id": RUN_ID,
                    "kind": "benchmark",
                    "status": "queued",
                    "cases_total": 4,
                    "status_url": f"/api/v1/eval/runs/{RUN_ID}",
                    "message": "suite 'headlines': 4 calls queued; poll status_url",
                },
            )
        if request.method == "GET" and path == f"/api/v1/eval/runs/{RUN_ID}":
            state = self.runs.pop(0) if len(self.runs) > 1 else self.runs[0]
            return httpx.Response(200, json=state)
        return httpx.Response(404, json={"error": {"code": "not_found", "message": path}})

    def factory(self, base_url: str, headers: Any) -> httpx.Client:
        self.clients.append((base_url, dict(headers)))
        return httpx.Client(
            base_url=base_url, headers=dict(headers), transport=httpx.MockTransport(self.handler)
        )

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeApi]:
    monkeypatch.setattr(eval_cli, "POLL_INTERVAL_S", 0.0)

    def make(*runs: dict[str, Any], **kwargs: Any) -> FakeApi:
        fake = FakeApi(list(runs), **kwargs)
        monkeypatch.setattr(eval_cli, "_http_client", fake.factory)
        return fake

    return make


@pytest.fixture
def suite_file(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str) -> Path:
        path = tmp_path / "suite.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Any:
    # Wide enough that rich does not wrap a table cell or a message under test.
    return CliRunner().invoke(
        cli.app, ["eval", "run", *args], env={**CLEAN_ENV, "COLUMNS": "200", **(env or {})}
    )


def test_a_bad_suite_exits_2_naming_the_field_and_calls_nothing(
    api: Callable[..., FakeApi], suite_file: Callable[[str], Path]
) -> None:
    fake = api(_run("running", 0))
    path = suite_file(BAD_SUITE)
    result = invoke(str(path), "--api-key", "lk_test")
    assert result.exit_code == 2, result.output
    assert f"{path}: tests[0].assert[0].type: unknown type 'contain'" in result.output
    assert fake.requests == []


def test_invalid_yaml_exits_2_with_its_line(
    api: Callable[..., FakeApi], suite_file: Callable[[str], Path]
) -> None:
    api(_run("running", 0))
    result = invoke(str(suite_file("name: x\nprompts: [\n")), "--api-key", "lk_test")
    assert result.exit_code == 2, result.output
    assert "line " in result.output
    assert "not valid YAML" in result.output


def test_a_good_suite_is_stored_benchmarked_polled_and_ranked(
    api: Callable[..., FakeApi], suite_file: Callable[[str], Path]
) -> None:
    fake = api(_run("running", 2), _run("succeeded", 4, summary=SUMMARY))
    result = invoke(
        str(suite_file(GOOD_SUITE)),
        "--api-key",
        "lk_test",
        "--api-url",
        "http://liftos.test:9000",
        "-m",
        "gpt-small",
        "-m",
        "claude-mini",
    )
    assert result.exit_code == 0, result.output
    assert fake.clients == [("http://liftos.test:9000", {"X-API-Key": "lk_test"})]
    assert [(r.method, r.url.path) for r in fake.requests] == [
        ("POST", "/api/v1/eval/suites"),
        ("POST", "/api/v1/eval/benchmark"),
        ("GET", f"/api/v1/eval/runs/{RUN_ID}"),
        ("GET", f"/api/v1/eval/runs/{RUN_ID}"),
    ]
    assert all(r.headers["x-api-key"] == "lk_test" for r in fake.requests)
    assert json.loads(fake.requests[0].content) == {"source": GOOD_SUITE}
    assert json.loads(fake.requests[1].content) == {
        "evaluation_suite": "headlines",
        "suite_version": 3,
        "models": ["gpt-small", "claude-mini"],
    }
    assert all(r.url.params["limit"] == "0" for r in fake.requests[2:])
    out = result.stdout
    assert "pass_rate (higher is better)" in out
    assert "latency_ms (lower is better)" in out
    assert "95% interval" in out
    assert "[0.342, 1]" in out
    assert "[0.0945, 0.9055]" in out
    assert "2,450.0" in out
    rows = [line for line in out.splitlines() if "claude-mini" in line]
    assert len(rows) == 3  # pass_rate, latency_ms, cases per model
    assert [cell.strip() for cell in rows[2].split("│")[2:4]] == ["2", "1"]  # cases, errors
    assert "succeeded: suite headlines v3, 4/4 cases" in out
    assert "4/4" in result.stderr  # the progress bar
    assert "stored suite headlines version 3" in result.stderr


def test_without_models_the_request_omits_them_and_a_token_is_a_bearer(
    api: Callable[..., FakeApi], suite_file: Callable[[str], Path]
) -> None:
    fake = api(_run("succeeded", 4, summary=SUMMARY))
    result = invoke(str(suite_file(GOOD_SUITE)), env={"LIFTOS_TOKEN": "jwt-abc"})
    assert result.exit_code == 0, result.output
    assert fake.clients == [(eval_cli.DEFAULT_API_URL, {"Authorization": "Bearer jwt-abc"})]
    assert json.loads(fake.sent("POST", "/api/v1/eval/benchmark")[0].content) == {
        "evaluation_suite": "headlines",
        "suite_version": 3,
    }


def test_a_failed_run_exits_1_with_its_error(
    api: Callable[..., FakeApi], suite_file: Callable[[str], Path]
) -> None:
    api(
        _run("running", 1),
        _run("failed", 1, error="RuntimeError: case 1 of gpt-small: provider down"),
    )
    result = invoke(str(suite_file(GOOD_SUITE)), "--api-key", "lk_test")
    assert result.exit_code == 1, result.output
    assert "failed: RuntimeError: case 1 of gpt-small: provider down" in result.output
    assert "pass_rate" not in result.output


def test_json_prints_the_final_run_alone_on_stdout(
    api: Callable[..., FakeApi], suite_file: Callable[[str], Path]
) -> None:
    api(_run("running", 3), _run("succeeded", 4, summary=SUMMARY))
    result = invoke(str(suite_file(GOOD_SUITE)), "--api-key", "lk_test", "--json")
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert run["status"] == "succeeded"
    assert run["summary"]["leaderboards"][0]["metric"] == "pass_rate"


def test_no_wait_prints_the_run_id_and_does_not_poll(
    api: Callable[..., FakeApi], suite_file: Callable[[str], Path]
) -> None:
    fake = api(_run("running", 0))
    result = invoke(str(suite_file(GOOD_SUITE)), "--api-key", "lk_test", "--no-wait")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == RUN_ID
    assert fake.sent("GET", f"/api/v1/eval/runs/{RUN_ID}") == []


def test_a_run_still_going_at_the_timeout_exits_3(
    api: Callable[..., FakeApi], suite_file: Callable[[str], Path]
) -> None:
    api(_run("running", 1))
    result = invoke(str(suite_file(GOOD_SUITE)), "--api-key", "lk_test", "--timeout", "0")
    assert result.exit_code == 3, result.output
    assert "timed out after 0 s" in result.output
    assert RUN_ID in result.output


def test_missing_credentials_exit_2_before_any_call(
    api: Callable[..., FakeApi], suite_file: Callable[[str], Path]
) -> None:
    fake = api(_run("running", 0))
    result = invoke(str(suite_file(GOOD_SUITE)))
    assert result.exit_code == 2, result.output
    assert "no credentials" in result.output
    assert "LIFTOS_API_KEY" in result.output
    assert fake.requests == []


def test_an_api_error_is_printed_and_exits_1(
    api: Callable[..., FakeApi], suite_file: Callable[[str], Path]
) -> None:
    fake = api(
        _run("running", 0),
        suite_answer=(
            422,
            {
                "error": {
                    "code": "validation_error",
                    "message": "tests[1].vars: prompts[0] with tests[1]: 'product' is undefined",
                    "field": "tests[1].vars",
                    "errors": [{"field": "tests[1].vars", "message": "'product' is undefined"}],
                    "request_id": "req-42",
                }
            },
        ),
    )
    result = invoke(str(suite_file(GOOD_SUITE)), "--api-key", "lk_test")
    assert result.exit_code == 1, result.output
    assert "HTTP 422 validation_error: tests[1].vars: prompts[0] with tests[1]" in result.output
    assert "request id: req-42" in result.output
    assert fake.sent("POST", "/api/v1/eval/benchmark") == []


def test_an_unreachable_api_exits_1(
    monkeypatch: pytest.MonkeyPatch, suite_file: Callable[[str], Path]
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    monkeypatch.setattr(
        eval_cli,
        "_http_client",
        lambda base_url, headers: httpx.Client(
            base_url=base_url, headers=dict(headers), transport=httpx.MockTransport(refuse)
        ),
    )
    result = invoke(str(suite_file(GOOD_SUITE)), "--api-key", "lk_test")
    assert result.exit_code == 1, result.output
    assert "cannot talk to the LiftOS API at http://127.0.0.1:8000" in result.output
