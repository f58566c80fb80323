"""Findability measured: per product and retriever, ranks, recall@10, MRR, best rank, who
outranks it, whether it is invisible; for labelled merchant queries, recall@10, MRR and
nDCG@10; for the catalog, retrievability and its Gini coefficient.

For product d with intent queries Q(d) and retriever r (ranks from ``rank_of``, none beyond
the depth of 100):

- recall@10_r(d) = |{q in Q(d) : rank_r(q, d) <= 10}| / |Q(d)|;
- MRR_r(d) = mean over q in Q(d) of 1 / rank_r(q, d), 0 beyond the depth;
- d is invisible under r when it is in the top 10 for none of its own intents; the report's
  ``invisible`` is the hybrid retriever's, each retriever's is in ``retrievers``;
- retrievability (Azzopardi & Vinay 2008, "Retrievability: an evaluation measure for higher
  order information access tasks", CIKM), cumulative with cut-off c = 10:
  r(d) = sum over every distinct query q of the catalog (all intents and merchant queries)
  of [rank_q(d) <= c]; its Gini coefficient over the products is :func:`gini`.

The cut-off is 10 throughout (``CUTOFF``), as the field names say.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from engine.surfacing.findability.index import DEPTH, RETRIEVERS, CatalogIndex, rank_of
from engine.surfacing.intents import IntentQuery, MerchantQuery

CUTOFF = 10
_DISCOUNT = 1.0 / np.log2(np.arange(2, CUTOFF + 2))  # nDCG's gain at ranks 1..10


@dataclass(frozen=True)
class QueryResult:
    text: str
    kind: str
    ranks: Mapping[str, int | None]


@dataclass(frozen=True)
class RetrieverStats:
    retriever: str
    recall_at_10: float
    mrr: float
    best_rank: int | None
    invisible: bool


@dataclass(frozen=True)
class ProductFindability:
    product_id: str
    queries: tuple[QueryResult, ...]
    retrievers: tuple[RetrieverStats, ...]
    outranked_by: tuple[str, ...]
    invisible: bool


@dataclass(frozen=True)
class FindabilityReport:
    """Per product and per catalog. ``retrievability[r][i]`` is r(d) of the product at
    position i: on how many of the catalog's distinct queries (every product's intents and
    the merchant's queries) it ranks in the top 10 under retriever r. The merchant figures are
    means over the labelled queries, each against its labelled relevant set: recall@10 (the
    share of the relevant products in the top 10), MRR (1 / the rank of the first relevant
    product, 0 beyond the depth) and nDCG@10 (binary gains, log2 discount, ideal = every
    relevant product first)."""

    products: Mapping[str, ProductFindability]
    gini: Mapping[str, float]  # retrievability Gini per retriever
    merchant_recall_at_10: Mapping[str, float] = field(default_factory=dict)
    merchant_mrr: Mapping[str, float] = field(default_factory=dict)
    merchant_ndcg_at_10: Mapping[str, float] = field(default_factory=dict)
    retrievability: Mapping[str, NDArray[np.float64]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def product(self, product_id: str) -> ProductFindability:
        return self.products[product_id]

    def invisible_share(self, retriever: str = "hybrid") -> float:
        """The share of products in the top 10 for none of their own intents."""
        if not self.products:
            return 0.0
        flags = [
            next(s.invisible for s in p.retrievers if s.retriever == retriever)
            for p in self.products.values()
        ]
        return sum(flags) / len(flags)


def gini(values: Sequence[float] | NDArray[np.float64]) -> float:
    """Gini coefficient of non-negative values: 0 when all are equal, (n - 1) / n when one
    holds everything. ``G = Σ_i (2i - n - 1) x_(i) / (n Σ x)``, x sorted ascending, i from 1."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n, total = x.size, float(x.sum())
    if n == 0 or total == 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * x).sum() / (n * total))


def _stats(retriever: str, ranks: Sequence[int | None]) -> RetrieverStats:
    found = [r for r in ranks if r is not None]
    hits = sum(1 for r in found if r <= CUTOFF)
    return RetrieverStats(
        retriever=retriever,
        recall_at_10=hits / len(ranks) if ranks else 0.0,
        mrr=sum(1.0 / r for r in found) / len(ranks) if ranks else 0.0,
        best_rank=min(found) if found else None,
        invisible=hits == 0,
    )


def audit_findability(
    index: CatalogIndex,
    queries_by_product: Mapping[str, Sequence[IntentQuery]],
    *,
    merchant_queries: Sequence[MerchantQuery] = (),
    depth: int = DEPTH,
) -> FindabilityReport:
    """Run every product's intents (and the merchant's queries) over the index in one batch."""
    texts: list[str] = []
    owners: list[int] = []
    kinds: list[str] = []
    for product_id, intents in queries_by_product.items():
        for intent in intents:
            texts.append(intent.text)
            owners.append(index.position[product_id])
            kinds.append(intent.kind)
    merchant_start = len(texts)
    texts.extend(q.text for q in merchant_queries)
    # Products of one type share their broad query ("table lamp") and many attribute ones:
    # each distinct text is searched once.
    distinct = list(dict.fromkeys(texts))
    slot = {text: i for i, text in enumerate(distinct)}
    found = index.search_many(distinct, depth)
    rankings = {r: [found[r][slot[t]] for t in texts] for r in RETRIEVERS}

    # Retrievability over the catalog's queries, each distinct query once.
    retrievability = {r: np.zeros(len(index), dtype=np.float64) for r in RETRIEVERS}
    for retriever in RETRIEVERS:
        for ranking in found[retriever]:
            retrievability[retriever][ranking[:CUTOFF]] += 1.0

    per_product: dict[int, list[QueryResult]] = {}
    above: dict[int, Counter[int]] = {}
    for row in range(merchant_start):
        owner = owners[row]
        ranks = {r: rank_of(rankings[r][row], owner) for r in RETRIEVERS}
        per_product.setdefault(owner, []).append(
            QueryResult(text=texts[row], kind=kinds[row], ranks=ranks)
        )
        hybrid = rankings["hybrid"][row]
        cut = (ranks["hybrid"] or len(hybrid) + 1) - 1
        above.setdefault(owner, Counter()).update(hybrid[: min(cut, CUTOFF)])
    # Labelled merchant queries count for the products they are labelled relevant to.
    merchant_recall: dict[str, list[float]] = {r: [] for r in RETRIEVERS}
    merchant_rr: dict[str, list[float]] = {r: [] for r in RETRIEVERS}
    merchant_ndcg: dict[str, list[float]] = {r: [] for r in RETRIEVERS}
    for offset, query in enumerate(merchant_queries):
        row = merchant_start + offset
        relevant = [index.position[p] for p in query.relevant or () if p in index.position]
        for position in relevant:
            ranks = {r: rank_of(rankings[r][row], position) for r in RETRIEVERS}
            per_product.setdefault(position, []).append(
                QueryResult(text=query.text, kind="merchant", ranks=ranks)
            )
        if relevant:
            wanted = set(relevant)
            ideal = _DISCOUNT[: min(len(wanted), CUTOFF)].sum()
            for retriever in RETRIEVERS:
                ranking = rankings[retriever][row]
                hits = [i for i, pid in enumerate(ranking) if pid in wanted]
                top = [i for i in hits if i < CUTOFF]
                merchant_recall[retriever].append(len(top) / len(wanted))
                merchant_rr[retriever].append(1.0 / (hits[0] + 1) if hits else 0.0)
                merchant_ndcg[retriever].append(float(_DISCOUNT[top].sum() / ideal))

    products: dict[str, ProductFindability] = {}
    for position, product in enumerate(index.products):
        results = tuple(per_product.get(position, ()))
        own = [q for q in results if q.kind != "merchant"]
        stats = tuple(_stats(r, [q.ranks[r] for q in own]) for r in RETRIEVERS)
        rivals = above.get(position, Counter())
        products[product.id] = ProductFindability(
            product_id=product.id,
            queries=results,
            retrievers=stats,
            outranked_by=tuple(index.products[p].id for p, _ in rivals.most_common(5)),
            invisible=next(s.invisible for s in stats if s.retriever == "hybrid"),
        )
    return FindabilityReport(
        products=products,
        gini={r: gini(retrievability[r]) for r in RETRIEVERS},
        merchant_recall_at_10={r: float(np.mean(v)) for r, v in merchant_recall.items() if v},
        merchant_mrr={r: float(np.mean(v)) for r, v in merchant_rr.items() if v},
        merchant_ndcg_at_10={r: float(np.mean(v)) for r, v in merchant_ndcg.items() if v},
        retrievability=retrievability,
    )
