"""Settings: sensible dev defaults, and refusal of placeholder secrets outside dev mode."""

from __future__ import annotations

import base64
import json
import os

import pytest
from pydantic import ValidationError

from cluster.settings import DEV_JWT_KEYS, DEV_MEMORY_MASTER_KEY, Settings

STRONG = {"k1": "Vq3v9m0x2Kx8l1PzR7tY5wN4cB6hJ0aD-strong-random"}
SERVERS = {"DATABASE_URL": "postgresql://app@db/liftos", "REDIS_URL": "redis://cache:6379/0"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "RAY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    import os

    for name in [n for n in os.environ if n.startswith("LIFTOS_")]:
        monkeypatch.delenv(name)


def test_dev_defaults_use_embedded_servers() -> None:
    settings = Settings()
    assert settings.env == "dev"
    assert settings.uses_embedded_servers
    assert settings.jwt_secret_map == DEV_JWT_KEYS
    assert settings.access_token_ttl_seconds == 900
    assert set(settings.rate_limit_plans) >= {"free", "pro", "enterprise"}


def test_prod_refuses_the_dev_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFTOS_ENV", "prod")
    for name, value in SERVERS.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match="placeholder"):
        Settings()


@pytest.mark.parametrize("secret", ["short", "x" * 40 + "change-me", "my-secret-" + "a" * 30])
def test_prod_refuses_weak_or_placeholder_keys(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("LIFTOS_ENV", "prod")
    monkeypatch.setenv("LIFTOS_JWT_KEYS", json.dumps({"k1": secret}))
    monkeypatch.setenv("LIFTOS_JWT_ACTIVE_KID", "k1")
    for name, value in SERVERS.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match="LIFTOS_JWT_KEYS"):
        Settings()


def test_prod_requires_external_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFTOS_ENV", "prod")
    monkeypatch.setenv("LIFTOS_JWT_KEYS", json.dumps(STRONG))
    monkeypatch.setenv("LIFTOS_JWT_ACTIVE_KID", "k1")
    monkeypatch.setenv("LIFTOS_MEMORY_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(ValidationError, match="DATABASE_URL, REDIS_URL must be set"):
        Settings()


def test_prod_with_real_secrets_and_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFTOS_ENV", "prod")
    monkeypatch.setenv("LIFTOS_JWT_KEYS", json.dumps(STRONG))
    monkeypatch.setenv("LIFTOS_JWT_ACTIVE_KID", "k1")
    monkeypatch.setenv("LIFTOS_MEMORY_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    for name, value in SERVERS.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.database_url == SERVERS["DATABASE_URL"]
    assert not settings.uses_embedded_servers


def test_active_kid_must_be_a_known_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFTOS_JWT_KEYS", json.dumps(STRONG))
    monkeypatch.setenv("LIFTOS_JWT_ACTIVE_KID", "k2")
    with pytest.raises(ValidationError, match="'k2' is not a key"):
        Settings()


def test_jwt_keys_must_be_a_json_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFTOS_JWT_KEYS", "k1=abc")
    with pytest.raises(ValidationError, match="JSON object"):
        Settings()


def test_access_tokens_cannot_outlive_15_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFTOS_ACCESS_TOKEN_TTL_SECONDS", "3600")
    with pytest.raises(ValidationError, match="access_token_ttl_seconds"):
        Settings()


def test_rate_limit_plans_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    plans = {
        "free": {
            "principal": {"requests_per_minute": 60, "burst": 5},
            "org": {"requests_per_minute": 600, "burst": 50},
        }
    }
    monkeypatch.setenv("LIFTOS_RATE_LIMIT_PLANS", json.dumps(plans))
    settings = Settings()
    assert settings.rate_limit_plans["free"].principal.requests_per_minute == 60
    assert settings.rate_limit_plans["free"].org.burst == 50


def test_default_plan_must_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFTOS_DEFAULT_PLAN", "platinum")
    with pytest.raises(ValidationError, match="platinum"):
        Settings()


def _prod_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFTOS_ENV", "prod")
    monkeypatch.setenv("LIFTOS_JWT_KEYS", json.dumps(STRONG))
    monkeypatch.setenv("LIFTOS_JWT_ACTIVE_KID", "k1")
    for name, value in SERVERS.items():
        monkeypatch.setenv(name, value)


def test_dev_mode_falls_back_to_the_documented_memory_key() -> None:
    settings = Settings()
    assert settings.memory_master_key is None
    assert settings.memory_master_key_bytes == base64.b64decode(DEV_MEMORY_MASTER_KEY)


def test_memory_master_key_must_be_32_bytes_of_base64(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFTOS_MEMORY_MASTER_KEY", base64.b64encode(os.urandom(16)).decode())
    with pytest.raises(ValidationError, match=r"LIFTOS_MEMORY_MASTER_KEY.*32 bytes"):
        Settings()


@pytest.mark.parametrize(
    "raw", [base64.b64decode(DEV_MEMORY_MASTER_KEY), b"\x00" * 32, b"placeholder-key-".ljust(32)]
)
def test_prod_refuses_a_placeholder_memory_key(monkeypatch: pytest.MonkeyPatch, raw: bytes) -> None:
    _prod_env(monkeypatch)
    monkeypatch.setenv("LIFTOS_MEMORY_MASTER_KEY", base64.b64encode(raw).decode())
    with pytest.raises(ValidationError, match="LIFTOS_MEMORY_MASTER_KEY"):
        Settings()


def test_prod_refuses_to_start_without_a_memory_key(monkeypatch: pytest.MonkeyPatch) -> None:
    _prod_env(monkeypatch)
    with pytest.raises(ValidationError, match="LIFTOS_MEMORY_MASTER_KEY must be set"):
        Settings()


def test_prod_uses_a_real_memory_key(monkeypatch: pytest.MonkeyPatch) -> None:
    _prod_env(monkeypatch)
    raw = os.urandom(32)
    monkeypatch.setenv("LIFTOS_MEMORY_MASTER_KEY", base64.b64encode(raw).decode())
    settings = Settings()
    assert settings.memory_master_key_bytes == raw
    assert base64.b64encode(raw).decode() not in repr(settings)


def test_billing_is_off_without_a_stripe_key() -> None:
    settings = Settings()
    assert not settings.billing_enabled
    assert settings.stripe_api_base == "https://api.stripe.com"
    assert set(settings.billing_plans) == {"free", "pro", "enterprise"}


def test_a_stripe_key_needs_its_webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFTOS_STRIPE_API_KEY", "sk_test_abc")
    with pytest.raises(ValidationError, match="LIFTOS_STRIPE_WEBHOOK_SECRET"):
        Settings()
    monkeypatch.setenv("LIFTOS_STRIPE_WEBHOOK_SECRET", "whsec_abc")
    assert Settings().billing_enabled


def test_billing_plans_from_json_name_their_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "LIFTOS_BILLING_PLANS",
        json.dumps({"pro": {"price_id": "price_1", "quotas": {"mmm_fit": 3}}}),
    )
    with pytest.raises(ValidationError, match=r"billing_plans\.pro\.quotas\.mmm_fit"):
        Settings()
    monkeypatch.setenv(
        "LIFTOS_BILLING_PLANS", json.dumps({"pro": {"price_id": "price_1", "rate_plan": "gold"}})
    )
    assert Settings().billing_plans["pro"].rate_plan == "gold"  # unused while billing is off
    monkeypatch.setenv("LIFTOS_STRIPE_API_KEY", "sk_test_abc")
    monkeypatch.setenv("LIFTOS_STRIPE_WEBHOOK_SECRET", "whsec_abc")
    with pytest.raises(ValidationError, match="'gold'"):
        Settings()
