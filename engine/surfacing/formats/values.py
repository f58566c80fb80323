"""One raw value (a CSV cell, a JSON value, a feed element's text) -> a checked field value.

Every parser raises :class:`CatalogError` naming ``field`` and ``where`` and saying what was
expected; nothing is coerced silently (a decimal comma, a currency symbol or a rating out of
range is refused, never guessed at).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal

import html_text

from engine.surfacing import product as product_module
from engine.surfacing.formats.currencies import ISO_4217
from engine.surfacing.product import AVAILABILITIES, Availability, CatalogError

MAX_ID = 200  # characters; Merchant Center allows 50, other systems use longer keys

_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+"
_MONEY = re.compile(
    rf"^(?P<before>[A-Za-z]{{3}})?\s*(?P<sign>-)?(?P<amount>{_NUMBER})\s*(?P<after>[A-Za-z]{{3}})?$"
)
_PLAIN_NUMBER = re.compile(rf"^(?P<sign>-)?(?P<amount>{_NUMBER})$")
_SYMBOLS = "$€£¥₹₩₽₺₪₫฿"
_LOOKS_LIKE_HTML = re.compile(r"<[A-Za-z/!]|&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);")

# Merchant Center spellings ("in stock", "in_stock"), schema.org ItemAvailability names (after
# dropping "https://schema.org/"), WooCommerce's stock statuses.
_AVAILABILITY: Mapping[str, Availability] = {
    "instock": "in_stock",
    "outofstock": "out_of_stock",
    "preorder": "preorder",
    "backorder": "backorder",
    "onbackorder": "backorder",
    "availablefororder": "in_stock",  # Merchant Center's retired spelling of "in stock"
    "limitedavailability": "in_stock",
    "onlineonly": "in_stock",
    "instoreonly": "in_stock",
    "discontinued": "out_of_stock",
    "soldout": "out_of_stock",
    "presale": "preorder",
    "madetoorder": "backorder",
}


def quoted(value: object, limit: int = 60) -> str:
    text = str(value)
    return f'"{text[:limit]}…"' if len(text) > limit else f'"{text}"'


def is_empty(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True  # a Parquet or polars null
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict):
        return not value
    return False


def scalar_text(value: object, *, field: str, where: str) -> str | None:
    """A scalar as text: strings stripped, whole floats without ".0" (a spreadsheet that stored
    an id or a barcode as a number), dates in ISO form. Lists and objects are refused."""
    if is_empty(value):
        return None
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | Decimal):
        text = str(value)
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    elif isinstance(value, dt.date | dt.datetime | dt.time):
        text = value.isoformat()
    else:
        kind = "a list" if isinstance(value, list | tuple) else type(value).__name__
        raise CatalogError(
            f"{field} holds {kind}; expected one text or number value", field=field, where=where
        )
    check_text(text, field=field, where=where)
    return text


def check_text(text: str, *, field: str, where: str) -> None:
    limit = product_module.MAX_TEXT
    if len(text) > limit:
        raise CatalogError(
            f"{field} is {len(text)} characters long; at most {limit} are accepted",
            field=field,
            where=where,
        )
    if "\x00" in text:
        raise CatalogError(
            f"{field} contains a NUL character; expected text", field=field, where=where
        )


def identifier(value: object, *, where: str) -> str:
    text = scalar_text(value, field="id", where=where)
    if text is None:
        raise CatalogError(
            "id is missing; every product needs a unique id (e.g. its SKU)",
            field="id",
            where=where,
        )
    if len(text) > MAX_ID:
        raise CatalogError(
            f"id is {len(text)} characters long; at most {MAX_ID}", field="id", where=where
        )
    return text


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment, block elements as line breaks (descriptions often
    arrive as HTML). Text without tags or entities is returned stripped, unparsed."""
    if not _LOOKS_LIKE_HTML.search(html):
        return html.strip()
    return str(html_text.extract_text(html, guess_layout=True)).strip()


def currency_code(value: str, *, field: str, where: str) -> str:
    code = value.strip().upper()
    if code not in ISO_4217:
        raise CatalogError(
            f"currency {quoted(value)} is not an ISO 4217 code; expected e.g. USD, EUR or GBP",
            field=field,
            where=where,
        )
    return code


def money(value: object, *, field: str, where: str) -> tuple[float, str | None] | None:
    """ "19.99", "19.99 USD", "USD 19.99", "1,299.00 EUR", or a JSON number -> (amount,
    currency or None). Negative amounts, decimal commas and currency symbols are refused."""
    if is_empty(value):
        return None
    expected = 'expected e.g. "19.99" or "19.99 USD"'
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        amount = float(value)
        if not math.isfinite(amount):
            raise CatalogError(
                f"{field} {quoted(value)} is not a number; {expected}", field=field, where=where
            )
        return _non_negative_amount(amount, value, field=field, where=where), None
    text = scalar_text(value, field=field, where=where) or ""
    match = _MONEY.match(text)
    if match is None:
        hint = expected
        if any(symbol in text for symbol in _SYMBOLS):
            hint += " (an ISO 4217 code, not a currency symbol)"
        elif re.search(r"\d,\d{1,2}(?!\d)", text):
            hint += " (a dot for decimals)"
        raise CatalogError(
            f"{field} {quoted(text)} is not a number; {hint}", field=field, where=where
        )
    if match.group("before") and match.group("after"):
        raise CatalogError(
            f"{field} {quoted(text)} names two currencies; {expected}", field=field, where=where
        )
    amount = float(match.group("amount").replace(",", ""))
    if match.group("sign"):
        amount = -amount
    code = match.group("before") or match.group("after")
    currency = currency_code(code, field=field, where=where) if code else None
    return _non_negative_amount(amount, text, field=field, where=where), currency


def _non_negative_amount(amount: float, raw: object, *, field: str, where: str) -> float:
    if amount < 0:
        raise CatalogError(
            f"{field} {quoted(raw)} is negative; expected an amount of 0 or more",
            field=field,
            where=where,
        )
    return amount


def number(value: object, *, field: str, where: str, expected: str) -> float | None:
    """A finite number (JSON number or text such as "4.5" or "1,200")."""
    if is_empty(value):
        return None
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        result = float(value)
    else:
        text = scalar_text(value, field=field, where=where) or ""
        match = _PLAIN_NUMBER.match(text)
        if match is None:
            raise CatalogError(
                f"{field} {quoted(text)} is not a number; expected {expected}",
                field=field,
                where=where,
            )
        result = float(match.group("amount").replace(",", ""))
        if match.group("sign"):
            result = -result
    if not math.isfinite(result):
        raise CatalogError(
            f"{field} {quoted(value)} is not a number; expected {expected}",
            field=field,
            where=where,
        )
    return result


def rating(value: object, *, where: str) -> float | None:
    found = number(value, field="rating", where=where, expected='a rating from 0 to 5, e.g. "4.5"')
    if found is not None and not 0 <= found <= 5:
        raise CatalogError(
            f"rating {quoted(value)} is outside 0-5; expected an average rating on a 0-5 scale",
            field="rating",
            where=where,
        )
    return found


def count(value: object, *, field: str, where: str) -> int | None:
    found = number(value, field=field, where=where, expected='a whole number, e.g. "12"')
    if found is None:
        return None
    if found < 0 or not found.is_integer():
        raise CatalogError(
            f'{field} {quoted(value)} is not a whole number of 0 or more; expected e.g. "12"',
            field=field,
            where=where,
        )
    return int(found)


def non_negative(value: object, *, field: str, where: str, expected: str) -> float | None:
    found = number(value, field=field, where=where, expected=expected)
    if found is not None and found < 0:
        raise CatalogError(
            f"{field} {quoted(value)} is negative; expected {expected}", field=field, where=where
        )
    return found


def availability(value: object, *, field: str = "availability", where: str) -> Availability:
    text = scalar_text(value, field=field, where=where) or ""
    key = re.sub(r"[\s_\-]", "", text.rsplit("/", 1)[-1].casefold())
    found = _AVAILABILITY.get(key)
    if found is None:
        raise CatalogError(
            f"{field} {quoted(text)} is not a known availability; expected one of "
            f'{", ".join(AVAILABILITIES)} (Merchant Center spellings such as "in stock" and '
            'schema.org values such as "https://schema.org/InStock" are accepted)',
            field=field,
            where=where,
        )
    return found


def text_list(value: object, *, field: str, where: str) -> tuple[str, ...]:
    """A list of texts: a JSON list (or a cell holding one), else one cell split on "|"."""
    if is_empty(value):
        return ()
    items: list[object]
    if isinstance(value, list | tuple):
        items = list(value)
    else:
        text = scalar_text(value, field=field, where=where) or ""
        parsed: object = None
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                parsed = None  # a text that merely starts with "[": split it like any other
        items = list(parsed) if isinstance(parsed, list) else list(text.split("|"))
    texts = (scalar_text(item, field=field, where=where) for item in items)
    return tuple(t for t in texts if t)
