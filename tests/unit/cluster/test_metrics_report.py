from __future__ import annotations

import math

import pytest

from cluster.metrics import BoundedLabels
from cluster.metrics_report import figures, histogram_quantile, parse

JOBS = 'service="causal",route="/api/v1/causal/jobs",method="GET"'
EXPORT = f"""\
# HELP ray_liftos_http_requests_total Requests served
# TYPE ray_liftos_http_requests_total counter
ray_liftos_http_requests_total{{{JOBS},status="2xx",org="a",WorkerId="w1"}} 90.0
ray_liftos_http_requests_total{{{JOBS},status="4xx",org="a",WorkerId="w2"}} 8.0
ray_liftos_http_requests_total{{{JOBS},status="5xx",org="b",WorkerId="w2"}} 2.0
# HELP ray_liftos_http_request_seconds Time
# TYPE ray_liftos_http_request_seconds histogram
ray_liftos_http_request_seconds_bucket{{service="causal",le="0.01",WorkerId="w1"}} 50.0
ray_liftos_http_request_seconds_bucket{{service="causal",le="0.1",WorkerId="w1"}} 90.0
ray_liftos_http_request_seconds_bucket{{service="causal",le="+Inf",WorkerId="w1"}} 100.0
ray_liftos_http_request_seconds_count{{service="causal",WorkerId="w1"}} 100.0
ray_liftos_http_request_seconds_sum{{service="causal",WorkerId="w1"}} 3.0
# HELP ray_liftos_jobs_in_flight Jobs
# TYPE ray_liftos_jobs_in_flight gauge
ray_liftos_jobs_in_flight{{kind="causal_jobs",WorkerId="w1"}} 2.0
ray_liftos_jobs_in_flight{{kind="causal_jobs",WorkerId="w2"}} 1.0
# HELP ray_other_metric not ours
# TYPE ray_other_metric gauge
ray_other_metric 7.0
"""


def test_figures_sum_over_workers_and_split_errors_by_class() -> None:
    got = figures(parse([EXPORT]))
    causal = got.services["causal"]
    assert (causal.requests, causal.client_errors, causal.server_errors) == (100, 8, 2)
    assert got.jobs_in_flight == {"causal_jobs": 3}
    # Rank 50 of 100 is the top of the first bucket; rank 99 is 90 % into the open bucket's
    # lower edge, i.e. the last finite bound.
    assert causal.quantile(0.5) == pytest.approx(0.01)
    assert causal.quantile(0.7) == pytest.approx(0.01 + 0.09 * 0.5)
    assert causal.quantile(0.99) == pytest.approx(0.1)


def test_histogram_quantile_of_nothing_is_nan() -> None:
    assert math.isnan(histogram_quantile(0.5, {}))
    assert math.isnan(histogram_quantile(0.5, {1.0: 0.0, math.inf: 0.0}))


def test_org_labels_are_bounded_per_process() -> None:
    label = BoundedLabels(2)
    assert [label(x) for x in ("a", "b", "c", "a", "d", "b")] == [
        "a",
        "b",
        "other",
        "a",
        "other",
        "b",
    ]
