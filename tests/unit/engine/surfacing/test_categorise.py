from __future__ import annotations

import dataclasses

import pytest

from engine.surfacing.categorise import (
    CHUNK,
    CONFIDENT,
    Categoriser,
    categorise_findings,
    on_path,
)
from engine.surfacing.product import Product
from engine.surfacing.rules import GMC_CATEGORY
from engine.surfacing.taxonomy import Taxonomy, google_taxonomy
from memory.embedding import MiniLMEmbedder
from tests.unit.engine.surfacing.generated import HashingEmbedder
from tests.unit.engine.surfacing.labelled_products import labelled_products

HEADPHONES = Product(id="h", title="Wireless noise cancelling headphones", brand="Bose")


@pytest.fixture(scope="module")
def bm25() -> Categoriser:
    return Categoriser(google_taxonomy())


@pytest.mark.parametrize(
    ("title", "leaf"),
    [
        ("Women's running shoes, size 6", "Shoes"),
        ("Stainless steel kitchen knife, 8 inch chef's knife", "Kitchen Knives"),
        ("Wireless noise cancelling headphones", "Headphones"),
        ("Stoneware coffee mug 350 ml", "Mugs"),
        ("Genuine leather handbag, tan", "Handbags"),
        ("Tefal non-stick frying pan 28 cm", "Skillets & Frying Pans"),
        ("Acoustic guitar with gig bag", "Guitars"),
    ],
)
def test_clear_products_land_in_their_leaf(bm25: Categoriser, title: str, leaf: str) -> None:
    [assignment] = bm25.assign([Product(id="p", title=title)])
    assert assignment.node is not None
    assert assignment.node.name == leaf
    assert 0.0 < assignment.confidence <= 1.0
    assert len(assignment.alternatives) == 3
    assert assignment.node not in assignment.alternatives


def test_a_far_off_declaration_is_flagged_with_a_mechanical_fix(bm25: Categoriser) -> None:
    wrong = dataclasses.replace(HEADPHONES, google_product_category="2271")  # Dresses
    [assignment] = bm25.assign([wrong])
    assert assignment.declared is not None
    assert assignment.declared.name == "Dresses"
    assert assignment.confidence >= CONFIDENT
    assert assignment.disagrees
    [finding] = categorise_findings(wrong, assignment)
    assert finding.check == "category_disagrees"
    assert finding.severity == "medium"
    assert finding.source == GMC_CATEGORY
    assert finding.fix is not None
    assert finding.fix.mechanical
    assert assignment.node is not None
    assert finding.fix.changes == {"google_product_category": str(assignment.node.id)}
    fixed = finding.fix.apply(wrong)
    [again] = bm25.assign([fixed])
    assert not again.disagrees
    assert categorise_findings(fixed, again) == []


def test_a_right_or_broader_declaration_is_not_flagged(bm25: Categoriser) -> None:
    for declared in ("543626", "Electronics", "Electronics > Audio"):
        product = dataclasses.replace(HEADPHONES, google_product_category=declared)
        [assignment] = bm25.assign([product])
        assert assignment.declared is not None
        assert assignment.node is not None
        assert on_path(assignment.declared, assignment.node)
        assert not assignment.disagrees
        assert categorise_findings(product, assignment) == []


def test_vague_titles_get_low_or_no_confidence(bm25: Categoriser) -> None:
    thing, gift, quality = bm25.assign(
        [
            Product(id="t", title="Thing"),
            Product(id="g", title="Gift for him"),
            Product(id="q", title="Premium quality, best choice"),
        ]
    )
    assert (thing.node, thing.confidence, thing.alternatives) == (None, 0.0, ())
    assert quality.node is None
    assert gift.node is not None
    assert gift.confidence < CONFIDENT
    # Declared far off, but unsure: not flagged.
    vague = Product(id="v", title="Gift for him", google_product_category="2271")
    assert not bm25.assign([vague])[0].disagrees


def test_category_missing_suggests_the_leaf_or_the_candidates(bm25: Categoriser) -> None:
    vague = Product(id="v", title="Gift for him")
    sure, unsure, nothing = bm25.assign([HEADPHONES, vague, Product(id="t", title="Thing")])
    [finding] = categorise_findings(HEADPHONES, sure)
    assert finding.check == "category_missing"
    assert finding.fix is not None
    assert finding.fix.mechanical
    assert finding.fix.changes == {"google_product_category": "543626"}
    [finding] = categorise_findings(vague, unsure)
    assert finding.fix is not None
    assert not finding.fix.mechanical
    assert unsure.node is not None
    assert str(unsure.node.id) in finding.fix.summary
    [finding] = categorise_findings(Product(id="t", title="Thing"), nothing)
    assert finding.fix is not None
    assert not finding.fix.mechanical


def test_batches_give_what_single_products_give(bm25: Categoriser) -> None:
    products = [p for p, _ in labelled_products(per_leaf=2, seed=3)]
    batch = bm25.assign(products * (CHUNK // len(products) + 1))  # more than one chunk
    for product, assignment in zip(products, batch, strict=False):
        assert bm25.assign([product]) == [assignment]
    assert bm25.assign([]) == []


def test_with_an_embedder_rankings_are_fused_and_confidences_stay_probabilities() -> None:
    fused = Categoriser(google_taxonomy(), HashingEmbedder())
    products = [p for p, _ in labelled_products(per_leaf=1, seed=5)]
    assignments = fused.assign(products)
    assert all(0.0 <= a.confidence <= 1.0 for a in assignments)
    assert all(len(a.alternatives) <= 3 for a in assignments)
    # Both retrievers rank Headphones first: the mixture of their distributions agrees.
    [both] = fused.assign([HEADPHONES])
    [alone] = Categoriser(google_taxonomy()).assign([HEADPHONES])
    assert both.node == alone.node
    assert both.node is not None
    assert both.node.name == "Headphones"
    assert both.confidence >= CONFIDENT


def test_minilm_finds_what_shares_no_word_with_its_leaf() -> None:
    toys = Taxonomy(
        "toys", tuple(n for n in google_taxonomy().nodes if n.path[:2] == ("Toys & Games", "Toys"))
    )
    bunny = Product(id="b", title="Ty plush bunny, pink", brand="Ty")
    [lexical] = Categoriser(toys).assign([bunny])
    assert lexical.node is None  # no leaf name says "plush" or "bunny"
    [dense] = Categoriser(toys, MiniLMEmbedder()).assign([bunny])
    assert dense.node is not None
    assert dense.node.name == "Stuffed Animals"
