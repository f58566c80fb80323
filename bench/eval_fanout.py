"""Eval fan-out: how much faster a run's cases go when they are not called one after another.

One local server speaks OpenAI's chat-completions wire format (``tests/llm_servers.py``) and
waits ``--delay-ms`` before each answer, standing in for a model's latency. Every case is one
call through the OpenAI adapter of ``deployments.llm.adapters`` (the SDK the LLM module
drives), with no database and no Ray Serve in between, so the rows compare the shape of the
fan-out alone:

- ``sequential``: the cases one after another, the baseline;
- ``asyncio fan-out``: one event loop, at most ``--concurrency`` calls in flight (what each
  provider task of an eval run does: ``settings.eval_provider_concurrency``, default 8);
- the same fan-out with both groups' calls in flight in one loop, to tell what the Ray rows
  gain from their second process apart from what they gain from twice the calls in flight;
- ``Ray tasks``: two provider groups as ``ray.remote`` tasks (``ray.init(num_cpus=2)``), each
  running its half of the cases with the same semaphore, the way an evaluation splits its
  models by provider. The first round pays for starting the workers and importing the SDKs;
  the second reuses them, as a busy cluster would.

``ceiling`` is what the delay alone allows (calls in flight / delay). The numbers depend on
the machine and what else it runs, so compare rows of one run only; nothing is asserted.
Run: ``.venv/bin/python bench/eval_fanout.py`` (``--help`` for the options).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cluster.settings import Settings
from deployments.llm.adapters import ProviderConfig, make_adapter
from engine.llm.types import CompletionRequest, Message, ProviderError

REPO_ROOT = Path(__file__).resolve().parent.parent
PROVIDER_MODEL = "bench-eval-model"
GROUPS = 2  # provider groups, one Ray task each
TIMEOUT_S = 60.0
PRODUCTS = ("wireless earbuds", "trail shoes", "cast-iron skillet", "standing desk", "e-bike")


@dataclass(frozen=True)
class Round:
    """One way of running the cases: its wall time and every call's latency."""

    seconds: float
    latencies_s: tuple[float, ...]
    errors: int

    @property
    def ok(self) -> int:
        return len(self.latencies_s)


def cases(n: int) -> list[CompletionRequest]:
    """``n`` distinct eval cases, each one call (a raw-text prompt filled with its vars)."""
    return [
        CompletionRequest(
            provider_model=PROVIDER_MODEL,
            messages=(
                Message("system", "You write short, accurate marketing copy."),
                Message(
                    "user",
                    f"Write a headline for {PRODUCTS[i % len(PRODUCTS)]} (case {i}), "
                    "at most 30 characters.",
                ),
            ),
            max_tokens=64,
            temperature=0.0,
            seed=0,
            timeout_s=TIMEOUT_S,
        )
        for i in range(n)
    ]


async def run_cases(
    base_url: str, requests: Sequence[CompletionRequest], concurrency: int
) -> tuple[list[float], int]:
    """Every request through one OpenAI adapter, at most ``concurrency`` in flight; returns
    the calls' latencies and how many failed. ``concurrency=1`` is the sequential loop."""
    adapter = make_adapter(
        ProviderConfig(kind="openai", base_url=f"{base_url}/v1", api_key=None), timeout_s=TIMEOUT_S
    )
    latencies: list[float] = []
    errors = 0
    try:
        if concurrency == 1:
            for request in requests:
                try:
                    latencies.append((await adapter.complete(request)).latency_s)
                except ProviderError:
                    errors += 1
        else:
            semaphore = asyncio.Semaphore(concurrency)

            async def one(request: CompletionRequest) -> None:
                nonlocal errors
                async with semaphore:
                    try:
                        latencies.append((await adapter.complete(request)).latency_s)
                    except ProviderError:
                        errors += 1

            await asyncio.gather(*(one(r) for r in requests))
    finally:
        await adapter.close()
    return latencies, errors


def in_process(base_url: str, requests: Sequence[CompletionRequest], concurrency: int) -> Round:
    started = time.perf_counter()
    latencies, errors = asyncio.run(run_cases(base_url, requests, concurrency))
    return Round(time.perf_counter() - started, tuple(latencies), errors)


def provider_group(
    base_url: str, requests: list[CompletionRequest], concurrency: int
) -> tuple[list[float], int]:
    """The body of one provider task: its share of the cases on the task's own event loop."""
    return asyncio.run(run_cases(base_url, requests, concurrency))


def ray_round(
    remote: Any, base_url: str, requests: list[CompletionRequest], concurrency: int
) -> Round:
    import ray

    halves = [requests[g::GROUPS] for g in range(GROUPS)]
    started = time.perf_counter()
    results = ray.get([remote.remote(base_url, half, concurrency) for half in halves])
    seconds = time.perf_counter() - started
    latencies = tuple(s for group, _ in results for s in group)
    return Round(seconds, latencies, sum(e for _, e in results))


def percentile_ms(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(rows: list[tuple[str, int, Round]], args: argparse.Namespace, console: Console) -> None:
    delay_s = args.delay_ms / 1000
    table = Table(
        title=f"eval fan-out: {args.cases} cases, {args.delay_ms:g} ms per call", box=box.ASCII
    )
    columns = (
        "mode",
        "in flight",
        "ok",
        "errors",
        "seconds",
        "cases/s",
        "ceiling",
        "speed-up",
        "call p50 ms",
        "call p99 ms",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "mode" else "right")
    baseline = rows[0][2].seconds
    for label, in_flight, r in rows:
        table.add_row(
            label,
            str(in_flight),
            str(r.ok),
            str(r.errors),
            f"{r.seconds:.2f}",
            f"{args.cases / r.seconds:,.1f}",
            f"{in_flight / delay_s:,.0f}",
            f"{baseline / r.seconds:.1f}x",
            f"{percentile_ms(r.latencies_s, 0.5):.1f}",
            f"{percentile_ms(r.latencies_s, 0.99):.1f}",
        )
    console.print(table)
    sequential = rows[0][2]
    overhead = statistics.median(sequential.latencies_s) * 1000 - args.delay_ms
    console.print(
        f"per call above the {args.delay_ms:g} ms delay (sequential p50): {overhead:.1f} ms "
        "(SDK, loopback HTTP, the server's JSON)"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=200, help="cases per round")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=Settings.model_fields["eval_provider_concurrency"].default,
        help="calls in flight per provider task (default: settings.eval_provider_concurrency)",
    )
    parser.add_argument("--delay-ms", type=float, default=50.0, help="the server's latency")
    args = parser.parse_args(argv)
    if args.cases < GROUPS:
        parser.error(f"--cases must be at least {GROUPS}")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.delay_ms <= 0:
        parser.error("--delay-ms must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from tests.llm_servers import Reply, WireServer

    console = Console(highlight=False, width=160)
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    wire = WireServer().start()
    wire.default(
        PROVIDER_MODEL, Reply(text="Headphones that keep up", delay_s=args.delay_ms / 1000)
    )
    requests = cases(args.cases)
    rows: list[tuple[str, int, Round]] = []
    try:
        in_process(wire.base_url, requests[:8], args.concurrency)  # warm the SDK and the server
        wire.requests.clear()
        log(f"sequential: {args.cases} calls")
        rows.append(("sequential", 1, in_process(wire.base_url, requests, 1)))
        log(f"asyncio fan-out: {args.concurrency} in flight")
        rows.append(
            (
                f"asyncio fan-out (semaphore {args.concurrency})",
                args.concurrency,
                in_process(wire.base_url, requests, args.concurrency),
            )
        )
        both = GROUPS * args.concurrency
        log(f"asyncio fan-out: {both} in flight (the Ray rows' total, in one loop)")
        rows.append(
            (
                f"asyncio fan-out (semaphore {both})",
                both,
                in_process(wire.base_url, requests, both),
            )
        )
        import ray

        # Workers inherit the raylet's environment: the repo root makes `deployments` importable.
        os.environ.pop("RAY_ADDRESS", None)
        os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *sys.path[1:]])
        log("starting Ray (num_cpus=2)")
        ray.init(
            address="local",
            num_cpus=GROUPS,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
        try:
            remote = ray.remote(num_cpus=1)(provider_group)
            in_flight = GROUPS * args.concurrency
            label = f"Ray tasks ({GROUPS} x semaphore {args.concurrency})"
            log("Ray tasks: first round (workers start, SDKs import)")
            rows.append(
                (
                    f"{label}, first",
                    in_flight,
                    ray_round(remote, wire.base_url, requests, args.concurrency),
                )
            )
            log("Ray tasks: second round (warm workers)")
            rows.append(
                (
                    f"{label}, warm",
                    in_flight,
                    ray_round(remote, wire.base_url, requests, args.concurrency),
                )
            )
        finally:
            ray.shutdown()
        served = len(wire.requests)
    finally:
        wire.stop()
    console.print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; the wire server answered {served} calls"
    )
    report(rows, args, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
