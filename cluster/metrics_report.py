"""The key figures `liftos status` prints, read from Ray's Prometheus endpoints (one per node),
where cluster.metrics' instruments arrive with the ``ray_`` prefix."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

PREFIX = "ray_liftos_"


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass
class ServiceFigures:
    requests: float = 0.0
    client_errors: float = 0.0
    server_errors: float = 0.0
    # Cumulative histogram buckets (upper bound -> count), summed over routes, orgs and workers.
    buckets: dict[float, float] = field(default_factory=lambda: defaultdict(float))

    def quantile(self, q: float) -> float:
        return histogram_quantile(q, self.buckets)


@dataclass
class Figures:
    services: dict[str, ServiceFigures] = field(default_factory=dict)
    jobs_in_flight: dict[str, float] = field(default_factory=dict)
    jobs_finished: dict[str, float] = field(default_factory=dict)
    job_seconds: dict[str, float] = field(default_factory=dict)  # total, for the mean
    shard_memories: float = 0.0
    shard_index_bytes: float = 0.0
    llm_tokens: float = 0.0
    llm_cost_usd: float = 0.0


def parse(texts: Iterable[str]) -> list[Sample]:
    return [
        Sample(sample.name, dict(sample.labels), sample.value)
        for text in texts
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith(PREFIX)
    ]


def histogram_quantile(q: float, buckets: dict[float, float]) -> float:
    """Prometheus's ``histogram_quantile``: linear within the bucket the rank falls in."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return math.nan
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower  # in the open-ended bucket: its lower edge is all we know
            width = count - below
            return lower + (bound - lower) * ((rank - below) / width if width else 0.0)
        lower, below = bound, count
    return lower


def figures(samples: Iterable[Sample]) -> Figures:
    out = Figures()
    for s in samples:
        name = s.name.removeprefix(PREFIX)
        if name == "http_requests_total":
            svc = out.services.setdefault(s.labels.get("service", "?"), ServiceFigures())
            svc.requests += s.value
            status = s.labels.get("status")
            if status == "4xx":
                svc.client_errors += s.value
            elif status == "5xx":
                svc.server_errors += s.value
        elif name == "http_request_seconds_bucket":
            svc = out.services.setdefault(s.labels.get("service", "?"), ServiceFigures())
            svc.buckets[float(s.labels["le"])] += s.value
        elif name == "jobs_in_flight":
            kind = s.labels.get("kind", "?")
            out.jobs_in_flight[kind] = out.jobs_in_flight.get(kind, 0.0) + s.value
        elif name == "job_seconds_count":
            kind = s.labels.get("kind", "?")
            out.jobs_finished[kind] = out.jobs_finished.get(kind, 0.0) + s.value
        elif name == "job_seconds_sum":
            kind = s.labels.get("kind", "?")
            out.job_seconds[kind] = out.job_seconds.get(kind, 0.0) + s.value
        elif name == "memory_shard_memories":
            out.shard_memories += s.value
        elif name == "memory_shard_index_bytes":
            out.shard_index_bytes += s.value
        elif name == "llm_tokens_total":
            out.llm_tokens += s.value
        elif name == "llm_cost_usd_total":
            out.llm_cost_usd += s.value
    return out
