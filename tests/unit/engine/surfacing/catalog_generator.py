"""A generated catalog whose truth is known: what each product is, which products are relevant
to which shopper query, and which listings carry a planted defect.

Ten product types, two brands each, every product with a color, a material and a style drawn
at random. A clean listing states all three in its text ("Lumen green brass table lamp"; the
description adds the style and the room). Planted defects, at fixed positions of each type:

- ``invisible``: the listing names neither its type nor any attribute (title "Lumen LX-0412",
  description "Model LX-0412.") and has no product type: for every query a shopper would use
  to find it, every clean product of its brand and type matches more of the words;
- ``omits_attributes``: title and description say the type but no attribute ("Lumen table
  lamp"), so the attribute and long-tail queries find it only by its type;
- ``stuffed``: the title repeats the type words ("table lamp table lamp best table lamp ...");
- ``wrong_category``: the product type and Google category are another type's.

``truth[id].product`` is the clean twin: the same product listed well. The shopper's queries
for a product come from what it is (``true_intents``), not from how its listing reads, so a
defective listing is measured against the queries that should find it. ``merchant_queries``
are "color type" site-search queries labelled with every product that truly is of that color
and type, whatever its listing says.

Imported by path (``from tests.unit.engine.surfacing.catalog_generator import ...``), as the
other helpers of these tests are; the embedder double lives in ``generated``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from engine.surfacing.intents import IntentQuery, MerchantQuery, intent_queries
from engine.surfacing.product import Product

Defect = Literal["invisible", "omits_attributes", "stuffed", "wrong_category"]
DEFECTS: tuple[Defect, ...] = ("invisible", "omits_attributes", "stuffed", "wrong_category")


@dataclass(frozen=True)
class Kind:
    name: str  # what a shopper types: "table lamp"
    plural: str  # the merchant's product type leaf: "Table Lamps"
    category: str  # Google product category id
    room: str
    materials: tuple[str, ...]
    brands: tuple[str, str]


KINDS: tuple[Kind, ...] = (
    Kind(
        "table lamp",
        "Table Lamps",
        "4636",
        "bedroom",
        ("brass", "ceramic", "glass", "rattan", "steel"),
        ("Lumen", "Halo"),
    ),
    Kind(
        "dining table",
        "Dining Tables",
        "4355",
        "kitchen",
        ("oak", "walnut", "pine", "marble", "teak"),
        ("Nordhem", "Tavola"),
    ),
    Kind(
        "coffee mug",
        "Coffee Mugs",
        "2169",
        "kitchen",
        ("stoneware", "porcelain", "enamel", "ceramic", "glass"),
        ("Kiln", "Brewly"),
    ),
    Kind(
        "office chair",
        "Office Chairs",
        "2045",
        "office",
        ("mesh", "leather", "velvet", "fabric", "plastic"),
        ("Ergo", "Sitwell"),
    ),
    Kind(
        "area rug",
        "Area Rugs",
        "598",
        "living room",
        ("wool", "jute", "cotton", "silk", "sisal"),
        ("Loom", "Weft"),
    ),
    Kind(
        "bookcase",
        "Bookcases",
        "465",
        "study",
        ("oak", "walnut", "pine", "steel", "bamboo"),
        ("Shelfa", "Atelier"),
    ),
    Kind(
        "backpack",
        "Backpacks",
        "100",
        "travel",
        ("canvas", "leather", "nylon", "cordura", "denim"),
        ("Trailhead", "Rucko"),
    ),
    Kind(
        "water bottle",
        "Water Bottles",
        "2126",
        "gym",
        ("steel", "glass", "tritan", "aluminium", "copper"),
        ("Hydra", "Sipwell"),
    ),
    Kind(
        "wall clock",
        "Wall Clocks",
        "3890",
        "hallway",
        ("oak", "brass", "steel", "glass", "copper"),
        ("Tempo", "Horla"),
    ),
    Kind(
        "cutting board",
        "Cutting Boards",
        "638",
        "kitchen",
        ("oak", "walnut", "bamboo", "maple", "acacia"),
        ("Chopp", "Blokk"),
    ),
)
COLORS = ("black", "white", "green", "grey", "blue", "red", "yellow", "navy")
STYLES = ("modern", "rustic", "vintage", "minimalist", "industrial")
# Positions within each type that carry a defect (the rest are clean). ``stuffed`` and
# ``wrong_category`` are planted in the first types only: a few such listings in a catalog.
PLANTED: Mapping[Defect, tuple[int, int]] = {
    "invisible": (3, 10),  # (position in its type, how many types have one)
    "omits_attributes": (7, 10),
    "stuffed": (11, 3),
    "wrong_category": (15, 2),
}


@dataclass(frozen=True)
class Truth:
    kind: Kind
    color: str
    material: str
    style: str
    defect: Defect | None
    product: Product  # the clean twin: this product, listed well


@dataclass(frozen=True)
class GeneratedCatalog:
    products: tuple[Product, ...]
    truth: Mapping[str, Truth]

    def planted(self, defect: Defect) -> list[str]:
        return [p.id for p in self.products if self.truth[p.id].defect == defect]

    def clean(self) -> list[str]:
        return [p.id for p in self.products if self.truth[p.id].defect is None]

    def true_intents(self, product_id: str) -> tuple[IntentQuery, ...]:
        """The queries a shopper would use to find this product: built from its clean twin."""
        return intent_queries(self.truth[product_id].product)

    def intents_by_product(self) -> dict[str, tuple[IntentQuery, ...]]:
        return {p.id: self.true_intents(p.id) for p in self.products}

    def merchant_queries(self) -> list[MerchantQuery]:
        """One "color type" query per pair that some product truly is, labelled with all of
        them."""
        relevant: dict[str, set[str]] = {}
        for product in self.products:
            truth = self.truth[product.id]
            relevant.setdefault(f"{truth.color} {truth.kind.name}", set()).add(product.id)
        return [MerchantQuery(text, frozenset(ids)) for text, ids in sorted(relevant.items())]


def _clean(kind: Kind, i: int, brand: str, color: str, material: str, style: str) -> Product:
    return Product(
        id=f"{kind.name.replace(' ', '-')}-{i}",
        title=f"{brand} {color} {material} {kind.name}",
        description=(
            f"A {style} {color} {kind.name} made of {material}, for the {kind.room}. Model {i}."
        ),
        brand=brand,
        price=float(20 + 7 * i),
        currency="USD",
        availability="in_stock",
        google_product_category=kind.category,
        product_type=f"Home > {kind.plural}",
        attributes={"color": color, "material": material, "style": style},
        link=f"https://shop.example.com/{kind.name.replace(' ', '-')}-{i}",
        image_link=f"https://shop.example.com/{kind.name.replace(' ', '-')}-{i}.jpg",
        sales_velocity=float(1 + i % 9),
    )


def _defect(kind_index: int, i: int) -> Defect | None:
    for defect, (position, types) in PLANTED.items():
        if i == position and kind_index < types:
            return defect
    return None


def _planted(product: Product, defect: Defect, kind_index: int, i: int) -> Product:
    kind = KINDS[kind_index]
    brand = product.brand or ""
    if defect == "invisible":
        code = f"{brand[:2].upper()}-{kind_index:02d}{i:02d}"
        return replace(
            product, title=f"{brand} {code}", description=f"Model {code}.", product_type=None
        )
    if defect == "omits_attributes":
        return replace(
            product, title=f"{brand} {kind.name}", description=f"A {kind.name}. Model {i}."
        )
    if defect == "stuffed":
        return replace(
            product,
            title=f"{kind.name} {kind.name} best {kind.name} {product.title} {kind.name}",
        )
    other = KINDS[(kind_index + 5) % len(KINDS)]
    return replace(
        product, product_type=f"Home > {other.plural}", google_product_category=other.category
    )


def generated_catalog(per_type: int = 30, seed: int = 0) -> GeneratedCatalog:
    """``per_type`` products of each of the ten types (300 by default)."""
    if per_type <= max(position for position, _ in PLANTED.values()):
        raise ValueError("per_type must leave room for the planted positions")
    rng = np.random.default_rng(seed)
    products: list[Product] = []
    truth: dict[str, Truth] = {}
    for k, kind in enumerate(KINDS):
        for i in range(per_type):
            brand = kind.brands[i % 2]
            color = COLORS[int(rng.integers(len(COLORS)))]
            material = kind.materials[int(rng.integers(len(kind.materials)))]
            style = STYLES[int(rng.integers(len(STYLES)))]
            twin = _clean(kind, i, brand, color, material, style)
            defect = _defect(k, i)
            listed = twin if defect is None else _planted(twin, defect, k, i)
            products.append(listed)
            truth[listed.id] = Truth(kind, color, material, style, defect, twin)
    return GeneratedCatalog(tuple(products), truth)
