"""A fix's impact, measured: applied to its product alone, re-indexed, its queries re-run.

The queries are the original product's (a shopper's query does not change because a listing
did). The change in click share per query is summarised by its mean with a 95 % bootstrap
interval over queries (scipy.stats.bootstrap, BCa, fixed seed); the index is restored to the
original product afterwards, so each fix is measured against the same catalog.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from engine.surfacing.clicks import click_share
from engine.surfacing.findings import Fix
from engine.surfacing.product import Product
from engine.surfacing.queries import IntentQuery
from engine.surfacing.retrieval import DEPTH, CatalogIndex, rank_of


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
) -> FixImpact:
    texts = [q.text if isinstance(q, IntentQuery) else q for q in queries]
    # Before and after are measured in the same index state: the product re-indexed as it is,
    # then as fixed. (BM25 keeps a re-indexed document in its recent segment, whose length
    # normalisation differs slightly from the main one's; comparing a main-segment "before"
    # with a recent-segment "after" would credit the fix with that difference.)
    original = index.replace(product)
    try:
        before = _ranks(index, product.id, texts, retriever)
        index.replace(fix.apply(product))
        after = _ranks(index, product.id, texts, retriever)
    finally:
        index.replace(original)
    share_before = np.array([click_share(r) for r in before])
    share_after = np.array([click_share(r) for r in after])
    change = share_after - share_before
    interval: tuple[float, float] | None = None
    if change.size >= 2:
        if np.ptp(change) == 0:
            interval = (float(change[0]), float(change[0]))
        else:
            result = stats.bootstrap(
                (change,),
                np.mean,
                n_resamples=resamples,
                confidence_level=0.95,
                method="BCa",
                random_state=np.random.default_rng(seed),
            )
            low, high = result.confidence_interval
            interval = (float(low), float(high))
    return FixImpact(
        queries=len(texts),
        ranks_before=tuple(before),
        ranks_after=tuple(after),
        mean_rank_before=_mean_rank(before),
        mean_rank_after=_mean_rank(after),
        click_share_before=float(share_before.mean()) if texts else 0.0,
        click_share_after=float(share_after.mean()) if texts else 0.0,
        click_share_change=float(change.mean()) if texts else 0.0,
        interval=interval,
    )


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
