from __future__ import annotations

import pytest

from engine.surfacing.findings import Finding, RuleSource
from engine.surfacing.product import Product
from engine.surfacing.results import ScoreComponents
from engine.surfacing.scoring import (
    WEIGHTS,
    completeness_component,
    composite,
    feed_quality_component,
    findability_component,
    intent_coverage_component,
)

SOURCE = RuleSource("test", "https://example.com")


def finding(severity: str) -> Finding:
    return Finding("p", "c", severity, "m", "e", SOURCE)  # type: ignore[arg-type]


def test_the_weights_sum_to_one() -> None:
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


def test_findability_is_the_mean_click_share_ratio() -> None:
    assert findability_component([1.0, 0.5, 0.0]) == pytest.approx(0.5)
    assert findability_component([]) == 0.0


def test_completeness_counts_required_attributes() -> None:
    bare = Product(id="p", title="Lamp")
    full = Product(
        id="p",
        title="Lamp",
        description="d",
        link="https://x",
        image_link="https://x.jpg",
        price=1.0,
        availability="in_stock",
        brand="B",
        gtin="4006381333931",
        google_product_category="4636",
        highlights=("h",),
        attributes={"color": "red"},
    )
    assert completeness_component(bare) == pytest.approx(1 / 10)
    assert completeness_component(full) == 1.0
    assert completeness_component(full, ["color", "size"]) == pytest.approx(11 / 12)


def test_intent_coverage_needs_every_word_in_the_listing() -> None:
    product = Product(id="p", title="Brass table lamp", description="With a linen shade.")
    assert intent_coverage_component(product, ["brass table lamp", "linen lamp"]) == 1.0
    assert intent_coverage_component(product, ["oak table lamp", "table lamp"]) == 0.5
    assert intent_coverage_component(product, []) == 0.0


def test_feed_quality_and_the_hard_fail() -> None:
    assert feed_quality_component([]) == 1.0
    assert feed_quality_component([finding("high"), finding("low")]) == pytest.approx(0.72)
    assert feed_quality_component([finding("high")] * 5) == 0.0
    components = ScoreComponents(1.0, 1.0, 1.0, 1.0)
    assert composite(components, hard_fail=False) == 100.0
    assert composite(components, hard_fail=True) == 0.0
    half = ScoreComponents(findability=1.0, completeness=0.0, intent_coverage=0.0, feed_quality=0.0)
    assert composite(half, hard_fail=False) == 50.0
