"""One record (column or key -> raw value) -> a validated :class:`Product`, and the checks that
span a whole upload (unique ids, the product limit, UTF-8)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.surfacing import product as product_module
from engine.surfacing.formats import values as v
from engine.surfacing.formats.fields import ColumnMap, Target, normalise_key
from engine.surfacing.product import CatalogError, Product, Reviews

# Merchant Center fields with sub-fields that no surfacing stage reads; they are skipped
# rather than flattened into attributes.
STRUCTURED_SKIPPED = frozenset(
    {
        "shipping",
        "tax",
        "installment",
        "loyalty_points",
        "loyalty_program",
        "subscription_cost",
        "certification",
        "free_shipping_threshold",
        "cloud_export_additional_properties",
    }
)

RAW_HTML_FACTOR = 4  # an HTML description may be this many times MAX_TEXT before conversion


@dataclass(frozen=True)
class Located:
    """A record and where it came from: ``where`` is what errors say ("line 12", 'item 5 (id
    "sku-9")'); ``line`` is kept on the product (1-based line, row or item number)."""

    values: Mapping[str, object]
    where: str
    line: int


def decode_utf8(content: bytes) -> str:
    """UTF-8, a byte-order mark dropped; anything else is refused, never guessed."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise CatalogError(
            f"the file is not UTF-8 text: byte {exc.start} (0x{content[exc.start]:02x}) on line "
            f"{line} cannot be decoded; save the file as UTF-8",
            field="file",
            where=f"line {line}",
        ) from None


def check_count(count: int) -> None:
    limit = product_module.MAX_PRODUCTS
    if count > limit:
        raise CatalogError(
            f"more than {limit} products; split the catalog into uploads of at most {limit}",
            field="file",
        )


def check_unique(products: Sequence[Product], wheres: Sequence[str]) -> None:
    seen: dict[str, str] = {}
    for product, where in zip(products, wheres, strict=True):
        if product.id in seen:
            raise CatalogError(
                f"id {v.quoted(product.id)} appears twice ({seen[product.id]} and {where}); "
                "ids must be unique within a catalog",
                field="id",
                where=where,
            )
        seen[product.id] = where


def to_products(records: Sequence[Located], columns: ColumnMap) -> tuple[Product, ...]:
    check_count(len(records))
    if not records:
        raise CatalogError("the file holds no products", field="file")
    products = tuple(
        to_product(r.values, where=r.where, line=r.line, columns=columns) for r in records
    )
    check_unique(products, [r.where for r in records])
    return products


def to_product(
    record: Mapping[str, object],
    *,
    where: str,
    line: int,
    columns: ColumnMap,
    highlights: Sequence[str] = (),
    attributes: Mapping[str, str] | None = None,
) -> Product:
    """Validate one record; the first problem raises a CatalogError naming ``where`` and the
    canonical field (or the column's own name, for an attribute)."""
    chosen: dict[str, tuple[Target, object]] = {}
    losers: list[tuple[Target, object]] = []
    options: dict[str, dict[str, str]] = {}
    for column, value in record.items():
        if v.is_empty(value):
            continue
        target = columns.resolve(str(column))
        if target.kind == "option":
            number, part = target.name.split(":")
            text = v.scalar_text(value, field=str(column), where=where)
            options.setdefault(number, {})[part] = text or ""
            continue
        held = chosen.get(target.name)
        if held is None:
            chosen[target.name] = (target, value)
        elif target.priority < held[0].priority:
            losers.append(held)
            chosen[target.name] = (target, value)
        else:
            losers.append((target, value))

    attrs: dict[str, str] = dict(attributes or {})
    fields: dict[str, object] = {}
    for name, (target, value) in chosen.items():
        if target.kind == "field":
            fields[name] = value
        else:
            _set_attribute(attrs, name, value, column=target.key, where=where)
    for target, value in losers:
        if target.key not in attrs:
            _set_attribute(attrs, target.key, value, column=target.key, where=where)
    for pair in options.values():
        option, chosen_value = pair.get("name"), pair.get("value")
        # Shopify's single-variant placeholder: Option1 Name "Title", Value "Default Title".
        if option and chosen_value and chosen_value.casefold() != "default title":
            attrs.setdefault(normalise_key(option), chosen_value)
    return _build(fields, attrs, highlights=highlights, where=where, line=line)


def _set_attribute(
    attrs: dict[str, str], key: str, value: object, *, column: str, where: str
) -> None:
    if key in STRUCTURED_SKIPPED:
        return
    if isinstance(value, Mapping) or (
        isinstance(value, list | tuple) and any(isinstance(i, Mapping | list) for i in value)
    ):
        raise CatalogError(
            f"{column} holds a nested object; expected text, a number or a list of texts",
            field=column,
            where=where,
        )
    if isinstance(value, list | tuple):
        text = ", ".join(v.text_list(value, field=column, where=where))
        v.check_text(text, field=column, where=where)
    else:
        text = v.scalar_text(value, field=column, where=where) or ""
    if text:
        attrs[key] = text


def _details(value: object, *, where: str) -> dict[str, str]:
    """Merchant Center's product_detail: objects with section_name / attribute_name /
    attribute_value (JSON), or "section:attribute:value" texts separated by "|"."""
    items: list[object]
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("[", "{"):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                parsed = None  # not JSON after all: read it as text below
            if isinstance(parsed, list | dict):
                return _details(parsed, where=where)
        items = [chunk for chunk in text.split("|") if chunk.strip()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        items = [value]
    found: dict[str, str] = {}
    for item in items:
        if isinstance(item, Mapping):
            name, detail = item.get("attribute_name"), item.get("attribute_value")
        else:
            pieces = (v.scalar_text(item, field="product_detail", where=where) or "").split(":", 2)
            name, detail = (pieces[-2], pieces[-1]) if len(pieces) >= 2 else (None, None)
        name_text = v.scalar_text(name, field="product_detail", where=where)
        detail_text = v.scalar_text(detail, field="product_detail", where=where)
        if not name_text or not detail_text:
            raise CatalogError(
                f"product_detail {v.quoted(item)} lacks an attribute name or value; expected "
                '"section:attribute:value" (e.g. "General:Material:Oak") or objects with '
                "attribute_name and attribute_value",
                field="product_detail",
                where=where,
            )
        found[normalise_key(name_text)] = detail_text
    return found


def _description(value: object, *, where: str) -> str:
    """The description as text, its length measured after HTML is converted (markup can
    be several times the text); the raw HTML is bounded too, so no huge page is parsed."""
    if isinstance(value, str):
        limit = RAW_HTML_FACTOR * product_module.MAX_TEXT
        if len(value) > limit:
            raise CatalogError(
                f"description is {len(value)} characters long; at most {limit} (as HTML) are "
                "accepted",
                field="description",
                where=where,
            )
        text = v.html_to_text(value)
        v.check_text(text, field="description", where=where)
        return text
    return v.scalar_text(value, field="description", where=where) or ""


def _build(
    fields: Mapping[str, object],
    attrs: dict[str, str],
    *,
    highlights: Sequence[str],
    where: str,
    line: int,
) -> Product:
    product_id = v.identifier(fields.get("id"), where=where)
    title = v.scalar_text(fields.get("title"), field="title", where=where)
    if title is None:
        raise CatalogError(
            f"title is missing (id {v.quoted(product_id)}); every product needs a title",
            field="title",
            where=where,
        )
    description = _description(fields.get("description"), where=where)

    price: float | None = None
    currency: str | None = None
    if (given := v.scalar_text(fields.get("currency"), field="currency", where=where)) is not None:
        currency = v.currency_code(given, field="currency", where=where)
    if (parsed := v.money(fields.get("price"), field="price", where=where)) is not None:
        price, stated = parsed
        if stated is not None and currency is not None and stated != currency:
            raise CatalogError(
                f"price is in {stated} but currency says {currency}; expected one currency",
                field="currency",
                where=where,
            )
        currency = stated or currency
    if "sale_price" in fields:
        v.money(fields["sale_price"], field="sale_price", where=where)
        attrs["sale_price"] = (
            v.scalar_text(fields["sale_price"], field="sale_price", where=where) or ""
        )
    if "additional_image_link" in fields:
        links = v.text_list(
            fields["additional_image_link"], field="additional_image_link", where=where
        )
        if len(links) == 1 and "," in links[0]:
            links = tuple(p.strip() for p in links[0].split(",") if p.strip())  # text feeds
        attrs["additional_image_link"] = ", ".join(links)
    if "product_detail" in fields:
        attrs.update(_details(fields["product_detail"], where=where))
    for key, text in attrs.items():
        v.check_text(text, field=key, where=where)

    availability = None
    if not v.is_empty(fields.get("availability")):
        availability = v.availability(fields["availability"], where=where)
    rating = v.rating(fields.get("rating"), where=where)
    review_count = v.count(fields.get("review_count"), field="review_count", where=where)
    texts = v.text_list(fields.get("reviews"), field="reviews", where=where)
    reviews = (
        Reviews(rating=rating, count=review_count, texts=texts)
        if rating is not None or review_count is not None or texts
        else None
    )
    velocity = v.non_negative(
        fields.get("sales_velocity"),
        field="sales_velocity",
        where=where,
        expected='units sold per month, e.g. "12" or "3.5"',
    )

    def field_text(name: str) -> str | None:
        return v.scalar_text(fields.get(name), field=name, where=where)

    return Product(
        id=product_id,
        title=title,
        description=description,
        brand=field_text("brand"),
        gtin=field_text("gtin"),
        mpn=field_text("mpn"),
        price=price,
        currency=currency,
        availability=availability,
        google_product_category=field_text("google_product_category"),
        product_type=field_text("product_type"),
        attributes=attrs,
        highlights=(
            *highlights,
            *v.text_list(fields.get("highlights"), field="highlights", where=where),
        ),
        image_link=field_text("image_link"),
        link=field_text("link"),
        item_group_id=field_text("item_group_id"),
        reviews=reviews,
        sales_velocity=velocity,
        line=line,
    )
