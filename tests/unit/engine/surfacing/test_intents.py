"""Intent queries: the four kinds, built only from the product's own words, deterministic."""

from __future__ import annotations

import re

from engine.surfacing.intents import MerchantQuery, intent_queries, singular
from engine.surfacing.product import Product
from tests.unit.engine.surfacing.catalog_generator import generated_catalog

LAMP = Product(
    id="lamp-1",
    title="Acme Lumen brass table lamp with linen shade",
    brand="Acme",
    product_type="Home > Lighting > Table Lamps",
    attributes={"material": "Brass", "color": "Gold", "style": "Art Deco", "pattern": "n/a"},
)


def test_each_kind_is_what_the_product_is_with_its_own_attributes_and_brand() -> None:
    intents = intent_queries(LAMP)
    by_kind: dict[str, list[str]] = {}
    for intent in intents:
        by_kind.setdefault(intent.kind, []).append(intent.text)
        assert intent.product_id == "lamp-1"
    assert by_kind["broad"] == ["table lamp"]  # the product type's leaf, singular
    assert set(by_kind["attribute"]) == {
        "brass table lamp",
        "gold table lamp",
        "art deco table lamp",
    }
    assert "brass gold table lamp" in by_kind["long_tail"]
    # The default limit (8) is reached by the pairs; the triple comes with a higher one.
    assert "brass gold art deco table lamp" not in by_kind["long_tail"]
    wider = {q.text: q.kind for q in intent_queries(LAMP, limit=20)}
    assert wider["brass gold art deco table lamp"] == "long_tail"
    assert len(wider) == 1 + 3 + 3 + 1 + 1  # broad, attributes, pairs, the triple, brand
    assert by_kind["navigational"] == ["acme table lamp"]
    assert not any("n/a" in text for text in by_kind["attribute"])  # placeholders are no value


def test_queries_are_lower_case_unique_deterministic_and_limited() -> None:
    intents = intent_queries(LAMP)
    texts = [q.text for q in intents]
    assert texts == [t.lower() for t in texts]
    assert len(texts) == len(set(texts)) == 8  # the default limit, reached
    assert intent_queries(LAMP) == intents
    short = intent_queries(LAMP, limit=3)
    # A cut keeps the broad and the navigational query and fills up in order.
    assert [q.kind for q in short] == ["broad", "navigational", "attribute"]


def test_an_attribute_the_type_already_names_is_not_repeated() -> None:
    rug = Product(
        id="rug", title="Loom wool rug", product_type="Wool Rugs", attributes={"material": "wool"}
    )
    texts = [q.text for q in intent_queries(rug)]
    assert "wool rug" in texts
    assert "wool wool rug" not in texts


def test_without_a_product_type_the_category_name_then_the_title_say_what_it_is() -> None:
    bare = Product(id="m", title="Kiln stoneware coffee mug", attributes={"color": "blue"})
    assert intent_queries(bare, category_name="Mugs")[0].text == "mug"
    assert intent_queries(bare)[0].text == "coffee mug"  # the title's last two words


def test_every_word_of_every_query_is_the_products_own() -> None:
    """No template words: a query joins words the product's data holds (its type, attributes,
    brand), so a listing in any language gets queries in that language. The one exception is
    the naive English singular of the type's last word."""
    catalog = generated_catalog(per_type=16)
    german = Product(
        id="de-1",
        title="Leuchtwerk Tischlampe aus Messing",
        brand="Leuchtwerk",
        product_type="Wohnen > Tischlampen",
        attributes={"material": "Messing", "farbe": "gold", "color": "Gold"},
    )
    for product in (*catalog.products, german):
        own = set(
            re.findall(
                r"[\w&'-]+",
                " ".join(
                    [
                        product.title,
                        product.brand or "",
                        product.product_type or "",
                        *list(product.attributes.values()),
                    ]
                ).casefold(),
            )
        )
        for intent in intent_queries(product):
            for word in intent.text.split():
                assert word in own or word + "s" in own, (product.id, intent.text)
    german_texts = [q.text for q in intent_queries(german)]
    # English-biased, and said so: "Tischlampen" is German plural, the naive singular keeps it.
    assert german_texts[0] == "tischlampen"
    assert "messing tischlampen" in german_texts


def test_the_naive_singular_is_english_and_only_the_last_word() -> None:
    assert singular("Table Lamps") == "table lamp"
    assert singular("Bookcases") == "bookcase"
    assert singular("Accessories") == "accessory"
    assert singular("Dresses") == "dress"
    assert singular("Shirts & Tops") == "shirt"
    assert singular("Lampes de table") == "lampes de table"  # French head noun first: kept


def test_a_single_singular_word_before_an_ampersand_is_a_modifier_not_the_noun() -> None:
    # Google taxonomy leaves, as the categoriser names a product without a product type.
    assert singular("Kitchen & Dining Room Tables") == "dining room table"
    assert singular("Pen & Pencil Sets") == "pencil set"
    assert singular("Baby & Toddler Gloves & Mittens") == "toddler glove"
    assert singular("Fishing Baits & Lures") == "fishing bait"
    bare = Product(id="t", title="Tavola TA-0103", attributes={"material": "pine"})
    intents = intent_queries(bare, category_name="Kitchen & Dining Room Tables")
    assert [q.text for q in intents][:2] == ["dining room table", "pine dining room table"]


def test_merchant_queries_may_be_unlabelled() -> None:
    assert MerchantQuery("oak table").relevant is None
    assert MerchantQuery("oak table", frozenset({"a"})).relevant == frozenset({"a"})
