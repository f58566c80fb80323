from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.surfacing.findability import CatalogIndex, audit_findability, gini
from engine.surfacing.findings import Fix
from engine.surfacing.impact import expected_gain, measure_fix
from engine.surfacing.intents import MerchantQuery, intent_queries
from tests.unit.engine.surfacing.generated import HashingEmbedder, generated_catalog


def test_gini_of_equal_and_of_concentrated_retrievability() -> None:
    assert gini([3, 3, 3, 3]) == 0.0
    assert gini([0, 0, 0, 10]) == pytest.approx(0.75)  # (n - 1) / n for one of four
    assert gini([]) == 0.0
    assert 0 < gini([1, 2, 3, 4]) < 0.5


def test_intents_cover_every_kind_from_the_products_own_data() -> None:
    product = generated_catalog(per_type=1)[0]
    intents = intent_queries(product)
    kinds = {q.kind for q in intents}
    assert kinds == {"broad", "attribute", "long_tail", "navigational"}
    texts = [q.text for q in intents]
    assert "table lamp" in texts
    assert f"{product.attributes['material']} table lamp" in texts
    assert len(texts) == len(set(texts))


def test_well_described_products_are_findable(embedder: HashingEmbedder) -> None:
    products = generated_catalog()
    index = CatalogIndex(products, embedder=embedder)
    report = audit_findability(index, {p.id: intent_queries(p) for p in products})
    visible = np.mean([not report.product(p.id).invisible for p in products])
    # Measured on this generator: every product reaches the top 10 for at least one intent
    # (its navigational and long-tail queries name its own brand, color and material).
    assert visible == 1.0
    assert 0.0 < report.gini["hybrid"] < 1.0


def test_a_product_that_hides_its_attributes_is_invisible_and_the_fix_is_measured(
    embedder: HashingEmbedder,
) -> None:
    products = generated_catalog()
    original = products[7]
    hidden = dataclasses.replace(
        products[7], title="Lumen lamp", description="A lamp.", product_type=None
    )
    products[7] = hidden
    index = CatalogIndex(products, embedder=embedder)
    # The shopper's queries come from what the product is (its type and attributes), not from
    # how well its listing says it.
    intents = [q for q in intent_queries(original) if q.kind in ("attribute", "long_tail")]
    report = audit_findability(index, {hidden.id: intents})
    assert report.product(hidden.id).invisible

    color, material = hidden.attributes["color"], hidden.attributes["material"]
    fix = Fix(
        "add color and material to the title",
        {"title": f"Lumen {color} {material} table lamp"},
        mechanical=True,
    )
    before_ids = index.keyword.ids().tolist()
    impact = measure_fix(index, hidden, fix, intents)
    assert impact.click_share_change > 0
    assert impact.interval is not None
    assert impact.interval[0] > 0  # a clear case: the interval excludes no change
    assert impact.mean_rank_after is not None
    assert impact.mean_rank_before is None or impact.mean_rank_after < impact.mean_rank_before
    # The index is restored: the same product, and a second measurement sees the same ranks.
    assert index.products[index.position[hidden.id]] == hidden
    assert index.keyword.ids().tolist() == before_ids
    again = measure_fix(index, hidden, fix, intents)
    assert again.ranks_before == impact.ranks_before
    gain, unit = expected_gain(impact, hidden)
    assert gain == impact.click_share_change
    assert "click share" in unit
    valued = dataclasses.replace(hidden, sales_velocity=10.0)
    gain, unit = expected_gain(impact, valued)
    assert gain == pytest.approx(impact.click_share_change * hidden.price * 10.0)


def test_labelled_merchant_queries_count_for_their_products(embedder: HashingEmbedder) -> None:
    products = generated_catalog(per_type=10)
    index = CatalogIndex(products, embedder=embedder)
    target = products[3]
    query = MerchantQuery(target.title.lower(), frozenset({target.id}))
    report = audit_findability(index, {}, merchant_queries=[query])
    found = report.product(target.id)
    assert [q.kind for q in found.queries] == ["merchant"]
    assert found.queries[0].ranks["bm25"] == 1
    assert report.merchant_recall_at_10["bm25"] == 1.0
