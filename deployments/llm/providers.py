"""Provider configuration and the deployments a request may use.

An org configures providers and names its models; each model is priced here once, from the
org's own prices or the price table (a model priced by neither is refused: recording its spend
as $0 would be a lie). Keys are sealed with the org's data key before they are stored and
unsealed only to build an SDK client, which each replica keeps per provider and key.
"""

from __future__ import annotations

import ipaddress
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

from cluster.encryption import SECRET_CONTEXT, seal, unseal
from cluster.repositories import llm as repo
from cluster.repositories import memory as memory_repo
from deployments.common.errors import ApiError, Problem
from deployments.common.principal import Principal
from deployments.common.runtime import Runtime
from deployments.llm.adapters import Adapter, ProviderConfig, make_adapter
from deployments.llm.router import Deployment
from engine.llm.pricing import ModelPrice, load_price_table

NO_PROVIDER_HELP = (
    "no LLM provider is configured for this org: POST /api/v1/llm/providers with "
    '{"name": "openai", "kind": "openai", "api_key": "sk-...", "models": [{"name": "gpt-4", '
    '"provider_model": "gpt-4o"}]} (kinds: openai and any OpenAI-compatible server via '
    'base_url, anthropic, cohere, huggingface; "local" is a deterministic simulator for demos)'
)


# --- providers --------------------------------------------------------------------------------


def check_base_url(url: str, *, allow_private: bool, field: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(422, "validation_error", f"{field}: must be an http(s) URL", field=field)
    if allow_private:
        return url.rstrip("/")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, None)}
    except OSError:
        addresses = set()
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved:
            raise ApiError(
                422,
                "validation_error",
                f"{field}: {parts.hostname} resolves to a private address; the operator must "
                "allow private provider URLs (LIFTOS_LLM_ALLOW_PRIVATE_BASE_URLS) for that",
                field=field,
            )
    return url.rstrip("/")


@dataclass(frozen=True)
class ModelCommand:
    name: str
    provider_model: str
    input_usd_per_mtok: Decimal | None
    output_usd_per_mtok: Decimal | None
    cached_input_usd_per_mtok: Decimal | None
    cache_write_usd_per_mtok: Decimal | None
    usd_per_second: Decimal | None
    fallbacks: tuple[str, ...]


@dataclass(frozen=True)
class ProviderCommand:
    name: str
    kind: str
    base_url: str | None
    api_key: str | None
    models: tuple[ModelCommand, ...]


def _priced(model: ModelCommand, *, kind: str, index: int) -> repo.ModelRow:
    table = load_price_table()
    given = (model.input_usd_per_mtok, model.output_usd_per_mtok)
    where = f"models[{index}]"
    input_price: Decimal
    output_price: Decimal
    if given[0] is not None and given[1] is not None:
        source = "org"
        input_price, output_price = given[0], given[1]
        cached, write = model.cached_input_usd_per_mtok, model.cache_write_usd_per_mtok
    elif given != (None, None):
        missing = "output_usd_per_mtok" if given[1] is None else "input_usd_per_mtok"
        raise ApiError(
            422,
            "validation_error",
            f"{where}.{missing}: give both input and output prices, or neither to use the "
            "price table",
            field=f"{where}.{missing}",
        )
    elif kind == "local":
        source, input_price, output_price = "local", Decimal(0), Decimal(0)
        cached, write = None, None
    else:
        listed = table.price_of(model.provider_model)
        if listed is None:
            raise ApiError(
                422,
                "validation_error",
                f"{where}.input_usd_per_mtok: '{model.provider_model}' is not in the price "
                f"table (version {table.version}); give input_usd_per_mtok and "
                "output_usd_per_mtok (0 for a free self-hosted model) so its cost is known",
                field=f"{where}.input_usd_per_mtok",
            )
        source, input_price, output_price = (
            listed.source,
            listed.input_per_mtok,
            listed.output_per_mtok,
        )
        cached = model.cached_input_usd_per_mtok or listed.cached_input_per_mtok
        write = model.cache_write_usd_per_mtok or listed.cache_write_per_mtok
    return repo.ModelRow(
        name=model.name,
        provider_id=uuid.UUID(int=0),
        provider_model=model.provider_model,
        input_usd_per_mtok=input_price,
        output_usd_per_mtok=output_price,
        cached_input_usd_per_mtok=cached,
        cache_write_usd_per_mtok=write,
        usd_per_second=model.usd_per_second,
        price_source=source,
        fallbacks=model.fallbacks,
        position=0,
    )


async def configure_provider(
    runtime: Runtime, *, org_id: uuid.UUID, principal: Principal, command: ProviderCommand
) -> repo.ProviderRow:
    problems: list[Problem] = []
    names = [m.name for m in command.models]
    if len(set(names)) != len(names):
        problems.append(("models", "model names must be unique"))
    if command.kind == "local" and command.base_url:
        problems.append(("base_url", "the local provider takes no base_url"))
    if command.kind in ("openai", "anthropic", "cohere") and not (
        command.base_url or command.api_key
    ):
        problems.append(("api_key", f"required for {command.kind}'s own API"))
    if problems:
        raise ApiError(
            422, "validation_error", f"{problems[0][0]}: {problems[0][1]}", errors=problems
        )
    base_url = (
        check_base_url(
            command.base_url,
            allow_private=runtime.settings.llm_private_base_urls_allowed,
            field="base_url",
        )
        if command.base_url
        else None
    )
    models = tuple(_priced(m, kind=command.kind, index=i) for i, m in enumerate(command.models))
    existing = {d.model.name for d in await repo.deployments(runtime.db, org_id=org_id)}
    known = existing | set(names)
    for i, model in enumerate(command.models):
        for j, fallback in enumerate(model.fallbacks):
            if fallback not in known or fallback == model.name:
                raise ApiError(
                    422,
                    "validation_error",
                    f"models[{i}].fallbacks[{j}]: '{fallback}' is not another configured model",
                    field=f"models[{i}].fallbacks[{j}]",
                )
    provider_id = uuid.uuid4()
    sealed: repo.SealedKey | None = None
    hint: str | None = None
    if command.api_key:
        key = await memory_repo.data_key(
            runtime.db, org_id=org_id, master_key=runtime.settings.memory_master_key_bytes
        )
        nonce, ciphertext = seal(
            command.api_key.encode(), key=key, org_id=org_id, context=SECRET_CONTEXT
        )
        sealed = repo.SealedKey(nonce, ciphertext)
        hint = command.api_key[-4:] if len(command.api_key) >= 12 else None
    try:
        return await repo.create_provider(
            runtime.db,
            org_id=org_id,
            provider=repo.NewProvider(
                provider_id, command.name, command.kind, base_url, sealed, hint, models
            ),
            created_by=principal.id,
        )
    except repo.NameTakenError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc


# --- deployments ------------------------------------------------------------------------------


class AdapterPool:
    """One SDK client per provider per replica (they keep connection pools)."""

    def __init__(self) -> None:
        self._adapters: dict[tuple[uuid.UUID, bytes | None], Adapter] = {}

    @staticmethod
    def _identity(row: repo.DeploymentRow) -> tuple[uuid.UUID, bytes | None]:
        # The sealed key is part of the identity: a rotated key is a new client, at once.
        return (row.model.provider_id, row.sealed_key.ciphertext if row.sealed_key else None)

    def cached(self, row: repo.DeploymentRow) -> Adapter | None:
        """The client already built for this provider and key, so no key is unsealed again."""
        return self._adapters.get(self._identity(row))

    def get(self, row: repo.DeploymentRow, api_key: str | None, *, timeout_s: float) -> Adapter:
        identity = self._identity(row)
        adapter = self._adapters.get(identity)
        if adapter is None:
            if len(self._adapters) > 1000:
                self._adapters.clear()
            config = ProviderConfig(row.kind, row.base_url, api_key)  # type: ignore[arg-type]
            adapter = make_adapter(config, timeout_s=timeout_s)
            self._adapters[identity] = adapter
        return adapter


def price_of(model: repo.ModelRow) -> ModelPrice:
    return ModelPrice(
        input_per_mtok=model.input_usd_per_mtok,
        output_per_mtok=model.output_usd_per_mtok,
        cached_input_per_mtok=model.cached_input_usd_per_mtok,
        cache_write_per_mtok=model.cache_write_usd_per_mtok,
        per_second=model.usd_per_second,
        source=model.price_source,
    )


@dataclass(frozen=True)
class Target:
    deployment: Deployment
    price: ModelPrice
    simulated: bool


async def resolve_chain(
    runtime: Runtime,
    pool: AdapterPool,
    *,
    org_id: uuid.UUID,
    model: str | None,
    rows: Sequence[repo.DeploymentRow],
) -> list[Target]:
    if not rows:
        raise ApiError(409, "no_provider", NO_PROVIDER_HELP)
    by_name = {row.model.name: row for row in rows}
    first = by_name.get(model) if model else rows[0]
    if first is None:
        raise ApiError(
            422,
            "validation_error",
            f"model: '{model}' is not configured for this org; configured: {', '.join(by_name)}",
            field="model",
        )
    chain = [first, *(by_name[f] for f in first.model.fallbacks if f in by_name)]
    key: bytes | None = None
    targets = []
    for row in chain:
        adapter = pool.cached(row)
        if adapter is None:
            api_key = None
            if row.sealed_key is not None:
                key = key or await memory_repo.data_key(
                    runtime.db, org_id=org_id, master_key=runtime.settings.memory_master_key_bytes
                )
                api_key = unseal(
                    row.sealed_key.nonce,
                    row.sealed_key.ciphertext,
                    key=key,
                    org_id=org_id,
                    context=SECRET_CONTEXT,
                ).decode()
            timeout_s = runtime.settings.llm_request_timeout_seconds
            adapter = pool.get(row, api_key, timeout_s=timeout_s)
        deployment = Deployment(
            row.model.name,
            str(row.model.provider_id),
            row.provider_name,
            row.model.provider_model,
            adapter,
        )
        targets.append(Target(deployment, price_of(row.model), adapter.simulated))
    return targets
