"""Real embedded PostgreSQL/Redis daemons started from tmp state dirs (cluster.embedded)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import psutil
import pytest
import redis

from cluster.embedded import EmbeddedPostgres, EmbeddedRedis, EmbeddedServerError

REPO_ROOT = Path(__file__).resolve().parents[3]
T = TypeVar("T")


def _run_async(make_coro: Callable[[], Coroutine[Any, Any, T]]) -> T:
    # A private loop in a worker thread, so pytest-asyncio's session loop is never disturbed.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make_coro())).result(timeout=60)


def _pg(url: str, *statements: str) -> Any:
    """Run statements on one connection; return the first value of the last one."""

    async def go() -> Any:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            result = None
            for sql in statements:
                result = await conn.fetchval(sql)
            return result
        finally:
            await conn.close()

    return _run_async(go)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def pg(state_dir: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(state_dir)
    yield server
    server.stop()


@pytest.fixture
def redis_port() -> int:
    return _free_port()


@pytest.fixture
def rds(state_dir: Path, redis_port: int) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(state_dir, port=redis_port)
    yield server
    server.stop()


# --- PostgreSQL -------------------------------------------------------------------------------


def test_postgres_start_is_idempotent_and_data_persists_across_restart(
    pg: EmbeddedPostgres, state_dir: Path
) -> None:
    before = pg.status()
    assert (before.name, before.running) == ("postgresql", False)
    assert (before.pid, before.url) == (None, None)
    assert before.data_dir == state_dir.resolve() / "postgres"

    url = pg.start()
    assert url.startswith("postgresql://postgres:@/postgres?host=/")
    running = pg.status()
    assert running.running
    assert running.pid is not None
    assert running.url == url == pg.url() == pg.url("postgres")
    assert pg.start() == url
    assert pg.status().pid == running.pid

    assert _pg(url, "select 1") == 1
    _pg(
        url,
        "create table kv (k text primary key, v text)",
        "insert into kv values ('answer', 'forty-two')",
    )

    pg.stop()
    stopped = pg.status()
    assert (stopped.running, stopped.pid, stopped.url) == (False, None, None)
    assert _gone(running.pid)
    with pytest.raises(EmbeddedServerError, match="not running"):
        pg.url()
    pg.stop()  # idempotent

    url_again = pg.start()
    assert pg.status().running
    assert _pg(url_again, "select v from kv where k = 'answer'") == "forty-two"


def test_postgres_ensure_database_creates_once(pg: EmbeddedPostgres) -> None:
    pg.start()
    url = pg.ensure_database("liftos_test")
    assert url == pg.url("liftos_test")
    assert url.startswith("postgresql://postgres:@/liftos_test?host=/")
    assert _pg(url, "select current_database()") == "liftos_test"
    _pg(url, "create table marker (id int)")

    assert pg.ensure_database("liftos_test") == url  # idempotent, data untouched
    assert _pg(url, "select count(*) from marker") == 0
    assert _pg(pg.url(), "select count(*) from pg_database where datname = 'liftos_test'") == 1

    for bad in ("Liftos", "1db", "lift-os", 'x"; drop database postgres; --', "a" * 64, ""):
        with pytest.raises(EmbeddedServerError, match="invalid database name"):
            pg.ensure_database(bad)


def test_postgres_not_running_is_reported_and_stop_is_a_noop(state_dir: Path) -> None:
    server = EmbeddedPostgres(state_dir)
    server.stop()
    assert not server.status().running
    with pytest.raises(EmbeddedServerError, match="not running"):
        server.url()
    with pytest.raises(EmbeddedServerError, match="not running"):
        server.ensure_database("liftos")


# --- Redis ------------------------------------------------------------------------------------


def test_redis_start_is_idempotent_and_data_persists_across_restart(
    rds: EmbeddedRedis, redis_port: int, state_dir: Path
) -> None:
    before = rds.status()
    assert (before.name, before.running, before.pid, before.url) == ("redis", False, None, None)
    assert before.data_dir == state_dir.resolve() / "redis"

    url = rds.start()
    assert url == f"redis://127.0.0.1:{redis_port}/0"
    first = rds.status()
    assert first.running
    assert first.url == url
    assert first.pid is not None

    with redis.Redis.from_url(url) as client:
        assert client.set("liftos:key", "value")
        assert client.get("liftos:key") == b"value"
        assert client.config_get("save") == {"save": "60 1"}
        assert client.config_get("appendonly") == {"appendonly": "yes"}

    assert rds.start() == url
    assert rds.status().pid == first.pid  # reused, no second server

    rds.stop()
    stopped = rds.status()
    assert (stopped.running, stopped.pid, stopped.url) == (False, None, None)
    assert _gone(first.pid)
    rds.stop()  # idempotent

    assert rds.start() == url
    second = rds.status()
    assert second.running
    assert second.pid != first.pid
    with redis.Redis.from_url(url) as client:
        assert client.get("liftos:key") == b"value"
    assert (state_dir / "redis" / "redis.log").is_file()


def test_redis_port_taken_by_another_process(state_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        port = squatter.getsockname()[1]
        server = EmbeddedRedis(state_dir, port=port)
        with pytest.raises(EmbeddedServerError, match="LIFTOS_REDIS_PORT") as excinfo:
            server.start()
    assert str(port) in str(excinfo.value)
    assert "already in use" in str(excinfo.value)
    assert not server.status().running
    server.stop()  # nothing to stop


# --- both -------------------------------------------------------------------------------------

_CHILD = """
import json, sys
from pathlib import Path
from cluster.embedded import EmbeddedPostgres, EmbeddedRedis
state = Path(sys.argv[1])
pg = EmbeddedPostgres(state).start()
rds = EmbeddedRedis(state, port=int(sys.argv[2])).start()
print(json.dumps({"pg": pg, "redis": rds}))
"""


def test_servers_outlive_the_process_that_started_them(
    pg: EmbeddedPostgres, rds: EmbeddedRedis, state_dir: Path, redis_port: int
) -> None:
    # A fresh interpreter without XDG_RUNTIME_DIR and with warnings as errors, like the CLI.
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", _CHILD, str(state_dir), str(redis_port)],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    urls = json.loads(result.stdout.strip().splitlines()[-1])

    assert pg.status().running
    assert pg.status().url == urls["pg"]
    assert _pg(urls["pg"], "select 1") == 1
    assert rds.status().running
    assert rds.status().url == urls["redis"]
    with redis.Redis.from_url(urls["redis"]) as client:
        assert client.ping()
