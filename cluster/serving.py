"""Deploying serve_config.yaml onto a Ray cluster and reading its state back.

``deploy`` does what Ray's dashboard does for ``serve deploy`` (start Serve with the file's HTTP,
proxy and logging options, then apply the applications declaratively), from the driver process,
so `liftos up` and the integration tests share one code path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cluster.settings import Settings

SERVE_CONFIG = Path(__file__).resolve().parent.parent / "serve_config.yaml"
_SERVE_DEFAULT_REPLICA_CPUS = 1.0  # what Serve reserves for a replica that names no num_cpus


def load_serve_config(path: Path = SERVE_CONFIG, *, http_port: int | None = None) -> dict[str, Any]:
    """The applications file, with the HTTP port overridden when asked."""
    config: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    if http_port is not None:
        config.setdefault("http_options", {})["port"] = http_port
    return config


def standing_cpus(config: dict[str, Any], settings: Settings) -> float:
    """The CPUs that LiftOS's long-lived parts reserve while they idle: every application's
    minimum replicas, the memory shard actors and the eval workers.

    `liftos up` gives the local head that many logical CPUs on top of the machine's, so that a
    fit (``LIFTOS_CAUSAL_FIT_NUM_CPUS``) or an audit can always be scheduled: with 4 logical CPUs
    and 2.75 of them held by idle services, a 2-CPU fit stayed queued for good.
    """
    held = 0.0
    for application in config.get("applications", []):
        for deployment in application.get("deployments", []):
            autoscaling = deployment.get("autoscaling_config") or {}
            replicas = autoscaling.get("min_replicas", deployment.get("num_replicas", 1))
            options = deployment.get("ray_actor_options") or {}
            held += float(replicas) * float(options.get("num_cpus", _SERVE_DEFAULT_REPLICA_CPUS))
    held += settings.memory_shard_count * settings.memory_shard_num_cpus
    held += settings.eval_workers * settings.eval_task_num_cpus
    return held


def deploy(config: dict[str, Any]) -> None:
    """Apply ``config`` to the Ray cluster this process is connected to (``ray.init`` first)."""
    from ray.serve._private.api import serve_start
    from ray.serve.schema import ServeDeploySchema

    schema = ServeDeploySchema.model_validate(config)
    client = serve_start(
        http_options=schema.http_options.model_dump(),
        grpc_options=schema.grpc_options.model_dump(),
        global_logging_config=schema.logging_config,
        controller_options=schema.controller_options,
        proxy_location=schema.proxy_location,
    )
    if schema.logging_config:
        client.update_global_logging_config(schema.logging_config)
    client.deploy_apps(schema)


@dataclass(frozen=True)
class AppState:
    name: str
    status: str
    message: str
    deployments: dict[str, tuple[str, int]]  # deployment -> (status, running replicas)


def application_states() -> list[AppState]:
    from ray import serve

    states: list[AppState] = []
    for name, app in serve.status().applications.items():
        deployments = {
            dname: (str(d.status.value), int(d.replica_states.get("RUNNING", 0)))
            for dname, d in app.deployments.items()
        }
        states.append(AppState(name, str(app.status.value), app.message, deployments))
    return states


def wait_until_running(names: list[str], *, timeout_s: float = 180.0) -> list[AppState]:
    """Block until every named application is RUNNING; raise with the reason if one fails."""
    deadline = time.monotonic() + timeout_s
    while True:
        states = {s.name: s for s in application_states()}
        failed = [s for s in states.values() if s.name in names and s.status == "DEPLOY_FAILED"]
        if failed:
            raise RuntimeError(
                "; ".join(f"application '{s.name}' failed to deploy: {s.message}" for s in failed)
            )
        if all(states.get(n) and states[n].status == "RUNNING" for n in names):
            return list(states.values())
        if time.monotonic() > deadline:
            pending = {n: states[n].status if n in states else "absent" for n in names}
            raise TimeoutError(f"applications not running after {timeout_s:.0f} s: {pending}")
        time.sleep(0.5)
