"""Routes that rank and compare models: the leaderboard on measured outcomes, and compare
(the same briefs through several models). Mounted at /api/v1/llm/models and at the seed's
/api/v1/models."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Depends, Query, Request

from cluster.repositories import llm as repo
from deployments.common.errors import request_id_of
from deployments.common.principal import Principal
from deployments.common.security import require, runtime_of
from deployments.llm import compare as compare_service
from deployments.llm import service
from deployments.llm.routes import generation_out, pool_of
from deployments.llm.schemas import (
    CompareIn,
    CompareOut,
    IntervalOut,
    LeaderboardEntry,
    LeaderboardOut,
    MeasuredRate,
    ModelComparison,
    PairedOut,
    QualityOut,
)
from engine.auth.rbac import Permission
from engine.llm.leaderboard import ArmStats, Metric, rank_arms

models_router = APIRouter(tags=["llm: models"])


_DEFINITIONS = {
    Metric.CONVERSION_RATE: "conversions / clicks, Beta-binomial posterior",
    Metric.CTR: "clicks / impressions, Beta-binomial posterior",
    Metric.COST_PER_CONVERSION: "LLM cost / conversions, Gamma-Poisson posterior on "
    "conversions per generation (lower is better)",
    Metric.QUALITY: "mean of the quality ratings reported with outcomes (one per rated "
    "generation: the mean of its ratings), percentile bootstrap",
}


@models_router.get("/leaderboard", response_model=LeaderboardOut)
async def leaderboard(
    request: Request,
    principal: Principal = Depends(require(Permission.LLM_READ)),
    task: str = Query(default="content_generation", max_length=50),
    metric: Metric = Query(default=Metric.CONVERSION_RATE),
    level: float = Query(default=0.95, gt=0.5, lt=1),
) -> LeaderboardOut:
    totals = await repo.arm_totals(
        runtime_of(request).db, org_id=principal.org_id, task=service.task_filter(task)
    )
    arms = [
        ArmStats(
            model=t.model,
            template=t.template,
            generations=t.generations,
            impressions=t.impressions,
            clicks=t.clicks,
            conversions=min(t.conversions, t.clicks)
            if metric is Metric.CONVERSION_RATE
            else t.conversions,
            cost_usd=float(t.cost_usd),
            quality_scores=t.quality_scores,
        )
        for t in totals
    ]
    by_label = {(t.model, t.template): t for t in totals}
    ranked = rank_arms(arms, metric, level=level) if arms else ()
    entries = []
    for r in ranked:
        t = by_label[(r.model, r.template or "")]
        entries.append(
            LeaderboardEntry(
                model=r.model,
                template=r.template,
                estimate=r.estimate,
                interval=IntervalOut(
                    low=r.interval.low, high=r.interval.high, level=r.interval.level
                )
                if r.interval
                else None,
                n=r.n,
                successes=r.successes,
                rank=r.rank,
                tied_with=list(r.tied_with),
                generations=t.generations,
                impressions=t.impressions,
                clicks=t.clicks,
                conversions=t.conversions,
                cost_usd=t.cost_usd,
            )
        )
    return LeaderboardOut(
        task=task,
        metric=metric,
        level=level,
        prior=ranked[0].prior if ranked else "Beta(1, 1)",
        definition=_DEFINITIONS[metric],
        entries=entries,
    )


# --- compare ----------------------------------------------------------------------------------


def _measured(
    value: tuple[float | None, tuple[float, float, float] | None, int, str | None],
) -> MeasuredRate:
    estimate, interval, n, note = value
    return MeasuredRate(
        estimate=estimate,
        interval=IntervalOut(low=interval[0], high=interval[1], level=interval[2])
        if interval
        else None,
        n=n,
        note=note,
    )


@models_router.post("/compare", response_model=CompareOut)
async def compare_models(
    body: CompareIn,
    request: Request,
    principal: Principal = Depends(require(Permission.LLM_GENERATE)),
) -> CompareOut:
    result = await compare_service.compare(
        runtime_of(request),
        pool_of(request),
        org_id=principal.org_id,
        principal=principal,
        models=body.models,
        task=body.task,
        metrics=body.metrics,
        cases=[
            compare_service.Case(
                c.product,
                c.target_audience,
                c.platform,
                c.language,
                dict(c.variables),
                tuple(c.references),
            )
            for c in body.cases
        ]
        if body.cases
        else None,
        max_tokens=body.max_tokens,
        request_id=request_id_of(request),
    )
    models = []
    for run in result.runs:
        rows = [r for r in run.rows if r is not None]
        cost = sum((r.cost_usd for r in rows), Decimal(0))
        tokens = sum(r.input_tokens + r.cached_input_tokens + r.output_tokens for r in rows)
        sims = [s for s in result.similarity[run.model] if s is not None]
        quality = result.quality[run.model]
        models.append(
            ModelComparison(
                model=run.model,
                outputs=[generation_out(r) for r in rows],
                errors=run.errors,
                constraint_pass_rate=sum(not r.violations for r in rows) / len(rows)
                if rows
                else None,
                cost_usd=cost,
                cost_per_output_usd=(cost / len(rows)).quantize(Decimal("1e-9")) if rows else None,
                cost_per_token_usd=(cost / tokens).quantize(Decimal("1e-12")) if tokens else None,
                latency_ms_p50=compare_service.p50([r.latency_ms for r in rows]),
                similarity_to_brief=sum(sims) / len(sims) if sims else None,
                quality=QualityOut(
                    bleu=quality[0],
                    chrf=quality[1],
                    rouge_l=quality[2],
                    cases_with_references=quality[3],
                )
                if quality
                else None,
                conversion_rate=_measured(result.rates[run.model]["conversion_rate"]),
                engagement=_measured(result.rates[run.model]["engagement"]),
                bertscore=result.mean_bertscore(run.model),
                bertscore_note=compare_service.bertscore_note(result.bertscore is not None),
            )
        )
    return CompareOut(
        task=result.task,
        metrics=list(result.metrics),
        cases=result.cases,
        models=models,
        comparisons=[
            PairedOut(
                metric=p.metric,
                a=p.a,
                b=p.b,
                n=p.n,
                mean_a=p.mean_a,
                mean_b=p.mean_b,
                difference=p.difference,
                interval=list(p.interval),
                level=p.level,
                p_value=p.p_value,
            )
            for p in result.paired
        ],
        notes=result.notes,
    )
