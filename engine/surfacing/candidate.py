"""The product description's ``analyze``: one product, described in text, placed among a
catalog as a candidate and measured like every audited product.

- ``seo_score`` = 100 · (0.4 completeness + 0.3 intent coverage + 0.3 feed quality): the
  listing's own quality, computable without a catalog;
- ``ai_discoverability`` = 100 · the findability component (mean click share of its queries
  relative to rank 1, hybrid retrieval) against the catalog, the candidate inserted into it;
- ``revenue_impact``: its click share now and with every mechanical text fix applied, and what
  the difference is worth per 1,000 searches of its queries if every click bought at the price
  given (an upper bound, to scale by the conversion rate);
- competitors: the catalog's products of each named brand, their best rank for the
  candidate's queries and on how many queries they rank above it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.surfacing.audit import Examination, Examiner
from engine.surfacing.ctr import click_share
from engine.surfacing.findability import (
    DEPTH,
    RETRIEVERS,
    CatalogIndex,
    counterfactual_rankings,
    rank_of,
    retrieval_text,
)
from engine.surfacing.findings import SEVERITIES, Finding
from engine.surfacing.product import Product
from engine.surfacing.results import QueryRank
from engine.surfacing.rules import TITLE_MAX, required_attributes
from engine.surfacing.scoring import (
    completeness_component,
    feed_quality_component,
    intent_coverage_component,
)
from memory.embedding import Embedder

CANDIDATE_ID = "__candidate__"
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class CompetitorRank:
    brand: str
    products: int
    best_rank: int | None
    queries_above: int


@dataclass(frozen=True)
class RevenueImpact:
    click_share_now: float
    click_share_with_fixes: float
    per_1000_searches: float | None
    currency: str | None


@dataclass(frozen=True)
class CandidateAnalysis:
    seo_score: float
    ai_discoverability: float | None
    reason: str | None
    revenue_impact: RevenueImpact | None
    findings: tuple[Finding, ...]
    queries: tuple[QueryRank, ...]
    competitors: tuple[CompetitorRank, ...]


def candidate_product(description: str, *, price: float | None, currency: str | None) -> Product:
    """The described product as a record: its first sentence is the title."""
    text = " ".join(description.split())
    first = _SENTENCE.split(text, maxsplit=1)[0].rstrip(".!?")
    return Product(
        id=CANDIDATE_ID,
        title=first[:TITLE_MAX],
        description=text,
        price=price,
        currency=currency,
    )


def _seo_score(examination: Examination) -> float:
    product = examination.product
    node = examination.assignment.node
    completeness = completeness_component(
        product, required_attributes(node) if node is not None else ()
    )
    coverage = intent_coverage_component(product, [q.text for q in examination.intents])
    quality = feed_quality_component(examination.findings)
    return round(100 * (0.4 * completeness + 0.3 * coverage + 0.3 * quality), 2)


def _ranks(index: CatalogIndex, texts: Sequence[str]) -> dict[str, list[list[int]]]:
    return index.search_many(list(texts), DEPTH)


def analyse_candidate(
    candidate: Product,
    examiner: Examiner,
    *,
    catalog: Sequence[Product] | None,
    vectors: NDArray[np.float32] | None,
    embedder: Embedder | None,
    competitors: Sequence[str] = (),
) -> CandidateAnalysis:
    [examination] = examiner.examine([candidate])
    findings = tuple(
        sorted(examination.findings, key=lambda f: (SEVERITIES.index(f.severity), f.check))
    )
    seo = _seo_score(examination)
    if not catalog or embedder is None or vectors is None:
        reason = (
            "no audited catalog in this organisation: upload one (POST /api/v1/surfacing/"
            "catalogs) and audit it (POST /api/v1/surfacing/audits); ai_discoverability is "
            "measured against it"
        )
        return CandidateAnalysis(seo, None, reason, None, findings, (), ())
    others = [p for p in catalog if p.id != CANDIDATE_ID]
    own_vector = embedder.encode([retrieval_text(candidate)])
    index = CatalogIndex(
        [*others, candidate],
        embedder=embedder,
        vectors=np.vstack([vectors[: len(others)], own_vector]).astype(np.float32),
    )
    texts = [q.text for q in examination.intents]
    position = index.position[CANDIDATE_ID]
    rankings = _ranks(index, texts)
    ranks = [
        QueryRank(
            text=q.text,
            kind=q.kind,
            ranks={r: rank_of(rankings[r][row], position) for r in RETRIEVERS},
        )
        for row, q in enumerate(examination.intents)
    ]
    shares = [click_share(q.ranks["hybrid"]) for q in ranks]
    top = click_share(1)
    discoverability = round(100 * float(np.mean(shares)) / top, 2) if shares else 0.0

    fixed = candidate
    for finding in findings:
        fix = finding.fix
        if (
            fix is not None
            and fix.mechanical
            and {"title", "description", "highlights"} & set(fix.changes)
        ):
            fixed = fix.apply(fixed)
    # The fixed listing's ranks as a rebuilt index would give them, the index untouched.
    after = (
        counterfactual_rankings(index, fixed, texts, DEPTH)["hybrid"]
        if fixed != candidate and texts
        else rankings["hybrid"]
    )
    shares_after = [click_share(rank_of(ranking, position)) for ranking in after]
    now = float(np.mean(shares)) if shares else 0.0
    later = float(np.mean(shares_after)) if shares_after else 0.0
    impact = RevenueImpact(
        click_share_now=now,
        click_share_with_fixes=later,
        per_1000_searches=1000 * (later - now) * candidate.price
        if candidate.price is not None
        else None,
        currency=candidate.currency,
    )
    return CandidateAnalysis(
        seo_score=seo,
        ai_discoverability=discoverability,
        reason=None,
        revenue_impact=impact,
        findings=findings,
        queries=tuple(ranks),
        competitors=tuple(
            _competitor(index, brand, rankings["hybrid"], position) for brand in competitors
        ),
    )


def _competitor(
    index: CatalogIndex, brand: str, rankings: Sequence[Sequence[int]], candidate: int
) -> CompetitorRank:
    wanted = brand.casefold().strip()
    theirs = {
        i for i, p in enumerate(index.products) if p.brand and p.brand.casefold().strip() == wanted
    }
    best: int | None = None
    above = 0
    for ranking in rankings:
        mine = rank_of(ranking, candidate)
        positions = [r for r, pid in enumerate(ranking, start=1) if pid in theirs]
        if positions:
            best = min(positions[0], best) if best is not None else positions[0]
            if mine is None or positions[0] < mine:
                above += 1
    return CompetitorRank(brand=brand, products=len(theirs), best_rank=best, queries_above=above)
