"""HTML product pages: the schema.org ``Product`` markup in their JSON-LD (microdata when the
page has no JSON-LD Product), read with extruct.

A page may hold one ``Product``, a ``ProductGroup`` whose ``hasVariant`` lists the variants
(each inherits the group's name, brand, description... and gets its ``productGroupID`` as
``item_group_id``), or an ``ItemList`` of Products (``@graph`` and ``@id`` references are
followed). Each product's :class:`PageMarkup` says what the markup states and lists, in
``problems``, what Google's merchant-listing structured data requires and the markup lacks or
gets wrong (https://developers.google.com/search/docs/appearance/structured-data/
merchant-listing): ``name``, ``image``, an ``Offer`` with ``price`` (above zero) and
``priceCurrency`` (ISO 4217); a valid ``availability`` and ``aggregateRating`` where given.
Recommended properties that are merely absent (brand, gtin, availability...) are not problems:
the feed checks report those.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import extruct
import lxml.etree
from extruct import JsonLdExtractor
from extruct.utils import parse_html
from w3lib.encoding import html_body_declared_encoding

from engine.surfacing.formats import values as v
from engine.surfacing.formats.fields import ColumnMap, normalise_key
from engine.surfacing.formats.records import check_count, check_unique, to_product
from engine.surfacing.product import CatalogError, PageMarkup, Product

_PRODUCT_TYPES = frozenset({"Product", "IndividualProduct", "ProductModel", "SomeProducts"})
_GTIN_KEYS = ("gtin", "gtin14", "gtin13", "gtin12", "gtin8", "isbn")
_CONTAINERS = ("@graph", "itemListElement", "item", "mainEntity")
_MAX_DEPTH = 16  # JSON-LD nesting followed; @id references could otherwise loop

Node = Mapping[str, Any]


def _decode(content: bytes, page: str) -> str:
    """UTF-8, or the charset the page declares (``<meta charset>``); never a guess."""
    declared = None if content.startswith(b"\xef\xbb\xbf") else html_body_declared_encoding(content)
    encoding = declared or "utf-8-sig"
    try:
        return content.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        said = f"declares {declared}" if declared else "is not UTF-8 and declares no charset"
        offset = exc.start if isinstance(exc, UnicodeDecodeError) else 0
        line = content[:offset].count(b"\n") + 1
        raise CatalogError(
            f"the page {said}, and byte {offset} (line {line}) cannot be decoded; "
            "save it as UTF-8 or declare its charset",
            field="file",
            where=page,
        ) from None


def _types(node: Node) -> set[str]:
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {str(k).rsplit("/", 1)[-1].rsplit(":", 1)[-1] for k in kinds if k}


def _listed(value: object) -> list[object]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _first(value: object) -> object:
    items = _listed(value)
    return items[0] if items else None


def _text(value: object) -> str | None:
    """A property as text: the first of a list, a Thing's name (Brand, SizeSpecification)."""
    value = _first(value)
    if isinstance(value, Mapping):
        value = value.get("name") or value.get("@value")
    if value is None or isinstance(value, Mapping | list):
        return None
    text = str(value).strip()
    return text or None


class _Finder:
    """Every Product in the JSON-LD (or microdata) trees, with the ProductGroup it varies."""

    def __init__(self, trees: list[Any]) -> None:
        self.by_id: dict[str, Node] = {}
        for tree in trees:
            self._index(tree, 0)
        self.found: dict[int, tuple[Node, Node | None]] = {}
        for tree in trees:
            self._walk(tree, None, 0)

    def _index(self, node: object, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        if isinstance(node, list):
            for child in node:
                self._index(child, depth + 1)
        elif isinstance(node, Mapping):
            if isinstance(node.get("@id"), str) and len(node) > 1:
                self.by_id.setdefault(node["@id"], node)
            for child in node.values():
                self._index(child, depth + 1)

    def _resolve(self, node: object) -> object:
        if isinstance(node, Mapping) and set(node) == {"@id"}:
            return self.by_id.get(str(node["@id"]), node)
        return node

    def _add(self, node: Node, group: Node | None) -> None:
        held = self.found.get(id(node))
        if held is None or (held[1] is None and group is not None):
            self.found[id(node)] = (node, group)

    def _walk(self, node: object, group: Node | None, depth: int) -> None:
        node = self._resolve(node)
        if depth > _MAX_DEPTH:
            return
        if isinstance(node, list):
            for child in node:
                self._walk(child, group, depth + 1)
            return
        if not isinstance(node, Mapping):
            return
        kinds = _types(node)
        if "ProductGroup" in kinds:
            resolved = [self._resolve(n) for n in _listed(node.get("hasVariant"))]
            variants = [n for n in resolved if isinstance(n, Mapping)]
            for variant in variants:
                self._add(variant, node)
            if not variants:
                self._add(node, None)
            return
        if kinds & _PRODUCT_TYPES:
            parent = self._resolve(node.get("isVariantOf"))
            self._add(node, parent if isinstance(parent, Mapping) else None)
            return
        for key in _CONTAINERS:
            if key in node:
                self._walk(node[key], group, depth + 1)

    def products(self) -> list[tuple[Node, Node | None]]:
        return list(self.found.values())


def _json_ld(tree: Any) -> tuple[list[Any], list[str]]:
    blocks: list[Any] = []
    broken: list[str] = []
    scripts = tree.xpath('//script[@type="application/ld+json"]')
    for number, script in enumerate(scripts, start=1):
        try:
            blocks.extend(JsonLdExtractor().extract_items(script))
        except ValueError as exc:
            broken.append(f"JSON-LD block {number} is not valid JSON ({exc})")
    return blocks, broken


def _merged(node: Node, group: Node | None) -> dict[str, Any]:
    inherited = {k: val for k, val in (group or {}).items() if k not in ("hasVariant", "@id")}
    return {**inherited, **node}


def _images(value: object) -> list[str]:
    found: list[str] = []
    for item in _listed(value):
        if isinstance(item, Mapping):
            item = item.get("url") or item.get("contentUrl")
        if isinstance(item, str) and item.strip():
            found.append(item.strip())
    return found


def _offer(base: Node, problems: list[str]) -> Node:
    offer = _first(base.get("offers"))
    if not isinstance(offer, Mapping):
        problems.append("offers is missing (required): an Offer with price and priceCurrency")
        return {}
    if "AggregateOffer" in _types(offer):
        problems.append(
            "offers is an AggregateOffer; merchant listings require an Offer (AggregateOffer "
            "serves product snippets)"
        )
        nested = _first(offer.get("offers"))
        if isinstance(nested, Mapping):
            return nested
        return {**offer, "price": offer.get("price", offer.get("lowPrice"))}
    return offer


def _price(offer: Node, problems: list[str]) -> tuple[float | None, str | None]:
    spec = _first(offer.get("priceSpecification"))
    spec = spec if isinstance(spec, Mapping) else {}
    raw_price = offer.get("price", spec.get("price"))
    raw_currency = offer.get("priceCurrency", spec.get("priceCurrency"))
    price: float | None = None
    currency: str | None = None
    if not offer:
        return None, None
    if v.is_empty(raw_price):
        problems.append("offers.price is missing (required)")
    else:
        try:
            price = v.number(_first(raw_price), field="price", where="", expected="")
        except CatalogError:
            problems.append(f"offers.price {v.quoted(raw_price)} is not a number")
        if price is not None and price < 0:
            problems.append(f"offers.price {v.quoted(raw_price)} is negative")
            price = None
        elif price == 0:
            problems.append("offers.price is 0; merchant listings require a price above zero")
    currency_text = _text(raw_currency)
    if currency_text is None:
        problems.append("offers.priceCurrency is missing (required)")
    else:
        try:
            currency = v.currency_code(currency_text, field="currency", where="")
        except CatalogError:
            problems.append(f"offers.priceCurrency {v.quoted(currency_text)} is not ISO 4217")
    return price, currency


def _rating(base: Node, problems: list[str]) -> tuple[float | None, int | None]:
    rating = base.get("aggregateRating")
    rating = _first(rating)
    if not isinstance(rating, Mapping):
        return None, None
    value: float | None = None
    try:
        value = v.number(rating.get("ratingValue"), field="rating", where="", expected="")
        best = v.number(rating.get("bestRating"), field="rating", where="", expected="") or 5.0
        worst = v.number(rating.get("worstRating"), field="rating", where="", expected="")
    except CatalogError:
        problems.append(
            "aggregateRating has a ratingValue, bestRating or worstRating that is not a number"
        )
        return None, None
    if value is None:
        problems.append("aggregateRating.ratingValue is missing (required in an aggregateRating)")
    elif not (lowest := worst if worst is not None else 0.0) <= value <= best:
        problems.append(
            f"aggregateRating.ratingValue {v.quoted(rating.get('ratingValue'))} is outside its "
            f"scale ({lowest:g}-{best:g})"
        )
        value = None
    else:
        value = value * 5 / best  # Reviews.rating is on a 0-5 scale
    raw_count = rating.get("reviewCount", rating.get("ratingCount"))
    count: int | None = None
    if v.is_empty(raw_count):
        problems.append("aggregateRating has no reviewCount or ratingCount (one is required)")
    else:
        try:
            count = v.count(raw_count, field="review_count", where="")
        except CatalogError:
            problems.append(f"aggregateRating count {v.quoted(raw_count)} is not a whole number")
    return value, count


def _product(
    node: Node, group: Node | None, *, page: str, number: int, broken: list[str]
) -> Product:
    base = _merged(node, group)
    problems = list(broken)
    offer = _offer(base, problems)
    price, currency = _price(offer, problems)
    availability = None
    if not v.is_empty(offer.get("availability")):
        try:
            availability = v.availability(_first(offer["availability"]), where="")
        except CatalogError:
            problems.append(
                f"offers.availability {v.quoted(offer['availability'])} is not a schema.org "
                "ItemAvailability value (e.g. https://schema.org/InStock)"
            )
    images = _images(base.get("image"))
    if not images:
        problems.append("image is missing (required)")
    rating, count = _rating(base, problems)
    gtin = next((t for k in _GTIN_KEYS if (t := _text(base.get(k) or offer.get(k)))), None)
    link = _text(base.get("url")) or _text(offer.get("url"))
    product_id = (
        next((t for k in ("sku", "productID") if (t := _text(base.get(k)))), None)
        or gtin
        or _text(base.get("mpn"))
        or _text(node.get("@id"))
        or link
    )
    where = f"{page}, product {number}" + (f" (id {v.quoted(product_id)})" if product_id else "")
    name = _text(base.get("name"))
    if name is None:
        raise CatalogError(
            "the Product markup has no name; Google's merchant listings require one, and "
            "every product needs a title",
            field="title",
            where=where,
        )
    if product_id is None:
        raise CatalogError(
            "the Product markup has no sku, productID, gtin, mpn, @id or url to identify it; "
            "expected a sku",
            field="id",
            where=where,
        )
    texts = [
        t
        for review in _listed(base.get("review"))
        if isinstance(review, Mapping)
        and (t := _text(review.get("reviewBody") or review.get("description")))
    ]
    record: dict[str, object] = {
        "id": product_id,
        "title": name,
        "description": _text(base.get("description")),
        "brand": _text(base.get("brand")),
        "gtin": gtin,
        "mpn": _text(base.get("mpn")),
        "price": price,
        "currency": currency,
        "availability": availability,
        "image_link": images[0] if images else None,
        "additional_image_link": images[1:],
        "link": link,
        "product_type": _text(base.get("category")),
        "item_group_id": _text((group or {}).get("productGroupID")),
        "rating": rating,
        "review_count": count,
        "reviews": texts,
        "color": _text(base.get("color")),
        "size": _text(base.get("size")),
        "material": _text(base.get("material")),
        "pattern": _text(base.get("pattern")),
    }
    attributes = {
        name_text: value_text
        for prop in _listed(base.get("additionalProperty"))
        if isinstance(prop, Mapping)
        and (name_text := _text(prop.get("name")))
        and (value_text := _text(prop.get("value")))
    }
    product = to_product(
        {k: val for k, val in record.items() if not v.is_empty(val)},
        where=where,
        line=number,
        columns=ColumnMap(),
        attributes={normalise_key(k): t for k, t in attributes.items()},
    )
    markup = PageMarkup(
        name=name,
        price=price,
        currency=currency,
        availability=availability,
        gtin=gtin,
        brand=product.brand,
        problems=tuple(problems),
    )
    return dataclasses.replace(product, markup=markup)


def from_html(content: bytes, *, filename: str | None = None) -> tuple[Product, ...]:
    page = filename or "the page"
    text = _decode(content, page)
    if not text.strip():
        raise CatalogError("the page is empty", field="file", where=page)
    try:
        tree = parse_html(text.encode("utf-8"), encoding="UTF-8")
    except (lxml.etree.ParserError, ValueError) as exc:
        raise CatalogError(f"not readable HTML: {exc}", field="file", where=page) from None
    blocks, broken = _json_ld(tree)
    found = _Finder(blocks).products()
    if not found:
        microdata = extruct.extract(tree, syntaxes=["microdata"], uniform=True, errors="strict")
        found = _Finder(microdata.get("microdata", [])).products()
    if not found:
        because = f" ({'; '.join(broken)})" if broken else ""
        raise CatalogError(
            "no schema.org Product markup in the page's JSON-LD or microdata"
            f"{because}; expected a Product, a ProductGroup with hasVariant, or an ItemList "
            "of Products",
            field="file",
            where=page,
        )
    check_count(len(found))
    products = [
        _product(node, group, page=page, number=number, broken=broken)
        for number, (node, group) in enumerate(found, start=1)
    ]
    check_unique(products, [f"{page}, product {p.line}" for p in products])
    return tuple(products)
