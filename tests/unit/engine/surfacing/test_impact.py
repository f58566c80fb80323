"""A fix's measured impact is the counterfactual it claims to be: the ranks a freshly built
index gives the fixed product, against the shopper's unchanged queries; measuring leaves the
index exactly as it was; gains are valued by the cited click curve."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from engine.surfacing.checks import check_product
from engine.surfacing.ctr import CLICK_SHARE, click_share
from engine.surfacing.findability import RETRIEVERS, CatalogIndex, rank_of
from engine.surfacing.findings import Fix
from engine.surfacing.impact import expected_gain, measure_fix, rank_fixes
from engine.surfacing.taxonomy import google_taxonomy
from tests.unit.engine.surfacing.catalog_generator import GeneratedCatalog, generated_catalog
from tests.unit.engine.surfacing.generated import HashingEmbedder


@pytest.fixture(scope="module")
def catalog() -> GeneratedCatalog:
    return generated_catalog()


def _full_title(catalog: GeneratedCatalog, product_id: str) -> Fix:
    truth = catalog.truth[product_id]
    brand = truth.product.brand
    return Fix(
        "brand, attributes and type in the title",
        {"title": f"{brand} {truth.color} {truth.material} {truth.kind.name}"},
        mechanical=True,
    )


def test_the_checklists_attribute_fix_raises_the_rank_measurably(
    catalog: GeneratedCatalog, embedder: HashingEmbedder
) -> None:
    index = CatalogIndex(catalog.products, embedder=embedder)
    lamp = catalog.planted("omits_attributes")[0]  # "Halo table lamp", a rattan one
    product = index.products[index.position[lamp]]
    fixes = {
        f.fix.summary: f.fix
        for f in check_product(product, taxonomy=google_taxonomy())
        if f.fix is not None and f.fix.mechanical
    }
    fix = fixes["add the material (rattan) to the title"]
    impact = measure_fix(index, product, fix, catalog.true_intents(lamp))
    print(impact)
    assert impact.queries == 8
    assert impact.mean_rank_before is not None
    assert impact.mean_rank_after is not None
    assert impact.mean_rank_after < impact.mean_rank_before  # measured 7.9 -> 4.1
    assert impact.rank_change is not None
    assert impact.rank_change < 0
    assert impact.rank_interval is not None
    assert impact.rank_interval[1] < 0
    assert impact.click_share_change > 0
    assert impact.interval is not None
    assert impact.interval[0] > 0
    assert impact.interval[0] <= impact.click_share_change <= impact.interval[1]
    # The "rattan" intents are where it moved.
    moved = [
        (q.text, b, a)
        for q, b, a in zip(
            catalog.true_intents(lamp), impact.ranks_before, impact.ranks_after, strict=True
        )
        if a != b
    ]
    assert moved
    assert all("rattan" in text for text, _, _ in moved)


def test_the_measured_ranks_are_those_of_a_freshly_built_index(
    catalog: GeneratedCatalog, embedder: HashingEmbedder
) -> None:
    """The counterfactual, by definition: rebuild the catalog with the fix applied and look."""
    index = CatalogIndex(catalog.products, embedder=embedder)
    index.search_many(["warm up the index first"], 10)  # as in an audit: searched before
    chosen = catalog.planted("omits_attributes")[:4] + catalog.planted("invisible")[:2]
    for product_id in chosen:
        product = index.products[index.position[product_id]]
        fix = _full_title(catalog, product_id)
        texts = [q.text for q in catalog.true_intents(product_id)]
        fresh = list(catalog.products)
        fresh[index.position[product_id]] = fix.apply(product)
        rebuilt = CatalogIndex(fresh, embedder=embedder)
        for retriever in RETRIEVERS:
            impact = measure_fix(index, product, fix, texts, retriever=retriever, resamples=200)
            expected = [
                rank_of(r, index.position[product_id])
                for r in rebuilt.search_many(texts)[retriever]
            ]
            assert list(impact.ranks_after) == expected, (product_id, retriever)
            assert impact.rank_change is not None
            assert impact.rank_change < 0


def test_measuring_restores_the_index_exactly(
    catalog: GeneratedCatalog, embedder: HashingEmbedder
) -> None:
    index = CatalogIndex(catalog.products, embedder=embedder)
    texts = sorted({q.text for qs in catalog.intents_by_product().values() for q in qs})
    # Every product ranked (depth = the catalog): no tie at a cut-off to fall either way.
    before = index.search_many(texts, len(index))
    assert index.dense is not None
    vectors = index.dense.vectors(range(len(index)))
    measured = catalog.planted("omits_attributes") + catalog.planted("invisible")
    first = {}
    for product_id in measured:
        product = index.products[index.position[product_id]]
        first[product_id] = measure_fix(
            index, product, _full_title(catalog, product_id), catalog.true_intents(product_id)
        )
    assert index.products == list(catalog.products)
    np.testing.assert_array_equal(index.dense.vectors(range(len(index))), vectors)
    assert index.keyword.ids().tolist() == index.dense.ids().tolist() == list(range(len(index)))
    assert index.search_many(texts, len(index)) == before
    # So each measurement is independent of the others: in reverse order, the same results.
    for product_id in reversed(measured):
        product = index.products[index.position[product_id]]
        again = measure_fix(
            index, product, _full_title(catalog, product_id), catalog.true_intents(product_id)
        )
        assert again == first[product_id]


def test_the_product_passed_is_the_before_and_the_stored_one_comes_back(
    catalog: GeneratedCatalog, embedder: HashingEmbedder
) -> None:
    index = CatalogIndex(catalog.products, embedder=embedder)
    product_id = catalog.clean()[0]
    stored = index.products[index.position[product_id]]
    worse = dataclasses.replace(stored, title="zzz", description="")
    fix = Fix("restore the title", {"title": stored.title}, mechanical=True)
    impact = measure_fix(index, worse, fix, catalog.true_intents(product_id))
    assert impact.rank_change is not None
    assert impact.rank_change < 0
    assert index.products[index.position[product_id]] == stored


def test_small_samples_and_fixes_that_change_nothing(
    catalog: GeneratedCatalog, embedder: HashingEmbedder
) -> None:
    index = CatalogIndex(catalog.products, embedder=embedder)
    product_id = catalog.planted("omits_attributes")[1]
    product = index.products[index.position[product_id]]
    fix = _full_title(catalog, product_id)
    one = measure_fix(index, product, fix, catalog.true_intents(product_id)[2:3])
    assert one.queries == 1
    assert one.interval is None
    assert one.rank_interval is None
    assert one.rank_change is not None
    none = measure_fix(index, product, fix, [])
    assert none.queries == 0
    assert none.click_share_change == 0.0
    assert none.interval is None
    assert none.rank_change is None
    same = Fix("nothing", {"title": product.title}, mechanical=True)
    unchanged = measure_fix(index, product, same, catalog.true_intents(product_id))
    assert unchanged.ranks_after == unchanged.ranks_before
    assert unchanged.interval == (0.0, 0.0)
    assert unchanged.rank_interval == (0.0, 0.0)
    # Plain strings are queries too.
    texts = [q.text for q in catalog.true_intents(product_id)]
    as_text = measure_fix(index, product, fix, texts)
    assert as_text == measure_fix(index, product, fix, catalog.true_intents(product_id))


def test_a_rank_beyond_the_depth_counts_as_depth_plus_one(
    catalog: GeneratedCatalog, embedder: HashingEmbedder
) -> None:
    index = CatalogIndex(catalog.products, embedder=embedder)
    product_id = catalog.planted("invisible")[0]
    product = index.products[index.position[product_id]]
    impact = measure_fix(
        index, product, _full_title(catalog, product_id), catalog.true_intents(product_id)
    )
    assert impact.censored == sum(1 for r in impact.ranks_before if r is None) > 0
    changes = [
        (a or 101) - (b or 101)
        for b, a in zip(impact.ranks_before, impact.ranks_after, strict=False)
    ]
    assert impact.rank_change == pytest.approx(np.mean(changes))
    shares = [
        click_share(a) - click_share(b)
        for b, a in zip(impact.ranks_before, impact.ranks_after, strict=False)
    ]
    assert impact.click_share_change == pytest.approx(np.mean(shares))


def test_expected_gain_is_click_share_times_price_times_velocity(
    catalog: GeneratedCatalog, embedder: HashingEmbedder
) -> None:
    index = CatalogIndex(catalog.products, embedder=embedder)
    product_id = catalog.planted("omits_attributes")[0]
    product = index.products[index.position[product_id]]
    impact = measure_fix(
        index, product, _full_title(catalog, product_id), catalog.true_intents(product_id)
    )
    assert product.price is not None
    assert product.sales_velocity is not None
    gain, unit = expected_gain(impact, product)
    assert gain == pytest.approx(impact.click_share_change * product.price * product.sales_velocity)
    assert unit.startswith("USD per month")
    bare = dataclasses.replace(product, sales_velocity=None)
    gain, unit = expected_gain(impact, bare)
    assert gain == impact.click_share_change
    assert "click share" in unit


def test_fixes_are_ranked_by_expected_gain_then_by_rank_gain(
    catalog: GeneratedCatalog, embedder: HashingEmbedder
) -> None:
    index = CatalogIndex(catalog.products, embedder=embedder)
    taxonomy = google_taxonomy()
    for product_id in (catalog.planted("omits_attributes")[0], catalog.planted("invisible")[0]):
        product = index.products[index.position[product_id]]
        fixes = [f.fix for f in check_product(product, taxonomy=taxonomy) if f.fix is not None]
        assert any(not f.mechanical for f in fixes)  # "add a GTIN": left out
        ranked = rank_fixes(index, product, fixes, catalog.true_intents(product_id))
        assert len(ranked) == sum(f.mechanical for f in fixes)
        keys = [(-r.expected_gain, r.impact.rank_change or 0.0) for r in ranked]
        assert keys == sorted(keys)
        for r in ranked:
            alone = measure_fix(index, product, r.fix, catalog.true_intents(product_id))
            assert r.impact == alone  # each measured on its own
        print(product_id, [(r.fix.summary, round(r.expected_gain, 2)) for r in ranked])


def test_the_click_curve_is_the_cited_one() -> None:
    assert [click_share(r) for r in range(1, 11)] == list(CLICK_SHARE)
    assert click_share(1) == 0.285
    assert click_share(2) == 0.157
    assert click_share(10) == 0.025
    assert click_share(11) == click_share(None) == click_share(0) == 0.0
    assert all(a > b for a, b in itertools.pairwise(CLICK_SHARE))


def test_known_ranks_before_and_fixes_outside_the_text(
    catalog: GeneratedCatalog, embedder: HashingEmbedder
) -> None:
    index = CatalogIndex(catalog.products, embedder=embedder)
    product_id = catalog.planted("omits_attributes")[2]
    product = index.products[index.position[product_id]]
    intents = catalog.true_intents(product_id)
    fix = _full_title(catalog, product_id)
    full = measure_fix(index, product, fix, intents)
    known = measure_fix(index, product, fix, intents, ranks_before=full.ranks_before)
    assert known == full
    with pytest.raises(ValueError, match="ranks_before"):
        measure_fix(index, product, fix, intents, ranks_before=full.ranks_before[:2])
    # A category is not retrieval text: nothing is re-indexed, no rank moves.
    category = Fix("category", {"google_product_category": "4636"}, mechanical=True)
    index.search_many(["settle every write"], 1)
    unmoved = measure_fix(index, product, category, intents)
    assert unmoved.ranks_after == unmoved.ranks_before == full.ranks_before
    assert index.keyword.recent_count == 0
    assert index.products[index.position[product_id]] is product
