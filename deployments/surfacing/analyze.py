"""The product description's ``POST /analyze``: one described product, measured against the
org's audited catalog. Thin route; the use case is ``deployments.surfacing.service.analyze``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request

from deployments.common.principal import Principal
from deployments.common.runtime import Runtime
from deployments.common.security import require, runtime_of
from deployments.surfacing import service
from deployments.surfacing.catalogs import BASE, not_found_error
from deployments.surfacing.schemas import (
    AnalyzeRequest,
    AnalyzeResponse,
    CompetitorOut,
    RecommendationOut,
    RevenueImpactOut,
)
from engine.auth.rbac import Permission

router = APIRouter(tags=["surfacing: analyze"])


def tools_of(app: FastAPI) -> service.AnalyzeTools:
    """The app's examiner and embedder for analyze, made on first use and kept."""
    state = app.state
    tools: service.AnalyzeTools | None = getattr(state, "analyze_tools", None)
    if tools is None:
        runtime: Runtime = state.runtime
        tools = state.analyze_tools = service.AnalyzeTools(runtime.settings.memory_embedder)
    return tools


async def warm_analyze_tools(app: FastAPI) -> None:
    """Load analyze's tools as the replica starts: measured on 2 cores, building them (taxonomy
    index, language models, embedder) takes about 10 s, which the first analyze paid."""
    await tools_of(app).get()


def _tools(request: Request) -> service.AnalyzeTools:
    return tools_of(request.app)


@router.post(
    "/analyze",
    response_model=AnalyzeResponse,
    summary="Score one described product's findability against your audited catalog",
)
async def analyze(
    body: AnalyzeRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.SURFACING_RUN)),
) -> AnalyzeResponse:
    try:
        analysis = await service.analyze(
            runtime_of(request),
            _tools(request),
            org_id=principal.org_id,
            description=body.product_description,
            price=body.price_point,
            currency=body.currency,
            competitors=body.competitors,
            catalog_id=body.catalog_id,
        )
    except service.NotFoundError as exc:
        raise not_found_error(exc) from exc
    result = analysis.result
    impact = result.revenue_impact
    evidence: dict[str, str] = {"methodology": "docs/surfacing.md"}
    if analysis.audit_id is not None:
        evidence["audit"] = f"{BASE}/audits/{analysis.audit_id}"
        evidence["report"] = f"{BASE}/audits/{analysis.audit_id}/report"
    if analysis.catalog_id is not None:
        evidence["catalog"] = f"{BASE}/catalogs/{analysis.catalog_id}"
    return AnalyzeResponse(
        seo_score=result.seo_score,
        ai_discoverability=result.ai_discoverability,
        ai_discoverability_reason=result.reason,
        revenue_impact=RevenueImpactOut(
            click_share_now=impact.click_share_now,
            click_share_with_fixes=impact.click_share_with_fixes,
            revenue_per_1000_searches_if_every_click_converts=impact.per_1000_searches,
            currency=impact.currency,
        )
        if impact is not None
        else None,
        optimization_recommendations=[
            RecommendationOut(
                check=f.check,
                severity=f.severity,
                message=f.message,
                fix=f.fix.summary if f.fix else None,
                source=f.source.name,
                source_url=f.source.url,
            )
            for f in result.findings
        ],
        queries=list(result.queries),
        competitors=[
            CompetitorOut(
                brand=c.brand,
                products_in_catalog=c.products,
                best_rank=c.best_rank,
                queries_ranking_above=c.queries_above,
            )
            for c in result.competitors
        ],
        market_focus=body.market_focus,
        catalog_id=analysis.catalog_id,
        audit_id=analysis.audit_id,
        evidence=evidence,
    )
