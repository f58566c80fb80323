"""Routes of the LLM module: thin adapters between HTTP and ``deployments.llm.service``."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from cluster.repositories import llm as repo
from deployments.common.errors import ApiError, not_found, request_id_of
from deployments.common.principal import Principal
from deployments.common.security import audited_read, require, runtime_of
from deployments.llm import providers, service
from deployments.llm.ledger import BudgetLedger, BudgetLimit, period_bounds
from deployments.llm.providers import AdapterPool
from deployments.llm.schemas import (
    AttemptOut,
    BudgetIn,
    BudgetList,
    BudgetOut,
    GenerateIn,
    GenerateOut,
    GenerationList,
    GenerationOut,
    ModelOut,
    OutcomeIn,
    OutcomeOut,
    ProviderIn,
    ProviderList,
    ProviderOut,
    TemplateIn,
    TemplateList,
    TemplateOut,
    TemplateRef,
    UsageDayOut,
    UsageOut,
    UsageOutList,
    VariableOut,
    ViolationOut,
)
from engine.auth.rbac import Permission
from engine.llm import templates

providers_router = APIRouter(tags=["llm: providers"])
templates_router = APIRouter(tags=["llm: templates"])
prompts_router = APIRouter(tags=["llm: generation"])
tracking_router = APIRouter(tags=["llm: cost and outcomes"])


def pool_of(request: Request) -> AdapterPool:
    pool: AdapterPool = request.app.state.adapter_pool
    return pool


# --- providers ------------------------------------------------------------------------------


def provider_out(row: repo.ProviderRow) -> ProviderOut:
    return ProviderOut(
        id=row.id,
        name=row.name,
        kind=row.kind,  # type: ignore[arg-type]
        base_url=row.base_url,
        api_key_configured=row.key_hint is not None or row.kind != "local",
        api_key_hint=row.key_hint,
        simulated=row.kind == "local",
        models=[
            ModelOut(
                name=m.name,
                provider_model=m.provider_model,
                input_usd_per_mtok=m.input_usd_per_mtok,
                output_usd_per_mtok=m.output_usd_per_mtok,
                cached_input_usd_per_mtok=m.cached_input_usd_per_mtok,
                cache_write_usd_per_mtok=m.cache_write_usd_per_mtok,
                usd_per_second=m.usd_per_second,
                price_source=m.price_source,
                fallbacks=list(m.fallbacks),
            )
            for m in row.models
        ],
        created_at=row.created_at,
    )


@providers_router.post("/providers", status_code=201, response_model=ProviderOut)
async def add_provider(
    body: ProviderIn,
    request: Request,
    principal: Principal = Depends(require(Permission.LLM_MANAGE)),
) -> ProviderOut:
    command = providers.ProviderCommand(
        name=body.name,
        kind=body.kind,
        base_url=body.base_url,
        api_key=body.api_key.get_secret_value() if body.api_key else None,
        models=tuple(
            providers.ModelCommand(
                name=m.name,
                provider_model=m.provider_model,
                input_usd_per_mtok=m.input_usd_per_mtok,
                output_usd_per_mtok=m.output_usd_per_mtok,
                cached_input_usd_per_mtok=m.cached_input_usd_per_mtok,
                cache_write_usd_per_mtok=m.cache_write_usd_per_mtok,
                usd_per_second=m.usd_per_second,
                fallbacks=tuple(m.fallbacks),
            )
            for m in body.models
        ),
    )
    row = await providers.configure_provider(
        runtime_of(request), org_id=principal.org_id, principal=principal, command=command
    )
    return provider_out(row)


@providers_router.get(
    "/providers", response_model=ProviderList, dependencies=[Depends(audited_read)]
)
async def get_providers(
    request: Request, principal: Principal = Depends(require(Permission.LLM_READ))
) -> ProviderList:
    rows = await repo.list_providers(runtime_of(request).db, org_id=principal.org_id)
    return ProviderList(providers=[provider_out(r) for r in rows])


@providers_router.delete("/providers/{provider_id}", status_code=204)
async def remove_provider(
    provider_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.LLM_MANAGE)),
) -> None:
    if not await repo.delete_provider(
        runtime_of(request).db, org_id=principal.org_id, provider_id=provider_id
    ):
        raise not_found("provider")


# --- templates ------------------------------------------------------------------------------


def _variable_out(v: templates.Variable) -> VariableOut:
    default = list(v.default) if isinstance(v.default, tuple) else v.default
    return VariableOut(
        name=v.name,
        type=v.type.value,
        required=v.required,
        description=v.description,
        max_length=v.max_length,
        default=default,
    )


def template_out(
    spec: templates.TemplateSpec,
    *,
    source: str,
    label: str | None = None,
    created_at: datetime | None = None,
) -> TemplateOut:
    return TemplateOut(
        name=spec.name,
        language=spec.language,
        version=spec.version,
        purpose=spec.purpose.value,
        system=spec.system,
        user=spec.user,
        variables=[_variable_out(v) for v in spec.variables],
        default_platform=spec.default_platform,
        label=label,
        source=source,  # type: ignore[arg-type]
        created_at=created_at,
    )


def _row_out(row: repo.TemplateRow) -> TemplateOut:
    return template_out(
        service.spec_from_row(row), source="org", label=row.label, created_at=row.created_at
    )


@templates_router.post("/templates", status_code=201, response_model=TemplateOut)
async def add_template(
    body: TemplateIn,
    request: Request,
    principal: Principal = Depends(require(Permission.LLM_MANAGE)),
) -> TemplateOut:
    variables = [
        {
            **v.model_dump(),
            "default": v.default,
        }
        for v in body.variables
    ]
    draft = repo.TemplateRow(
        uuid.uuid4(),
        body.name,
        body.language,
        1,
        body.purpose,
        body.system,
        body.user,
        variables,
        body.default_platform,
        body.label,
        principal.id,
        datetime.now(UTC),
    )
    try:
        templates.compile_template(service.spec_from_row(draft))
    except templates.TemplateError as error:
        raise ApiError(
            422, "validation_error", f"{error.field}: {error.message}", field=error.field
        ) from error
    if body.default_platform is not None:
        from engine.llm.platforms import parse_platform

        try:
            parse_platform(body.default_platform)
        except ValueError as error:
            raise ApiError(
                422, "validation_error", f"default_platform: {error}", field="default_platform"
            ) from error
    row = await repo.add_template_version(
        runtime_of(request).db,
        org_id=principal.org_id,
        name=body.name,
        language=body.language,
        purpose=body.purpose,
        system_source=body.system,
        user_source=body.user,
        variables=variables,
        default_platform=body.default_platform,
        label=body.label,
        created_by=principal.id,
    )
    return _row_out(row)


@templates_router.get("/templates", response_model=TemplateList)
async def get_templates(
    request: Request,
    principal: Principal = Depends(require(Permission.LLM_READ)),
    language: str | None = Query(default=None, pattern=r"^[a-z]{2}$"),
    source: str | None = Query(default=None, pattern=r"^(org|builtin)$"),
) -> TemplateList:
    out: list[TemplateOut] = []
    if source in (None, "org"):
        rows = await repo.list_templates(runtime_of(request).db, org_id=principal.org_id)
        out += [_row_out(r) for r in rows if language in (None, r.language)]
    if source in (None, "builtin"):
        out += [
            template_out(t, source="builtin")
            for t in templates.builtin_templates()
            if language in (None, t.language)
        ]
    return TemplateList(templates=out)


@templates_router.get("/templates/{name}/versions", response_model=TemplateList)
async def get_template_versions(
    name: str, request: Request, principal: Principal = Depends(require(Permission.LLM_READ))
) -> TemplateList:
    rows = await repo.template_versions(runtime_of(request).db, org_id=principal.org_id, name=name)
    builtins = [t for t in templates.builtin_templates() if t.name == name]
    if not rows and not builtins:
        raise not_found(f"template '{name}'")
    return TemplateList(
        templates=[_row_out(r) for r in rows]
        + [template_out(t, source="builtin") for t in builtins]
    )


# --- generation -------------------------------------------------------------------------------


def generation_out(
    row: repo.GenerationRow, attempts: list[AttemptOut] | None = None
) -> GenerationOut:
    return GenerationOut(
        id=row.id,
        variant=row.variant,
        model=row.model,
        provider_kind=row.provider_kind,
        provider_model=row.provider_model,
        simulated=row.simulated,
        cached=row.cached,
        template=TemplateRef(
            name=row.template,
            language=row.template_language,
            version=row.template_version or 1,
            source="org" if row.template_version is not None else "builtin",
        ),
        task=row.task,
        platform=row.platform,
        output=row.output,
        content=row.content,
        violations=[ViolationOut(**v) for v in row.violations],
        repaired=row.repaired,
        usage=UsageOut(
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            cached_input_tokens=row.cached_input_tokens,
            cache_write_tokens=row.cache_write_tokens,
            reasoning_tokens=row.reasoning_tokens,
        ),
        cost_usd=row.cost_usd,
        price_source=row.price_source,
        latency_ms=row.latency_ms,
        ttft_ms=row.ttft_ms,
        finish_reason=row.finish_reason,
        attempts=attempts or [],
        created_at=row.created_at,
    )


def _command(body: GenerateIn, request: Request) -> service.GenerateCommand:
    values: dict[str, object] = dict(body.variables)
    for name in ("product", "target_audience"):
        given = getattr(body, name)
        if given is not None:
            values[name] = given
    return service.GenerateCommand(
        template=body.template,
        language=body.language,
        values=values,
        platform=body.platform,
        model=body.model,
        variants=body.variants,
        template_version=body.template_version,
        template_label=body.template_label,
        temperature=body.temperature,
        max_tokens=body.max_tokens,
        seed=body.seed,
        remember=body.remember,
        request_id=request_id_of(request),
    )


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n".encode()


@prompts_router.post(
    "/generate",
    response_model=GenerateOut,
    summary="Generate content from a template for a platform (stream: server-sent events)",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def generate(
    body: GenerateIn,
    request: Request,
    principal: Principal = Depends(require(Permission.LLM_GENERATE)),
) -> Any:
    runtime = runtime_of(request)
    if body.stream and body.variants > 1:
        raise ApiError(
            422,
            "validation_error",
            "stream: streams one variant; set variants to 1",
            field="stream",
        )
    prepared = await service.prepare(
        runtime,
        pool_of(request),
        org_id=principal.org_id,
        principal=principal,
        command=_command(body, request),
    )
    if not body.stream:
        rows = await service.generate(runtime, prepared)
        return GenerateOut(
            generations=[generation_out(r) for r in rows],
            total_cost_usd=sum((r.cost_usd for r in rows), Decimal(0)),
            request_id=request_id_of(request),
        )

    async def events() -> AsyncIterator[bytes]:
        generator = service.Generator(runtime, prepared)
        first = prepared.chain[0].deployment
        yield _sse(
            "start",
            {
                "model": first.model,
                "template": prepared.template.spec.name,
                "platform": prepared.platform.value,
                "simulated": prepared.chain[0].simulated,
            },
        )
        try:
            async for kind, value in generator.stream():
                if kind == "delta":
                    yield _sse("delta", {"text": value})
                elif kind == "repair":
                    yield _sse(
                        "repair", {"violations": [service._violation_json(v) for v in value]}
                    )
                else:
                    stored = await service.store_streamed(runtime, prepared, value)
                    yield _sse("done", generation_out(stored).model_dump(mode="json"))
        except ApiError as error:
            yield _sse(
                "error",
                {
                    "code": error.code,
                    "message": error.message,
                    "request_id": request_id_of(request),
                },
            )

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@tracking_router.get("/generations", response_model=GenerationList)
async def get_generations(
    request: Request,
    principal: Principal = Depends(require(Permission.LLM_READ)),
    model: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=50, ge=1, le=500),
) -> GenerationList:
    rows = await repo.list_generations(
        runtime_of(request).db, org_id=principal.org_id, limit=limit, model=model
    )
    return GenerationList(generations=[generation_out(r) for r in rows])


@tracking_router.get("/generations/{generation_id}", response_model=GenerationOut)
async def get_generation(
    generation_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Permission.LLM_READ)),
) -> GenerationOut:
    row = await repo.get_generation(
        runtime_of(request).db, org_id=principal.org_id, generation_id=generation_id
    )
    if row is None:
        raise not_found("generation")
    return generation_out(row)


@tracking_router.post(
    "/generations/{generation_id}/outcomes", status_code=201, response_model=OutcomeOut
)
async def add_outcome(
    generation_id: uuid.UUID,
    body: OutcomeIn,
    request: Request,
    principal: Principal = Depends(require(Permission.LLM_GENERATE)),
) -> OutcomeOut:
    if body.clicks > body.impressions and body.impressions > 0:
        raise ApiError(
            422, "validation_error", "clicks: more clicks than impressions", field="clicks"
        )
    stored = await repo.add_outcome(
        runtime_of(request).db,
        org_id=principal.org_id,
        generation_id=generation_id,
        impressions=body.impressions,
        clicks=body.clicks,
        conversions=body.conversions,
        revenue_usd=body.revenue_usd,
        source=body.source,
        external_id=body.external_id,
        quality=body.quality,
    )
    if stored is None:
        raise not_found("generation")
    row, created = stored
    return OutcomeOut(**row.__dict__, replayed=not created)


# --- budgets and usage ------------------------------------------------------------------------


async def _budget_out(request: Request, org_id: uuid.UUID, row: repo.BudgetRow) -> BudgetOut:
    runtime = runtime_of(request)
    limit = BudgetLimit(row.scope, row.target, row.period, row.limit_usd)  # type: ignore[arg-type]
    live = await BudgetLedger(runtime.redis).spent(org_id=org_id, budget=limit)
    start, resets_at = period_bounds(limit.period, datetime.now(UTC))
    if live is None:
        spent = await repo.spent_since(
            runtime.db, org_id=org_id, scope=row.scope, target=row.target, since=start
        )
        live = (spent, Decimal(0))
    return BudgetOut(
        scope=row.scope,
        target=row.target or None,
        period=row.period,
        limit_usd=row.limit_usd,
        spent_usd=live[0],
        reserved_usd=live[1],
        resets_at=resets_at,
        updated_at=row.updated_at,
    )


@tracking_router.put("/budgets", response_model=BudgetOut)
async def put_budget(
    body: BudgetIn,
    request: Request,
    principal: Principal = Depends(require(Permission.LLM_MANAGE)),
) -> BudgetOut:
    if body.scope == "org" and body.target:
        raise ApiError(
            422, "validation_error", "target: an org budget takes no target", field="target"
        )
    if body.scope != "org" and not body.target:
        raise ApiError(
            422,
            "validation_error",
            f"target: a {body.scope} budget needs the {body.scope.replace('_', ' ')} it limits",
            field="target",
        )
    row = await repo.put_budget(
        runtime_of(request).db,
        org_id=principal.org_id,
        scope=body.scope,
        target=body.target or "",
        period=body.period,
        limit_usd=body.limit_usd,
        updated_by=principal.id,
    )
    return await _budget_out(request, principal.org_id, row)


@tracking_router.get("/budgets", response_model=BudgetList)
async def get_budgets(
    request: Request, principal: Principal = Depends(require(Permission.LLM_READ))
) -> BudgetList:
    rows = await repo.list_budgets(runtime_of(request).db, org_id=principal.org_id)
    return BudgetList(budgets=[await _budget_out(request, principal.org_id, r) for r in rows])


@tracking_router.get("/usage", response_model=UsageOutList)
async def get_usage(
    request: Request,
    principal: Principal = Depends(require(Permission.LLM_READ)),
    days: int = Query(default=30, ge=1, le=366),
) -> UsageOutList:
    since = (datetime.now(UTC) - timedelta(days=days - 1)).date()
    rows = await repo.daily_usage(runtime_of(request).db, org_id=principal.org_id, since=since)
    return UsageOutList(
        usage=[
            UsageDayOut(
                day=r.day.isoformat(),
                api_key_id=r.api_key_id,
                model=r.model,
                template=r.template,
                requests=r.requests,
                input_tokens=r.input_tokens,
                output_tokens=r.output_tokens,
                cost_usd=r.cost_usd,
            )
            for r in rows
        ]
    )
