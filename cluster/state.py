"""Connections to the state LiftOS keeps: PostgreSQL (asyncpg) and Redis.

The one rule of this module: tenant data is only touched inside ``Database.tenant(org_id)``, a
transaction in which PostgreSQL's row-level security knows the tenant. There is no other way to
get a connection to the application tables.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from importlib import resources
from typing import Any

import asyncpg
import redis.asyncio as aioredis

log = logging.getLogger(__name__)

# Tables whose rows the application may change; the audit log is insert-only by design.
_APP_TABLES_DML = (
    "orgs",
    "users",
    "refresh_tokens",
    "api_keys",
    "modules",
    "causal_datasets",
    "causal_jobs",
    "causal_models",
    "causal_artifacts",
    "memory_data_keys",
    "memory_records",
    "surfacing_catalogs",
    "surfacing_products",
    "surfacing_queries",
    "surfacing_audits",
    "surfacing_audit_products",
    "surfacing_audit_artifacts",
    "llm_providers",
    "llm_models",
    "llm_templates",
    "llm_generations",
    "llm_outcomes",
    "llm_usage_daily",
    "llm_budgets",
    "eval_suites",
    "eval_runs",
    "eval_results",
    "eval_sandbox_episodes",
    "billing_accounts",
    "billing_events",
    "billing_usage",
)
# History is evidence: the app may add versions but never rewrite them.
_APP_TABLES_APPEND_ONLY = ("audit_log", "memory_versions", "billing_usage_flushes")
_MIGRATION_LOCK_KEY = 0x4C494654  # "LIFT": one migrator at a time across replicas
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The versioned SQL files shipped in ``cluster/migrations``, in order."""
    found: list[Migration] = []
    for entry in resources.files("cluster").joinpath("migrations").iterdir():
        match = re.fullmatch(r"(\d{4})_([a-z0-9_]+)\.sql", entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions in {versions}")
    return found


async def apply_migrations(migration_url: str, *, app_role: str) -> list[int]:
    """Apply pending migrations as the owner role and grant the app role what it needs.

    Safe to call from every replica at start: an advisory lock serialises migrators and applied
    versions are recorded in ``schema_migrations``. Returns the versions applied by this call.
    """
    if not _ROLE_NAME.fullmatch(app_role):
        raise ValueError(f"invalid application role name {app_role!r}")
    conn: asyncpg.Connection = await asyncpg.connect(migration_url)
    applied: list[int] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version integer PRIMARY KEY, name text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for migration in load_migrations():
                if migration.version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        migration.version,
                        migration.name,
                    )
                applied.append(migration.version)
                log.info("applied migration %04d_%s", migration.version, migration.name)
            await _grant_app_role(conn, app_role)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_KEY)
    finally:
        await conn.close()
    return applied


async def _grant_app_role(conn: asyncpg.Connection, app_role: str) -> None:
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", app_role)
    if not exists:
        # Embedded/dev servers: create the role. In production the operator provisions it.
        await conn.execute(f'CREATE ROLE "{app_role}" LOGIN NOSUPERUSER NOBYPASSRLS')
    await conn.execute(f'GRANT USAGE ON SCHEMA public, liftos TO "{app_role}"')
    for table in _APP_TABLES_DML:
        await conn.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO "{app_role}"')
    for table in _APP_TABLES_APPEND_ONLY:
        await conn.execute(f'GRANT SELECT, INSERT ON {table} TO "{app_role}"')
    await conn.execute(f'GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA liftos TO "{app_role}"')


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class Database:
    """An asyncpg pool whose only door to tenant data is :meth:`tenant`."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, url: str, *, min_size: int = 1, max_size: int = 10) -> Database:
        pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, init=_init_connection
        )
        return cls(pool)

    @asynccontextmanager
    async def tenant(self, org_id: uuid.UUID) -> AsyncIterator[asyncpg.Connection]:
        """A transaction bound to one org: RLS hides every other org's rows."""
        # One round trip opens the transaction and binds the tenant: without parameters
        # asyncpg sends the simple-query protocol, which takes both statements at once.
        # Inlining is safe because a UUID's text is only hex digits and hyphens.
        bind = f"BEGIN; SELECT set_config('liftos.org_id', '{uuid.UUID(str(org_id))}', true)"
        async with self._pool.acquire() as conn:
            await conn.execute(bind)
            try:
                yield conn
            except BaseException:
                # A broken connection cannot roll back; the pool discards it, which ends the
                # transaction on the server all the same. The caller's error is the one to see.
                with suppress(Exception):
                    await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    @asynccontextmanager
    async def unscoped(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction with no tenant: only the credential-lookup functions answer here."""
        async with self._pool.acquire() as conn, conn.transaction():
            yield conn

    async def ping(self) -> None:
        async with self._pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    async def close(self) -> None:
        await self._pool.close()


def connect_redis(url: str) -> aioredis.Redis:
    """A pooled asyncio Redis client; it connects lazily on first use."""
    client: aioredis.Redis = aioredis.Redis.from_url(
        url, decode_responses=False, health_check_interval=30, socket_connect_timeout=5
    )
    return client


def role_url(url: str, role: str) -> str:
    """The same server and database as ``url``, logged in as ``role`` (embedded servers trust
    local sockets, so no password is involved there)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{role}@{host}", parts.path, parts.query, parts.fragment))


def json_dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)
