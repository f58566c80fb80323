"""The product score: four measured components and the weights that combine them.

Each component is reported on its own with its evidence; the composite is a summary for
sorting, and its weights are a product decision (findability first, since a product's rank for
its shoppers' queries is what decides whether an AI assistant or a search engine shows it; see
docs/surfacing.md), not a measurement.

- ``findability``: mean over the product's own intent queries of ``click_share(rank) /
  click_share(1)`` under the hybrid retriever: the share of the clicks it would get were it
  first, by the position-CTR curve of :mod:`engine.surfacing.ctr`.
- ``completeness``: share of the fields Merchant Center requires or strongly recommends that
  are filled (identity, price, availability, brand, a GTIN or an MPN, a taxonomy category,
  highlights, and the attributes the product's category requires).
- ``intent_coverage``: share of its intent queries whose every word appears in its title,
  highlights or description (what a text-only reader of the listing can match).
- ``feed_quality``: ``1 - Σ penalty(severity)`` over its findings, floored at 0; penalties
  high 0.25, medium 0.10, low 0.03, info 0.
- ``score = 100 · (0.50 findability + 0.20 completeness + 0.15 intent_coverage + 0.15
  feed_quality)``, and 0 when the manipulation lint failed the product.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import MappingProxyType

from engine.surfacing.findings import Finding, Severity
from engine.surfacing.product import Product
from engine.surfacing.results import ScoreComponents

WEIGHTS = MappingProxyType(
    {"findability": 0.50, "completeness": 0.20, "intent_coverage": 0.15, "feed_quality": 0.15}
)
PENALTIES: MappingProxyType[Severity, float] = MappingProxyType(
    {"high": 0.25, "medium": 0.10, "low": 0.03, "info": 0.0}
)
_WORD = re.compile(r"\w+", re.UNICODE)


def findability_component(click_share_ratios: Sequence[float]) -> float:
    """Mean of click_share(rank) / click_share(1) over the product's intents (0 with none)."""
    return float(sum(click_share_ratios) / len(click_share_ratios)) if click_share_ratios else 0.0


def completeness_component(product: Product, required_attributes: Sequence[str] = ()) -> float:
    checks = [
        bool(product.title),
        bool(product.description),
        bool(product.link),
        bool(product.image_link),
        product.price is not None,
        product.availability is not None,
        bool(product.brand),
        bool(product.gtin or product.mpn),
        bool(product.google_product_category),
        bool(product.highlights),
        *(bool(product.attributes.get(name)) for name in required_attributes),
    ]
    return sum(checks) / len(checks)


def _words(text: str) -> set[str]:
    return {w.casefold() for w in _WORD.findall(text)}


def intent_coverage_component(product: Product, intents: Sequence[str]) -> float:
    if not intents:
        return 0.0
    listing = _words(" ".join((product.title, *product.highlights, product.description)))
    covered = sum(1 for query in intents if _words(query) <= listing)
    return covered / len(intents)


def feed_quality_component(findings: Sequence[Finding]) -> float:
    return max(0.0, 1.0 - sum(PENALTIES[f.severity] for f in findings))


def composite(components: ScoreComponents, *, hard_fail: bool) -> float:
    if hard_fail:
        return 0.0
    total = (
        WEIGHTS["findability"] * components.findability
        + WEIGHTS["completeness"] * components.completeness
        + WEIGHTS["intent_coverage"] * components.intent_coverage
        + WEIGHTS["feed_quality"] * components.feed_quality
    )
    return round(100.0 * total, 2)
