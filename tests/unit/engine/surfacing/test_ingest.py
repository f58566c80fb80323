from __future__ import annotations

import io
import json

import polars as pl
import pytest

from engine.surfacing import ingest
from engine.surfacing.ingest import detect_format, parse_catalog, products_from_rows
from engine.surfacing.product import CatalogError

ROWS = [
    {
        "id": "a",
        "title": "Oak table",
        "price": "120.00 EUR",
        "availability": "in stock",
        "color": "natural",
    },
    {
        "id": "b",
        "title": "Pine bench",
        "price": "60",
        "currency": "EUR",
        "availability": "out_of_stock",
    },
]


def csv_bytes(rows: list[dict[str, object]]) -> bytes:
    buffer = io.BytesIO()
    pl.DataFrame(rows).write_csv(buffer)
    return buffer.getvalue()


def test_csv_jsonl_parquet_and_rows_give_the_same_products() -> None:
    parquet = io.BytesIO()
    pl.DataFrame(ROWS).write_parquet(parquet)
    jsonl = "\n".join(json.dumps(r) for r in ROWS).encode()
    parsed = [
        parse_catalog(csv_bytes(ROWS), filename="c.csv"),
        parse_catalog(jsonl, filename="c.jsonl"),
        parse_catalog(parquet.getvalue()),
        products_from_rows(ROWS),
    ]
    for products in parsed:
        a, b = products
        assert (a.id, a.price, a.currency, a.availability) == ("a", 120.0, "EUR", "in_stock")
        assert a.attributes == {"color": "natural"}
        assert (b.price, b.currency, b.availability) == (60.0, "EUR", "out_of_stock")


def test_a_bad_row_names_its_line_and_field() -> None:
    rows = [*ROWS, {"id": "c", "title": "Ash stool", "price": "cheap"}]
    with pytest.raises(CatalogError) as caught:
        parse_catalog(csv_bytes(rows), filename="c.csv")
    assert caught.value.field == "price"
    assert "line 4" in str(caught.value)
    with pytest.raises(CatalogError) as caught:
        products_from_rows([ROWS[0], {"id": "x"}])
    assert caught.value.field == "title"
    assert "row 2" in str(caught.value)
    with pytest.raises(CatalogError) as caught:
        products_from_rows([ROWS[0], ROWS[0]])
    assert caught.value.field == "id"
    with pytest.raises(CatalogError) as caught:
        products_from_rows([{"id": "r", "title": "t", "rating": "7"}])
    assert caught.value.field == "rating"
    with pytest.raises(CatalogError) as caught:
        parse_catalog(b"id,title\n1,caf\xe9\n", filename="c.csv")
    assert "UTF-8" in str(caught.value)
    assert "line 2" in str(caught.value)


def test_own_column_names_and_shopify_headers() -> None:
    own = products_from_rows(
        [{"SKU": "s1", "Name": "Linen shirt", "Cost": "39.90 USD"}],
        columns={"SKU": "id", "Name": "title", "Cost": "price"},
    )
    assert (own[0].id, own[0].title, own[0].price) == ("s1", "Linen shirt", 39.9)
    shopify = csv_bytes(
        [
            {
                "Handle": "linen-shirt",
                "Title": "Linen shirt",
                "Body (HTML)": "<p>A <b>linen</b> shirt.</p>",
                "Vendor": "Loom",
                "Variant SKU": "LS-1",
                "Variant Price": "39.90",
                "Option1 Name": "Color",
                "Option1 Value": "Blue",
            }
        ]
    )
    [product] = parse_catalog(shopify, filename="products_export.csv")
    assert product.id == "LS-1"
    assert product.brand == "Loom"
    assert product.description == "A linen shirt."
    assert product.attributes["color"] == "Blue"


RSS = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0"><channel><title>Shop</title>
<item><g:id>1</g:id><g:title>Brass lamp</g:title><g:price>49.00 USD</g:price>
<g:product_highlight>Solid brass</g:product_highlight>
<g:product_highlight>Linen shade</g:product_highlight>
<g:product_detail><g:attribute_name>Wattage</g:attribute_name>
<g:attribute_value>40 W</g:attribute_value></g:product_detail>
</item></channel></rss>"""

ATOM = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:g="http://base.google.com/ns/1.0">
<entry><g:id>2</g:id><title>Oak bench</title><link href="https://x.example/2"/>
<g:price>99 EUR</g:price></entry></feed>"""


def test_merchant_center_rss_and_atom() -> None:
    [lamp] = parse_catalog(RSS)
    assert lamp.highlights == ("Solid brass", "Linen shade")
    assert lamp.attributes == {"wattage": "40 W"}
    [bench] = parse_catalog(ATOM)
    assert (bench.title, bench.link, bench.currency) == ("Oak bench", "https://x.example/2", "EUR")


def test_entity_expansion_is_refused() -> None:
    bomb = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>
<rss><channel><item><title>&b;</title></item></channel></rss>"""
    with pytest.raises(CatalogError) as caught:
        parse_catalog(bomb, format="merchant_xml")
    assert "entities" in str(caught.value)


def page(markup: object) -> bytes:
    return (
        '<!doctype html><html><head><script type="application/ld+json">'
        f"{json.dumps(markup)}</script></head><body></body></html>"
    ).encode()


def test_html_product_group_and_markup_problems() -> None:
    group = {
        "@context": "https://schema.org",
        "@type": "ProductGroup",
        "name": "Linen shirt",
        "productGroupID": "LS",
        "brand": {"@type": "Brand", "name": "Loom"},
        "hasVariant": [
            {
                "@type": "Product",
                "sku": "LS-S",
                "name": "Linen shirt S",
                "image": "https://x/s.jpg",
                "size": "S",
                "offers": {"@type": "Offer", "price": "39.90", "priceCurrency": "EUR"},
            },
            {"@type": "Product", "sku": "LS-M", "name": "Linen shirt M", "size": "M"},
        ],
    }
    small, medium = parse_catalog(page(group), filename="shirt.html")
    assert small.item_group_id == medium.item_group_id == "LS"
    assert small.brand == "Loom"
    assert small.markup is not None
    assert small.markup.problems == ()
    assert medium.markup is not None
    assert "offers is missing (required)" in medium.markup.problems
    with pytest.raises(CatalogError):
        parse_catalog(page({"@type": "Organization", "name": "x"}), filename="about.html")


def test_format_detection() -> None:
    assert detect_format(b"PAR1....") == "parquet"
    assert detect_format(RSS) == "merchant_xml"
    assert detect_format(b"<!DOCTYPE html><html>") == "html"
    assert detect_format(b'{"id": 1}\n') == "jsonl"
    assert detect_format(b"id,title\n") == "csv"
    with pytest.raises(CatalogError):
        detect_format(b"")


def test_too_many_products_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest.tabular, "MAX_PRODUCTS", 1)
    with pytest.raises(CatalogError) as caught:
        products_from_rows(ROWS)
    assert caught.value.field == "file"
