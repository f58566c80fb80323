"""What the LLM module adds over calling the same provider server with its SDK directly.

One local server speaks OpenAI's chat-completions wire format (``tests/llm_servers.py``, the
one the integration tests use) and answers at once, so every millisecond measured above it is
client, transport and LiftOS. Side by side, in one run, against that server:

- ``sdk-direct``: the official ``openai`` SDK (AsyncOpenAI, retries off) sending the exact body
  the module sends (captured from the server after a first generation through the module);
- ``module``: ``POST /api/v1/prompts/generate`` with the seed's body, through Ray Serve's
  HAProxy ingress as ``liftos up`` runs it: JWT and RBAC, rate limits in Redis, template
  render, provider chain, an org budget reserved in Redis before the call and settled after,
  the same SDK call, the platform check, the generation and its cost committed to PostgreSQL;
- ``module-uvicorn``: the same FastAPI app factory in one plain uvicorn process (no Serve hop),
  which splits the overhead into Serve's share and the module's own;
- ``module-cached``: the same body at temperature 0, answered from the org's Redis cache;
- ``gateway-floor``: an authenticated ``GET /api/v1/example/hello`` through the same ingress,
  the floor of any call through the gateway (bench/gateway.py measures it in depth).

Levels: 1 client (latency) and ``--concurrency`` clients (throughput), then streaming at 1
client, where the figure is the time to the first text (the SDK's first content chunk vs the
module's first ``delta`` event). Each load generator is its own process (uvloop); the numbers
depend on the machine and what else it runs, so compare rows of one run only. The targets
printed under the table are a measurement, not an assertion: the exit code is 0 unless the
setup failed.

Run: ``.venv/bin/python bench/llm.py`` (``--help`` for the options).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gateway import (
    GATEWAY_PATH,
    ClientSpec,
    Stack,
    answer_load,
    cpu_model,
    free_port,
    load_process,
    percentile,
    run_client,
    running_stack,
    stop_process,
    wait_for,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
PROVIDER_MODEL = "bench-gpt"
MODEL = "bench-model"
# A Meta ad that passes the platform's checks, so no request pays for a repair retry.
REPLY = json.dumps(
    {
        "primary_text": "Train longer with sweat-proof wireless headphones that stay put.",
        "headline": "Headphones that keep up",
        "description": "Sweat-proof fit",
    }
)
SEED_BODY = {
    "template": "ad_copy",
    "product": "wireless headphones",
    "target_audience": "fitness enthusiasts",
    "platform": "facebook_ads",
    "model": MODEL,
}
P50_OVERHEAD_TARGET_MS = 2.0
CLIENT_TIMEOUT_S = 60.0


# --------------------------------------------------------------------------------------------
# Load generator (its own process: `llm.py --client`, spec on stdin, JSON on stdout)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadSpec:
    kind: str  # "sdk" (openai SDK straight to the server) or "module" (HTTP to LiftOS)
    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    stream: bool
    requests: int
    warmup: int
    concurrency: int


@dataclass
class LoadResult:
    ok: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    ttft_p50_ms: float = float("nan")
    ttft_p99_ms: float = float("nan")

    @property
    def rps(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else float("nan")


class _RequestFailedError(Exception):
    pass


async def _sdk_call(client: Any, spec: LoadSpec) -> float | None:
    """One chat completion through the SDK; the time to the first text when streaming."""
    body = dict(spec.body)
    fixed = {"model": body.pop("model"), "messages": body.pop("messages")}
    if not spec.stream:
        completion = await client.chat.completions.create(**fixed, extra_body=body)
        if not completion.choices[0].message.content:
            raise _RequestFailedError("empty completion")
        return None
    start = time.perf_counter()
    first: float | None = None
    stream = await client.chat.completions.create(
        **fixed, stream=True, stream_options={"include_usage": True}, extra_body=body
    )
    async for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - start
    if first is None:
        raise _RequestFailedError("the stream carried no text")
    return first


async def _module_call(session: Any, spec: LoadSpec) -> float | None:
    start = time.perf_counter()
    async with session.post(spec.url, json=spec.body, headers=spec.headers) as response:
        if response.status != 200:
            text = (await response.read())[:300].decode("utf-8", "replace")
            raise _RequestFailedError(f"HTTP {response.status}: {text}")
        if not spec.stream:
            await response.read()
            return None
        first: float | None = None
        last_event = ""
        async for line in response.content:
            if line.startswith(b"event: "):
                last_event = line[7:].strip().decode()
            elif first is None and last_event == "delta" and line.startswith(b"data: "):
                first = time.perf_counter() - start
        if last_event != "done" or first is None:
            raise _RequestFailedError(
                f"the stream ended with {last_event!r} and text={first is not None}"
            )
        return first


async def _load(spec: LoadSpec) -> LoadResult:
    import aiohttp
    import httpx
    import openai

    limits = httpx.Limits(
        max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency
    )
    sdk = openai.AsyncOpenAI(
        base_url=spec.url,
        api_key=spec.headers.get("api-key", "bench"),
        max_retries=0,
        timeout=CLIENT_TIMEOUT_S,
        http_client=httpx.AsyncClient(limits=limits, timeout=CLIENT_TIMEOUT_S),
    )
    connector = aiohttp.TCPConnector(limit=spec.concurrency, keepalive_timeout=60)
    session = aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S),
        cookie_jar=aiohttp.DummyCookieJar(),
    )
    clock = time.perf_counter

    async def phase(total: int, errors: Counter[str], samples: list[str]) -> tuple[Any, float]:
        latencies: list[float] = []
        ttfts: list[float] = []
        remaining = total

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                start = clock()
                try:
                    if spec.kind == "sdk":
                        ttft = await _sdk_call(sdk, spec)
                    else:
                        ttft = await _module_call(session, spec)
                except Exception as exc:  # every failure is counted and sampled, not timed
                    errors[type(exc).__name__] += 1
                    if len(samples) < 5:
                        samples.append(f"{type(exc).__name__}: {exc}")
                    continue
                latencies.append(clock() - start)
                if ttft is not None:
                    ttfts.append(ttft)

        started = clock()
        await asyncio.gather(*(worker() for _ in range(min(spec.concurrency, max(total, 1)))))
        return (latencies, ttfts), clock() - started

    try:
        warm_errors: Counter[str] = Counter()
        samples: list[str] = []
        await phase(spec.warmup, warm_errors, samples)
        errors: Counter[str] = Counter()
        (latencies, ttfts), wall = await phase(spec.requests, errors, samples)
    finally:
        await session.close()
        await sdk.close()
    latencies.sort()
    ttfts.sort()
    all_errors = errors + warm_errors
    result = LoadResult(
        ok=len(latencies),
        errors=sum(all_errors.values()),
        error_kinds=dict(all_errors),
        error_samples=samples,
        elapsed_s=wall,
    )
    if latencies:
        result.p50_ms = percentile(latencies, 50) * 1000
        result.p99_ms = percentile(latencies, 99) * 1000
    if ttfts:
        result.ttft_p50_ms = percentile(ttfts, 50) * 1000
        result.ttft_p99_ms = percentile(ttfts, 99) * 1000
    return result


def client_main() -> int:
    return answer_load(_load(LoadSpec(**json.loads(sys.stdin.read()))))


def run_load(spec: LoadSpec) -> LoadResult:
    return LoadResult(**load_process(__file__, spec, timeout_s=1800))


# --------------------------------------------------------------------------------------------
# Setup: the provider server, the tenant's provider and budget, the plain-uvicorn module
# --------------------------------------------------------------------------------------------


def configure_tenant(stack: Stack, wire_url: str) -> dict[str, str]:
    import httpx

    auth = {"Authorization": f"Bearer {stack.credentials.bearer()}"}
    with httpx.Client(base_url=stack.gateway_url, headers=auth, timeout=60) as http:
        response = http.post(
            "/api/v1/llm/providers",
            json={
                "name": "bench",
                "kind": "openai",
                "base_url": f"{wire_url}/v1",
                "api_key": "sk-bench-not-a-real-key",
                "models": [
                    {
                        "name": MODEL,
                        "provider_model": PROVIDER_MODEL,
                        "input_usd_per_mtok": "2.50",
                        "output_usd_per_mtok": "10.00",
                    }
                ],
            },
        )
        if response.status_code != 201:
            raise RuntimeError(f"provider setup: HTTP {response.status_code} {response.text}")
        # A budget the run never reaches: every generation still pays for its reservation.
        response = http.put(
            "/api/v1/llm/budgets",
            json={"scope": "org", "period": "month", "limit_usd": "100000"},
        )
        if response.status_code != 200:
            raise RuntimeError(f"budget setup: HTTP {response.status_code} {response.text}")
    return auth


@contextlib.contextmanager
def plain_uvicorn() -> Iterator[str]:
    """The prompts app factory in one uvicorn process, with the stack's environment."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "deployments.llm.app:create_prompts_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=REPO_ROOT,
        env=dict(os.environ),
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/generate", expect={401, 405}, timeout_s=120, what="uvicorn")
        yield url
    finally:
        stop_process(proc)


def check_module(url: str, auth: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    import httpx

    response = httpx.post(url, json=body, headers=auth, timeout=60)
    if response.status_code != 200:
        raise RuntimeError(f"{url}: HTTP {response.status_code} {response.text}")
    generation: dict[str, Any] = response.json()["generations"][0]
    if generation["violations"] or generation["repaired"] or generation["simulated"]:
        raise RuntimeError(f"{url}: not a clean real generation: {generation}")
    return generation


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def _fmt(value: float, digits: int = 2) -> str:
    return "-" if value != value else f"{value:,.{digits}f}"


def report(results: dict[tuple[str, str], LoadResult], args: argparse.Namespace) -> None:
    import ray
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=200)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    console.print(
        f"machine: nproc={len(os.sched_getaffinity(0))}, cpu={cpu_model()}, load avg now={load}"
    )
    console.print(
        f"software: Python {platform.python_version()}, Ray {ray.__version__}, "
        f"openai SDK {__import__('openai').__version__}"
    )
    console.print(
        f"settings: {args.requests} requests at 1 client, {args.requests_conc} at "
        f"{args.concurrency} clients, {args.requests_stream} streamed at 1 client, "
        f"{args.warmup} warm-up requests before each run; the provider server answers at once"
    )
    table = Table(title="one generation, Meta ad copy (latency in ms)", box=box.ASCII)
    for column in ("target", "level", "ok", "errors", "p50", "p99", "req/s", "TTFT p50", "p99"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for (target, level), r in results.items():
        table.add_row(
            target,
            level,
            str(r.ok),
            str(r.errors),
            _fmt(r.p50_ms),
            _fmt(r.p99_ms),
            _fmt(r.rps, 0),
            _fmt(r.ttft_p50_ms),
            _fmt(r.ttft_p99_ms),
        )
    console.print(table)
    for (target, level), r in results.items():
        if r.error_kinds:
            console.print(f"errors, {target} at {level}: {r.error_kinds}")
            for sample in r.error_samples:
                console.print(f"  {sample}")

    def get(target: str, level: str) -> LoadResult | None:
        return results.get((target, level))

    conc = f"{args.concurrency} clients"
    direct, module = get("sdk-direct", "1 client"), get("module", "1 client")
    plain = get("module-uvicorn", "1 client")
    floor = get("gateway-floor", "1 client")
    if direct and module:
        overhead = module.p50_ms - direct.p50_ms
        verdict = "PASS" if overhead <= P50_OVERHEAD_TARGET_MS else "FAIL"
        console.print(
            f"overhead at 1 client, p50: module {overhead:+.2f} ms over the SDK "
            f"(target <= {P50_OVERHEAD_TARGET_MS:g} ms: {verdict})"
        )
        if plain:
            console.print(
                f"  the same app under plain uvicorn (no Serve, no HAProxy): "
                f"{plain.p50_ms - direct.p50_ms:+.2f} ms"
            )
        if floor:
            console.print(
                f"  an authenticated GET through the same ingress costs {floor.p50_ms:.2f} ms"
            )
    d32, m32 = get("sdk-direct", conc), get("module", conc)
    if d32 and m32:
        console.print(
            f"throughput at {conc}: module {m32.rps:,.0f} req/s, SDK direct {d32.rps:,.0f} req/s "
            f"({m32.rps / d32.rps:.0%})"
        )
    ds, ms = get("sdk-direct", "stream"), get("module", "stream")
    if ds and ms:
        console.print(
            f"streaming, time to first text p50: module {ms.ttft_p50_ms:.2f} ms, SDK direct "
            f"{ds.ttft_p50_ms:.2f} ms (added {ms.ttft_p50_ms - ds.ttft_p50_ms:+.2f} ms)"
        )
    ps = get("module-uvicorn", "stream")
    if ds and ps:
        console.print(
            f"  the same app under plain uvicorn: {ps.ttft_p50_ms:.2f} ms "
            f"(added {ps.ttft_p50_ms - ds.ttft_p50_ms:+.2f} ms)"
        )


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=400, help="measured at 1 client")
    parser.add_argument("--requests-conc", type=int, default=1500, help="measured concurrently")
    parser.add_argument("--requests-stream", type=int, default=300, help="streamed at 1 client")
    parser.add_argument("--concurrency", type=int, default=32, help="clients at the 2nd level")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured requests per run")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("requests", "requests_conc", "requests_stream", "concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.client:
        return client_main()
    from tests.llm_servers import Reply, WireServer

    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    wire = WireServer().start()
    wire.default(PROVIDER_MODEL, Reply(text=REPLY))
    state_dir = Path(tempfile.mkdtemp(prefix="liftos-bench-llm-"))
    atexit.register(shutil.rmtree, state_dir, ignore_errors=True)
    results: dict[tuple[str, str], LoadResult] = {}
    total = 4 * (args.requests + args.requests_conc + args.requests_stream + 4 * args.warmup)
    try:
        with (
            running_stack(state_dir, rate_burst=10 * total, proxy="haproxy", log=log) as stack,
            plain_uvicorn() as uvicorn_url,
        ):
            auth = configure_tenant(stack, wire.base_url)
            module_url = f"{stack.gateway_url}/api/v1/prompts/generate"
            check_module(module_url, auth, SEED_BODY)
            check_module(f"{uvicorn_url}/generate", auth, SEED_BODY)
            sent = dict(wire.requests[-1].body)
            sent.pop("stream", None)
            sent.pop("stream_options", None)
            wire.requests.clear()  # the bench sends thousands; only the first body matters
            cached_body = {**SEED_BODY, "temperature": 0}
            if not check_module(module_url, auth, cached_body)["cached"]:
                check_module(module_url, auth, cached_body)  # the first one filled the cache

            def load(
                kind: str, url: str, body: dict[str, Any], level: int, n: int, stream: bool = False
            ) -> LoadSpec:
                return LoadSpec(
                    kind=kind,
                    url=url,
                    headers=auth if kind == "module" else {},
                    body={**body, "stream": True} if stream and kind == "module" else body,
                    stream=stream,
                    requests=n,
                    warmup=args.warmup,
                    concurrency=level,
                )

            direct_url = f"{wire.base_url}/v1"
            plans: list[tuple[str, str, LoadSpec]] = []
            for level, label, n in (
                (1, "1 client", args.requests),
                (args.concurrency, f"{args.concurrency} clients", args.requests_conc),
            ):
                plans += [
                    ("sdk-direct", label, load("sdk", direct_url, sent, level, n)),
                    ("module", label, load("module", module_url, SEED_BODY, level, n)),
                    (
                        "module-uvicorn",
                        label,
                        load("module", f"{uvicorn_url}/generate", SEED_BODY, level, n),
                    ),
                    ("module-cached", label, load("module", module_url, cached_body, level, n)),
                ]
            plans += [
                (
                    "sdk-direct",
                    "stream",
                    load("sdk", direct_url, sent, 1, args.requests_stream, stream=True),
                ),
                (
                    "module",
                    "stream",
                    load("module", module_url, SEED_BODY, 1, args.requests_stream, stream=True),
                ),
                (
                    "module-uvicorn",
                    "stream",
                    load(
                        "module",
                        f"{uvicorn_url}/generate",
                        SEED_BODY,
                        1,
                        args.requests_stream,
                        stream=True,
                    ),
                ),
            ]
            for target, label, spec in plans:
                log(f"{target}: {spec.requests} requests, {label}")
                results[(target, label)] = run_load(spec)
                wire.requests.clear()
            log("gateway-floor: authenticated GET through the same ingress")
            floor = run_client(
                ClientSpec(
                    url=stack.gateway_url + GATEWAY_PATH,
                    headers=auth,
                    requests=args.requests,
                    warmup=args.warmup,
                    concurrency=1,
                )
            )
            results[("gateway-floor", "1 client")] = LoadResult(
                ok=floor.ok,
                errors=floor.errors + floor.warmup_errors,
                error_kinds=floor.error_kinds,
                error_samples=floor.error_samples,
                elapsed_s=floor.elapsed_s,
                p50_ms=floor.p50_ms,
                p99_ms=floor.p99_ms,
            )
            report(results, args)
    finally:
        wire.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
