"""The local head's CPUs: room for a fit or an audit next to the idle services."""

from __future__ import annotations

from typing import Any

import pytest

from cluster import local, serving
from cluster.settings import Settings


def settings(**overrides: Any) -> Settings:
    return Settings(stripe_api_key=None, **overrides)


def test_standing_cpus_counts_minimum_replicas_and_long_lived_actors() -> None:
    config = {
        "applications": [
            {
                "deployments": [
                    {
                        "autoscaling_config": {"min_replicas": 2},
                        "ray_actor_options": {"num_cpus": 0.5},
                    },
                    {"num_replicas": 3, "ray_actor_options": {"num_cpus": 0}},
                ]
            },
            {"deployments": [{}]},  # Serve's defaults: one replica, one CPU
        ]
    }
    held = serving.standing_cpus(
        config,
        settings(
            memory_shard_count=4,
            memory_shard_num_cpus=0.25,
            eval_workers=2,
            eval_task_num_cpus=0.5,
        ),
    )
    assert held == pytest.approx(2 * 0.5 + 0 + 1 + 4 * 0.25 + 2 * 0.5)


def test_the_shipped_configuration_leaves_room_for_every_burst_of_work() -> None:
    shipped = settings()
    held = serving.standing_cpus(serving.load_serve_config(), shipped)
    free = local.head_cpus(shipped, held) - held
    assert free >= shipped.causal_fit_num_cpus
    assert free >= shipped.surfacing_audit_num_cpus
    assert free >= shipped.eval_sandbox_num_cpus


def test_an_explicit_cpu_count_wins() -> None:
    assert local.head_cpus(settings(ray_num_cpus=3), standing=10.0) == 3
