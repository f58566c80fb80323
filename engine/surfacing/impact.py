"""A fix's impact, measured: applied to its product alone, its queries re-run.

The queries are the original product's (a shopper's query does not change because a listing
did), plus the merchant's queries labelled with it when the caller passes them. The fixed
listing's ranks are those a rebuilt index would give it
(``engine.surfacing.findability.counterfactual``: only what the change touches is rescored and
the index is not changed, so each fix is measured against the same catalog, independently of
the others). The change in click share per query (``engine.surfacing.ctr``), and the change in
rank, are summarised by their means with 95 % bootstrap intervals over queries
(scipy.stats.bootstrap, BCa, fixed seed; no interval below two queries). :func:`expected_gain`
values a change; :func:`rank_fixes` measures a product's mechanical fixes and orders them by
it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from engine.surfacing.ctr import click_share
from engine.surfacing.findability import (
    DEPTH,
    CatalogIndex,
    counterfactual_rankings,
    rank_of,
    retrieval_text,
)
from engine.surfacing.findings import Fix
from engine.surfacing.intents import IntentQuery
from engine.surfacing.product import Product


@dataclass(frozen=True)
class FixImpact:
    queries: int
    ranks_before: tuple[int | None, ...]
    ranks_after: tuple[int | None, ...]
    mean_rank_before: float | None  # over the queries ranked within the depth
    mean_rank_after: float | None
    click_share_before: float  # mean over queries
    click_share_after: float
    click_share_change: float
    interval: tuple[float, float] | None  # 95 % bootstrap interval of the mean change
    # Mean of rank after - rank before (negative: the product moved up), a rank beyond the
    # depth counting as depth + 1, so where either side is beyond it the size of the change is
    # a lower bound; ``censored`` counts those queries.
    rank_change: float | None = None
    rank_interval: tuple[float, float] | None = None
    censored: int = 0


@dataclass(frozen=True)
class RankedFix:
    fix: Fix
    impact: FixImpact
    expected_gain: float
    gain_unit: str


def _ranks(
    index: CatalogIndex, product_id: str, texts: Sequence[str], retriever: str
) -> list[int | None]:
    position = index.position[product_id]
    rankings = index.search_many(list(texts), DEPTH)[retriever]
    return [rank_of(ranking, position) for ranking in rankings]


def _mean_rank(ranks: Sequence[int | None]) -> float | None:
    found = [r for r in ranks if r is not None]
    return float(np.mean(found)) if found else None


def measure_fix(
    index: CatalogIndex,
    product: Product,
    fix: Fix,
    queries: Sequence[IntentQuery | str],
    *,
    retriever: str = "hybrid",
    resamples: int = 2000,
    seed: int = 0,
    ranks_before: Sequence[int | None] | None = None,
) -> FixImpact:
    """``ranks_before``: the product's ranks for ``queries`` under ``retriever`` in the index as
    it is, when already known (an audit's, or another fix's of the same product); then only
    the fixed listing is scored. A fix that leaves the retrieval text as it was (a category,
    an attribute the text does not show) changes no rank."""
    texts = [q.text if isinstance(q, IntentQuery) else q for q in queries]
    stored = index.products[index.position[product.id]]
    if ranks_before is not None and (product != stored or len(ranks_before) != len(texts)):
        raise ValueError("ranks_before must be the stored product's, one per query")
    fixed = fix.apply(product)
    position = index.position[product.id]
    vector = index.vector(product.id)
    try:
        # The product as given is the "before"; the stored one comes back afterwards (the
        # index merges every write, so that restores it exactly).
        if product != stored:
            index.replace(product)
        if ranks_before is not None:
            before = list(ranks_before)
        else:
            before = _ranks(index, product.id, texts, retriever)
        if retrieval_text(fixed) == retrieval_text(product):
            after = list(before)
        else:
            # The ranks a rebuilt index would give the fixed listing, the index untouched.
            rankings = counterfactual_rankings(index, fixed, texts, DEPTH)[retriever]
            after = [rank_of(ranking, position) for ranking in rankings]
    finally:
        if index.products[position] is not stored:
            index.replace(stored, vector=vector)
    share_before = np.array([click_share(r) for r in before])
    share_after = np.array([click_share(r) for r in after])
    change = share_after - share_before
    beyond = DEPTH + 1
    rank_delta = np.array(
        [(a or beyond) - (b or beyond) for b, a in zip(before, after, strict=True)], dtype=float
    )
    return FixImpact(
        queries=len(texts),
        ranks_before=tuple(before),
        ranks_after=tuple(after),
        mean_rank_before=_mean_rank(before),
        mean_rank_after=_mean_rank(after),
        click_share_before=float(share_before.mean()) if texts else 0.0,
        click_share_after=float(share_after.mean()) if texts else 0.0,
        click_share_change=float(change.mean()) if texts else 0.0,
        interval=_interval(change, resamples, seed),
        rank_change=float(rank_delta.mean()) if texts else None,
        rank_interval=_interval(rank_delta, resamples, seed),
        censored=sum(1 for b, a in zip(before, after, strict=True) if a is None or b is None),
    )


def _interval(values: NDArray[np.float64], resamples: int, seed: int) -> tuple[float, float] | None:
    """The 95 % BCa bootstrap interval of the mean; none below two values, the value itself
    when all are equal (BCa's jackknife is undefined there)."""
    if values.size < 2:
        return None
    if np.ptp(values) == 0:
        return (float(values[0]), float(values[0]))
    result = stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=resamples,
        confidence_level=0.95,
        method="BCa",
        random_state=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return (float(low), float(high))


def rank_fixes(
    index: CatalogIndex,
    product: Product,
    fixes: Sequence[Fix],
    queries: Sequence[IntentQuery | str],
    *,
    retriever: str = "hybrid",
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[RankedFix, ...]:
    """Each mechanical fix measured on its own (the others not applied), highest expected gain
    first; fixes that need a person (``mechanical`` false) cannot be applied and are left out.
    Equal gains (zero, typically, while the product stays beyond the top 10 where the click
    curve gives nothing) are ordered by the larger rank improvement, then as given."""
    ranked = []
    texts = [q.text if isinstance(q, IntentQuery) else q for q in queries]
    stored = index.products[index.position[product.id]]
    # One search of the listing as it is serves every fix (the index is the same each time).
    before = _ranks(index, product.id, texts, retriever) if product == stored else None
    for fix in fixes:
        if not fix.mechanical:
            continue
        impact = measure_fix(
            index,
            product,
            fix,
            texts,
            retriever=retriever,
            resamples=resamples,
            seed=seed,
            ranks_before=before,
        )
        gain, unit = expected_gain(impact, product)
        ranked.append(RankedFix(fix=fix, impact=impact, expected_gain=gain, gain_unit=unit))
    ranked.sort(key=lambda r: (-r.expected_gain, r.impact.rank_change or 0.0))
    return tuple(ranked)


def expected_gain(impact: FixImpact, product: Product) -> tuple[float, str]:
    """Δ click share x price x units sold per month when both are known, else Δ click share.
    Returns the value and its unit."""
    if product.price is not None and product.sales_velocity is not None:
        currency = product.currency or "currency units"
        return (
            impact.click_share_change * product.price * product.sales_velocity,
            f"{currency} per month (Δ click share x price x units per month)",
        )
    return impact.click_share_change, "click share (no price and sales velocity to value it)"
