"""Latency and throughput of an authenticated module call: through the gateway vs plain uvicorn.

Measures ``GET /api/v1/example/hello`` with ``Authorization: Bearer <JWT>`` (JWT check, one
Redis round trip for the rate limits and revocation, RBAC) at 1 and ``--concurrency`` clients:

- ``gateway``: Ray Serve's HTTP entrypoint with ``RAY_SERVE_ENABLE_HA_PROXY=1``, exactly as
  ``liftos up`` runs it (HAProxy on the port forwards straight into the replica);
  ``gateway`` has tracing and metrics on as ``liftos up`` runs them: spans to the file
  exporter with one new trace in ten sampled, and every request's count and latency recorded
  through Ray's metrics API;
- ``gateway-traced-all`` and ``gateway-untraced``: the same module deployed twice more in the
  same cluster, with every trace recorded (sampling 1.0, the worst case) and with tracing and
  metrics off (``LIFTOS_OTEL_EXPORTER=none``, ``LIFTOS_METRICS_ENABLED=false``). The three run
  ``--rounds`` times, in rotating order, and the report gives each traced one's added p50/p99
  and throughput change against the untraced one of the same round;
- ``gateway-apikey``: the same through the gateway with ``X-API-Key`` (per-replica key cache);
- ``uvicorn``: the same FastAPI app factory in one plain uvicorn process (``GET /hello``), with
  the same token, Redis and PostgreSQL: the floor the gateway is compared against.

Everything runs on loopback from a fresh temporary state directory (embedded PostgreSQL and
Redis, a local Ray cluster, free ports) and is torn down at the end. The load generator is a
separate process (aiohttp on uvloop) so it does not share an event loop with the Ray driver.

Run: ``make bench`` (= ``.venv/bin/python bench/gateway.py``); ``--help`` lists the options.
The numbers depend on the machine (and on whatever else it is doing: the client competes with
the server for the same cores), so compare runs made on the same machine only. The targets
printed beside the table are a measurement, not an assertion: the exit code is 0 unless the
setup failed.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
GATEWAY_PATH = "/api/v1/example/hello"
# The module deployed twice more in the same cluster: with every trace recorded, and with
# tracing and metrics off.
VARIANTS = {
    "gateway-traced-all": ("example-traced-all", {"LIFTOS_OTEL_SAMPLE_RATIO": "1.0"}),
    "gateway-untraced": (
        "example-untraced",
        {"LIFTOS_OTEL_EXPORTER": "none", "LIFTOS_METRICS_ENABLED": "false"},
    ),
}
# Under plain uvicorn the module app is mounted at the root; Serve strips the route prefix.
UVICORN_PATH = "/hello"
TARGETS = ("gateway", "gateway-traced-all", "gateway-untraced", "gateway-apikey", "uvicorn")
PAIRED = ("gateway", "gateway-traced-all", "gateway-untraced")

P50_TARGET_MS = 3.0
RPS_TARGET = 1000.0

# Access tokens live at most 15 minutes; log in again well before one could expire mid-run.
TOKEN_REFRESH_AFTER_S = 600.0
READY_TIMEOUT_S = 120.0
CLIENT_TIMEOUT_S = 30.0


# --------------------------------------------------------------------------------------------
# Load generator (runs in its own process: `gateway.py --client`, spec on stdin, JSON on stdout)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientSpec:
    url: str
    headers: dict[str, str]
    requests: int
    warmup: int
    concurrency: int
    timeout_s: float = CLIENT_TIMEOUT_S


@dataclass
class RunResult:
    ok: int = 0
    errors: int = 0
    warmup_errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    mean_ms: float = float("nan")
    max_ms: float = float("nan")

    @property
    def rps(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else float("nan")


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default) of an already sorted list."""
    if not sorted_values:
        return float("nan")
    pos = (len(sorted_values) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


async def _phase(
    session: Any, spec: ClientSpec, total: int, errors: Counter[str], samples: list[str]
) -> tuple[list[float], float]:
    """``total`` requests from ``spec.concurrency`` workers; returns (latencies in s, wall s)."""
    import aiohttp

    latencies: list[float] = []
    remaining = total
    clock = time.perf_counter

    async def worker() -> None:
        nonlocal remaining
        # Workers take requests from one shared budget so they all finish together and the
        # wall time is not stretched by one slow straggler's fixed share.
        while remaining > 0:
            remaining -= 1
            start = clock()
            try:
                async with session.get(spec.url, headers=spec.headers) as response:
                    body = await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                errors[type(exc).__name__] += 1
                if len(samples) < 5:
                    samples.append(f"{type(exc).__name__}: {exc}")
                continue
            elapsed = clock() - start
            if status == 200:
                latencies.append(elapsed)
            else:
                # A 401/429/5xx is not a latency sample of the call we mean to measure.
                errors[f"HTTP {status}"] += 1
                if len(samples) < 5:
                    samples.append(f"HTTP {status}: {body[:300].decode('utf-8', 'replace')}")

    started = clock()
    await asyncio.gather(*(worker() for _ in range(min(spec.concurrency, max(total, 1)))))
    return latencies, clock() - started


async def _load(spec: ClientSpec) -> RunResult:
    import aiohttp

    connector = aiohttp.TCPConnector(
        limit=spec.concurrency, limit_per_host=spec.concurrency, keepalive_timeout=60
    )
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=spec.timeout_s),
        # Less client work per request: no cookies to parse, nothing to decompress.
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
    ) as session:
        warmup_errors: Counter[str] = Counter()
        samples: list[str] = []
        # Warm-up at the measured concurrency so every keep-alive connection is open (and the
        # server's caches and JIT-ish paths are hot) before the clock starts.
        await _phase(session, spec, spec.warmup, warmup_errors, samples)
        errors: Counter[str] = Counter()
        latencies, wall = await _phase(session, spec, spec.requests, errors, samples)
    latencies.sort()
    result = RunResult(
        ok=len(latencies),
        errors=sum(errors.values()),
        warmup_errors=sum(warmup_errors.values()),
        error_kinds=dict(errors + warmup_errors),
        error_samples=samples,
        elapsed_s=wall,
    )
    if latencies:
        result.p50_ms = percentile(latencies, 50) * 1000
        result.p99_ms = percentile(latencies, 99) * 1000
        result.mean_ms = sum(latencies) / len(latencies) * 1000
        result.max_ms = latencies[-1] * 1000
    return result


def answer_load(load: Coroutine[Any, Any, Any]) -> int:
    """The load generator's side: run ``load`` (on uvloop when installed) and write its
    dataclass result to stdout as JSON."""
    try:
        import uvloop

        loop_factory: Any = uvloop.new_event_loop
    except ImportError:  # uvloop only makes the client cheaper; asyncio's loop still works
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        result = runner.run(load)
    json.dump(asdict(result), sys.stdout)
    return 0


def load_process(script: str, spec: Any, *, timeout_s: float) -> dict[str, Any]:
    """Run ``script --client`` as its own process with the dataclass ``spec`` and return the
    JSON it answers."""
    # The spec (with the credential) goes over stdin rather than argv, which `ps` shows.
    proc = subprocess.run(
        [sys.executable, str(Path(script).resolve()), "--client"],
        input=json.dumps(asdict(spec)),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed (rc {proc.returncode}):\n{proc.stderr}")
    raw: dict[str, Any] = json.loads(proc.stdout)
    return raw


def client_main() -> int:
    return answer_load(_load(ClientSpec(**json.loads(sys.stdin.read()))))


def run_client(spec: ClientSpec) -> RunResult:
    """Run one load-generator process against ``spec.url`` and return what it measured."""
    return RunResult(**load_process(__file__, spec, timeout_s=600))


# --------------------------------------------------------------------------------------------
# The stack: embedded state, Ray Serve with HAProxy, plain uvicorn
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(url: str, *, expect: set[int], timeout_s: float, what: str) -> None:
    """Poll ``url`` until it answers with one of ``expect``; raise with the last outcome."""
    import httpx

    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code in expect:
                return
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.5)
    raise TimeoutError(f"{what} not ready after {timeout_s:.0f} s ({url}): {last}")


def listener_of(port: int) -> str:
    """Name and pid of the process listening on 127.0.0.1:``port``, or why it is unknown."""
    try:
        import psutil

        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid is None:
                    return "unknown (pid not visible)"
                return f"{psutil.Process(conn.pid).name()} (pid {conn.pid})"
    except Exception as exc:  # diagnostics only: never fail a run over it
        return f"unknown ({type(exc).__name__}: {exc})"
    return "nobody"


@dataclass
class Credentials:
    """The benchmark tenant: an owner's access JWT (renewed by logging in) and an API key."""

    gateway_url: str
    email: str
    password: str
    access_token: str = ""
    issued_at: float = 0.0
    api_key: str = ""

    def bearer(self) -> str:
        if time.monotonic() - self.issued_at > TOKEN_REFRESH_AFTER_S:
            self.login()
        return self.access_token

    def signup(self) -> None:
        import httpx

        with httpx.Client(base_url=self.gateway_url, timeout=60) as http:
            response = http.post(
                "/auth/signup",
                json={
                    "org_name": "LiftOS bench",
                    "email": self.email,
                    "password": self.password,
                    "full_name": "Bench Runner",
                },
            )
            if response.status_code != 201:
                raise RuntimeError(f"signup failed: HTTP {response.status_code} {response.text}")
            self.access_token = response.json()["tokens"]["access_token"]
            self.issued_at = time.monotonic()
            response = http.post(
                "/auth/api-keys",
                headers={"Authorization": f"Bearer {self.access_token}"},
                json={"name": "bench", "role": "analyst"},
            )
            if response.status_code != 201:
                raise RuntimeError(
                    f"API key creation failed: HTTP {response.status_code} {response.text}"
                )
            self.api_key = response.json()["secret"]

    def login(self) -> None:
        import httpx

        response = httpx.post(
            f"{self.gateway_url}/auth/login",
            json={"email": self.email, "password": self.password},
            timeout=60,
        )
        if response.status_code != 200:
            raise RuntimeError(f"login failed: HTTP {response.status_code} {response.text}")
        self.access_token = response.json()["access_token"]
        self.issued_at = time.monotonic()


@dataclass
class Stack:
    gateway_url: str
    uvicorn_url: str
    credentials: Credentials
    http_listener: str


def bench_env(state_dir: Path, rate_burst: int, proxy: str) -> dict[str, str]:
    """Environment of the driver, and so of the raylet, every replica and the uvicorn process."""
    from cluster.local import side_by_side_env

    rate_plans = {
        "free": {
            "principal": {"requests_per_minute": 60000, "burst": rate_burst},
            "org": {"requests_per_minute": 60000, "burst": rate_burst},
        }
    }
    return {
        "LIFTOS_ENV": "dev",
        "LIFTOS_STATE_DIR": str(state_dir),
        "LIFTOS_REDIS_PORT": str(free_port()),
        "LIFTOS_JWT_KEYS": json.dumps({"bench-1": secrets.token_urlsafe(48)}),
        "LIFTOS_JWT_ACTIVE_KID": "bench-1",
        # 1000 req/s per key is below what the concurrent level may reach; a burst that covers
        # the whole run means no request is throttled, while each one still pays for the Redis
        # round trip like in production.
        "LIFTOS_RATE_LIMIT_PLANS": json.dumps(rate_plans),
        "LIFTOS_DEFAULT_PLAN": "free",
        # Telemetry as `liftos up` has it (spans to a file, one new trace in ten; metrics on);
        # the copies of the module in VARIANTS change that.
        "LIFTOS_OTEL_EXPORTER": "file",
        "LIFTOS_OTEL_SAMPLE_RATIO": "0.1",
        "LIFTOS_METRICS_ENABLED": "true",
        # Keep clear of a running `liftos up` and of the integration suite's cluster.
        **side_by_side_env(ingress_port_base=35000),
        # `liftos up` runs HAProxy ingress; `--proxy default` measures Ray's Python proxy instead.
        "RAY_SERVE_ENABLE_HA_PROXY": "1" if proxy == "haproxy" else "0",
        # Only shortens teardown: a stopping replica otherwise stays reachable for 30 s so that
        # HAProxy can deregister it, and serve.shutdown waits that out.
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "0",
    }


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@contextlib.contextmanager
def running_stack(state_dir: Path, rate_burst: int, proxy: str, log: Any) -> Iterator[Stack]:
    """Bring up PostgreSQL, Redis, Ray Serve (HAProxy) and uvicorn; tear all of it down after."""
    from cluster import local, serving
    from cluster.settings import Settings

    saved_env = dict(os.environ)

    def restore_env() -> None:
        os.environ.clear()
        os.environ.update(saved_env)

    with contextlib.ExitStack() as cleanup:
        cleanup.callback(restore_env)
        # Always our own embedded servers and our own Ray cluster, never a configured one.
        for name in ("DATABASE_URL", "REDIS_URL", "RAY_ADDRESS", "LIFTOS_DATABASE_MIGRATION_URL"):
            os.environ.pop(name, None)
        # Before ray.init: the raylet inherits this environment and every worker inherits it.
        os.environ.update(bench_env(state_dir, rate_burst, proxy))
        settings = Settings()

        log("starting embedded PostgreSQL and Redis, applying migrations")
        cleanup.callback(local.stop_embedded, settings)
        urls = local.prepare_state(settings)
        os.environ.update(local.service_env(settings, urls))
        if proxy == "default":
            os.environ["RAY_SERVE_ENABLE_HA_PROXY"] = "0"

        import ray
        from ray import serve

        log("starting Ray and deploying serve_config.yaml")
        cleanup.callback(ray.shutdown)
        ray.init(
            address="local",
            # Logical CPUs, as in the integration suite: room for every replica's fractional
            # num_cpus even on a 2-core machine (the real cores are what limit throughput).
            num_cpus=4,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
        cleanup.callback(serve.shutdown)
        http_port = free_port()
        config = serving.load_serve_config(http_port=http_port)
        config["http_options"]["host"] = "127.0.0.1"
        (example,) = [a for a in config["applications"] if a["name"] == "example"]
        for app_name, env in VARIANTS.values():
            variant = json.loads(json.dumps(example))
            variant.update(name=app_name, route_prefix=f"/api/v1/{app_name}")
            variant.setdefault("runtime_env", {}).setdefault("env_vars", {}).update(env)
            config["applications"].append(variant)
        serving.deploy(config)
        serving.wait_until_running([a["name"] for a in config["applications"]], timeout_s=240)
        gateway_url = f"http://127.0.0.1:{http_port}"
        # RUNNING comes before HAProxy has every route: wait until both apps answer over HTTP.
        wait_for(f"{gateway_url}/healthz", expect={200}, timeout_s=READY_TIMEOUT_S, what="core")
        for path in (GATEWAY_PATH, *(f"/api/v1/{a}/hello" for a, _ in VARIANTS.values())):
            wait_for(f"{gateway_url}{path}", expect={401}, timeout_s=READY_TIMEOUT_S, what=path)
        http_listener = listener_of(http_port)

        uvicorn_port = free_port()
        log("starting plain uvicorn")
        uvicorn = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "deployments.modules.example.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(uvicorn_port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--workers",
                "1",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=REPO_ROOT,
            env=dict(os.environ),
        )
        cleanup.callback(stop_process, uvicorn)
        uvicorn_url = f"http://127.0.0.1:{uvicorn_port}"
        wait_for(
            f"{uvicorn_url}{UVICORN_PATH}", expect={401}, timeout_s=READY_TIMEOUT_S, what="uvicorn"
        )
        if uvicorn.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {uvicorn.returncode} (port clash?)")

        log("creating the benchmark tenant")
        credentials = Credentials(
            gateway_url=gateway_url,
            email=f"bench-{uuid.uuid4().hex[:10]}@liftos-bench.com",
            password=secrets.token_urlsafe(24),
        )
        credentials.signup()
        yield Stack(gateway_url, uvicorn_url, credentials, http_listener)


def round_label(target: str, round_no: int) -> str:
    return target if round_no == 1 else f"{target} #{round_no}"


def run_order(targets: list[str], rounds: int) -> list[tuple[str, str]]:
    """Every target once, then the telemetry variants again for each further round, in rotated
    order so that none always runs first (on a warmer, or a busier, machine)."""
    order = [(t, t) for t in targets]
    paired = [t for t in PAIRED if t in targets]
    for round_no in range(2, rounds + 1):
        shift = (round_no - 1) % len(paired)
        ordered = paired[shift:] + paired[:shift]
        order += [(round_label(t, round_no), t) for t in ordered]
    return order


def target_request(stack: Stack, target: str) -> tuple[str, dict[str, str]]:
    creds = stack.credentials
    if target == "gateway":
        return stack.gateway_url + GATEWAY_PATH, {"Authorization": f"Bearer {creds.bearer()}"}
    if target in VARIANTS:
        url = f"{stack.gateway_url}/api/v1/{VARIANTS[target][0]}/hello"
        return url, {"Authorization": f"Bearer {creds.bearer()}"}
    if target == "gateway-apikey":
        return stack.gateway_url + GATEWAY_PATH, {"X-API-Key": creds.api_key}
    if target == "uvicorn":
        return stack.uvicorn_url + UVICORN_PATH, {"Authorization": f"Bearer {creds.bearer()}"}
    raise ValueError(f"unknown target {target!r}")


def check_target(stack: Stack, target: str) -> None:
    """One request per target before timing anything: same answer, from the same app."""
    import httpx

    url, headers = target_request(stack, target)
    response = httpx.get(url, headers=headers, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"{target}: {url} answered HTTP {response.status_code}: {response.text}")
    body = response.json()
    expected_kind = "api_key" if target == "gateway-apikey" else "user"
    if body.get("module") != "example" or body.get("principal_type") != expected_kind:
        raise RuntimeError(f"{target}: unexpected answer from {url}: {body}")


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _fmt(value: float, digits: int = 2) -> str:
    return "-" if value != value else f"{value:,.{digits}f}"  # NaN check without math import


def report(
    results: dict[tuple[str, int], RunResult],
    args: argparse.Namespace,
    targets: list[str],
    stack_info: dict[str, str],
) -> None:
    import ray
    from rich import box
    from rich.console import Console
    from rich.table import Table

    # Wide enough that neither the table nor the header lines wrap when piped to a file.
    console = Console(highlight=False, width=200)
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    console.print(
        f"machine: nproc={affinity} (os.cpu_count={os.cpu_count()}), cpu={cpu_model()}, "
        f"load avg now={load}"
    )
    console.print(
        f"software: Python {platform.python_version()}, Ray {ray.__version__}, "
        f"{platform.system()} {platform.release()}"
    )
    console.print(
        f"settings: {args.requests_seq} requests at 1 client, {args.requests_conc} at "
        f"{args.concurrency} clients, {args.warmup} warm-up requests before each run; "
        "client: aiohttp on uvloop, one process, keep-alive"
    )
    for key, value in stack_info.items():
        console.print(f"{key}: {value}")

    table = Table(title="GET hello, authenticated (latency in ms)", box=box.ASCII)
    for column in ("target", "clients", "ok", "errors", "p50", "p99", "mean", "max", "req/s"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for level in (1, args.concurrency):
        for (label, at), r in results.items():
            if at != level:
                continue
            table.add_row(
                label,
                str(level),
                str(r.ok),
                str(r.errors + r.warmup_errors),
                _fmt(r.p50_ms),
                _fmt(r.p99_ms),
                _fmt(r.mean_ms),
                _fmt(r.max_ms),
                _fmt(r.rps, 0),
            )
    console.print(table)

    for (target, level), r in results.items():
        if r.error_kinds:
            console.print(f"errors, {target} at {level} client(s): {r.error_kinds}")
            for sample in r.error_samples:
                console.print(f"  {sample}")

    gw_seq, gw_conc = results.get(("gateway", 1)), results.get(("gateway", args.concurrency))
    uv_seq, uv_conc = results.get(("uvicorn", 1)), results.get(("uvicorn", args.concurrency))
    if gw_seq and uv_seq and gw_conc and uv_conc:
        console.print(
            f"gateway vs uvicorn: p50 at 1 client +{gw_seq.p50_ms - uv_seq.p50_ms:.2f} ms; "
            f"req/s at {args.concurrency} clients {gw_conc.rps / uv_conc.rps:.0%} of uvicorn"
        )

    telemetry_overhead(console, results, args)

    def verdict(run: RunResult | None, passed: bool) -> str:
        if run is None:
            return "n/a (gateway not measured)"
        if run.errors or run.warmup_errors:
            return "FAIL (requests failed)"
        return "PASS" if passed else "FAIL"

    console.print("targets (gateway, JWT):")
    console.print(
        f"  p50 at 1 client <= {P50_TARGET_MS:g} ms: "
        + (f"{gw_seq.p50_ms:.2f} ms " if gw_seq else "")
        + verdict(gw_seq, gw_seq is not None and gw_seq.p50_ms <= P50_TARGET_MS)
    )
    console.print(
        f"  req/s at {args.concurrency} clients >= {RPS_TARGET:,.0f}: "
        + (f"{gw_conc.rps:,.0f} " if gw_conc else "")
        + verdict(gw_conc, gw_conc is not None and gw_conc.rps >= RPS_TARGET)
    )
    if args.concurrency != 32:
        console.print("  (the throughput target is defined at 32 clients)")


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def telemetry_overhead(
    console: Any, results: dict[tuple[str, int], RunResult], args: argparse.Namespace
) -> None:
    """Tracing and metrics on (``gateway``: 10 % sampled; ``gateway-traced-all``) minus off
    (``gateway-untraced``), per round."""
    from rich import box
    from rich.table import Table

    table = Table(title="Tracing + metrics on vs off, same run (on minus off)", box=box.ASCII)
    for column in ("on", "clients", "round", "p50 added ms", "p99 added ms", "req/s change"):
        table.add_column(column, justify="right")
    rows = 0
    for traced in ("gateway", "gateway-traced-all"):
        for level in (1, args.concurrency):
            for round_no in range(1, args.rounds + 1):
                on = results.get((round_label(traced, round_no), level))
                off = results.get((round_label("gateway-untraced", round_no), level))
                if on is None or off is None:
                    continue
                rows += 1
                table.add_row(
                    "10 % sampled" if traced == "gateway" else "all sampled",
                    str(level),
                    str(round_no),
                    f"{on.p50_ms - off.p50_ms:+.3f}",
                    f"{on.p99_ms - off.p99_ms:+.3f}",
                    f"{on.rps / off.rps - 1:+.1%}",
                )
    if rows:
        console.print(table)
        console.print(
            "  (rounds alternate which side runs first; their spread is the noise floor of a "
            "difference on this machine)"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark an authenticated module call: Ray Serve gateway vs plain uvicorn."
    )
    parser.add_argument("--requests-seq", type=int, default=2000, help="measured at 1 client")
    parser.add_argument("--requests-conc", type=int, default=6000, help="measured concurrently")
    parser.add_argument("--concurrency", type=int, default=32, help="clients at the 2nd level")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests per run")
    parser.add_argument(
        "--only",
        choices=(*TARGETS, "telemetry", "all"),
        default="all",
        help="measure one target, or `telemetry` for the tracing on/off pair only (the whole "
        "stack still starts: the tenant signs up through it)",
    )
    parser.add_argument(
        "--proxy",
        choices=("haproxy", "default"),
        default="haproxy",
        help="Serve ingress: HAProxy (what `liftos up` runs) or Ray's default Python proxy",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="times the telemetry variants (gateway, gateway-traced-all, gateway-untraced) run "
        "per level",
    )
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("requests_seq", "requests_conc", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.client:
        return client_main()

    targets = {"all": list(TARGETS), "telemetry": list(PAIRED)}.get(args.only, [args.only])
    levels = [(1, args.requests_seq), (args.concurrency, args.requests_conc)]
    total = len(run_order(targets, args.rounds)) * sum(n + args.warmup for _, n in levels) + 100
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    results: dict[tuple[str, int], RunResult] = {}
    state_dir = Path(tempfile.mkdtemp(prefix="liftos-bench-"))
    # pgserver's own atexit handler re-creates its lock file under the state dir after the
    # `finally` below has removed it; registered first, this removal runs after that handler.
    atexit.register(shutil.rmtree, state_dir, ignore_errors=True)
    try:
        with running_stack(state_dir, rate_burst=10 * total, proxy=args.proxy, log=log) as stack:
            for target in targets:
                check_target(stack, target)
            # Per level, the targets run back to back with the same client and the same
            # background (the Ray cluster is up during the uvicorn runs too), so they compare.
            for level, requests in levels:
                for label, target in run_order(targets, args.rounds):
                    url, headers = target_request(stack, target)
                    log(f"{label}: {requests} requests at {level} client(s)")
                    results[(label, level)] = run_client(
                        ClientSpec(url, headers, requests, args.warmup, level)
                    )
            from cluster import serving

            replicas = {
                state.name: sum(running for _, running in state.deployments.values())
                for state in serving.application_states()
            }
            stack_info = {
                "gateway": f"{stack.gateway_url}{GATEWAY_PATH}, RAY_SERVE_ENABLE_HA_PROXY="
                f"{os.environ.get('RAY_SERVE_ENABLE_HA_PROXY')}, port served by "
                f"{stack.http_listener}",
                "replicas after the run": ", ".join(f"{k}={v}" for k, v in replicas.items()),
                "uvicorn": f"{stack.uvicorn_url}{UVICORN_PATH}, 1 worker, uvloop + httptools, "
                "no access log",
            }
    except Exception as exc:
        log(f"benchmark failed: {type(exc).__name__}: {exc}")
        raise
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    log("stack stopped")
    report(results, args, targets, stack_info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
