"""The one settings object of LiftOS.

Everything is read from the environment (prefix ``LIFTOS_``) plus the standard names
``DATABASE_URL``, ``REDIS_URL`` and ``RAY_ADDRESS`` so the same code runs against the embedded
servers of a laptop and the managed ones of a KubeRay deployment.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cluster.encryption import InvalidKeyError, decode_master_key
from engine.billing.plans import (
    DEFAULT_BILLING_PLANS,
    BillingPlan,
    PlanError,
    parse_billing_plans,
)
from engine.ratelimit import DEFAULT_PLANS, RatePlan, parse_plans

# Secrets that ship in the repository. They are fine on a laptop and refused anywhere else.
DEV_JWT_KEYS = {"dev-1": "dev-only-insecure-jwt-signing-key-change-me-0000"}
_PLACEHOLDER_MARKERS = ("change-me", "changeme", "insecure", "placeholder", "example", "secret")
# Base64 of b"dev-only-insecure-memory-key-000": anyone can decrypt what it protects.
DEV_MEMORY_MASTER_KEY = "ZGV2LW9ubHktaW5zZWN1cmUtbWVtb3J5LWtleS0wMDA="


def _is_placeholder_key(raw: bytes) -> bool:
    """The dev key, a readable phrase with a placeholder word, or one byte repeated."""
    text = raw.decode("latin-1").lower()
    return any(marker in text for marker in _PLACEHOLDER_MARKERS) or len(set(raw)) == 1


def _json_object(value: Any, variable: str, shape: str) -> dict[str, Any]:
    """Environment variables arrive as JSON text; defaults and tests pass dicts."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{variable} must be a JSON object {shape}: {exc}") from exc
    if not isinstance(value, dict):
        raise ValueError(f"{variable} must be a JSON object {shape}")
    return value


class Settings(BaseSettings):
    """Runtime configuration; see README "Configuration" for every variable."""

    model_config = SettingsConfigDict(
        env_prefix="LIFTOS_", extra="ignore", frozen=True, populate_by_name=True
    )

    env: Literal["dev", "prod"] = "dev"
    state_dir: Path = Path(".liftos")

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "LIFTOS_DATABASE_URL")
    )
    # Owner role used only to apply migrations; the app itself connects as a non-owner role.
    database_migration_url: str | None = None
    database_app_role: str = Field(default="liftos_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    database_pool_min: int = Field(default=1, ge=0, le=100)
    database_pool_max: int = Field(default=10, ge=1, le=500)
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "LIFTOS_REDIS_URL")
    )
    redis_port: int = Field(default=6380, ge=1, le=65535)
    ray_address: str | None = Field(
        default=None, validation_alias=AliasChoices("RAY_ADDRESS", "LIFTOS_RAY_ADDRESS")
    )
    ray_port: int = Field(default=6379, ge=1, le=65535)
    ray_client_port: int = Field(default=10001, ge=1, le=65535)
    ray_dashboard_agent_port: int = Field(default=52365, ge=1, le=65535)
    # Logical CPUs of the local head (`liftos up`); default max(cores, 4). Serve replicas hold
    # fractions of a CPU and an MMM job plus its Ray Tune trials need whole ones, so a 2-core
    # laptop would otherwise queue trials behind the job that waits for them.
    ray_num_cpus: int | None = Field(default=None, ge=1, le=1024)
    http_port: int = Field(default=8000, ge=1, le=65535)
    dashboard_port: int = Field(default=8265, ge=1, le=65535)

    jwt_keys: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=lambda: {k: SecretStr(v) for k, v in DEV_JWT_KEYS.items()}
    )
    jwt_active_kid: str = "dev-1"
    jwt_issuer: str = "liftos"
    jwt_audience: str = "liftos-api"
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=900)
    refresh_token_ttl_days: int = Field(default=30, ge=1, le=365)

    argon2_time_cost: int = Field(default=3, ge=1, le=20)
    argon2_memory_kib: int = Field(default=65536, ge=1024, le=4 * 1024 * 1024)
    argon2_parallelism: int = Field(default=4, ge=1, le=64)

    rate_limit_plans: Annotated[dict[str, RatePlan], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_PLANS)
    )
    default_plan: str = "free"
    # How many proxies in front of Ray Serve's HAProxy append to X-Forwarded-For (an L7 load
    # balancer, an ingress controller). Anonymous calls of public routes are rate-limited by the
    # entry that many places from the right; 0: none, and the header is not believed
    # (deployments/common/client_address.py).
    trusted_proxy_hops: int = Field(default=0, ge=0, le=10)
    # API keys and module registrations are re-read from PostgreSQL at most this often per replica.
    auth_cache_ttl_seconds: float = Field(default=5.0, ge=0, le=300)

    # Traces: `none` (context still propagates), `console`, `file` (JSON Lines at otel_file,
    # default <state_dir>/traces.jsonl; what `liftos up` uses) or `otlp` (OTEL_EXPORTER_OTLP_*).
    otel_exporter: Literal["none", "console", "file", "otlp"] = "none"
    otel_service_name: str = "liftos"
    # Share of new traces recorded; a request continuing a caller's trace follows its decision.
    otel_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    otel_file: Path | None = None
    # Request, job, shard and LLM metrics through Ray's metrics API (cluster/metrics.py); each
    # process names at most this many orgs in labels, the rest as "other".
    metrics_enabled: bool = True
    metrics_org_label_limit: int = Field(default=20, ge=0, le=1000)
    # Ray's Prometheus endpoint on the local head (the dashboard's Grafana and `liftos status`).
    ray_metrics_port: int = Field(default=8266, ge=1, le=65535)

    module_request_timeout_seconds: float = Field(default=30.0, gt=0, le=600)

    # Causal module. Uploads are parsed in the replica, so their size is bounded here.
    causal_max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1024, le=1024**3)
    # Ray resources of one fit task and of each Ray Tune trial when variants are compared: a fit
    # runs as many NUTS chains at once as it holds whole CPUs (one thread and core per chain).
    causal_fit_num_cpus: float = Field(default=2.0, gt=0, le=64)
    causal_trial_num_cpus: float = Field(default=1.0, gt=0, le=64)
    causal_fit_retries: int = Field(default=2, ge=0, le=10)

    # Surfacing module. Catalog uploads are parsed in the replica (100,000 products per upload).
    surfacing_max_upload_bytes: int = Field(default=200 * 1024 * 1024, ge=1024, le=1024**3)
    # Ray resources of one audit (a Ray Data pipeline inside one task's reservation) and how
    # often Ray retries it when its worker dies; the embedder is memory_embedder's choice.
    surfacing_audit_num_cpus: float = Field(default=1.0, gt=0, le=64)
    surfacing_audit_retries: int = Field(default=2, ge=0, le=10)

    # Eval module. Evaluations run on a pool of long-lived Ray actors (deployments.eval.tasks);
    # each provider's calls go through one of them, at most this many in flight across every
    # run; a sandbox run is one task. LLM and HTTP sandbox agents make one call per episode and
    # period, bounded here.
    eval_workers: int = Field(default=2, ge=1, le=256)
    eval_provider_concurrency: int = Field(default=8, ge=1, le=256)
    eval_task_num_cpus: float = Field(default=0.25, gt=0, le=64)
    eval_sandbox_num_cpus: float = Field(default=1.0, gt=0, le=64)
    eval_retries: int = Field(default=2, ge=0, le=10)
    eval_agent_max_calls: int = Field(default=5000, ge=1, le=1_000_000)

    # Memory module. Base64 of 32 random bytes; it wraps each org's content key. Unset in dev
    # means DEV_MEMORY_MASTER_KEY; outside dev an unset key, the dev key or a placeholder is
    # refused when the settings load.
    memory_master_key: SecretStr | None = None
    # all-MiniLM-L6-v2 three ways (memory/embedders.py): "onnx-int8" (the project's ONNX
    # export, int8, one text per call so a vector depends on its text alone; ~5x the reference's
    # texts/s on 2 cores, LoCoMo recall unchanged), "onnx-fp32" (~2.8x) and "minilm"
    # (sentence-transformers itself).
    memory_embedder: Literal["onnx-int8", "onnx-fp32", "minilm"] = "onnx-int8"
    # Memory shards: Ray actors, each serving the indexes of the tenants that hash to it.
    memory_shard_count: int = Field(default=2, ge=1, le=1024)
    memory_shard_num_cpus: float = Field(default=0.5, ge=0, le=64)
    # -1: restart forever (a shard only holds indexes rebuilt from PostgreSQL).
    memory_shard_max_restarts: int = Field(default=-1, ge=-1, le=1000)
    memory_shard_max_task_retries: int = Field(default=2, ge=-1, le=100)
    # A tenant with more memories than this is split over several shards (powers of two).
    memory_shard_max_memories: int = Field(default=200_000, ge=10, le=100_000_000)
    # Kuzu graph files, one directory per tenant partition; default <state_dir>/memory.
    memory_data_dir: Path | None = None
    memory_max_content_bytes: int = Field(default=32 * 1024, ge=256, le=1024 * 1024)
    # How often a shard compares a tenant's index with PostgreSQL to catch up on missed writes.
    memory_sync_interval_seconds: float = Field(default=2.0, ge=0, le=3600)
    # Longest wait for a shard call; the first call of a tenant on a shard rebuilds its indexes.
    memory_shard_call_timeout_seconds: float = Field(default=120.0, gt=0, le=3600)

    @field_validator("jwt_keys", mode="before")
    @classmethod
    def _parse_jwt_keys(cls, value: Any) -> Any:
        keys = _json_object(value, "LIFTOS_JWT_KEYS", "of kid -> secret")
        if not keys:
            raise ValueError("LIFTOS_JWT_KEYS must be a non-empty JSON object of kid -> secret")
        return keys

    @field_validator("rate_limit_plans", mode="before")
    @classmethod
    def _parse_plans(cls, value: Any) -> Any:
        plans = _json_object(value, "LIFTOS_RATE_LIMIT_PLANS", "of plan -> limits")
        if all(isinstance(plan, RatePlan) for plan in plans.values()):
            return plans
        return parse_plans(plans)

    @field_validator("memory_master_key")
    @classmethod
    def _check_memory_master_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                decode_master_key(value.get_secret_value())
            except InvalidKeyError as exc:
                raise ValueError(
                    f"LIFTOS_MEMORY_MASTER_KEY: {exc}; generate one with `python -c 'import "
                    "base64, os; print(base64.b64encode(os.urandom(32)).decode())'`"
                ) from None
        return value

    # LLM module. Provider calls: per-request timeout, retries on 429/5xx (Retry-After is
    # honoured up to the longest wait, beyond which the next configured model is tried), and a
    # cooldown of a deployment failing that many calls in a row.
    llm_request_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    llm_retries: int = Field(default=2, ge=0, le=10)
    llm_retry_max_wait_seconds: float = Field(default=10.0, ge=0, le=120)
    llm_cooldown_failures: int = Field(default=3, ge=1, le=100)
    llm_cooldown_seconds: float = Field(default=60.0, ge=0, le=3600)
    # Identical temperature-0 requests answer from the org's cache for this long (0: off).
    llm_cache_ttl_seconds: int = Field(default=86_400, ge=0, le=30 * 86_400)
    # Provider base URLs on loopback or private networks (a self-hosted vLLM, the tests' local
    # servers). Unset: allowed in dev only, so a tenant cannot point the service at internal
    # hosts in production unless the operator says so.
    llm_allow_private_base_urls: bool | None = None

    @property
    def llm_private_base_urls_allowed(self) -> bool:
        if self.llm_allow_private_base_urls is not None:
            return self.llm_allow_private_base_urls
        return self.env == "dev"

    # Billing on Stripe. Off while no API key is set: the billing routes then say so (503) and
    # no quota is enforced. LIFTOS_STRIPE_API_BASE points the SDK at stripe-mock or at the
    # tests' local server; plans (LIFTOS_BILLING_PLANS, JSON) carry their Stripe price ids,
    # their rate-limit plan and their monthly quotas (engine.billing.plans).
    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str = Field(default="https://api.stripe.com", min_length=8, max_length=500)
    billing_plans: Annotated[dict[str, BillingPlan], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_BILLING_PLANS)
    )
    # How often usage is reported to Stripe Billing Meters (a Ray task; 0: never).
    billing_report_interval_seconds: float = Field(default=3600.0, ge=0, le=86_400)
    # After a failed payment the plan stays this long before the org falls back to free.
    billing_grace_days: int = Field(default=7, ge=0, le=90)
    billing_success_url: str = Field(default="http://127.0.0.1:8000/billing/done", max_length=500)
    billing_cancel_url: str = Field(
        default="http://127.0.0.1:8000/billing/cancelled", max_length=500
    )

    @field_validator("billing_plans", mode="before")
    @classmethod
    def _parse_billing_plans(cls, value: Any) -> Any:
        plans = _json_object(value, "LIFTOS_BILLING_PLANS", "of plan -> price_id, quotas")
        if all(isinstance(plan, BillingPlan) for plan in plans.values()):
            return plans
        try:
            return parse_billing_plans(plans)
        except PlanError as exc:
            raise ValueError(f"LIFTOS_BILLING_PLANS: {exc}") from None

    @property
    def billing_enabled(self) -> bool:
        return self.stripe_api_key is not None

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if self.jwt_active_kid not in self.jwt_keys:
            raise ValueError(
                f"LIFTOS_JWT_ACTIVE_KID '{self.jwt_active_kid}' is not a key in LIFTOS_JWT_KEYS"
            )
        if self.default_plan not in self.rate_limit_plans:
            raise ValueError(f"LIFTOS_DEFAULT_PLAN '{self.default_plan}' is not a known plan")
        for plan in self.billing_plans.values() if self.billing_enabled else ():
            if plan.rate_plan not in self.rate_limit_plans:
                raise ValueError(
                    f"LIFTOS_BILLING_PLANS: plan '{plan.name}' uses the rate-limit plan "
                    f"'{plan.rate_plan}', which LIFTOS_RATE_LIMIT_PLANS does not define"
                )
        if self.stripe_api_key is not None and self.stripe_webhook_secret is None:
            raise ValueError(
                "LIFTOS_STRIPE_WEBHOOK_SECRET must be set with LIFTOS_STRIPE_API_KEY: webhooks "
                "are verified with it (whsec_… from the Stripe dashboard or `stripe listen`)"
            )
        if self.database_pool_min > self.database_pool_max:
            raise ValueError("LIFTOS_DATABASE_POOL_MIN must not exceed LIFTOS_DATABASE_POOL_MAX")
        if self.env == "prod":
            self._refuse_placeholders()
        return self

    def _refuse_placeholders(self) -> None:
        for kid, secret in self.jwt_keys.items():
            raw = secret.get_secret_value()
            if len(raw.encode()) < 32 or any(m in raw.lower() for m in _PLACEHOLDER_MARKERS):
                raise ValueError(
                    f"LIFTOS_JWT_KEYS['{kid}'] is a placeholder or shorter than 32 bytes; "
                    "set a random secret (e.g. `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))'`) outside dev mode"
                )
        if self.memory_master_key is None:
            raise ValueError(
                "LIFTOS_MEMORY_MASTER_KEY must be set outside dev mode: 32 random bytes, base64 "
                "(e.g. `python -c 'import base64, os; print(base64.b64encode(os.urandom(32))"
                ".decode())'`)"
            )
        if _is_placeholder_key(decode_master_key(self.memory_master_key.get_secret_value())):
            raise ValueError(
                "LIFTOS_MEMORY_MASTER_KEY is the dev key or a placeholder; set 32 random bytes "
                "(base64) outside dev mode"
            )
        missing = [
            name
            for name, value in (("DATABASE_URL", self.database_url), ("REDIS_URL", self.redis_url))
            if not value
        ]
        if missing:
            raise ValueError(
                f"{', '.join(missing)} must be set outside dev mode "
                "(embedded servers are for local development only)"
            )

    @property
    def uses_embedded_servers(self) -> bool:
        return self.database_url is None or self.redis_url is None

    @property
    def memory_master_key_bytes(self) -> bytes:
        """The raw master key; the dev key in dev mode when unset, an error elsewhere."""
        if self.memory_master_key is not None:
            return decode_master_key(self.memory_master_key.get_secret_value())
        # Outside dev, validation has already refused an unset key.
        return decode_master_key(DEV_MEMORY_MASTER_KEY)

    @property
    def memory_data_path(self) -> Path:
        return (self.memory_data_dir or self.state_dir / "memory").expanduser().resolve()

    @property
    def otel_file_path(self) -> Path:
        return (self.otel_file or self.state_dir / "traces.jsonl").expanduser().resolve()

    @property
    def jwt_secret_map(self) -> dict[str, str]:
        return {kid: secret.get_secret_value() for kid, secret in self.jwt_keys.items()}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once; tests build their own ``Settings`` instead."""
    return Settings()
