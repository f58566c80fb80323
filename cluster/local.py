"""Bringing up and down the state a LiftOS cluster needs, embedded or external.

`liftos up` and the integration tests both go through ``prepare_state``: with ``DATABASE_URL`` /
``REDIS_URL`` unset it starts the embedded servers under ``LIFTOS_STATE_DIR``; either way it
applies the migrations and returns the environment every Ray worker must see.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import secrets
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from cluster.embedded import EmbeddedPostgres, EmbeddedRedis
from cluster.settings import Settings
from cluster.state import apply_migrations, role_url

DATABASE_NAME = "liftos"


@dataclass(frozen=True)
class StateUrls:
    database_url: str
    migration_url: str
    redis_url: str
    embedded_postgres: bool
    embedded_redis: bool


def prepare_state(settings: Settings) -> StateUrls:
    """Start embedded servers where no URL is configured, then migrate the database."""
    state_dir = settings.state_dir.expanduser().resolve()
    embedded_pg = settings.database_url is None
    if embedded_pg:
        postgres = EmbeddedPostgres(state_dir)
        postgres.start()
        migration_url = postgres.ensure_database(DATABASE_NAME)
        database_url = role_url(migration_url, settings.database_app_role)
    else:
        assert settings.database_url is not None
        if not settings.database_migration_url:
            raise RuntimeError(
                "DATABASE_URL is set but LIFTOS_DATABASE_MIGRATION_URL is not: migrations must run "
                "as the role that owns the tables, and the application as another role"
            )
        database_url, migration_url = settings.database_url, settings.database_migration_url
    embedded_redis = settings.redis_url is None
    redis_url = (
        EmbeddedRedis(state_dir, port=settings.redis_port).start()
        if embedded_redis
        else str(settings.redis_url)
    )
    asyncio.run(apply_migrations(migration_url, app_role=settings.database_app_role))
    return StateUrls(database_url, migration_url, redis_url, embedded_pg, embedded_redis)


def stop_embedded(settings: Settings) -> list[str]:
    """Stop the embedded servers of this state directory; returns what was stopped."""
    state_dir = settings.state_dir.expanduser().resolve()
    stopped = []
    for server in (EmbeddedRedis(state_dir, port=settings.redis_port), EmbeddedPostgres(state_dir)):
        if server.status().running:
            server.stop()
            stopped.append(server.name)
    return stopped


def dev_jwt_keys(settings: Settings) -> str:
    """Random signing keys for a local cluster, kept in the state dir across restarts.

    The settings default is a published placeholder; a running local cluster should not accept
    tokens anyone could forge, so `liftos up` swaps it for keys of its own.
    """
    path = settings.state_dir.expanduser().resolve() / "jwt_keys.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = {"local-1": secrets.token_urlsafe(48)}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(keys, handle)
    return path.read_text(encoding="utf-8")


def service_env(settings: Settings, urls: StateUrls) -> dict[str, str]:
    """Environment for the Ray head and so for every replica it starts."""
    env = {
        "DATABASE_URL": urls.database_url,
        "REDIS_URL": urls.redis_url,
        "LIFTOS_ENV": settings.env,
        "LIFTOS_STATE_DIR": str(settings.state_dir.expanduser().resolve()),
        # HAProxy forwards straight into the replica owning a route: one hop per request.
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
    }
    if "LIFTOS_OTEL_EXPORTER" not in os.environ and settings.env == "dev":
        # Traces are on locally, in a file (<state_dir>/traces.jsonl, rotated at 20 MiB) rather
        # than the console the replicas log to; production points OTLP at its collector.
        env["LIFTOS_OTEL_EXPORTER"] = "file"
        # Low volume: one new trace in ten. A request sent with a sampled `traceparent` is
        # always recorded, with everything it causes (the sampler follows the caller).
        env.setdefault(
            "LIFTOS_OTEL_SAMPLE_RATIO", os.environ.get("LIFTOS_OTEL_SAMPLE_RATIO", "0.1")
        )
    if "LIFTOS_JWT_KEYS" not in os.environ and settings.env == "dev":
        keys = dev_jwt_keys(settings)
        env["LIFTOS_JWT_KEYS"] = keys
        env["LIFTOS_JWT_ACTIVE_KID"] = next(iter(json.loads(keys)))
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def side_by_side_env(*, ingress_port_base: int) -> dict[str, str]:
    """Ray Serve ports that let one more local cluster (a test suite's, a benchmark's) run beside
    `liftos up`'s: HAProxy's stats and metrics ports are fixed by default, and replicas take
    their direct-ingress ports from one shared range."""
    return {
        "RAY_SERVE_HAPROXY_STATS_PORT": str(free_port()),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(free_port()),
        "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": str(ingress_port_base),
        "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": str(ingress_port_base + 1000),
        "RAY_SERVE_DIRECT_INGRESS_MIN_GRPC_PORT": str(ingress_port_base + 1100),
        "RAY_SERVE_DIRECT_INGRESS_MAX_GRPC_PORT": str(ingress_port_base + 2100),
    }


def ray_cli() -> str:
    candidate = Path(sys.executable).parent / "ray"
    found = str(candidate) if candidate.exists() else shutil.which("ray")
    if not found:
        raise RuntimeError("the `ray` command is not installed in this environment")
    return found


def head_cpus(settings: Settings, standing: float) -> int:
    """Logical CPUs for the local head: ``LIFTOS_RAY_NUM_CPUS`` if set, else the machine's
    (at least 4) for work, plus what the idle services hold (``serving.standing_cpus``)."""
    if settings.ray_num_cpus:
        return settings.ray_num_cpus
    return math.ceil(max(os.cpu_count() or 1, 4) + standing)


def start_ray_head(settings: Settings, env: dict[str, str], *, num_cpus: int) -> None:
    cmd = [
        ray_cli(),
        "start",
        "--head",
        f"--port={settings.ray_port}",
        # Everything local stays on loopback.
        "--node-ip-address=127.0.0.1",
        f"--ray-client-server-port={settings.ray_client_port}",
        f"--dashboard-agent-listen-port={settings.ray_dashboard_agent_port}",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={settings.dashboard_port}",
        f"--metrics-export-port={settings.ray_metrics_port}",
        f"--num-cpus={num_cpus}",
        "--disable-usage-stats",
    ]
    # Ray's GCS listens on every interface; only holders of the token in ~/.ray may use it.
    # (The CLI process sets the same mode before importing Ray: see cluster/cli.py.)
    head_env = {**os.environ, **env, "RAY_AUTH_MODE": "token"}
    subprocess.run(cmd, env=head_env, check=True)  # noqa: S603


def reachable(address: str, *, timeout_s: float = 1.0) -> bool:
    """Whether something accepts TCP connections at ``host:port`` (``ray://`` prefix allowed)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def head_address(settings: Settings) -> str:
    return f"127.0.0.1:{settings.ray_port}"


def stop_ray_head(settings: Settings, *, timeout_s: float = 30.0) -> int:
    """Stop the local Ray head `liftos up` started, and only it.

    ``ray stop`` would kill every Ray process on the machine (a test suite's cluster, another
    project's); instead find this head's processes by its GCS port and session directory and end
    them with all their descendants (workers, agents, HAProxy). Returns how many were stopped.
    """
    import psutil

    marker_file = settings.state_dir.expanduser().resolve() / "ray-session"
    markers = [f":{settings.ray_port}", f"gcs_server_port={settings.ray_port}"]
    if marker_file.exists():
        markers.append(marker_file.read_text(encoding="utf-8").strip())
    roots: list[psutil.Process] = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "ray" in cmdline and any(m and m in cmdline for m in markers):
            roots.append(proc)
    victims: dict[int, psutil.Process] = {}
    for root in roots:
        try:
            for proc in [root, *root.children(recursive=True)]:
                victims[proc.pid] = proc
        except psutil.NoSuchProcess:
            continue
    for proc in victims.values():
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(list(victims.values()), timeout=timeout_s)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    marker_file.unlink(missing_ok=True)
    return len(victims)


def remember_ray_session(settings: Settings, session_name: str) -> None:
    """Record the head's session name: it appears in the command line of its processes."""
    path = settings.state_dir.expanduser().resolve() / "ray-session"
    path.write_text(session_name, encoding="utf-8")
