"""Bringing up and down the state a LiftOS cluster needs, embedded or external.

`liftos up` and the integration tests both go through ``prepare_state``: with ``DATABASE_URL`` /
``REDIS_URL`` unset it starts the embedded servers under ``LIFTOS_STATE_DIR``; either way it
applies the migrations and returns the environment every Ray worker must see.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
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
    if "LIFTOS_JWT_KEYS" not in os.environ and settings.env == "dev":
        keys = dev_jwt_keys(settings)
        env["LIFTOS_JWT_KEYS"] = keys
        env["LIFTOS_JWT_ACTIVE_KID"] = next(iter(json.loads(keys)))
    return env


def ray_cli() -> str:
    candidate = Path(sys.executable).parent / "ray"
    found = str(candidate) if candidate.exists() else shutil.which("ray")
    if not found:
        raise RuntimeError("the `ray` command is not installed in this environment")
    return found


def start_ray_head(settings: Settings, env: dict[str, str]) -> None:
    cmd = [
        ray_cli(),
        "start",
        "--head",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={settings.dashboard_port}",
        "--disable-usage-stats",
    ]
    subprocess.run(cmd, env={**os.environ, **env}, check=True)  # noqa: S603


def stop_ray() -> None:
    subprocess.run([ray_cli(), "stop"], check=False)  # noqa: S603
