"""Google Merchant Center XML feeds (RSS 2.0 ``<item>`` or Atom ``<entry>``, ``g:`` namespace).

Parsed with defusedxml: a feed with entity declarations (billion laughs, external entities) is
refused rather than expanded.
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from engine.surfacing.ingest.fields import check_unique, normalise_key, to_product
from engine.surfacing.product import MAX_PRODUCTS, CatalogError, Product

G = "{http://base.google.com/ns/1.0}"
ATOM = "{http://www.w3.org/2005/Atom}"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _item_record(item: Element) -> tuple[dict[str, object], dict[str, str], list[str]]:
    record: dict[str, object] = {}
    details: dict[str, str] = {}
    highlights: list[str] = []
    for child in item:
        name = _local(child.tag)
        if name == "product_highlight":
            if child.text and child.text.strip():
                highlights.append(child.text.strip())
            continue
        if name == "product_detail":
            parts = {_local(c.tag): (c.text or "").strip() for c in child}
            attribute, value = parts.get("attribute_name"), parts.get("attribute_value")
            if attribute and value:
                details[normalise_key(attribute)] = value
            continue
        if name == "link" and child.tag.startswith(ATOM):
            record.setdefault("link", child.get("href") or (child.text or "").strip())
            continue
        if name in ("shipping", "tax", "installment"):
            continue  # structured sub-elements the audit does not read
        text = (child.text or "").strip()
        if not text:
            continue
        # g:title wins over a plain <title> (RSS channels use both for different things).
        if child.tag.startswith(G) or name not in record:
            record[name if name != "summary" else "description"] = text
    return record, details, highlights


def from_merchant_xml(
    content: bytes, *, columns: Mapping[str, str] | None = None
) -> tuple[Product, ...]:
    try:
        root = fromstring(content, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise CatalogError(
            f"the feed declares XML entities, which are refused ({type(exc).__name__})",
            field="file",
        ) from None
    except ParseError as exc:
        raise CatalogError(f"not well-formed XML: {exc}", field="file") from None
    items = [e for e in root.iter() if _local(e.tag) in ("item", "entry")]
    if not items:
        raise CatalogError(
            "no <item> (RSS 2.0) or <entry> (Atom) elements: not a Merchant Center feed",
            field="file",
        )
    if len(items) > MAX_PRODUCTS:
        raise CatalogError(f"more than {MAX_PRODUCTS} products; split the feed", field="file")
    products: list[Product] = []
    for number, item in enumerate(items, start=1):
        record, details, highlights = _item_record(item)
        where = f"item {number}"
        products.append(
            to_product(
                record,
                where=where,
                line=number,
                columns=columns,
                extra_attributes=details,
                highlights=highlights,
            )
        )
    check_unique(products, unit="item")
    return tuple(products)
