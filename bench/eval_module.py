"""The eval module end to end: how long a run of N cases takes through the whole stack, against
the same N generations made one after another through the LLM module.

Everything is real except the model: embedded PostgreSQL and Redis, Ray Serve with
serve_config.yaml behind HAProxy, the eval module's Ray tasks, and the LLM module's routing,
pricing, budgets and storage; the model is a local server speaking OpenAI's and Anthropic's
wire formats (``tests/llm_servers.py``) that waits ``--delay-ms`` before each answer.

Rows:
- ``sequential generations``: ``POST /api/v1/prompts/generate`` N times, one after another
  (the same generation path the eval module calls, without the eval module): the baseline;
- ``eval run, 1 model``: ``POST /api/v1/evaluate`` with N cases on one model: one provider
  task, ``LIFTOS_EVAL_PROVIDER_CONCURRENCY`` calls in flight; timed from the POST until the
  run reads ``succeeded`` (polled every 0.1 s), so it includes queueing the Ray tasks, grading
  every case, storing the results and computing the statistics;
- ``eval run, 2 models on 2 providers``: N/2 cases on each of two models served by different
  providers: two provider tasks in parallel; then the same at once, while Ray still holds the
  workers (Ray stops idle workers beyond its CPU count within seconds, and a new worker pays
  for starting a process and importing the SDKs again).

Every run's cases are new text, so no call is answered from the LLM module's cache.

Ray's workers are warmed first by two short runs on both providers. Run:
``.venv/bin/python bench/eval_module.py`` (``--cases``, ``--delay-ms``). Numbers depend
on the machine; compare rows of one run only.
"""

from __future__ import annotations

import argparse
import atexit
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich import box
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gateway import cpu_model, running_stack

MODELS = {"bench-openai": "openai", "bench-claude": "anthropic"}
GOOD = "Sweat-proof wireless earbuds with 40 hours of battery for your runs."


def configure(http: httpx.Client, wire_url: str) -> None:
    for name, kind in MODELS.items():
        response = http.post(
            "/api/v1/llm/providers",
            json={
                "name": kind,
                "kind": kind,
                "base_url": f"{wire_url}/v1" if kind == "openai" else wire_url,
                "api_key": "sk-bench-not-a-real-key",
                "models": [
                    {
                        "name": name,
                        "provider_model": f"{name}-wire",
                        "input_usd_per_mtok": "2.50",
                        "output_usd_per_mtok": "10.00",
                    }
                ],
            },
        )
        if response.status_code != 201:
            raise RuntimeError(f"provider setup: HTTP {response.status_code} {response.text}")


def cases(n: int, tag: str) -> list[dict[str, Any]]:
    # Tagged per run: a case seen before would be answered from the LLM module's cache.
    return [
        {"input": f"Describe wireless earbuds, model {tag}-{i}, for runners", "expected": "earbuds"}
        for i in range(n)
    ]


def sequential(http: httpx.Client, n: int, tag: str) -> float:
    started = time.perf_counter()
    for case in cases(n, tag):
        response = http.post(
            "/api/v1/prompts/generate",
            json={
                "template": "product_description",
                "product": case["input"],
                "model": "bench-openai",
                "temperature": 0,
                "seed": 0,
            },
        )
        if response.status_code != 200:
            raise RuntimeError(f"generate: HTTP {response.status_code} {response.text}")
    return time.perf_counter() - started


def evaluate(
    http: httpx.Client, n: int, models: list[str], tag: str
) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = http.post(
        "/api/v1/evaluate",
        json={
            "model_type": models[0],
            "models": models[1:],
            "test_cases": cases(n // len(models), tag),
            "metrics": ["accuracy", "latency", "safety"],
        },
    )
    if response.status_code != 202:
        raise RuntimeError(f"evaluate: HTTP {response.status_code} {response.text}")
    run_id = response.json()["run_id"]
    while True:
        run = http.get(f"/api/v1/eval/runs/{run_id}", params={"limit": 0}).json()
        if run["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    if run["status"] != "succeeded":
        raise RuntimeError(f"the run failed: {run['error']}")
    return seconds, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    args = parser.parse_args(argv)
    from tests.llm_servers import Reply, WireServer

    begun = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - begun:6.1f} s] {message}", file=sys.stderr, flush=True)

    wire = WireServer().start()
    for name in MODELS:
        wire.default(f"{name}-wire", Reply(text=GOOD, delay_s=args.delay_ms / 1000))
    state_dir = Path(tempfile.mkdtemp(prefix="liftos-bench-eval-"))
    atexit.register(shutil.rmtree, state_dir, ignore_errors=True)
    rows: list[tuple[str, int, float, str]] = []
    try:
        with running_stack(state_dir, rate_burst=100_000, proxy="haproxy", log=log) as stack:
            auth = {"Authorization": f"Bearer {stack.credentials.bearer()}"}
            with httpx.Client(base_url=stack.gateway_url, headers=auth, timeout=120) as http:
                configure(http, wire.base_url)
                # Warm: a run on both providers starts the Ray workers a run needs (one
                # coordinator, one task per provider), as on a cluster already in use.
                log("warming up: two short runs and a few generations")
                evaluate(http, 4, list(MODELS), "warm-1")
                evaluate(http, 4, list(MODELS), "warm-2")
                sequential(http, 4, "warm")
                log(f"sequential generations: {args.cases}")
                seconds = sequential(http, args.cases, "sequential")
                rows.append(("sequential generations", args.cases, seconds, ""))
                plans = [
                    ("eval run, 1 model", ["bench-openai"]),
                    ("eval run, 2 models on 2 providers", list(MODELS)),
                    ("the same again at once (workers warm)", list(MODELS)),
                ]
                for index, (label, models) in enumerate(plans):
                    log(f"{label}: {args.cases} cases")
                    seconds, run = evaluate(http, args.cases, models, f"run-{index}")
                    stats = run["summary"]["models"][0]["metrics"]
                    accuracy = next(m for m in stats if m["metric"] == "accuracy")
                    note = (
                        f"calls {run['summary']['seconds']:.2f} s; accuracy "
                        f"{accuracy['value']:.2f} [{accuracy['interval']['low']:.2f}, "
                        f"{accuracy['interval']['high']:.2f}]"
                    )
                    for model in run["summary"]["models"]:
                        latency = next(m for m in model["metrics"] if m["metric"] == "latency_ms")
                        log(f"  {model['model']}: mean call latency {latency['value']:.1f} ms")
                    rows.append((label, run["cases_done"], seconds, note))
    finally:
        wire.stop()
    console = Console(highlight=False, width=160)
    console.print(f"{cpu_model()}; model delay {args.delay_ms:g} ms per call")
    table = Table(
        title=f"eval module end to end: {args.cases} cases", box=box.ASCII, title_justify="left"
    )
    for column in ("path", "cases", "seconds", "cases/s", "speed-up", "note"):
        table.add_column(column, justify="left" if column in ("path", "note") else "right")
    base = rows[0][1] / rows[0][2]
    for label, n, seconds, note in rows:
        rate = n / seconds
        table.add_row(label, str(n), f"{seconds:.2f}", f"{rate:.1f}", f"{rate / base:.1f}x", note)
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
