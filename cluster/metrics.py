"""LiftOS's own metrics, through Ray's metrics API: every replica, task and actor records into its
Ray worker, and Ray exports them on each node's Prometheus endpoint (``--metrics-export-port``)
with the ``ray_`` prefix, beside Ray's and Serve's own, where the Ray dashboard's Prometheus and
Grafana (and ``liftos status``) read them. Ray adds the worker and node as labels; dashboards sum
over them.

Label values are bounded: routes are templates (``/datasets/{dataset_id}``), statuses are
classes (``2xx``), and each process names at most ``org_label_limit`` orgs, the rest as
``other``, so one busy tenant or a scan of random ids cannot blow up the series count.

Outside a Ray worker (unit tests, a plain uvicorn) the instruments accept values and drop them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from ray.util import metrics as ray_metrics

# Seconds; from a cached read (~1 ms) to a slow synchronous fit request (a minute).
LATENCY_BOUNDARIES = [
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
]
# Seconds; jobs run from a second (a small audit) to hours (a geo model with a search).
JOB_BOUNDARIES = [1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0]

ANONYMOUS = "anonymous"
OTHER = "other"

_requests = ray_metrics.Counter(
    "liftos_http_requests_total",
    description="Requests served, by service (module), route template, method, status class "
    "and org.",
    tag_keys=("service", "route", "method", "status", "org"),
)
_latency = ray_metrics.Histogram(
    "liftos_http_request_seconds",
    description="Time from a request's arrival at the service to its last response byte.",
    boundaries=LATENCY_BOUNDARIES,
    tag_keys=("service", "route", "method", "org"),
)
_job_seconds = ray_metrics.Histogram(
    "liftos_job_seconds",
    description="Jobs (fits, audits, eval runs) from submission to their end, queueing "
    "included, by kind and outcome.",
    boundaries=JOB_BOUNDARIES,
    tag_keys=("kind", "outcome"),
)
_jobs_in_flight = ray_metrics.Gauge(
    "liftos_jobs_in_flight",
    description="Jobs submitted to Ray and not finished (queued or running), per submitting "
    "replica: sum over replicas for the queue depth.",
    tag_keys=("kind",),
)
_shard_memories = ray_metrics.Gauge(
    "liftos_memory_shard_memories",
    description="Memories loaded in a memory shard, all tenants' partitions together.",
    tag_keys=("shard",),
)
_shard_bytes = ray_metrics.Gauge(
    "liftos_memory_shard_index_bytes",
    description="Bytes of dense and keyword indexes a memory shard holds in memory.",
    tag_keys=("shard",),
)
_llm_tokens = ray_metrics.Counter(
    "liftos_llm_tokens_total",
    description="Tokens of stored generations, by provider, model and direction.",
    tag_keys=("provider", "model", "direction"),
)
_llm_cost = ray_metrics.Counter(
    "liftos_llm_cost_usd_total",
    description="What stored generations cost at the price table, in US dollars.",
    tag_keys=("provider", "model"),
)


class BoundedLabels:
    """The first ``limit`` distinct values seen keep their name; later ones are ``other``."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._named: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._named:
            return value
        if len(self._named) < self._limit:
            self._named.add(value)
            return value
        return OTHER


@dataclass
class RequestMetrics:
    """What an ingress records for each request, with this process's org label budget."""

    service: str
    org_label_limit: int = 20

    def __post_init__(self) -> None:
        self._orgs = BoundedLabels(self.org_label_limit)

    def record(
        self,
        *,
        route: str,
        method: str,
        status: int,
        org_id: uuid.UUID | None,
        seconds: float,
    ) -> None:
        org = self._orgs(str(org_id)) if org_id is not None else ANONYMOUS
        _requests.inc(
            1.0,
            tags={
                "service": self.service,
                "route": route,
                "method": method,
                "status": f"{status // 100}xx",
                "org": org,
            },
        )
        _latency.observe(
            seconds, tags={"service": self.service, "route": route, "method": method, "org": org}
        )


class JobMetrics:
    """Jobs in flight and their durations, as the replica that submitted them sees them."""

    def __init__(self) -> None:
        self._in_flight: dict[str, int] = {}

    def started(self, kind: str) -> None:
        self._in_flight[kind] = self._in_flight.get(kind, 0) + 1
        _jobs_in_flight.set(self._in_flight[kind], tags={"kind": kind})

    def finished(self, kind: str, *, outcome: str, seconds: float) -> None:
        self._in_flight[kind] = max(self._in_flight.get(kind, 1) - 1, 0)
        _jobs_in_flight.set(self._in_flight[kind], tags={"kind": kind})
        _job_seconds.observe(seconds, tags={"kind": kind, "outcome": outcome})


jobs = JobMetrics()


def memory_shard(index: int, *, memories: int, index_bytes: int) -> None:
    tags = {"shard": str(index)}
    _shard_memories.set(memories, tags=tags)
    _shard_bytes.set(index_bytes, tags=tags)


@dataclass(frozen=True)
class TokenUse:
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float


def llm_generations(uses: Iterable[TokenUse]) -> None:
    for use in uses:
        tags = {"provider": use.provider, "model": use.model}
        # Ray's counters take positive increments only.
        if use.input_tokens > 0:
            _llm_tokens.inc(use.input_tokens, tags={**tags, "direction": "input"})
        if use.output_tokens > 0:
            _llm_tokens.inc(use.output_tokens, tags={**tags, "direction": "output"})
        if use.cost_usd > 0:
            _llm_cost.inc(use.cost_usd, tags=tags)
