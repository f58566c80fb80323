"""Identity: the fields every product needs, the brand, and a valid GTIN (or brand + MPN)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from stdnum import ean, gs1_128, isbn
from stdnum.exceptions import ValidationError

from engine.surfacing.checks._base import Context, advice
from engine.surfacing.checks._text import contains, quote
from engine.surfacing.checks.compose import with_brand
from engine.surfacing.findings import Fix
from engine.surfacing.rules import (
    BRAND_EXEMPT_TOP_LEVEL,
    GMC_BRAND,
    GMC_GTIN,
    GMC_GTIN_COUPON,
    GMC_GTIN_RESTRICTED,
    GMC_SPEC,
    GTIN_COUPON_PREFIXES,
    GTIN_LENGTHS,
    GTIN_RESTRICTED_PREFIXES,
    ID_MAX,
    OPENAI_FEED,
)

_REQUIRED = ("link", "image_link", "price", "availability")


def check_identity(ctx: Context) -> None:
    product = ctx.product
    if not product.id.strip():
        ctx.add(
            "missing_id",
            "high",
            "the product has no id; Merchant Center and the OpenAI feed require a unique one",
            "id: (empty)",
            GMC_SPEC,
            field="id",
            fix=advice("give the product a unique, stable id (its SKU)"),
        )
    elif len(product.id) > ID_MAX:
        ctx.add(
            "id_too_long",
            "medium",
            f"the id is {len(product.id)} characters; Merchant Center takes at most {ID_MAX}",
            quote(product.id),
            GMC_SPEC,
            field="id",
            fix=advice(f"use an id of at most {ID_MAX} characters (the SKU)"),
        )
    if not product.title.strip():
        ctx.add(
            "missing_title",
            "high",
            "the product has no title; every product needs one",
            "title: (empty)",
            GMC_SPEC,
            field="title",
            fix=advice("write a title: brand, product type and distinguishing attributes"),
        )
    for name in _REQUIRED:
        value = getattr(product, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            ctx.add(
                f"missing_{name}",
                "high",
                f"{name} is missing; Merchant Center disapproves a product without it and the "
                "OpenAI feed requires it",
                f"{name}: (empty)",
                GMC_SPEC,
                field=name,
                fix=advice(f"add the product's {name.replace('_', ' ')}"),
            )
    for name in ("link", "image_link"):
        url = getattr(product, name)
        if url and url.strip() and not _is_web_url(url):
            ctx.add(
                f"{name}_invalid",
                "high",
                f"{name} is not an http(s) address",
                quote(url),
                GMC_SPEC,
                field=name,
                fix=advice(f"give {name} as a full https:// address"),
            )
    if product.price is not None and not product.price > 0:
        ctx.add(
            "price_invalid",
            "high",
            "the price is not a positive amount",
            f"price: {product.price}",
            GMC_SPEC,
            field="price",
            fix=advice("give the product's selling price"),
        )
    if product.price is not None and not (product.currency or "").strip():
        ctx.add(
            "missing_currency",
            "high",
            "the price has no currency (ISO 4217 code); Merchant Center requires one",
            f"price: {product.price}, currency: (empty)",
            GMC_SPEC,
            field="currency",
            fix=advice("add the price's currency (USD, EUR…)"),
        )
    _check_brand(ctx)
    _check_gtin(ctx)


def _is_web_url(url: str) -> bool:
    parts = urlsplit(url.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in url.strip()


def _check_brand(ctx: Context) -> None:
    product = ctx.product
    brand = (product.brand or "").strip()
    if ctx.category is not None and ctx.category.top_level == BRAND_EXEMPT_TOP_LEVEL:
        return  # books, music and films need no brand
    if not brand:
        page_brand = (product.markup.brand or "").strip() if product.markup else ""
        ctx.add(
            "missing_brand",
            "medium",
            "brand is missing; Merchant Center requires it for new products (bar movies, books "
            "and music) and shoppers and AI answers match on it",
            "brand: (empty)"
            + (f"; the page's markup names {quote(page_brand)}" if page_brand else ""),
            GMC_BRAND,
            field="brand",
            fix=Fix(
                f"set brand to the page markup's brand {quote(page_brand)}",
                {"brand": page_brand},
                mechanical=True,
            )
            if page_brand
            else advice("add the manufacturer's brand"),
        )
        return
    if product.title.strip() and not contains(product.title, brand, ctx.language):
        ctx.add(
            "brand_not_in_title",
            "low",
            "the title does not name the brand; Merchant Center's title guidance and Amazon's "
            "title requirements put it first",
            f"brand {quote(brand)}; title {quote(product.title)}",
            GMC_BRAND,
            field="title",
            fix=Fix(
                "start the title with the brand",
                {"title": with_brand(product.title, brand)},
                mechanical=True,
            ),
        )


def _gtin_digits(raw: str) -> tuple[str, str | None]:
    """The GTIN's digits, and a note when they had to be read out of another notation."""
    value = raw.strip()
    if value.startswith("(") or value.startswith("]C1"):
        try:
            info = gs1_128.info(value)
        except ValidationError:
            return value, None
        gtin = info.get("01")  # application identifier 01 is the GTIN
        if isinstance(gtin, str):
            return gtin, f"a GS1-128 element string holding GTIN {gtin}"
    return ean.compact(value), None


def _check_gtin(ctx: Context) -> None:
    product = ctx.product
    raw = (product.gtin or "").strip()
    if not raw:
        if not (product.brand and (product.mpn or "").strip()):
            ctx.add(
                "missing_identifier",
                "medium",
                "no GTIN and no brand + MPN: the product cannot be matched to the catalog entry "
                "engines know it by",
                f"gtin: (empty), brand: {product.brand or '(empty)'}, "
                f"mpn: {product.mpn or '(empty)'}",
                GMC_GTIN,
                field="gtin",
                fix=advice("add the GTIN from the barcode (or the brand and the MPN)"),
            )
        return
    digits, note = _gtin_digits(raw)

    def flag(check: str, message: str, evidence: str) -> None:
        ctx.add(
            check,
            "high",
            message,
            f"gtin {quote(raw)}: {evidence}",
            GMC_GTIN,
            field="gtin",
            fix=advice("submit the GTIN printed under the product's barcode"),
        )

    if note is not None:
        ctx.add(
            "gtin_format",
            "medium",
            "the GTIN field holds another notation; submit the bare GTIN digits",
            f"gtin {quote(raw)}: {note}",
            GMC_GTIN,
            field="gtin",
            fix=advice(f"submit {digits}"),
        )
    elif digits != raw:
        ctx.add(
            "gtin_format",
            "low",
            "the GTIN has spaces or dashes; submit digits only",
            f"gtin {quote(raw)} is {digits} without them",
            OPENAI_FEED,
            field="gtin",
            fix=advice(f"submit {digits}"),
        )
    if not digits.isdigit():
        isbn10 = _isbn10(digits)
        flag(
            "gtin_invalid_format",
            "a GTIN is digits only",
            f"ISBN-10 {digits}; its GTIN is the ISBN-13 {isbn10}"
            if isbn10
            else f"{digits!r} holds characters other than digits",
        )
        return
    if len(digits) not in GTIN_LENGTHS:
        isbn10 = _isbn10(digits)
        flag(
            "gtin_invalid_length",
            "a GTIN has 8, 12, 13 or 14 digits",
            f"ISBN-10 {digits}; its GTIN is the ISBN-13 {isbn10}"
            if isbn10
            else f"{len(digits)} digits",
        )
        return
    if set(digits) == {"0"}:
        flag("gtin_all_zeros", "a GTIN of zeros identifies nothing", f"{len(digits)} zeros")
        return
    expected = ean.calc_check_digit(digits[:-1])
    if expected != digits[-1]:
        flag(
            "gtin_check_digit",
            "the GTIN's check digit is wrong (a mistyped or invented number); Merchant Center "
            "disapproves invalid GTINs",
            f"last digit {digits[-1]}, but the GS1 mod-10 check digit of {digits[:-1]} is "
            f"{expected}",
        )
        return
    if len(digits) == 8:
        return  # GTIN-8 prefixes are a separate GS1 range; Google states no rule for them
    prefix_part = digits.zfill(14)[1:]  # drop the GTIN-14 packaging indicator
    restricted = next((p for p in GTIN_RESTRICTED_PREFIXES if prefix_part.startswith(p)), None)
    coupon = next((p for p in GTIN_COUPON_PREFIXES if prefix_part.startswith(p)), None)
    if restricted:
        ctx.add(
            "gtin_restricted_prefix",
            "high",
            "the GTIN is in a GS1 range restricted to in-store and internal numbers, which "
            "Merchant Center does not accept",
            f"gtin {quote(raw)}: prefix {restricted} (as GTIN-13 {prefix_part})",
            GMC_GTIN_RESTRICTED,
            field="gtin",
            fix=advice("submit the manufacturer's GTIN, or leave gtin empty if it has none"),
        )
    elif coupon:
        ctx.add(
            "gtin_coupon_prefix",
            "high",
            "the GTIN is in the GS1 coupon range, not a product's number",
            f"gtin {quote(raw)}: prefix {coupon} (as GTIN-13 {prefix_part})",
            GMC_GTIN_COUPON,
            field="gtin",
            fix=advice("submit the manufacturer's GTIN, or leave gtin empty if it has none"),
        )


def _isbn10(value: str) -> str | None:
    """The ISBN-13 of ``value`` when it is a valid ISBN-10 (a book's GTIN is its ISBN-13)."""
    if len(value) != 10 or not re.fullmatch(r"\d{9}[\dXx]", value):
        return None
    try:
        return isbn.to_isbn13(isbn.validate(value))
    except ValidationError:
        return None
