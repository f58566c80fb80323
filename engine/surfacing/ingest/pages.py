"""HTML product pages: the schema.org ``Product`` in their JSON-LD (extruct), with what Google's
merchant-listing structured data requires checked into :class:`PageMarkup` (name, image, and
an offer with a price and its currency; https://developers.google.com/search/docs/appearance/
structured-data/merchant-listing)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import extruct

from engine.surfacing.ingest.fields import check_unique, parse_availability, to_product
from engine.surfacing.product import CatalogError, PageMarkup, Product

_GTIN_KEYS = ("gtin", "gtin13", "gtin12", "gtin14", "gtin8", "isbn")


def _types(node: Mapping[str, object]) -> set[str]:
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {str(k).rsplit("/", 1)[-1] for k in kinds if k}


def _products(node: object) -> Iterator[tuple[Mapping[str, object], Mapping[str, object] | None]]:
    """Every Product in a JSON-LD tree, with the ProductGroup it is a variant of."""
    if isinstance(node, list):
        for child in node:
            yield from _products(child)
        return
    if not isinstance(node, Mapping):
        return
    kinds = _types(node)
    if "ProductGroup" in kinds:
        variants = node.get("hasVariant")
        for variant in variants if isinstance(variants, list) else [variants]:
            if isinstance(variant, Mapping):
                yield variant, node
        return
    if "Product" in kinds:
        yield node, None
        return
    for key in ("@graph", "itemListElement", "item", "mainEntity"):
        if key in node:
            yield from _products(node[key])


def _first(value: object) -> object:
    return value[0] if isinstance(value, list) and value else value


def _name(value: object) -> str | None:
    value = _first(value)
    if isinstance(value, Mapping):
        value = value.get("name")
    return str(value).strip() if value not in (None, "") else None


def _offer(node: Mapping[str, object]) -> Mapping[str, object]:
    offer = _first(node.get("offers"))
    if isinstance(offer, Mapping) and "AggregateOffer" in _types(offer):
        return {**offer, "price": offer.get("price", offer.get("lowPrice"))}
    return offer if isinstance(offer, Mapping) else {}


def _record(node: Mapping[str, object], group: Mapping[str, object] | None) -> dict[str, object]:
    base = {**(group or {}), **node}
    offer = _offer(base)
    rating = base.get("aggregateRating")
    rating = rating if isinstance(rating, Mapping) else {}
    reviews = base.get("review")
    texts = [
        str(r.get("reviewBody")).strip()
        for r in (reviews if isinstance(reviews, list) else [reviews])
        if isinstance(r, Mapping) and r.get("reviewBody")
    ]
    image = _first(base.get("image"))
    if isinstance(image, Mapping):
        image = image.get("url")
    record: dict[str, object] = {
        "id": base.get("sku") or base.get("productID") or base.get("mpn") or base.get("@id"),
        "title": base.get("name"),
        "description": base.get("description"),
        "brand": _name(base.get("brand")),
        "gtin": next((base[k] for k in _GTIN_KEYS if base.get(k)), None),
        "mpn": base.get("mpn"),
        "image_link": image,
        "link": base.get("url") or offer.get("url"),
        "product_type": _name(base.get("category")),
        "item_group_id": (group or {}).get("productGroupID"),
        "rating": rating.get("ratingValue"),
        "review_count": rating.get("reviewCount") or rating.get("ratingCount"),
        "reviews": texts,
        "color": base.get("color"),
        "size": _name(base.get("size")),
        "material": base.get("material"),
    }
    price = offer.get("price")
    if price is not None:
        record["price"] = f"{price} {offer.get('priceCurrency') or ''}".strip()
    if offer.get("availability"):
        record["availability"] = offer.get("availability")
    return {k: v for k, v in record.items() if v not in (None, "", [])}


def _markup(
    node: Mapping[str, object], group: Mapping[str, object] | None, where: str
) -> PageMarkup:
    base = {**(group or {}), **node}
    offer = _offer(base)
    problems: list[str] = []
    if not base.get("name"):
        problems.append("name is missing (required)")
    if not base.get("image"):
        problems.append("image is missing (required)")
    if not offer:
        problems.append("offers is missing (required)")
    price: float | None = None
    if offer:
        raw = offer.get("price")
        if raw in (None, ""):
            problems.append("offers.price is missing (required)")
        else:
            try:
                price = float(str(raw).replace(",", ""))
            except ValueError:
                problems.append(f"offers.price {raw!r} is not a number")
        if not offer.get("priceCurrency"):
            problems.append("offers.priceCurrency is missing (required)")
    availability = None
    if offer.get("availability"):
        try:
            availability = parse_availability(str(offer["availability"]), where=where)
        except CatalogError:
            problems.append(
                f"offers.availability {offer['availability']!r} is not a schema.org value"
            )
    gtin = next((str(base[k]) for k in _GTIN_KEYS if base.get(k)), None)
    currency = offer.get("priceCurrency")
    return PageMarkup(
        name=str(base["name"]) if base.get("name") else None,
        price=price,
        currency=str(currency).upper() if currency else None,
        availability=availability,
        gtin=gtin,
        brand=_name(base.get("brand")),
        problems=tuple(problems),
    )


def from_html(content: bytes, *, filename: str | None = None) -> tuple[Product, ...]:
    page = filename or "the page"
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("latin-1")  # HTML declares its charset; JSON-LD is ASCII-safe
    data = extruct.extract(text, syntaxes=["json-ld"], uniform=True, errors="log")
    found = [pair for block in data.get("json-ld", []) for pair in _products(block)]
    if not found:
        raise CatalogError(
            "no schema.org Product in the page's JSON-LD (Google's merchant listing markup)",
            field="file",
            where=page,
        )
    products: list[Product] = []
    for number, (node, group) in enumerate(found, start=1):
        where = f"{page}, product {number}"
        record = _record(node, group)
        product = to_product(record, where=where, line=number)
        markup = _markup(node, group, where)
        products.append(Product(**{**product.__dict__, "markup": markup}))
    check_unique(products, unit="product")
    return tuple(products)
