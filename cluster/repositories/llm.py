"""Storage of the LLM module: providers and their models, templates, generations, outcomes,
daily roll-ups and budgets.

Every function takes the tenant explicitly and runs inside ``Database.tenant``; another org's
row is simply not found. Provider keys arrive here sealed (``cluster.encryption``) and leave
sealed; only the service that calls the provider opens them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from cluster.repositories import billing
from cluster.state import Database

NIL = uuid.UUID(int=0)


class NameTakenError(Exception):
    """A provider or model name the org already uses."""


@dataclass(frozen=True)
class ModelRow:
    name: str
    provider_id: uuid.UUID
    provider_model: str
    input_usd_per_mtok: Decimal
    output_usd_per_mtok: Decimal
    cached_input_usd_per_mtok: Decimal | None
    cache_write_usd_per_mtok: Decimal | None
    usd_per_second: Decimal | None
    price_source: str
    fallbacks: tuple[str, ...]
    position: int


@dataclass(frozen=True)
class ProviderRow:
    id: uuid.UUID
    name: str
    kind: str
    base_url: str | None
    key_hint: str | None
    created_by: uuid.UUID
    created_at: datetime
    models: tuple[ModelRow, ...]


@dataclass(frozen=True)
class SealedKey:
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class NewProvider:
    id: uuid.UUID
    name: str
    kind: str
    base_url: str | None
    sealed_key: SealedKey | None
    key_hint: str | None
    models: tuple[ModelRow, ...]


@dataclass(frozen=True)
class DeploymentRow:
    """A model with what it takes to call it."""

    model: ModelRow
    provider_name: str
    kind: str
    base_url: str | None
    sealed_key: SealedKey | None


_MODEL_COLUMNS = (
    "name, provider_id, provider_model, input_usd_per_mtok, output_usd_per_mtok, "
    "cached_input_usd_per_mtok, cache_write_usd_per_mtok, usd_per_second, price_source, "
    "fallbacks, position"
)


def _model(record: asyncpg.Record) -> ModelRow:
    return ModelRow(
        name=record["name"],
        provider_id=record["provider_id"],
        provider_model=record["provider_model"],
        input_usd_per_mtok=record["input_usd_per_mtok"],
        output_usd_per_mtok=record["output_usd_per_mtok"],
        cached_input_usd_per_mtok=record["cached_input_usd_per_mtok"],
        cache_write_usd_per_mtok=record["cache_write_usd_per_mtok"],
        usd_per_second=record["usd_per_second"],
        price_source=record["price_source"],
        fallbacks=tuple(record["fallbacks"]),
        position=record["position"],
    )


async def create_provider(
    db: Database, *, org_id: uuid.UUID, provider: NewProvider, created_by: uuid.UUID
) -> ProviderRow:
    async with db.tenant(org_id) as conn:
        taken = await conn.fetch(
            "SELECT name FROM llm_models WHERE org_id = $1 AND name = ANY($2::text[])",
            org_id,
            [m.name for m in provider.models],
        )
        if taken:
            raise NameTakenError(f"model name '{taken[0]['name']}' is already configured")
        position = await conn.fetchval(
            "SELECT coalesce(max(position), 0) FROM llm_models WHERE org_id = $1", org_id
        )
        try:
            row = await conn.fetchrow(
                "INSERT INTO llm_providers (id, org_id, name, kind, base_url, key_nonce, "
                "key_ciphertext, key_hint, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                "RETURNING created_at",
                provider.id,
                org_id,
                provider.name,
                provider.kind,
                provider.base_url,
                provider.sealed_key.nonce if provider.sealed_key else None,
                provider.sealed_key.ciphertext if provider.sealed_key else None,
                provider.key_hint,
                created_by,
            )
        except asyncpg.UniqueViolationError as exc:
            raise NameTakenError(f"provider name '{provider.name}' is already configured") from exc
        models = []
        for offset, model in enumerate(provider.models, start=1):
            models.append(
                ModelRow(
                    **{**model.__dict__, "provider_id": provider.id, "position": position + offset}
                )
            )
        await conn.executemany(
            f"INSERT INTO llm_models (org_id, {_MODEL_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            [
                (
                    org_id,
                    m.name,
                    m.provider_id,
                    m.provider_model,
                    m.input_usd_per_mtok,
                    m.output_usd_per_mtok,
                    m.cached_input_usd_per_mtok,
                    m.cache_write_usd_per_mtok,
                    m.usd_per_second,
                    m.price_source,
                    list(m.fallbacks),
                    m.position,
                )
                for m in models
            ],
        )
    assert row is not None
    return ProviderRow(
        provider.id,
        provider.name,
        provider.kind,
        provider.base_url,
        provider.key_hint,
        created_by,
        row["created_at"],
        tuple(models),
    )


async def list_providers(db: Database, *, org_id: uuid.UUID) -> list[ProviderRow]:
    async with db.tenant(org_id) as conn:
        providers = await conn.fetch(
            "SELECT id, name, kind, base_url, key_hint, created_by, created_at FROM llm_providers "
            "WHERE org_id = $1 ORDER BY created_at, name",
            org_id,
        )
        models = await conn.fetch(
            f"SELECT {_MODEL_COLUMNS} FROM llm_models WHERE org_id = $1 ORDER BY position", org_id
        )
    by_provider: dict[uuid.UUID, list[ModelRow]] = {}
    for record in models:
        by_provider.setdefault(record["provider_id"], []).append(_model(record))
    return [
        ProviderRow(
            p["id"],
            p["name"],
            p["kind"],
            p["base_url"],
            p["key_hint"],
            p["created_by"],
            p["created_at"],
            tuple(by_provider.get(p["id"], ())),
        )
        for p in providers
    ]


async def delete_provider(db: Database, *, org_id: uuid.UUID, provider_id: uuid.UUID) -> bool:
    async with db.tenant(org_id) as conn:
        deleted = await conn.fetchval(
            "DELETE FROM llm_providers WHERE org_id = $1 AND id = $2 RETURNING id",
            org_id,
            provider_id,
        )
    return deleted is not None


async def deployments(db: Database, *, org_id: uuid.UUID) -> list[DeploymentRow]:
    """Every configured model of the org, in configuration order, with its provider."""
    async with db.tenant(org_id) as conn:
        return await _deployments(conn, org_id)


async def _deployments(conn: asyncpg.Connection, org_id: uuid.UUID) -> list[DeploymentRow]:
    records = await conn.fetch(
        f"SELECT m.{_MODEL_COLUMNS.replace(', ', ', m.')}, p.name AS provider_name, p.kind, "
        "p.base_url, p.key_nonce, p.key_ciphertext FROM llm_models m "
        "JOIN llm_providers p ON p.id = m.provider_id WHERE m.org_id = $1 ORDER BY m.position",
        org_id,
    )
    return [
        DeploymentRow(
            model=_model(r),
            provider_name=r["provider_name"],
            kind=r["kind"],
            base_url=r["base_url"],
            sealed_key=SealedKey(r["key_nonce"], r["key_ciphertext"])
            if r["key_ciphertext"] is not None
            else None,
        )
        for r in records
    ]


# --- templates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateRow:
    id: uuid.UUID
    name: str
    language: str
    version: int
    purpose: str
    system_source: str
    user_source: str
    variables: list[dict[str, Any]]
    default_platform: str | None
    label: str | None
    created_by: uuid.UUID
    created_at: datetime


_TEMPLATE_COLUMNS = (
    "id, name, language, version, purpose, system_source, user_source, variables, "
    "default_platform, label, created_by, created_at"
)


def _template(record: asyncpg.Record) -> TemplateRow:
    return TemplateRow(**{key: record[key] for key in _TEMPLATE_COLUMNS.split(", ")})


async def add_template_version(
    db: Database,
    *,
    org_id: uuid.UUID,
    name: str,
    language: str,
    purpose: str,
    system_source: str,
    user_source: str,
    variables: list[dict[str, Any]],
    default_platform: str | None,
    label: str | None,
    created_by: uuid.UUID,
) -> TemplateRow:
    """The next version of ``name`` in ``language``; a label moves to it from the version that
    held it. Versions of one name are serialised by a transaction-scoped advisory lock."""
    async with db.tenant(org_id) as conn:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))", f"llm-template:{org_id}:{name}:{language}"
        )
        version = await conn.fetchval(
            "SELECT coalesce(max(version), 0) + 1 FROM llm_templates "
            "WHERE org_id = $1 AND name = $2 AND language = $3",
            org_id,
            name,
            language,
        )
        if label is not None:
            await conn.execute(
                "UPDATE llm_templates SET label = NULL WHERE org_id = $1 AND name = $2 "
                "AND language = $3 AND label = $4",
                org_id,
                name,
                language,
                label,
            )
        record = await conn.fetchrow(
            "INSERT INTO llm_templates (org_id, id, name, language, version, purpose, "
            "system_source, user_source, variables, default_platform, label, created_by) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
            f"RETURNING {_TEMPLATE_COLUMNS}",
            org_id,
            uuid.uuid4(),
            name,
            language,
            version,
            purpose,
            system_source,
            user_source,
            variables,
            default_platform,
            label,
            created_by,
        )
    assert record is not None
    return _template(record)


async def list_templates(db: Database, *, org_id: uuid.UUID) -> list[TemplateRow]:
    """The latest version of each template and language."""
    async with db.tenant(org_id) as conn:
        records = await conn.fetch(
            f"SELECT DISTINCT ON (name, language) {_TEMPLATE_COLUMNS} FROM llm_templates "
            "WHERE org_id = $1 ORDER BY name, language, version DESC",
            org_id,
        )
    return [_template(r) for r in records]


async def template_versions(db: Database, *, org_id: uuid.UUID, name: str) -> list[TemplateRow]:
    async with db.tenant(org_id) as conn:
        records = await conn.fetch(
            f"SELECT {_TEMPLATE_COLUMNS} FROM llm_templates WHERE org_id = $1 AND name = $2 "
            "ORDER BY language, version DESC",
            org_id,
            name,
        )
    return [_template(r) for r in records]


async def find_template(
    db: Database,
    *,
    org_id: uuid.UUID,
    name: str,
    language: str,
    version: int | None = None,
    label: str | None = None,
) -> TemplateRow | None:
    """A given version, else the labelled one, else ``production``, else the latest."""
    async with db.tenant(org_id) as conn:
        return await _find_template(conn, org_id, name, language, version, label)


async def _find_template(
    conn: asyncpg.Connection,
    org_id: uuid.UUID,
    name: str,
    language: str,
    version: int | None,
    label: str | None,
) -> TemplateRow | None:
    if version is not None:
        record = await conn.fetchrow(
            f"SELECT {_TEMPLATE_COLUMNS} FROM llm_templates WHERE org_id = $1 AND name = $2 "
            "AND language = $3 AND version = $4",
            org_id,
            name,
            language,
            version,
        )
    else:
        record = await conn.fetchrow(
            f"SELECT {_TEMPLATE_COLUMNS} FROM llm_templates WHERE org_id = $1 AND name = $2 "
            "AND language = $3 AND ($4::text IS NULL OR label = $4) "
            "ORDER BY (label = 'production') DESC NULLS LAST, version DESC LIMIT 1",
            org_id,
            name,
            language,
            label,
        )
    return _template(record) if record is not None else None


# --- generations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationRow:
    id: uuid.UUID
    request_id: str
    variant: int
    principal_kind: str
    principal_id: uuid.UUID
    api_key_id: uuid.UUID | None
    model: str
    provider_kind: str
    provider_model: str
    template: str
    template_version: int | None
    template_language: str
    task: str
    platform: str
    variables: dict[str, Any]
    prompt: list[dict[str, str]]
    output: str
    content: dict[str, Any] | None
    violations: list[dict[str, Any]]
    repaired: bool
    cached: bool
    simulated: bool
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: Decimal
    price_source: str
    latency_ms: float
    ttft_ms: float | None
    finish_reason: str
    attempts: int
    created_at: datetime | None = None


_GENERATION_FIELDS = [name for name in GenerationRow.__dataclass_fields__ if name != "created_at"]
_GENERATION_COLUMNS = ", ".join([*_GENERATION_FIELDS, "created_at"])


def _generation(record: asyncpg.Record) -> GenerationRow:
    return GenerationRow(**{key: record[key] for key in [*_GENERATION_FIELDS, "created_at"]})


async def insert_generations(
    db: Database, *, org_id: uuid.UUID, rows: Sequence[GenerationRow]
) -> list[GenerationRow]:
    """The generations and their daily roll-ups, in one transaction: the cost a response
    reports is the cost stored, or neither is."""
    placeholders = ", ".join(f"${i}" for i in range(2, len(_GENERATION_FIELDS) + 2))
    usage = len(_GENERATION_FIELDS) + 2  # the first parameter of the roll-up
    stored: list[GenerationRow] = []
    spent = float(sum((row.cost_usd for row in rows), Decimal(0)))
    async with db.tenant(org_id) as conn:
        if spent > 0:
            # Counted with the generations (the money is spent: never refused here; the quota
            # is checked before the call).
            await billing.meter(
                conn, org_id=org_id, metered=billing.Metered("llm_spend_usd", spent)
            )
        for row in rows:
            # One statement per generation: the row and its roll-up, in one round trip.
            record = await conn.fetchrow(
                f"WITH generation AS (INSERT INTO llm_generations "
                f"(org_id, {', '.join(_GENERATION_FIELDS)}) VALUES ($1, {placeholders}) "
                f"RETURNING {_GENERATION_COLUMNS}), "
                "usage AS (INSERT INTO llm_usage_daily (org_id, day, api_key_id, model, template, "
                "requests, input_tokens, output_tokens, cost_usd) "
                f"VALUES ($1, (now() AT TIME ZONE 'UTC')::date, ${usage}, ${usage + 1}, "
                f"${usage + 2}, 1, ${usage + 3}, ${usage + 4}, ${usage + 5}) "
                "ON CONFLICT (org_id, day, api_key_id, model, template) DO UPDATE SET "
                "requests = llm_usage_daily.requests + 1, "
                "input_tokens = llm_usage_daily.input_tokens + EXCLUDED.input_tokens, "
                "output_tokens = llm_usage_daily.output_tokens + EXCLUDED.output_tokens, "
                "cost_usd = llm_usage_daily.cost_usd + EXCLUDED.cost_usd) "
                "SELECT * FROM generation",
                org_id,
                *(getattr(row, name) for name in _GENERATION_FIELDS),
                row.api_key_id or NIL,
                row.model,
                row.template,
                row.input_tokens + row.cached_input_tokens + row.cache_write_tokens,
                row.output_tokens,
                row.cost_usd,
            )
            assert record is not None
            stored.append(_generation(record))
    return stored


async def get_generation(
    db: Database, *, org_id: uuid.UUID, generation_id: uuid.UUID
) -> GenerationRow | None:
    async with db.tenant(org_id) as conn:
        record = await conn.fetchrow(
            f"SELECT {_GENERATION_COLUMNS} FROM llm_generations WHERE org_id = $1 AND id = $2",
            org_id,
            generation_id,
        )
    return _generation(record) if record is not None else None


async def list_generations(
    db: Database, *, org_id: uuid.UUID, limit: int, model: str | None = None
) -> list[GenerationRow]:
    async with db.tenant(org_id) as conn:
        records = await conn.fetch(
            f"SELECT {_GENERATION_COLUMNS} FROM llm_generations WHERE org_id = $1 "
            "AND ($2::text IS NULL OR model = $2) ORDER BY created_at DESC LIMIT $3",
            org_id,
            model,
            limit,
        )
    return [_generation(r) for r in records]


@dataclass(frozen=True)
class UsageRow:
    day: date
    api_key_id: uuid.UUID | None
    model: str
    template: str
    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal


async def daily_usage(db: Database, *, org_id: uuid.UUID, since: date) -> list[UsageRow]:
    async with db.tenant(org_id) as conn:
        records = await conn.fetch(
            "SELECT day, api_key_id, model, template, requests, input_tokens, output_tokens, "
            "cost_usd FROM llm_usage_daily WHERE org_id = $1 AND day >= $2 "
            "ORDER BY day DESC, cost_usd DESC",
            org_id,
            since,
        )
    return [
        UsageRow(
            r["day"],
            None if r["api_key_id"] == NIL else r["api_key_id"],
            r["model"],
            r["template"],
            r["requests"],
            r["input_tokens"],
            r["output_tokens"],
            r["cost_usd"],
        )
        for r in records
    ]


# --- outcomes and the leaderboard -------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeRow:
    id: uuid.UUID
    generation_id: uuid.UUID
    impressions: int
    clicks: int
    conversions: int
    revenue_usd: Decimal
    source: str
    external_id: str | None
    quality: float | None
    created_at: datetime


async def add_outcome(
    db: Database,
    *,
    org_id: uuid.UUID,
    generation_id: uuid.UUID,
    impressions: int,
    clicks: int,
    conversions: int,
    revenue_usd: Decimal,
    source: str,
    external_id: str | None,
    quality: float | None = None,
) -> tuple[OutcomeRow, bool] | None:
    """The stored outcome and whether it is new (a replayed ``external_id`` is not); None when
    the generation is not the org's."""
    async with db.tenant(org_id) as conn:
        exists = await conn.fetchval(
            "SELECT 1 FROM llm_generations WHERE org_id = $1 AND id = $2", org_id, generation_id
        )
        if not exists:
            return None
        columns = (
            "id, generation_id, impressions, clicks, conversions, revenue_usd, source, "
            "external_id, quality, created_at"
        )
        record = await conn.fetchrow(
            "INSERT INTO llm_outcomes (id, org_id, generation_id, impressions, clicks, "
            "conversions, revenue_usd, source, external_id, quality) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
            f"ON CONFLICT DO NOTHING RETURNING {columns}",
            uuid.uuid4(),
            org_id,
            generation_id,
            impressions,
            clicks,
            conversions,
            revenue_usd,
            source,
            external_id,
            quality,
        )
        created = record is not None
        if record is None:
            record = await conn.fetchrow(
                f"SELECT {columns} FROM llm_outcomes WHERE org_id = $1 AND source = $2 "
                "AND external_id = $3",
                org_id,
                source,
                external_id,
            )
    assert record is not None
    return OutcomeRow(**dict(record.items())), created


@dataclass(frozen=True)
class ArmTotals:
    model: str
    template: str
    generations: int
    impressions: int
    clicks: int
    conversions: int
    revenue_usd: Decimal
    cost_usd: Decimal
    # One rating per rated generation: the mean of the ratings reported for it.
    quality_scores: tuple[float, ...] = ()


async def arm_totals(db: Database, *, org_id: uuid.UUID, task: str | None) -> list[ArmTotals]:
    """Per model and template: generations, their LLM cost, and the outcomes reported."""
    async with db.tenant(org_id) as conn:
        records = await conn.fetch(
            "SELECT g.model, g.template, count(*) AS generations, sum(g.cost_usd) AS cost_usd, "
            "coalesce(sum(o.impressions), 0) AS impressions, coalesce(sum(o.clicks), 0) AS clicks, "
            "coalesce(sum(o.conversions), 0) AS conversions, "
            "coalesce(sum(o.revenue_usd), 0) AS revenue_usd, "
            "array_remove(array_agg(o.quality ORDER BY g.id), NULL) AS quality_scores "
            "FROM llm_generations g LEFT JOIN ("
            "  SELECT generation_id, sum(impressions) AS impressions, sum(clicks) AS clicks, "
            "  sum(conversions) AS conversions, sum(revenue_usd) AS revenue_usd, "
            "  avg(quality) AS quality "
            "  FROM llm_outcomes WHERE org_id = $1 GROUP BY generation_id"
            ") o ON o.generation_id = g.id "
            "WHERE g.org_id = $1 AND ($2::text IS NULL OR g.task = $2) "
            "GROUP BY g.model, g.template ORDER BY g.model, g.template",
            org_id,
            task,
        )
    return [
        ArmTotals(
            r["model"],
            r["template"],
            r["generations"],
            int(r["impressions"]),
            int(r["clicks"]),
            int(r["conversions"]),
            r["revenue_usd"],
            r["cost_usd"],
            tuple(r["quality_scores"]),
        )
        for r in records
    ]


# --- budgets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetRow:
    scope: str
    target: str
    period: str
    limit_usd: Decimal
    updated_by: uuid.UUID
    updated_at: datetime


async def put_budget(
    db: Database,
    *,
    org_id: uuid.UUID,
    scope: str,
    target: str,
    period: str,
    limit_usd: Decimal,
    updated_by: uuid.UUID,
) -> BudgetRow:
    async with db.tenant(org_id) as conn:
        record = await conn.fetchrow(
            "INSERT INTO llm_budgets (org_id, scope, target, period, limit_usd, updated_by) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, scope, target, period) "
            "DO UPDATE SET limit_usd = EXCLUDED.limit_usd, updated_by = EXCLUDED.updated_by, "
            "updated_at = now() RETURNING scope, target, period, limit_usd, updated_by, updated_at",
            org_id,
            scope,
            target,
            period,
            limit_usd,
            updated_by,
        )
    assert record is not None
    return BudgetRow(**dict(record.items()))


async def list_budgets(db: Database, *, org_id: uuid.UUID) -> list[BudgetRow]:
    async with db.tenant(org_id) as conn:
        return await _budgets(conn, org_id)


async def _budgets(conn: asyncpg.Connection, org_id: uuid.UUID) -> list[BudgetRow]:
    records = await conn.fetch(
        "SELECT scope, target, period, limit_usd, updated_by, updated_at FROM llm_budgets "
        "WHERE org_id = $1 ORDER BY scope, target, period",
        org_id,
    )
    return [BudgetRow(**dict(r.items())) for r in records]


@dataclass(frozen=True)
class GenerationSetup:
    """What one generation reads before calling a provider, read in one transaction."""

    template: TemplateRow | None
    deployments: list[DeploymentRow]
    budgets: list[BudgetRow]


async def generation_setup(
    db: Database,
    *,
    org_id: uuid.UUID,
    template: str,
    language: str,
    version: int | None,
    label: str | None,
) -> GenerationSetup:
    """The org's template of that name (if it has one), its models and its budgets: one round
    of BEGIN/COMMIT instead of three on the path of every generation."""
    async with db.tenant(org_id) as conn:
        return GenerationSetup(
            await _find_template(conn, org_id, template, language, version, label),
            await _deployments(conn, org_id),
            await _budgets(conn, org_id),
        )


async def spent_since(
    db: Database, *, org_id: uuid.UUID, scope: str, target: str, since: date
) -> Decimal:
    async with db.tenant(org_id) as conn:
        total = await conn.fetchval(
            "SELECT coalesce(sum(cost_usd), 0) FROM llm_generations WHERE org_id = $1 "
            "AND created_at >= $2::date AT TIME ZONE 'UTC' "
            "AND ($3 = 'org' OR ($3 = 'api_key' AND api_key_id::text = $4) "
            "OR ($3 = 'model' AND model = $4))",
            org_id,
            since,
            scope,
            target,
        )
    return Decimal(total)
