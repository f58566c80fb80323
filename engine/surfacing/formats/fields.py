"""Which canonical field a column (or JSON key, or feed element) holds.

Names are matched case-insensitively, with spaces, hyphens and underscores equivalent
(``"Image Link"``, ``"image-link"`` and ``"image_link"`` are one name). A name is looked up in
this order, and when several columns of one record give the same field the first source in
this order wins (ties: the leftmost column):

1. the user's own ``columns`` mapping (``{"Product Name": "title"}``);
2. the canonical name itself (Merchant Center's product data specification);
3. an alias: the OpenAI product feed's names, common Shopify export headers, review columns;
4. a weak alias: Shopify's ``Handle`` names the product only where no ``Variant SKU`` (or
   other id) is given.

A column that loses to a stronger one is kept as an attribute under its own name. Any other
column becomes an attribute (lower-case key, spaces as underscores) unless it is empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from engine.surfacing.product import CatalogError

# Fields the parsers turn into Product fields (``highlights`` is Merchant Center's
# ``product_highlight``; ``rating``, ``review_count`` and ``reviews`` fill ``Product.reviews``).
FIELDS: tuple[str, ...] = (
    "id",
    "title",
    "description",
    "link",
    "image_link",
    "availability",
    "price",
    "currency",
    "brand",
    "gtin",
    "mpn",
    "google_product_category",
    "product_type",
    "item_group_id",
    "highlights",
    "rating",
    "review_count",
    "reviews",
    "sales_velocity",
    # Structured or validated, then kept in ``Product.attributes``.
    "sale_price",
    "additional_image_link",
    "product_detail",
)

# Merchant Center (and OpenAI feed) attributes that are kept in ``Product.attributes`` under
# these names; listed so ``columns`` may map to them and their aliases find them.
ATTRIBUTE_FIELDS: tuple[str, ...] = (
    "color",
    "size",
    "material",
    "pattern",
    "gender",
    "age_group",
    "condition",
    "size_type",
    "size_system",
    "adult",
    "multipack",
    "is_bundle",
    "energy_efficiency_class",
    "unit_pricing_measure",
    "unit_pricing_base_measure",
    "custom_label_0",
    "custom_label_1",
    "custom_label_2",
    "custom_label_3",
    "custom_label_4",
    "item_group_title",
    "tags",
)

ALIASES: Mapping[str, str] = {
    # id
    "sku": "id",
    "product_id": "id",
    "offer_id": "id",
    "variant_sku": "id",
    "item_id": "id",
    # text
    "name": "title",
    "product_name": "title",
    "product_title": "title",
    "body_(html)": "description",
    "body_html": "description",
    "body": "description",
    "product_description": "description",
    "vendor": "brand",
    "manufacturer": "brand",
    "brand_name": "brand",
    # identifiers
    "barcode": "gtin",
    "variant_barcode": "gtin",
    "ean": "gtin",
    "upc": "gtin",
    "isbn": "gtin",
    "gtin8": "gtin",
    "gtin12": "gtin",
    "gtin13": "gtin",
    "gtin14": "gtin",
    "mpn_code": "mpn",
    # offer
    "variant_price": "price",
    "regular_price": "price",
    "price_currency": "currency",
    "currency_code": "currency",
    "stock_status": "availability",
    # categories
    "product_category": "google_product_category",
    "google_category": "google_product_category",
    "type": "product_type",
    "category": "product_type",
    "merchant_category": "product_type",
    # lists
    "product_highlight": "highlights",
    "product_highlights": "highlights",
    "highlight": "highlights",
    # images and links
    "image_src": "image_link",
    "variant_image": "image_link",
    "image": "image_link",
    "image_url": "image_link",
    "additional_image_links": "additional_image_link",
    "url": "link",
    "product_url": "link",
    "product_link": "link",
    "group_id": "item_group_id",
    "parent_id": "item_group_id",
    # reviews and sales
    "average_rating": "rating",
    "review_rating": "rating",
    "product_review_rating": "rating",
    "product_rating": "rating",
    "reviews_count": "review_count",
    "rating_count": "review_count",
    "product_review_count": "review_count",
    "number_of_reviews": "review_count",
    "num_reviews": "review_count",
    "review_texts": "reviews",
    "review_text": "reviews",
    "units_per_month": "sales_velocity",
    "monthly_units": "sales_velocity",
    # attributes
    "colour": "color",
    "variant_color": "color",
    "variant_size": "size",
}
WEAK_ALIASES: Mapping[str, str] = {"handle": "id"}

# Shopify prefixes its Google channel columns: "Google Shopping / Gender".
_SHOPIFY_GOOGLE = re.compile(r"^google_shopping_?/_?")
# Shopify's "Option1 Name" says what "Option1 Value" holds ("Color" / "Red").
_OPTION = re.compile(r"^option(\d+)_(name|value)$")

Priority = Literal[0, 1, 2, 3]


def normalise_key(key: str) -> str:
    """ "Image Link", "image-link", " IMAGE_LINK " -> "image_link"."""
    return re.sub(r"[\s\-_]+", "_", key.strip().casefold()).strip("_")


@dataclass(frozen=True)
class Target:
    """Where one column goes. ``kind`` "field" names a :data:`FIELDS` entry, "attribute" an
    attribute key, "option" a Shopify option column (``name`` is "<n>:name" or "<n>:value")."""

    kind: Literal["field", "attribute", "option"]
    name: str
    priority: Priority
    key: str  # the column's own normalised name (a losing column is kept under it)


def canonical_target(name: str) -> str | None:
    """The field or attribute a ``columns`` value names (canonical names and aliases)."""
    key = normalise_key(name)
    if key in FIELDS or key in ATTRIBUTE_FIELDS:
        return key
    return ALIASES.get(key) or WEAK_ALIASES.get(key)


class ColumnMap:
    """Resolves column names to :class:`Target` s, the user's ``columns`` first (cached: a file
    has few distinct names)."""

    def __init__(self, columns: Mapping[str, str] | None = None) -> None:
        self.own: dict[str, str] = {}
        self._user_names: dict[str, str] = {}
        for user_name, wanted in (columns or {}).items():
            target = canonical_target(str(wanted))
            if target is None:
                known = ", ".join((*FIELDS, *ATTRIBUTE_FIELDS))
                raise CatalogError(
                    f'columns maps "{user_name}" to "{wanted}", which is not a catalog field; '
                    f"expected one of: {known}",
                    field="columns",
                )
            key = normalise_key(str(user_name))
            if not key:
                raise CatalogError("columns holds an empty column name", field="columns")
            self.own[key] = target
            self._user_names[key] = str(user_name)
        self._cache: dict[str, Target] = {}

    def resolve(self, column: str) -> Target:
        found = self._cache.get(column)
        if found is None:
            found = self._resolve(normalise_key(column))
            self._cache[column] = found
        return found

    def _resolve(self, key: str) -> Target:
        if key in self.own:
            return _target(self.own[key], 0, key)
        if key in FIELDS or key in ATTRIBUTE_FIELDS:
            return _target(key, 1, key)
        unprefixed = _SHOPIFY_GOOGLE.sub("", key)
        if unprefixed != key and (found := canonical_target(unprefixed)):
            return _target(found, 2, key)
        if key in ALIASES:
            return _target(ALIASES[key], 2, key)
        if key in WEAK_ALIASES:
            return _target(WEAK_ALIASES[key], 3, key)
        option = _OPTION.match(key)
        if option is not None:
            return Target("option", f"{option.group(1)}:{option.group(2)}", 2, key)
        return Target("attribute", key, 1, key)

    def check_present(self, seen: Iterable[str]) -> None:
        """Refuse a ``columns`` entry that names no column of the file: a misspelt mapping
        would otherwise do nothing, silently."""
        present = {normalise_key(name) for name in seen}
        for key, user_name in self._user_names.items():
            if key not in present:
                sample = ", ".join(f'"{n}"' for n in sorted(seen)[:20])
                raise CatalogError(
                    f'columns names "{user_name}", which is not a column of the file '
                    f"(its columns: {sample})",
                    field="columns",
                )


def _target(name: str, priority: Priority, key: str) -> Target:
    kind: Literal["field", "attribute"] = "field" if name in FIELDS else "attribute"
    return Target(kind, name, priority, key)
