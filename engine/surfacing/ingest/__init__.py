"""Catalog uploads in every supported format -> validated canonical products.

Everything is validated before anything is returned: a problem raises
:class:`~engine.surfacing.product.CatalogError` naming the row (``line 12``, ``row 3``,
``item 5 (id "sku-9")``, the page) and the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Literal

from engine.surfacing.ingest.feeds import from_merchant_xml
from engine.surfacing.ingest.fields import html_to_text
from engine.surfacing.ingest.pages import from_html
from engine.surfacing.ingest.tabular import from_csv, from_jsonl, from_parquet, from_rows
from engine.surfacing.product import CatalogError, Product

__all__ = ["CatalogFormat", "detect_format", "html_to_text", "parse_catalog", "products_from_rows"]

CatalogFormat = Literal["csv", "jsonl", "parquet", "merchant_xml", "html"]

_EXTENSIONS: Mapping[str, CatalogFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".xml": "merchant_xml",
    ".rss": "merchant_xml",
    ".atom": "merchant_xml",
    ".html": "html",
    ".htm": "html",
}
_CONTENT_TYPES: Mapping[str, CatalogFormat] = {
    "text/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/vnd.apache.parquet": "parquet",
    "application/rss+xml": "merchant_xml",
    "application/atom+xml": "merchant_xml",
    "text/html": "html",
}


def detect_format(
    content: bytes, *, filename: str | None = None, content_type: str | None = None
) -> CatalogFormat:
    if filename:
        found = _EXTENSIONS.get(PurePath(filename).suffix.lower())
        if found:
            return found
    if content_type:
        found = _CONTENT_TYPES.get(content_type.split(";")[0].strip().lower())
        if found:
            return found
    head = content[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    lowered = head.lower()
    if head.startswith(b"PAR1"):
        return "parquet"
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "html"
    if lowered.startswith(b"<") and (b"<rss" in lowered or b"<feed" in lowered):
        return "merchant_xml"
    if head.startswith(b"{"):
        return "jsonl"
    if not head:
        raise CatalogError("the file is empty", field="file")
    if lowered.startswith(b"<"):
        raise CatalogError(
            "an XML or HTML file that is neither a Merchant Center feed nor a product page; "
            "name the format with the form field 'format'",
            field="file",
        )
    return "csv"


def parse_catalog(
    content: bytes,
    *,
    format: CatalogFormat | None = None,
    filename: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> tuple[Product, ...]:
    chosen = format or detect_format(content, filename=filename)
    if chosen == "csv":
        return from_csv(content, columns=columns)
    if chosen == "jsonl":
        return from_jsonl(content, columns=columns)
    if chosen == "parquet":
        return from_parquet(content, columns=columns)
    if chosen == "merchant_xml":
        return from_merchant_xml(content, columns=columns)
    return from_html(content, filename=filename)


def products_from_rows(
    rows: Sequence[Mapping[str, object]], *, columns: Mapping[str, str] | None = None
) -> tuple[Product, ...]:
    return from_rows(rows, columns=columns)
