"""Competitive sets: the partition by category, and an audit over per-category sets agreeing
with audits of each category's products on their own."""

from __future__ import annotations

import pytest

from engine.surfacing.audit import Examiner, assess
from engine.surfacing.competitive import MIN_SET, combined, partition, queries_for
from engine.surfacing.findability import CatalogIndex, audit_findability, gini
from engine.surfacing.intents import MerchantQuery
from engine.surfacing.taxonomy import TaxonomyNode, google_taxonomy
from tests.unit.engine.surfacing.generated import HashingEmbedder, generated_catalog

TAXONOMY = google_taxonomy()


def node(path: str) -> TaxonomyNode:
    found = TAXONOMY.resolve(path)
    assert found is not None, path
    return found


LAMPS = node("Home & Garden > Lighting > Lamps")
SHADES = node("Home & Garden > Lighting Accessories > Lamp Shades")
MUGS = node("Home & Garden > Kitchen & Dining > Tableware > Drinkware > Mugs")
DESKS = node("Furniture > Office Furniture > Desks")


def test_the_catalog_layout_is_one_set() -> None:
    assert partition([LAMPS, MUGS, None], "catalog") == [[0, 1, 2]]


def test_categories_split_by_their_first_two_levels_small_ones_pooled() -> None:
    categories: list[TaxonomyNode | None] = [LAMPS] * MIN_SET + [MUGS] * MIN_SET
    categories += [SHADES] * 3 + [DESKS] * 2 + [None]
    sets = partition(categories, "category")
    assert sorted(map(len, sets)) == [MIN_SET, MIN_SET + 6]
    assert sorted(p for members in sets for p in members) == list(range(len(categories)))
    lamps = next(m for m in sets if 0 in m)
    # Lamp shades and a desk are too few for sets of their own: the leftovers join the
    # largest set rather than form a set of six.
    assert set(range(MIN_SET)) <= set(lamps) or set(range(MIN_SET, 2 * MIN_SET)) <= set(lamps)


def test_a_labelled_query_runs_where_its_products_are() -> None:
    labelled = MerchantQuery("oak desk", frozenset({"a", "z"}))
    open_query = MerchantQuery("gift ideas", None)
    chosen = queries_for([labelled, open_query], {"a", "b"})
    assert chosen == [MerchantQuery("oak desk", frozenset({"a"})), open_query]
    assert queries_for([labelled], {"b"}) == []


@pytest.fixture(scope="module")
def audited(embedder: HashingEmbedder) -> tuple[list, list[CatalogIndex]]:  # type: ignore[type-arg]
    products = generated_catalog(per_type=60)
    examinations = Examiner().examine(products)
    sets = partition([e.assignment.node for e in examinations], "category")
    indexes = [CatalogIndex([products[i] for i in members], embedder=embedder) for members in sets]
    return examinations, indexes


def test_per_category_audit_is_each_set_audited_alone(
    audited: tuple[list, list[CatalogIndex]],  # type: ignore[type-arg]
) -> None:
    examinations, indexes = audited
    assert len(indexes) > 1, "the generated catalog spans several categories"
    by_id = {e.product.id: e for e in examinations}
    audits, summary = assess(examinations, indexes, measured_fixes=0, competitive_set="category")
    assert [a.product_id for a in audits] == [e.product.id for e in examinations]
    assert summary.competitive_set == "category"
    assert summary.competitive_sets == len(indexes)
    alone = [
        audit_findability(index, {pid: by_id[pid].intents for pid in index.position})
        for index in indexes
    ]
    for report in alone:
        for pid, found in report.products.items():
            audit = next(a for a in audits if a.product_id == pid)
            assert audit.invisible == found.invisible
            assert [q.ranks["hybrid"] for q in audit.queries] == [
                q.ranks["hybrid"] for q in found.queries
            ]
    whole = combined(alone, [0] * len(alone))
    assert summary.gini["hybrid"] == pytest.approx(whole.gini["hybrid"])
    # The catalog's Gini is over every product, not a mean of the sets'.
    assert whole.gini["hybrid"] == pytest.approx(
        gini([v for r in alone for v in r.retrievability["hybrid"]])
    )


def test_sets_must_cover_the_examined_products_once(
    audited: tuple[list, list[CatalogIndex]],  # type: ignore[type-arg]
) -> None:
    examinations, indexes = audited
    with pytest.raises(ValueError, match="exactly once"):
        assess(examinations, indexes[:1], measured_fixes=0)
