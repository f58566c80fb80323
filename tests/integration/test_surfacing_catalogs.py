"""Catalogs over HTTP: every upload format, bad rows (a 422 naming the row and the field, with
nothing stored), own column names, merchant queries, tenancy and roles."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import polars as pl
import pytest

from tests.integration.conftest import Tenant, add_user

pytestmark = pytest.mark.integration

BASE = "/api/v1/surfacing"

PRODUCTS: list[dict[str, Any]] = [
    {
        "id": "lamp-1",
        "title": "Lumen brass table lamp with linen shade",
        "description": "A brass table lamp with a natural linen shade for bedside tables.",
        "brand": "Lumen",
        "gtin": "4006381333931",
        "price": "49.00 USD",
        "availability": "in stock",
        "color": "brass",
        "material": "brass",
    },
    {
        "id": "mug-2",
        "title": "Stoneware coffee mug 350 ml, blue",
        "description": "Hand-glazed stoneware mug holding 350 ml, dishwasher safe.",
        "brand": "Kiln & Co",
        "price": "14.50 USD",
        "availability": "out of stock",
        "color": "blue",
    },
]

MERCHANT_RSS = """<?xml version="1.0"?>
<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0">
  <channel>
    <title>Shop</title>
    <item>
      <g:id>boot-7</g:id>
      <g:title>Trailhead men's leather hiking boots, brown</g:title>
      <g:description>Waterproof full-grain leather hiking boots with a grippy sole.</g:description>
      <g:link>https://shop.example.com/boot-7</g:link>
      <g:image_link>https://shop.example.com/boot-7.jpg</g:image_link>
      <g:price>129.00 USD</g:price>
      <g:availability>in_stock</g:availability>
      <g:brand>Trailhead</g:brand>
      <g:color>brown</g:color>
      <g:product_highlight>Waterproof leather upper</g:product_highlight>
      <g:product_highlight>Vibram outsole</g:product_highlight>
    </item>
  </channel>
</rss>
"""


def product_page(product_id: str, name: str, price: str) -> str:
    markup = {
        "@context": "https://schema.org",
        "@type": "Product",
        "sku": product_id,
        "name": name,
        "image": f"https://shop.example.com/{product_id}.jpg",
        "description": f"{name}, made to last.",
        "brand": {"@type": "Brand", "name": "Acme"},
        "offers": {
            "@type": "Offer",
            "price": price,
            "priceCurrency": "EUR",
            "availability": "https://schema.org/InStock",
        },
    }
    return (
        "<!doctype html><html><head><title>x</title>"
        f'<script type="application/ld+json">{json.dumps(markup)}</script>'
        "</head><body>page</body></html>"
    )


def page_bytes(product_id: str, name: str, price: str) -> bytes:
    return product_page(product_id, name, price).encode()


def upload_files(
    client: httpx.Client, tenant: Tenant, files: list[tuple[str, bytes, str]], **fields: str
) -> httpx.Response:
    return client.post(
        f"{BASE}/catalogs",
        headers=tenant.auth,
        files=[("file", f) for f in files],
        data=fields,
    )


def catalog_count(client: httpx.Client, tenant: Tenant) -> int:
    response = client.get(f"{BASE}/catalogs", headers=tenant.auth)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    pl.DataFrame(rows).write_csv(buffer)
    return buffer.getvalue()


def test_each_format_uploads_and_reads_back(client: httpx.Client, tenant: Tenant) -> None:
    parquet = io.BytesIO()
    pl.DataFrame(PRODUCTS).write_parquet(parquet)
    jsonl = "\n".join(json.dumps(p) for p in PRODUCTS).encode()
    uploads = {
        "csv": [("catalog.csv", csv_bytes(PRODUCTS), "text/csv")],
        "jsonl": [("catalog.jsonl", jsonl, "application/x-ndjson")],
        "parquet": [("catalog.parquet", parquet.getvalue(), "application/octet-stream")],
        "merchant_xml": [("feed.xml", MERCHANT_RSS.encode(), "application/rss+xml")],
        "html": [
            (
                "a.html",
                product_page("p-1", "Acme steel water bottle", "19.90").encode(),
                "text/html",
            ),
            (
                "b.html",
                product_page("p-2", "Acme bamboo cutting board", "24.00").encode(),
                "text/html",
            ),
        ],
    }
    for expected_format, files in uploads.items():
        response = upload_files(client, tenant, files, name=f"{expected_format} catalog")
        assert response.status_code == 201, (expected_format, response.text)
        catalog = response.json()
        assert catalog["format"] == expected_format
        listed = client.get(catalog["products_url"], headers=tenant.auth).json()
        assert listed["total"] == catalog["product_count"] == len(listed["items"]) > 0
    catalogs = client.get(f"{BASE}/catalogs", headers=tenant.auth).json()["items"]
    feed = next(c for c in catalogs if c["format"] == "merchant_xml")
    feed_product = client.get(f"{feed['products_url']}/boot-7", headers=tenant.auth).json()
    assert feed_product["brand"] == "Trailhead"
    assert feed_product["price"] == 129.0
    assert feed_product["currency"] == "USD"
    assert feed_product["highlights"] == ["Waterproof leather upper", "Vibram outsole"]
    pages = next(c for c in catalogs if c["format"] == "html")
    page_product = client.get(f"{pages['products_url']}/p-2", headers=tenant.auth).json()
    assert page_product["markup"]["price"] == 24.0
    assert page_product["markup"]["problems"] == []


def test_json_rows_with_own_column_names(client: httpx.Client, tenant: Tenant) -> None:
    rows = [
        {"SKU": "a-1", "Product Name": "Oak dining table for six", "Cost": "899.00 USD"},
        {"SKU": "a-2", "Product Name": "Oak bench, 140 cm", "Cost": "249.00 USD"},
    ]
    response = client.post(
        f"{BASE}/catalogs",
        headers=tenant.auth,
        json={
            "name": "own names",
            "products": rows,
            "columns": {"SKU": "id", "Product Name": "title", "Cost": "price"},
        },
    )
    assert response.status_code == 201, response.text
    catalog = response.json()
    product = client.get(f"{catalog['products_url']}/a-2", headers=tenant.auth).json()
    assert product["title"] == "Oak bench, 140 cm"
    assert product["price"] == 249.0


def test_a_bad_row_is_a_422_naming_row_and_field_and_nothing_is_stored(
    client: httpx.Client, tenant: Tenant
) -> None:
    before = catalog_count(client, tenant)
    bad_price = [*PRODUCTS, {"id": "x-3", "title": "Broken", "price": "a lot"}]
    response = upload_files(client, tenant, [("bad.csv", csv_bytes(bad_price), "text/csv")])
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "price"
    assert "line 4" in error["message"], error["message"]  # header is line 1

    no_title = [PRODUCTS[0], {"id": "x-4", "description": "no title here"}]
    response = client.post(
        f"{BASE}/catalogs", headers=tenant.auth, json={"name": "rows", "products": no_title}
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "title"
    assert "row 2" in error["message"], error

    duplicate = [
        ("a.html", product_page("p-1", "Acme bottle", "1.00").encode(), "text/html"),
        ("b.html", product_page("p-1", "Acme board", "2.00").encode(), "text/html"),
    ]
    response = upload_files(client, tenant, duplicate)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "id"
    assert catalog_count(client, tenant) == before


def test_merchant_queries_are_checked_against_the_catalog(
    client: httpx.Client, tenant: Tenant
) -> None:
    response = upload_files(client, tenant, [("c.csv", csv_bytes(PRODUCTS), "text/csv")])
    catalog = response.json()
    url = f"{BASE}/catalogs/{catalog['id']}/queries"
    good = {"queries": [{"text": "brass lamp", "relevant": ["lamp-1"]}, {"text": "blue mug"}]}
    response = client.post(url, headers=tenant.auth, json=good)
    assert response.status_code == 201, response.text
    assert [q["text"] for q in response.json()["items"]] == ["brass lamp", "blue mug"]
    bad = {"queries": [{"text": "x"}, {"text": "lamp", "relevant": ["nope"]}]}
    response = client.post(url, headers=tenant.auth, json=bad)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "queries[1].relevant"
    assert len(client.get(url, headers=tenant.auth).json()["items"]) == 2


def test_catalogs_are_tenant_scoped_and_viewers_cannot_upload(
    client: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    response = upload_files(client, tenant, [("c.csv", csv_bytes(PRODUCTS), "text/csv")])
    catalog = response.json()
    for path in ("", "/products", "/products/lamp-1", "/queries"):
        response = client.get(f"{BASE}/catalogs/{catalog['id']}{path}", headers=other_tenant.auth)
        assert response.status_code == 404, (path, response.text)
    response = client.delete(f"{BASE}/catalogs/{catalog['id']}", headers=other_tenant.auth)
    assert response.status_code == 404

    viewer = add_user(client, tenant, "viewer")
    response = client.post(
        f"{BASE}/catalogs",
        headers=viewer.auth,
        files={"file": ("c.csv", csv_bytes(PRODUCTS), "text/csv")},
    )
    assert response.status_code == 403
    assert client.get(f"{BASE}/catalogs/{catalog['id']}", headers=viewer.auth).status_code == 200

    response = client.delete(f"{BASE}/catalogs/{catalog['id']}", headers=tenant.auth)
    assert response.status_code == 204
    assert client.get(f"{BASE}/catalogs/{catalog['id']}", headers=tenant.auth).status_code == 404
