from __future__ import annotations

from engine.surfacing.entities import EntityExtractor, extract_entities, index_terms
from engine.surfacing.product import Product, Reviews

TV = Product(
    id="tv",
    title="Samsung 55-inch 4K UHD Smart TV, black",
    brand="Samsung",
    description="A slim television for the living room, on a brushed aluminium stand.",
    reviews=Reviews(
        texts=(
            "Sharper than my old Sony and cheaper than the LG.",
            "We took the coach to the shop to fetch it.",
        )
    ),
)


def test_the_own_brand_other_known_brands_and_a_colour_are_found_where_they_are() -> None:
    entities = extract_entities(TV, known_brands=("Sony", "LG", "Coach", "Samsung", "Bose"))
    own, *others = entities.brands
    assert (own.name, own.own, own.fields) == ("Samsung", True, ("title",))
    # "coach" in running text is a bus, not the brand Coach; Bose is never named.
    assert [(b.name, b.own, b.fields) for b in others] == [
        ("Sony", False, ("reviews",)),
        ("LG", False, ("reviews",)),
    ]
    assert entities.colors == ("black",)
    assert entities.materials == ("aluminium",)
    assert "55 in" in entities.values("measurement")
    televisions = [t for t in entities.product_types if "Televisions" in {n.name for n in t.nodes}]
    assert [(t.phrase, t.fields) for t in televisions] == [("television", ("description",))]


def test_an_own_brand_never_named_is_kept_with_no_fields() -> None:
    entities = extract_entities(Product(id="x", title="Oak side table", brand="Nordhem"))
    assert [(b.name, b.fields) for b in entities.brands] == [("Nordhem", ())]


def test_product_types_are_taxonomy_leaf_names_on_stemmed_words() -> None:
    cases = {
        "Tefal 28 cm non-stick frying pans": "Skillets & Frying Pans",
        "Travel yoga mat, purple": "Yoga & Pilates Mats",
        "Kitchen & dining room table in oak": "Kitchen & Dining Room Tables",
        "Orthopedic dog bed, large": "Dog Beds",
        "Wireless over-ear headphones": "Headphones",
    }
    for title, leaf in cases.items():
        found = extract_entities(Product(id="x", title=title)).product_types
        assert leaf in {n.name for t in found for n in t.nodes}, title
    # "Kitchen" alone is a modifier ("Kitchen & Dining Room Tables", "Kitchen Scales"), and
    # "Leather" of "Leather & Vinyl" a material: neither names a product type alone.
    assert extract_entities(Product(id="k", title="Kitchen leather")).product_types == ()
    assert index_terms("Knives & knife") == ["knife", "knife"]


def test_colours_materials_and_sizes_come_from_the_vocabularies() -> None:
    shirt = Product(
        id="s",
        title="Navy blue Egyptian cotton shirt, size M",
        attributes={"color": "Gray"},
        highlights=("Also in XL and UK 9 fits",),
        reviews=Reviews(texts=("Sizing is odd: an S would be tight, m is fine.",)),
    )
    entities = extract_entities(shirt)
    by_value = {(a.kind, a.value): a.fields for a in entities.attributes}
    assert by_value[("color", "navy")] == ("title",)
    assert by_value[("color", "grey")] == ("attributes",)
    assert by_value[("material", "cotton")] == ("title",)
    assert set(entities.sizes) == {"M", "XL", "UK 9"}  # a bare "S" or "m" is no size


def test_one_extractor_per_catalog_gives_what_the_function_gives() -> None:
    extractor = EntityExtractor(known_brands=["Sony", "LG"])
    assert extractor.extract(TV) == extract_entities(TV, known_brands=["LG", "Sony"])
