"""Competitive sets: which products a product's queries are run against.

- ``catalog`` (the default): the merchant's whole catalog. A shopper's query on the
  merchant's site, or an assistant reading the merchant's feed, sees every product, so a lamp
  can be outranked by a lamp shade.
- ``category``: one set per category, the products whose assigned taxonomy leaf shares its
  first :data:`LEVELS` levels ("Home & Garden > Lighting"); the question becomes "among the
  products it competes with". Sets below :data:`MIN_SET` products are pooled by their top
  level, and what is still below it forms one set, so that no product is ranked among a
  handful of others (a rank among three says nothing). Each set is its own index: smaller
  BM25 matrices and exact dense search below 20,000 products, which is cheaper to build at
  scale (``bench/surfacing_findability.py`` measures both layouts).

:func:`combined` joins the sets' findability reports into the catalog's: each product's
figures are its own set's, retrievability is kept per product, and the Gini coefficient is
taken over the whole catalog. Merchant figures are the means over every (labelled query,
set) pair: a labelled query runs in each set holding one of its relevant products, against
those of them there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np

from engine.surfacing.findability import RETRIEVERS, FindabilityReport, gini
from engine.surfacing.intents import MerchantQuery
from engine.surfacing.taxonomy import TaxonomyNode

CompetitiveSet = Literal["catalog", "category"]
COMPETITIVE_SETS: tuple[str, ...] = get_args(CompetitiveSet)
LEVELS = 2
MIN_SET = 50
UNASSIGNED = "(unassigned)"


def partition(categories: Sequence[TaxonomyNode | None], layout: CompetitiveSet) -> list[list[int]]:
    """Positions of the products in each competitive set, each set in catalog order, the
    sets ordered by their first product. ``categories`` is each product's assigned leaf."""
    if layout == "catalog" or not categories:
        return [list(range(len(categories)))]
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for position, node in enumerate(categories):
        key = tuple(node.path[:LEVELS]) if node is not None else (UNASSIGNED,)
        groups[key].append(position)
    # Small sets pooled by top level, then whatever is still small pooled together (or,
    # when that pool is small too, given to the largest set).
    pooled: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for key, members in groups.items():
        pooled[key if len(members) >= MIN_SET else key[:1]].extend(members)
    sets = [sorted(m) for m in pooled.values() if len(m) >= MIN_SET]
    rest = sorted(p for m in pooled.values() if len(m) < MIN_SET for p in m)
    if rest:
        if sets and len(rest) < MIN_SET:
            largest = max(range(len(sets)), key=lambda i: len(sets[i]))
            sets[largest] = sorted(sets[largest] + rest)
        else:
            sets.append(rest)
    sets.sort(key=lambda members: members[0])
    return sets


def queries_for(
    merchant_queries: Sequence[MerchantQuery], members: set[str]
) -> list[MerchantQuery]:
    """The merchant's queries that run in a set: a labelled one where it has relevant
    products (relevant restricted to them), an unlabelled one everywhere (it counts toward
    retrievability only)."""
    chosen = []
    for query in merchant_queries:
        if not query.relevant:
            chosen.append(query)
            continue
        here = frozenset(query.relevant & members)
        if here:
            chosen.append(MerchantQuery(text=query.text, relevant=here))
    return chosen


def combined(reports: Sequence[FindabilityReport], labelled: Sequence[int]) -> FindabilityReport:
    """One report from the sets' reports, in set order (retrievability is concatenated in
    that order); ``labelled[i]`` is how many labelled merchant queries ran in set i."""
    if len(reports) == 1:
        return reports[0]
    products = {pid: p for report in reports for pid, p in report.products.items()}
    retrievability = {
        r: np.concatenate([report.retrievability[r] for report in reports]) for r in RETRIEVERS
    }

    def merchant(attribute: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for retriever in RETRIEVERS:
            pairs = [
                (getattr(report, attribute)[retriever], weight)
                for report, weight in zip(reports, labelled, strict=True)
                if retriever in getattr(report, attribute) and weight
            ]
            if pairs:
                total = sum(w for _, w in pairs)
                out[retriever] = float(sum(v * w for v, w in pairs) / total)
        return out

    return FindabilityReport(
        products=products,
        gini={r: gini(retrievability[r]) for r in RETRIEVERS},
        merchant_recall_at_10=merchant("merchant_recall_at_10"),
        merchant_mrr=merchant("merchant_mrr"),
        merchant_ndcg_at_10=merchant("merchant_ndcg_at_10"),
        retrievability=retrievability,
    )
