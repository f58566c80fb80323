"""Catalog uploads in every supported format -> validated canonical products.

Formats: CSV (and tab-separated Merchant Center text feeds), JSON Lines (or one JSON array),
Parquet, Merchant Center XML (RSS 2.0 / Atom) and HTML product pages (schema.org Product
markup); JSON request bodies through :func:`products_from_rows`. Column names, aliases and
value rules are in :mod:`~engine.surfacing.formats.fields` and
:mod:`~engine.surfacing.formats.values`.

Everything is validated before anything is returned: the first problem raises
:class:`~engine.surfacing.product.CatalogError`, whose ``where`` names the record (``line 12``
for CSV and JSON Lines, the header being line 1; ``row 3`` for Parquet, JSON arrays and JSON
rows; ``item 5 (id "sku-9")`` for feeds; ``page.html, product 2 (id "sku-1")`` for pages;
None for the file as a whole) and whose ``field`` names the canonical field, the user's own
column when it could not be mapped, ``file`` for the upload as a whole, ``columns`` for a bad
``columns`` mapping and ``products`` for a JSON body's list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Literal

from engine.surfacing.formats.fields import ColumnMap
from engine.surfacing.formats.merchant_feed import G, from_merchant_xml
from engine.surfacing.formats.pages import from_html
from engine.surfacing.formats.tabular import from_csv, from_jsonl, from_parquet, from_rows
from engine.surfacing.formats.values import html_to_text
from engine.surfacing.product import CatalogError, Product

__all__ = [
    "CatalogFormat",
    "detect_format",
    "html_to_text",
    "parse_catalog",
    "products_from_rows",
]

CatalogFormat = Literal["csv", "jsonl", "parquet", "merchant_xml", "html"]

_EXTENSIONS: Mapping[str, CatalogFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",  # Merchant Center's tab-separated text feeds
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",  # one JSON array of products
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xml": "merchant_xml",
    ".rss": "merchant_xml",
    ".atom": "merchant_xml",
    ".html": "html",
    ".htm": "html",
}
_CONTENT_TYPES: Mapping[str, CatalogFormat] = {
    "text/csv": "csv",
    "text/tab-separated-values": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/json": "jsonl",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/rss+xml": "merchant_xml",
    "application/atom+xml": "merchant_xml",
    "text/html": "html",
    "application/xhtml+xml": "html",
}
_UNSUPPORTED = {
    ".xlsx": "an Excel workbook",
    ".xls": "an Excel workbook",
    ".ods": "a spreadsheet",
    ".numbers": "a Numbers spreadsheet",
    ".zip": "a ZIP archive",
    ".gz": "a compressed file",
}
_FIRST_ELEMENT = re.compile(rb"<(?![?!])(?:[\w.-]+:)?([\w.-]+)")
_EXPORT_HINT = "export the catalog as CSV, JSON Lines, Parquet or a Merchant Center XML feed"


def detect_format(
    content: bytes, *, filename: str | None = None, content_type: str | None = None
) -> CatalogFormat:
    """The format of an upload: the file name's extension, then the content type, then the
    content itself (Parquet's ``PAR1``, an ``<rss>``/``<feed>`` root with the ``g:``
    namespace, an ``<html>`` root, a leading ``{`` or ``[``; anything else textual is CSV).
    Unsupported or unrecognisable files raise CatalogError (field ``file``)."""
    if filename:
        suffix = PurePath(filename).suffix.lower()
        if suffix in _UNSUPPORTED:
            raise CatalogError(
                f"{filename} is {_UNSUPPORTED[suffix]}, which is not read; {_EXPORT_HINT}",
                field="file",
            )
        if found := _EXTENSIONS.get(suffix):
            return found
    if content_type and (found := _CONTENT_TYPES.get(content_type.split(";")[0].strip().lower())):
        return found
    return _sniff(content)


def _sniff(content: bytes) -> CatalogFormat:
    head = content[:8192].removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head:
        raise CatalogError("the file is empty", field="file")
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith((b"PK\x03\x04", b"\x1f\x8b")) or b"\x00" in head:
        raise CatalogError(f"a binary file of no supported format; {_EXPORT_HINT}", field="file")
    if head.startswith(b"<"):
        root = _FIRST_ELEMENT.search(head)
        name = root.group(1).lower() if root else b""
        if name == b"html":
            return "html"
        if name in (b"rss", b"feed") and G.encode() in head:
            return "merchant_xml"
        raise CatalogError(
            f"an XML or HTML file whose root is <{name.decode(errors='replace')}>, neither a "
            "Merchant Center feed (<rss> or <feed> with the g: namespace) nor an HTML page; "
            "name the format explicitly if it is one",
            field="file",
        )
    if head.startswith((b"{", b"[")):
        return "jsonl"
    return "csv"


def parse_catalog(
    content: bytes,
    *,
    format: CatalogFormat | None = None,
    filename: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> tuple[Product, ...]:
    """The products of one uploaded file. ``columns`` maps the user's own column (or key, or
    feed element) names to canonical field names, e.g. ``{"Product Name": "title"}``; any
    column neither mapped nor known becomes an attribute (lower-case key) unless it is empty.
    HTML pages take no ``columns``; ``filename`` names the page in errors."""
    chosen = format or detect_format(content, filename=filename)
    if chosen == "html":
        if columns:
            raise CatalogError(
                "columns apply to CSV, JSON Lines, Parquet and feeds, not to HTML pages "
                "(their schema.org markup names its fields)",
                field="columns",
            )
        return from_html(content, filename=filename)
    mapping = ColumnMap(columns)
    if chosen == "csv":
        return from_csv(content, columns=mapping)
    if chosen == "jsonl":
        return from_jsonl(content, columns=mapping)
    if chosen == "parquet":
        return from_parquet(content, columns=mapping)
    return from_merchant_xml(content, columns=mapping)


def products_from_rows(
    rows: Sequence[Mapping[str, object]], *, columns: Mapping[str, str] | None = None
) -> tuple[Product, ...]:
    """Products of a JSON request body (one object per product; errors name ``row N``)."""
    return from_rows(rows, columns=ColumnMap(columns))
