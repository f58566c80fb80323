"""The generation use case: template + variables + platform + model -> checked, priced,
budgeted, stored content.

The path of one request: resolve the template (the org's labelled or latest version, else the
built-in one) and bind its variables; render it in the sandbox and append the platform's
format; resolve the model through the org's names to a chain of deployments (the model, then
its fallbacks); answer from the org's cache for identical temperature-0 requests; reserve the
call's worst-case cost against every budget that applies; call through the router; check the
output against the platform's published limits and, if it breaks one, retry once with the
violations spelled out; settle the reservation with the real cost; store every variant with
its cost and roll-ups in one transaction.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cluster import metrics
from cluster.repositories import llm as repo
from cluster.repositories import memory as memory_repo
from deployments.billing import quotas
from deployments.common.errors import ApiError, Problem
from deployments.common.principal import Principal
from deployments.common.runtime import Runtime
from deployments.llm.ledger import (
    Breach,
    BudgetLedger,
    BudgetLimit,
    RedisCooldowns,
    Reservation,
    ResponseCache,
)
from deployments.llm.providers import AdapterPool, Target, resolve_chain
from deployments.llm.router import AllFailedError, Attempt, Deployment, RetryPolicy, Router
from engine.llm import platforms, templates
from engine.llm.pricing import cost_usd, worst_case_cost_usd
from engine.llm.types import Completion, CompletionRequest, ErrorCode, Message, TextDelta

log = logging.getLogger(__name__)

_STATUS = {
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.CONTEXT_TOO_LONG: 422,
    ErrorCode.AUTH_FAILED: 502,
    ErrorCode.PROVIDER_UNAVAILABLE: 503,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.BAD_REQUEST: 502,
    ErrorCode.CONTENT_FILTERED: 422,
}
# The seed's task names, as the leaderboard and compare take them.
TASK_ALIASES = {
    "content_generation": None,
    "all": None,
    "email_marketing": "email",
    "seo": "seo_meta",
    "ads": "ad_copy",
    "advertising": "ad_copy",
    "chatbot": "chatbot_reply",
}


def task_filter(task: str) -> str | None:
    """The stored task (template purpose) a requested task means; None for every task."""
    if task in TASK_ALIASES:
        return TASK_ALIASES[task]
    if task in {p.value for p in templates.Purpose}:
        return task
    raise ApiError(
        422,
        "validation_error",
        f"task: unknown task '{task}'; use one of "
        f"{', '.join([*(p.value for p in templates.Purpose), *TASK_ALIASES])}",
        field="task",
    )


def provider_error(error: AllFailedError) -> ApiError:
    last = error.last
    status = _STATUS.get(last.code, 502)
    headers = {}
    if last.code is ErrorCode.RATE_LIMITED and last.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, round(last.retry_after_s)))
    tried = ", ".join(f"{a.model} ({a.error})" for a in error.attempts if a.error is not None)
    return ApiError(
        status,
        last.code.value,
        f"the provider failed: {last.message} (attempts: {tried})",
        field="product" if last.code is ErrorCode.CONTEXT_TOO_LONG else None,
        headers=headers,
    )


# --- generation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerateCommand:
    template: str
    language: str
    values: Mapping[str, object]
    platform: str | None
    model: str | None
    variants: int
    template_version: int | None
    template_label: str | None
    temperature: float
    max_tokens: int
    seed: int | None
    remember: bool
    request_id: str
    # A prompt that is not a stored template (an eval suite's raw text): used as given.
    inline: templates.TemplateSpec | None = None


@dataclass(frozen=True)
class ResolvedTemplate:
    spec: templates.TemplateSpec
    version: int
    source: str  # "org" | "builtin" | "inline"


def spec_from_row(row: repo.TemplateRow) -> templates.TemplateSpec:
    return templates.TemplateSpec(
        name=row.name,
        purpose=templates.Purpose(row.purpose),
        language=row.language,
        system=row.system_source,
        user=row.user_source,
        variables=tuple(
            templates.Variable(
                name=v["name"],
                type=templates.VariableType(v["type"]),
                required=v["required"],
                description=v.get("description", ""),
                max_length=v.get("max_length", 2000),
                default=tuple(v["default"])
                if isinstance(v.get("default"), list)
                else v.get("default"),
            )
            for v in row.variables
        ),
        default_platform=row.default_platform,
        version=row.version,
    )


def resolve_template(
    row: repo.TemplateRow | None,
    *,
    name: str,
    language: str,
    version: int | None,
    label: str | None,
) -> ResolvedTemplate:
    """The org's own template when it has one of that name, else the built-in one."""
    if row is not None:
        return ResolvedTemplate(spec_from_row(row), row.version, "org")
    if version is None and label is None:
        builtin = templates.builtin_template(name, language)
        if builtin is not None:
            return ResolvedTemplate(builtin, builtin.version, "builtin")
        if any(t.name == name for t in templates.builtin_templates()):
            raise ApiError(
                422,
                "validation_error",
                f"language: the built-in template '{name}' has no '{language}' version; "
                f"languages: {', '.join(templates.LANGUAGES)}",
                field="language",
            )
    what = f"template '{name}' ({language}"
    what += f", version {version})" if version else (f", label {label})" if label else ")")
    raise ApiError(404, "not_found", f"{what} not found", field="template")


@dataclass
class Prepared:
    org_id: uuid.UUID
    principal: Principal
    command: GenerateCommand
    template: ResolvedTemplate
    values: dict[str, object]
    platform: platforms.Platform
    messages: tuple[Message, ...]
    chain: list[Target]
    budgets: list[BudgetLimit]


def _problems_of(error: templates.TemplateError) -> list[Problem]:
    if isinstance(error, templates.TemplateVariablesError):
        return [(f"variables.{f.removeprefix('variables.')}", m) for f, m in error.problems]
    return [(error.field, error.message)]


def applicable_budgets(
    rows: Sequence[repo.BudgetRow], *, principal: Principal, models: Sequence[str]
) -> list[BudgetLimit]:
    api_key = str(principal.id) if principal.kind == "api_key" else None
    out = []
    for row in rows:
        applies = (
            row.scope == "org"
            or (row.scope == "api_key" and row.target == api_key)
            or (row.scope == "model" and row.target in models)
        )
        if applies:
            out.append(BudgetLimit(row.scope, row.target, row.period, row.limit_usd))  # type: ignore[arg-type]
    return out


async def prepare(
    runtime: Runtime,
    pool: AdapterPool,
    *,
    org_id: uuid.UUID,
    principal: Principal,
    command: GenerateCommand,
) -> Prepared:
    # The month's LLM spend quota: refused before the call (what a call costs is known after).
    await quotas.check(runtime, org_id=org_id, meter="llm_spend_usd", requested=0.0)
    setup = await repo.generation_setup(
        runtime.db,
        org_id=org_id,
        template=command.template,
        language=command.language,
        version=command.template_version,
        label=command.template_label,
    )
    resolved = (
        ResolvedTemplate(command.inline, command.inline.version, "inline")
        if command.inline is not None
        else resolve_template(
            setup.template,
            name=command.template,
            language=command.language,
            version=command.template_version,
            label=command.template_label,
        )
    )
    declared = set(resolved.spec.variable_names())
    values = {k: v for k, v in command.values.items() if v is not None}
    # The seed's top-level fields feed the template's variables of those names; a template
    # without a target audience simply does not take one.
    if "target_audience" not in declared:
        values.pop("target_audience", None)
    try:
        bound = templates.bind_variables(resolved.spec, values)
        rendered = templates.render(resolved.spec, values)
    except templates.TemplateError as error:
        problems = _problems_of(error)
        raise ApiError(
            422, "validation_error", f"{problems[0][0]}: {problems[0][1]}", errors=problems
        ) from error
    platform_name = command.platform or resolved.spec.default_platform or "generic"
    try:
        platform = platforms.parse_platform(platform_name)
    except ValueError as error:
        raise ApiError(422, "validation_error", f"platform: {error}", field="platform") from error
    user = rendered.user
    if platform is not platforms.Platform.GENERIC:
        user = f"{user}\n\n{platforms.format_instructions(platform)}"
    messages = tuple(
        m for m in (Message("system", rendered.system), Message("user", user)) if m.content
    )
    chain = await resolve_chain(
        runtime, pool, org_id=org_id, model=command.model, rows=setup.deployments
    )
    budgets = applicable_budgets(
        setup.budgets,
        principal=principal,
        models=[t.deployment.model for t in chain],
    )
    return Prepared(
        org_id, principal, command, resolved, dict(bound), platform, messages, chain, budgets
    )


def _response_fields(platform: platforms.Platform) -> tuple[tuple[str, int | None, int], ...]:
    spec = platforms.spec_for(platform)
    if platform is platforms.Platform.GENERIC:
        return ()
    return tuple(
        (rule.name, rule.max_chars, max(rule.min_items, min(rule.max_items, 3)))
        for rule in spec.fields
    )


@dataclass
class Call:
    """A variant's calls so far: their cost, usage and the attempts the router made."""

    cost: Decimal = Decimal(0)
    attempts: list[Attempt] = dataclasses.field(default_factory=list)
    completions: list[tuple[Completion, Target]] = dataclasses.field(default_factory=list)


class Generator:
    def __init__(self, runtime: Runtime, prepared: Prepared) -> None:
        self._runtime = runtime
        self._p = prepared
        settings = runtime.settings
        self._router = Router(
            RedisCooldowns(runtime.redis, prepared.org_id),
            RetryPolicy(
                retries=settings.llm_retries,
                max_wait_s=settings.llm_retry_max_wait_seconds,
                cooldown_failures=settings.llm_cooldown_failures,
                cooldown_s=settings.llm_cooldown_seconds,
            ),
        )
        self._ledger = BudgetLedger(runtime.redis)
        self._cache = ResponseCache(runtime.redis, settings.llm_cache_ttl_seconds)

    # -- budget ------------------------------------------------------------------------------
    def _worst_case(self, messages: Sequence[Message]) -> Decimal:
        prompt_bytes = sum(len(m.content.encode()) for m in messages) + 16 * len(messages)
        timeout = self._runtime.settings.llm_request_timeout_seconds
        return max(
            worst_case_cost_usd(
                t.price,
                prompt_bytes=prompt_bytes,
                max_output_tokens=self._p.command.max_tokens,
                max_seconds=timeout,
            )
            for t in self._p.chain
        )

    async def _reserve(self, messages: Sequence[Message]) -> Reservation:
        p = self._p

        async def load_spent(budget: BudgetLimit, since: Any) -> Decimal:
            return await repo.spent_since(
                self._runtime.db,
                org_id=p.org_id,
                scope=budget.scope,
                target=budget.target,
                since=since,
            )

        outcome = await self._ledger.reserve(
            org_id=p.org_id,
            budgets=p.budgets,
            amount_usd=self._worst_case(messages),
            load_spent=load_spent,
        )
        if isinstance(outcome, Breach):
            raise budget_exceeded(outcome)
        return outcome

    def _request_for(self, messages: tuple[Message, ...]) -> Any:
        command = self._p.command
        fields = _response_fields(self._p.platform)

        def build(deployment: Deployment) -> CompletionRequest:
            return CompletionRequest(
                provider_model=deployment.provider_model,
                messages=messages,
                max_tokens=command.max_tokens,
                temperature=command.temperature,
                timeout_s=self._runtime.settings.llm_request_timeout_seconds,
                seed=command.seed,
                response_fields=fields,
            )

        return build

    def _target(self, deployment: Deployment) -> Target:
        return next(t for t in self._p.chain if t.deployment is deployment)

    async def _call(self, messages: tuple[Message, ...], call: Call) -> Completion:
        reservation = await self._reserve(messages)
        spent = Decimal(0)
        try:
            completion, routed = await self._router.complete(
                [t.deployment for t in self._p.chain], self._request_for(messages)
            )
            target = self._target(routed.deployment)
            spent = cost_usd(target.price, completion.usage, seconds=completion.latency_s)
        except AllFailedError as error:
            call.attempts.extend(error.attempts)
            raise provider_error(error) from error
        finally:
            await self._ledger.settle(reservation, actual_usd=spent)
        call.cost += spent
        call.attempts.extend(routed.attempts)
        call.completions.append((completion, target))
        return completion

    # -- checks ------------------------------------------------------------------------------
    def _check(self, text: str) -> tuple[platforms.Content | None, list[platforms.Violation]]:
        platform = self._p.platform
        try:
            content = platforms.parse_content(platform, text)
        except platforms.ContentFormatError as error:
            violation = platforms.Violation("output", None, "format", None, None, True, str(error))
            return None, [violation]
        return content, list(platforms.check_content(platform, content))

    def _repair_messages(
        self, text: str, violations: Sequence[platforms.Violation]
    ) -> tuple[Message, ...]:
        instruction = platforms.repair_instruction(self._p.platform, violations)
        return (*self._p.messages, Message("assistant", text), Message("user", instruction))

    # -- one variant -------------------------------------------------------------------------
    def _cache_key(self, variant: int) -> str | None:
        c = self._p.command
        if c.temperature != 0 or not self._cache.enabled:
            return None
        first = self._p.chain[0].deployment
        return ResponseCache.key(
            self._p.org_id,
            {
                "model": first.model,
                "provider": first.provider_id,
                "provider_model": first.provider_model,
                "template": [
                    self._p.template.spec.name,
                    self._p.template.spec.language,
                    self._p.template.version,
                    self._p.template.source,
                ],
                "values": self._p.values,
                "platform": self._p.platform.value,
                "max_tokens": c.max_tokens,
                "seed": c.seed,
                "variant": variant,
            },
        )

    async def run(self, variant: int) -> repo.GenerationRow:
        started = time.perf_counter()
        cache_key = self._cache_key(variant)
        if cache_key is not None:
            hit = await self._cache.get(cache_key)
            if hit is not None:
                return self._row_from_cache(variant, hit, time.perf_counter() - started)
        call = Call()
        completion = await self._call(self._p.messages, call)
        text = completion.text
        content, violations = self._check(text)
        repaired = False
        if violations:
            try:
                second = await self._call(self._repair_messages(text, violations), call)
            except ApiError as error:
                if error.status_code == 402:
                    raise
                log.warning("repair call failed: %s", error.message)
            else:
                content2, violations2 = self._check(second.text)
                repaired = True
                text, content, violations = second.text, content2, violations2
        row = self._row(
            variant,
            text,
            content,
            violations,
            repaired,
            call,
            latency_s=time.perf_counter() - started,
        )
        if cache_key is not None:
            await self._cache.put(cache_key, _cache_value(row))
        return row

    async def stream(self) -> AsyncIterator[tuple[str, Any]]:
        """("delta", text), ("repair", violations), then ("done", row)."""
        started = time.perf_counter()
        call = Call()
        text = ""
        content: platforms.Content | None = None
        violations: list[platforms.Violation] = []
        for round_ in range(2):
            messages = self._p.messages if round_ == 0 else self._repair_messages(text, violations)
            reservation = await self._reserve(messages)
            spent = Decimal(0)
            completion: Completion | None = None
            target: Target | None = None
            try:
                async for item, routed in self._router.stream(
                    [t.deployment for t in self._p.chain], self._request_for(messages)
                ):
                    if isinstance(item, TextDelta):
                        yield "delta", item.text
                    else:
                        completion, target = item, self._target(routed.deployment)
                        spent = cost_usd(target.price, item.usage, seconds=item.latency_s)
                        call.attempts.extend(routed.attempts)
            except AllFailedError as error:
                call.attempts.extend(error.attempts)
                raise provider_error(error) from error
            finally:
                await self._ledger.settle(reservation, actual_usd=spent)
            assert completion is not None
            assert target is not None
            call.cost += spent
            call.completions.append((completion, target))
            text = completion.text
            content, violations = self._check(text)
            if not violations or round_ == 1:
                break
            yield "repair", violations
        row = self._row(
            self._p.command.variants and 0,
            text,
            content,
            violations,
            round_ == 1,
            call,
            latency_s=time.perf_counter() - started,
        )
        yield "done", row

    # -- rows --------------------------------------------------------------------------------
    def _base(self) -> dict[str, Any]:
        p = self._p
        return {
            "request_id": p.command.request_id,
            "principal_kind": p.principal.kind,
            "principal_id": p.principal.id,
            "api_key_id": p.principal.id if p.principal.kind == "api_key" else None,
            "template": p.template.spec.name,
            "template_version": p.template.version if p.template.source != "builtin" else None,
            "template_language": p.template.spec.language,
            "task": p.template.spec.purpose.value,
            "platform": p.platform.value,
            "variables": {k: list(v) if isinstance(v, tuple) else v for k, v in p.values.items()},
            "prompt": [{"role": m.role, "content": m.content} for m in p.messages],
        }

    def _row(
        self,
        variant: int,
        text: str,
        content: platforms.Content | None,
        violations: Sequence[platforms.Violation],
        repaired: bool,
        call: Call,
        *,
        latency_s: float,
    ) -> repo.GenerationRow:
        last, target = call.completions[-1]
        usage = call.completions[0][0].usage
        for completion, _ in call.completions[1:]:
            usage = usage + completion.usage
        sources = {t.price.source for _, t in call.completions}
        first_ttft = call.completions[0][0].ttft_s
        return repo.GenerationRow(
            id=uuid.uuid4(),
            variant=variant,
            model=target.deployment.model,
            provider_kind=target.deployment.adapter.kind,
            provider_model=last.provider_model,
            output=text,
            content=_content_json(content),
            violations=[_violation_json(v) for v in violations],
            repaired=repaired,
            cached=False,
            simulated=target.simulated,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost_usd=call.cost,
            price_source=",".join(sorted(sources)),
            latency_ms=latency_s * 1000,
            ttft_ms=first_ttft * 1000 if first_ttft is not None else None,
            finish_reason=last.finish_reason,
            attempts=len(call.attempts),
            **self._base(),
        )

    def _row_from_cache(
        self, variant: int, hit: Mapping[str, Any], latency_s: float
    ) -> repo.GenerationRow:
        return repo.GenerationRow(
            id=uuid.uuid4(),
            variant=variant,
            model=hit["model"],
            provider_kind=hit["provider_kind"],
            provider_model=hit["provider_model"],
            output=hit["output"],
            content=hit["content"],
            violations=hit["violations"],
            repaired=hit["repaired"],
            cached=True,
            simulated=hit["simulated"],
            input_tokens=0,
            output_tokens=0,
            cached_input_tokens=0,
            cache_write_tokens=0,
            reasoning_tokens=0,
            cost_usd=Decimal(0),
            price_source="cache",
            latency_ms=latency_s * 1000,
            ttft_ms=None,
            finish_reason=hit["finish_reason"],
            attempts=0,
            **self._base(),
        )


def _content_json(content: platforms.Content | None) -> dict[str, Any] | None:
    return None if content is None else {k: list(v) for k, v in content.fields.items()}


def _violation_json(v: platforms.Violation) -> dict[str, Any]:
    return {
        "field": v.field,
        "index": v.index,
        "rule": v.rule,
        "limit": v.limit,
        "actual": v.actual,
        "hard": v.hard,
        "message": v.message,
    }


def _cache_value(row: repo.GenerationRow) -> dict[str, Any]:
    keys = (
        "model",
        "provider_kind",
        "provider_model",
        "output",
        "content",
        "violations",
        "repaired",
        "simulated",
        "finish_reason",
    )
    return {k: getattr(row, k) for k in keys}


def budget_exceeded(breach: Breach) -> ApiError:
    b = breach.budget
    scope = "the org" if b.scope == "org" else f"{b.scope} {b.target}"
    return ApiError(
        402,
        "budget_exceeded",
        f"the {b.period}ly LLM budget of {scope} (${b.limit_usd}) would be exceeded: "
        f"${breach.spent_usd} spent and ${breach.reserved_usd} reserved by requests in flight; "
        f"it resets at {breach.resets_at.isoformat()}",
    )


async def store_generations(
    runtime: Runtime, *, org_id: uuid.UUID, rows: Sequence[repo.GenerationRow]
) -> list[repo.GenerationRow]:
    """Store generations (with their cost and usage) and count their tokens and cost in the
    metrics once they are stored."""
    stored = await repo.insert_generations(runtime.db, org_id=org_id, rows=rows)
    metrics.llm_generations(
        metrics.TokenUse(
            provider=r.provider_kind,
            model=r.model,
            input_tokens=r.input_tokens,
            output_tokens=r.output_tokens,
            cost_usd=float(r.cost_usd),
        )
        for r in stored
    )
    return stored


async def generate(runtime: Runtime, prepared: Prepared) -> list[repo.GenerationRow]:
    generator = Generator(runtime, prepared)
    results = await asyncio.gather(
        *(generator.run(i) for i in range(prepared.command.variants)), return_exceptions=True
    )
    rows = [r for r in results if isinstance(r, repo.GenerationRow)]
    failures = [r for r in results if isinstance(r, BaseException)]
    stored = await store_generations(runtime, org_id=prepared.org_id, rows=rows)
    if failures and not stored:
        raise failures[0]
    if prepared.command.remember and stored:
        runtime.spawn(remember(runtime, prepared.org_id, stored), what="content_generation memory")
    return stored


async def store_streamed(
    runtime: Runtime, prepared: Prepared, row: repo.GenerationRow
) -> repo.GenerationRow:
    stored = await store_generations(runtime, org_id=prepared.org_id, rows=[row])
    if prepared.command.remember:
        runtime.spawn(remember(runtime, prepared.org_id, stored), what="content_generation memory")
    return stored[0]


async def remember(runtime: Runtime, org_id: uuid.UUID, rows: Sequence[repo.GenerationRow]) -> None:
    from datetime import UTC, datetime

    from deployments.memory.placement import ShardPlacement

    key = await memory_repo.data_key(
        runtime.db, org_id=org_id, master_key=runtime.settings.memory_master_key_bytes
    )
    records = await memory_repo.store_memories(
        runtime.db,
        org_id=org_id,
        items=[
            memory_repo.NewMemory(
                memory_type="content_generation",
                content=f"{row.task} for {row.platform} by {row.model}: {row.output[:4000]}",
                metadata={
                    "module": "llm",
                    "generation_id": str(row.id),
                    "model": row.model,
                    "template": row.template,
                    "platform": row.platform,
                },
                event_at=datetime.now(UTC),
            )
            for row in rows
        ],
        key=key,
    )
    await ShardPlacement(runtime.settings, db=runtime.db, redis=runtime.redis).index(
        org_id, records
    )
