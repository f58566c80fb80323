"""Google Merchant Center XML feeds: RSS 2.0 (``<rss><channel><item>``) or Atom (``<feed>
<entry>``), product fields as ``g:`` elements (``xmlns:g="http://base.google.com/ns/1.0"``).

Read: the ``g:`` elements (and custom ``c:`` ones, namespace ``http://base.google.com/cns/
1.0``), the plain RSS/Atom ``title``, ``link`` (Atom's ``href``) and ``description`` /
``summary`` / ``content``, which a ``g:`` element of the same name overrides. Repeated
``g:product_highlight`` elements are the highlights; each ``g:product_detail``
(``g:section_name``, ``g:attribute_name``, ``g:attribute_value``) becomes an attribute. Other
structured elements (``g:shipping``, ``g:tax``, ``g:installment``...) are not read, nor are
elements of other namespaces (``guid``, ``pubDate``, ``atom:updated``...).

Parsed with defusedxml: a feed that declares entities (the "billion laughs" expansion) or
refers to external ones is refused, not expanded.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException, EntitiesForbidden
from defusedxml.ElementTree import fromstring

from engine.surfacing.formats.fields import ColumnMap
from engine.surfacing.formats.records import Located, check_count, to_products
from engine.surfacing.formats.values import quoted
from engine.surfacing.product import CatalogError, Product

G = "http://base.google.com/ns/1.0"
CUSTOM = "http://base.google.com/cns/1.0"
ATOM = "http://www.w3.org/2005/Atom"
_PLAIN = {"title": "title", "link": "link", "description": "description"}
_ATOM_TEXT = {"title": "title", "summary": "description", "content": "description"}
_ALWAYS_LISTS = frozenset({"product_highlight", "additional_image_link", "product_detail"})


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def _parse(content: bytes) -> Element:
    try:
        root: Element = fromstring(
            content, forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
    except EntitiesForbidden:
        raise CatalogError(
            "the feed declares XML entities (<!ENTITY ...>), which are refused: expanding them "
            "can exhaust memory (the billion laughs attack); a Merchant Center feed needs none",
            field="file",
        ) from None
    except DefusedXmlException as exc:
        raise CatalogError(
            f"the feed refers to external XML resources ({type(exc).__name__}), which are "
            "refused; a Merchant Center feed needs none",
            field="file",
        ) from None
    except ParseError as exc:
        line, _ = exc.position
        raise CatalogError(
            f"not well-formed XML ({exc.msg}); expected a Merchant Center RSS 2.0 or Atom feed",
            field="file",
            where=f"line {line}",
        ) from None
    return root


def _items(root: Element) -> tuple[list[Element], bool]:
    namespace, name = _split(root.tag)
    if name == "rss" and not namespace:
        channels = [c for c in root if _split(c.tag) == ("", "channel")]
        return [i for c in channels for i in c if _split(i.tag) == ("", "item")], False
    if name == "feed" and namespace in (ATOM, ""):
        return [e for e in root if _split(e.tag) == (namespace, "entry")], True
    raise CatalogError(
        f"the root element is <{name}>; expected <rss> (RSS 2.0) or <feed> (Atom) of a "
        "Merchant Center feed",
        field="file",
    )


def _detail(element: Element) -> dict[str, str]:
    parts = {_split(c.tag)[1]: (c.text or "").strip() for c in element}
    return {
        k: parts[k] for k in ("section_name", "attribute_name", "attribute_value") if k in parts
    }


def _record(item: Element, atom: bool) -> dict[str, object]:
    found: dict[str, list[object]] = {}
    plain: dict[str, str] = {}
    for child in item:
        namespace, name = _split(child.tag)
        if namespace in (G, CUSTOM):
            if name == "product_detail":
                found.setdefault(name, []).append(_detail(child))
            elif len(child):
                continue  # g:shipping, g:tax...: structured fields no stage reads
            elif text := (child.text or "").strip():
                found.setdefault(name, []).append(text)
        elif atom and namespace in (ATOM, ""):
            if name == "link":
                href = (child.get("href") or "").strip()
                if href and child.get("rel", "alternate") == "alternate":
                    plain.setdefault("link", href)
            elif name in _ATOM_TEXT and (text := (child.text or "").strip()):
                plain.setdefault(_ATOM_TEXT[name], text)
        elif not atom and not namespace and name in _PLAIN and (text := (child.text or "").strip()):
            plain.setdefault(_PLAIN[name], text)
    record: dict[str, object] = {
        name: values if name in _ALWAYS_LISTS or len(values) > 1 else values[0]
        for name, values in found.items()
    }
    for name, text in plain.items():
        record.setdefault(name, text)  # a g: element of the same name wins
    return record


def from_merchant_xml(content: bytes, *, columns: ColumnMap) -> tuple[Product, ...]:
    if not content.strip():
        raise CatalogError("the file is empty", field="file")
    root = _parse(content)
    items, atom = _items(root)
    if not any(_split(e.tag)[0] == G for e in root.iter()):
        raise CatalogError(
            f'the feed has no g: elements (xmlns:g="{G}"); expected a Merchant Center feed',
            field="file",
        )
    check_count(len(items))
    records: list[Located] = []
    for number, item in enumerate(items, start=1):
        record = _record(item, atom)
        item_id = record.get("id")
        where = (
            f"item {number} (id {quoted(item_id)})"
            if isinstance(item_id, str)
            else f"item {number}"
        )
        records.append(Located(values=record, where=where, line=number))
    columns.check_present({key for record in records for key in record.values})
    return to_products(records, columns)
