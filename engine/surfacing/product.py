"""The canonical product record every surfacing stage reads, whatever format it came in.

Field names follow Google Merchant Center's product data specification (``title``,
``description``, ``gtin``, ``mpn``, ``product_type``, ``google_product_category``,
``item_group_id``, ``product_highlight``...), since a feed is the most common upload and the
checks quote that specification. Parsers (``engine.surfacing.formats``) fill these records;
nothing downstream reads a raw upload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Availability = Literal["in_stock", "out_of_stock", "preorder", "backorder"]
AVAILABILITIES: tuple[Availability, ...] = ("in_stock", "out_of_stock", "preorder", "backorder")

MAX_PRODUCTS = 100_000  # per upload (issue 13)
MAX_TEXT = 20_000  # characters of one text field; Merchant Center's description limit is 5,000


class CatalogError(ValueError):
    """Bad catalog input: ``where`` names the row (``line 12`` or ``product "sku-1"``) and
    ``field`` the canonical field (or the user's own column when it could not be mapped)."""

    def __init__(self, message: str, *, field: str | None = None, where: str | None = None):
        super().__init__(f"{where}: {message}" if where else message)
        self.field = field
        self.where = where
        self.detail = message


@dataclass(frozen=True)
class Reviews:
    """What buyers said: the average rating (on a 1-5 scale), how many rated, and the texts
    the catalog carries (often a sample of the whole)."""

    rating: float | None = None
    count: int | None = None
    texts: tuple[str, ...] = ()


@dataclass(frozen=True)
class PageMarkup:
    """The schema.org ``Product`` JSON-LD of the product's page, as far as the checks compare
    it with the feed. ``problems`` lists what made the markup invalid under Google's
    merchant-listing structured-data requirements (empty when valid)."""

    name: str | None = None
    price: float | None = None
    currency: str | None = None
    availability: Availability | None = None
    gtin: str | None = None
    brand: str | None = None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Product:
    """One product. ``price`` is in major units of ``currency`` (ISO 4217). ``attributes``
    holds the descriptive attributes (color, size, material, pattern, gender, age_group and
    any other the merchant sends), keys lower-case. ``sales_velocity`` is units sold per
    month, when the merchant gives it; ``line`` is where the record started in the upload
    (line or row number, 1-based), kept so findings can point back at it."""

    id: str
    title: str
    description: str = ""
    brand: str | None = None
    gtin: str | None = None
    mpn: str | None = None
    price: float | None = None
    currency: str | None = None
    availability: Availability | None = None
    google_product_category: str | None = None  # a taxonomy id or path, as the merchant sent it
    product_type: str | None = None  # the merchant's own category path ("Home > Lamps")
    attributes: Mapping[str, str] = field(default_factory=dict)
    highlights: tuple[str, ...] = ()
    image_link: str | None = None
    link: str | None = None
    item_group_id: str | None = None
    reviews: Reviews | None = None
    sales_velocity: float | None = None
    markup: PageMarkup | None = None
    line: int | None = None

    def __post_init__(self) -> None:
        # A private copy, so a caller's later changes to its dict do not reach the record. A
        # plain dict rather than a read-only proxy: records are serialised (pydantic, JSON) at
        # the API and storage boundaries, which proxies are not; no stage mutates a record.
        object.__setattr__(self, "attributes", dict(self.attributes))
