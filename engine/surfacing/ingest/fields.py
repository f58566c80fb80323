"""One raw record (a CSV row, a JSON object, a feed item) -> a canonical :class:`Product`.

Keys are matched to canonical fields case-insensitively, with spaces, hyphens and underscores
equivalent, through Merchant Center's names, the OpenAI product feed's, common Shopify export
headers and review columns (:data:`ALIASES`); ``columns`` maps a user's own names first. Any
other non-empty key becomes an attribute (lower-cased, spaces as underscores).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence

import html_text

from engine.surfacing.product import (
    AVAILABILITIES,
    MAX_TEXT,
    Availability,
    CatalogError,
    Product,
    Reviews,
)

CANONICAL = (
    "id",
    "title",
    "description",
    "brand",
    "gtin",
    "mpn",
    "price",
    "currency",
    "availability",
    "google_product_category",
    "product_type",
    "highlights",
    "image_link",
    "link",
    "item_group_id",
    "rating",
    "review_count",
    "reviews",
    "sales_velocity",
)

# alias (normalised) -> canonical field
ALIASES: Mapping[str, str] = {
    **{name: name for name in CANONICAL},
    "sku": "id",
    "product_id": "id",
    "offer_id": "id",
    "variant_sku": "id",
    "name": "title",
    "product_name": "title",
    "body": "description",
    "body_html": "description",
    "body_(html)": "description",
    "vendor": "brand",
    "manufacturer": "brand",
    "barcode": "gtin",
    "variant_barcode": "gtin",
    "ean": "gtin",
    "upc": "gtin",
    "isbn": "gtin",
    "gtin13": "gtin",
    "gtin12": "gtin",
    "gtin14": "gtin",
    "gtin8": "gtin",
    "variant_price": "price",
    "sale_price": "price",
    "price_currency": "currency",
    "currency_code": "currency",
    "in_stock": "availability",
    "stock_status": "availability",
    "product_category": "google_product_category",
    "google_category": "google_product_category",
    "type": "product_type",
    "category": "product_type",
    "product_highlight": "highlights",
    "product_highlights": "highlights",
    "image_src": "image_link",
    "image": "image_link",
    "image_url": "image_link",
    "url": "link",
    "product_url": "link",
    "group_id": "item_group_id",
    "average_rating": "rating",
    "review_rating": "rating",
    "product_rating": "rating",
    "reviews_count": "review_count",
    "rating_count": "review_count",
    "number_of_reviews": "review_count",
    "review_texts": "reviews",
    "review_text": "reviews",
    "units_per_month": "sales_velocity",
    "velocity": "sales_velocity",
}

# Used only when no other column gives the field: Shopify's handle names the product, its
# variant SKU the variant a feed lists.
WEAK_ALIASES: Mapping[str, str] = {"handle": "id"}
# Shopify exports: "Option1 Name" says what "Option1 Value" is ("Color" / "Red").
_OPTION = re.compile(r"^option(\d)_(name|value)$")
_MONEY = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*([A-Za-z]{3})?\s*$")
_CURRENCY_FIRST = re.compile(r"^\s*([A-Za-z]{3})\s+([0-9][0-9,]*(?:\.[0-9]+)?)\s*$")
_AVAILABILITY: Mapping[str, Availability] = {
    "in_stock": "in_stock",
    "instock": "in_stock",
    "available": "in_stock",
    "true": "in_stock",
    "yes": "in_stock",
    "out_of_stock": "out_of_stock",
    "outofstock": "out_of_stock",
    "sold_out": "out_of_stock",
    "soldout": "out_of_stock",
    "discontinued": "out_of_stock",
    "false": "out_of_stock",
    "no": "out_of_stock",
    "preorder": "preorder",
    "pre_order": "preorder",
    "backorder": "backorder",
    "back_order": "backorder",
    "limited_availability": "in_stock",
    "limitedavailability": "in_stock",
    "onlineonly": "in_stock",
    "online_only": "in_stock",
}


def normalise_key(key: str) -> str:
    return re.sub(r"[\s\-]+", "_", key.strip().casefold())


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment (descriptions often arrive as HTML)."""
    if "<" not in html:
        return html.strip()
    return str(html_text.extract_text(html, guess_layout=False)).strip()


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    text = str(value).strip()
    return text or None


def _number(value: str, *, field: str, where: str, hint: str) -> float:
    try:
        number = float(value.replace(",", ""))
    except ValueError:
        raise CatalogError(
            f"{field} {value!r} is not a number; expected {hint}", field=field, where=where
        ) from None
    if not math.isfinite(number) or number < 0:
        raise CatalogError(f"{field} {value!r} must be a number >= 0", field=field, where=where)
    return number


def parse_price(value: str, *, where: str) -> tuple[float, str | None]:
    """ "19.99", "19.99 USD", "USD 19.99", "1,299.00 EUR" -> (amount, currency or None)."""
    match = _MONEY.match(value) or None
    if match is not None:
        amount, currency = match.group(1), match.group(2)
    else:
        flipped = _CURRENCY_FIRST.match(value)
        if flipped is None:
            raise CatalogError(
                f'price {value!r} is not a price; expected e.g. "19.99" or "19.99 USD"',
                field="price",
                where=where,
            )
        currency, amount = flipped.group(1), flipped.group(2)
    return float(amount.replace(",", "")), currency.upper() if currency else None


def parse_availability(value: str, *, where: str) -> Availability:
    key = normalise_key(value).rsplit("/", 1)[-1]  # schema.org URLs: https://schema.org/InStock
    found = _AVAILABILITY.get(key) or _AVAILABILITY.get(key.replace("_", ""))
    if found is None:
        raise CatalogError(
            f"availability {value!r} is not one of {', '.join(AVAILABILITIES)} "
            "(Merchant Center spellings such as 'in stock' are accepted)",
            field="availability",
            where=where,
        )
    return found


def _list(value: object) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(t for v in value if (t := _text(v)))
    text = _text(value)
    if text is None:
        return ()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return tuple(t for v in parsed if (t := _text(v)))
    return tuple(part.strip() for part in text.split("|") if part.strip())


def _check_length(field: str, value: str, where: str) -> None:
    if len(value) > MAX_TEXT:
        raise CatalogError(
            f"{field} is {len(value)} characters; at most {MAX_TEXT}", field=field, where=where
        )


def to_product(
    record: Mapping[str, object],
    *,
    where: str,
    line: int | None,
    columns: Mapping[str, str] | None = None,
    extra_attributes: Mapping[str, str] | None = None,
    highlights: Sequence[str] = (),
) -> Product:
    """Validate one record into a Product; a CatalogError names ``where`` and the field."""
    mapped: dict[str, object] = {}
    attributes: dict[str, str] = dict(extra_attributes or {})
    options: dict[str, dict[str, str]] = {}
    own = {normalise_key(k): v for k, v in (columns or {}).items()}
    weak: dict[str, object] = {}
    for raw_key, value in record.items():
        key = normalise_key(str(raw_key))
        if key in WEAK_ALIASES and key not in own:
            weak[WEAK_ALIASES[key]] = value
            continue
        field = own.get(key) or ALIASES.get(key)
        option = _OPTION.match(key)
        if option is not None and field is None:
            text = _text(value)
            if text:
                options.setdefault(option.group(1), {})[option.group(2)] = text
            continue
        if field is not None:
            if field not in mapped or _text(mapped[field]) is None:
                mapped[field] = value
            continue
        text = _text(value)
        if text is not None and not isinstance(value, list | dict):
            _check_length(key, text, where)
            attributes[key] = text
    for name, value in weak.items():
        if _text(mapped.get(name)) is None:
            mapped[name] = value
    for pair in options.values():
        if "name" in pair and "value" in pair and pair["value"].casefold() != "default title":
            attributes[normalise_key(pair["name"])] = pair["value"]

    product_id = _text(mapped.get("id"))
    if product_id is None:
        raise CatalogError("id is missing; every product needs one", field="id", where=where)
    if len(product_id) > 200:
        raise CatalogError("id is longer than 200 characters", field="id", where=where)
    where = f"{where} (id {product_id!r})"
    title = _text(mapped.get("title"))
    if title is None:
        raise CatalogError("title is missing; every product needs one", field="title", where=where)
    description = _text(mapped.get("description")) or ""
    description = html_to_text(description)
    for name, text in (("title", title), ("description", description)):
        _check_length(name, text, where)

    price: float | None = None
    currency = _text(mapped.get("currency"))
    raw_price = mapped.get("price")
    if isinstance(raw_price, int | float) and not isinstance(raw_price, bool):
        price = _number(str(raw_price), field="price", where=where, hint='e.g. "19.99 USD"')
    elif (price_text := _text(raw_price)) is not None:
        price, stated = parse_price(price_text, where=where)
        currency = stated or currency
    if currency is not None:
        currency = currency.upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise CatalogError(
                f"currency {currency!r} is not an ISO 4217 code such as USD or EUR",
                field="currency",
                where=where,
            )

    availability_text = _text(mapped.get("availability"))
    availability = parse_availability(availability_text, where=where) if availability_text else None

    rating_text = _text(mapped.get("rating"))
    rating = (
        _number(rating_text, field="rating", where=where, hint="a rating from 0 to 5")
        if rating_text
        else None
    )
    if rating is not None and rating > 5:
        raise CatalogError(
            f"rating {rating_text!r} is above 5; ratings are on a 0-5 scale",
            field="rating",
            where=where,
        )
    count_text = _text(mapped.get("review_count"))
    count: int | None = None
    if count_text is not None:
        count_value = _number(count_text, field="review_count", where=where, hint="a count")
        if not count_value.is_integer():
            raise CatalogError(
                f"review_count {count_text!r} is not a whole number",
                field="review_count",
                where=where,
            )
        count = int(count_value)
    texts = _list(mapped.get("reviews"))
    reviews = (
        Reviews(rating=rating, count=count, texts=texts) if (rating or count or texts) else None
    )

    velocity_text = _text(mapped.get("sales_velocity"))
    velocity = (
        _number(velocity_text, field="sales_velocity", where=where, hint="units sold per month")
        if velocity_text
        else None
    )
    gtin = _text(mapped.get("gtin"))
    if gtin is not None and gtin.endswith(".0") and gtin[:-2].isdigit():
        gtin = gtin[:-2]  # a spreadsheet that stored the barcode as a float
    return Product(
        id=product_id,
        title=title,
        description=description,
        brand=_text(mapped.get("brand")),
        gtin=gtin,
        mpn=_text(mapped.get("mpn")),
        price=price,
        currency=currency,
        availability=availability,
        google_product_category=_text(mapped.get("google_product_category")),
        product_type=_text(mapped.get("product_type")),
        attributes=attributes,
        highlights=(*highlights, *_list(mapped.get("highlights"))),
        image_link=_text(mapped.get("image_link")),
        link=_text(mapped.get("link")),
        item_group_id=_text(mapped.get("item_group_id")),
        reviews=reviews,
        sales_velocity=velocity,
        line=line,
    )


def check_unique(products: Sequence[Product], *, unit: str = "line") -> None:
    seen: dict[str, int | None] = {}
    for product in products:
        if product.id in seen:
            first = seen[product.id]
            raise CatalogError(
                f"id {product.id!r} appears twice ({unit} {first} and {unit} {product.line}); "
                "ids must be unique within a catalog",
                field="id",
                where=f"{unit} {product.line}",
            )
        seen[product.id] = product.line
