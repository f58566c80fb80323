"""`liftos up`, `liftos status`, `liftos down` as a user runs them, on ports of their own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cluster.local import free_port, side_by_side_env

pytestmark = pytest.mark.e2e

LIFTOS = str(Path(sys.executable).parent / "liftos")


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LIFTOS, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_up_status_down(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("http", "dashboard", "redis", "ray", "client", "agent")}
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "RAY_ADDRESS") and not k.startswith("LIFTOS_")
    }
    env.update(
        {
            "LIFTOS_STATE_DIR": str(tmp_path / "state"),
            "LIFTOS_HTTP_PORT": str(ports["http"]),
            "LIFTOS_DASHBOARD_PORT": str(ports["dashboard"]),
            "LIFTOS_REDIS_PORT": str(ports["redis"]),
            "LIFTOS_RAY_PORT": str(ports["ray"]),
            "LIFTOS_RAY_CLIENT_PORT": str(ports["client"]),
            "LIFTOS_RAY_DASHBOARD_AGENT_PORT": str(ports["agent"]),
            "LIFTOS_ARGON2_TIME_COST": "1",
            "LIFTOS_ARGON2_MEMORY_KIB": "1024",
            "LIFTOS_ARGON2_PARALLELISM": "1",
            **side_by_side_env(ingress_port_base=38000),
        }
    )
    base = f"http://127.0.0.1:{ports['http']}"
    try:
        up = _run(["up"], env, timeout=400)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "LiftOS is up" in up.stdout
        assert base in up.stdout

        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        signup = httpx.post(
            f"{base}/auth/signup",
            json={
                "org_name": "E2E",
                "email": "e2e@liftos-e2e.com",
                "password": "a long passphrase",
            },
            timeout=30,
        )
        assert signup.status_code == 201, signup.text
        token = signup.json()["tokens"]["access_token"]
        hello = httpx.get(
            f"{base}/api/v1/example/hello", headers={"Authorization": f"Bearer {token}"}
        )
        assert hello.status_code == 200
        # Local signing keys are random per state dir, not the published dev placeholder.
        assert (tmp_path / "state" / "jwt_keys.json").exists()

        status = _run(["status"], env, timeout=120)
        assert status.returncode == 0, status.stdout + status.stderr
        for expected in ("core", "example", "/api/v1/example", "RUNNING", "postgresql"):
            assert expected in status.stdout

        again = _run(["up"], env, timeout=400)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "already running" in again.stdout
    finally:
        down = _run(["down"], env, timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stopped the local Ray head" in down.stdout
    for name in ("http", "redis", "ray", "dashboard"):
        assert not _listening(ports[name]), f"{name} port {ports[name]} still open after down"
    after = _run(["status"], env, timeout=60)
    assert after.returncode == 1
    assert "not running" in after.stdout


def test_module_new_scaffolds(tmp_path: Path) -> None:
    result = _run(
        ["module", "new", "churn-score", "--directory", str(tmp_path)], {**os.environ}, 60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "churn-score" / "module.json").exists()
    bad = _run(["module", "new", "Bad_Name", "--directory", str(tmp_path)], {**os.environ}, 60)
    assert bad.returncode == 2
