"""Catalog parsers (engine.surfacing.formats): every format, and every kind of bad input
naming its record and field."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence

import polars as pl
import pytest

from engine.surfacing import product as product_module
from engine.surfacing.formats import (
    detect_format,
    html_to_text,
    parse_catalog,
    products_from_rows,
)
from engine.surfacing.product import CatalogError, Product

ROWS: list[dict[str, object]] = [
    {
        "id": "oak-1",
        "title": "Oak table",
        "description": "<p>Solid <b>oak</b>, seats six.</p>",
        "price": "120.00 EUR",
        "availability": "in stock",
        "brand": "Acme",
        "gtin": "4006381333931",
        "color": "natural",
        "product_highlight": "Solid oak|Seats six",
        "rating": "4.5",
        "review_count": "12",
    },
    {
        "id": "pine-2",
        "title": "Pine bench",
        "description": "",
        "price": "60",
        "currency": "eur",
        "availability": "https://schema.org/OutOfStock",
        "brand": "Acme",
        "gtin": "",
        "color": "",
        "product_highlight": "",
        "rating": "",
        "review_count": "0",
    },
]


def csv_bytes(rows: Sequence[Mapping[str, object]], delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    names = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(buffer, fieldnames=names, delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def jsonl_bytes(rows: Sequence[Mapping[str, object]]) -> bytes:
    return "\n".join(json.dumps(row) for row in rows).encode()


def parquet_bytes(rows: Sequence[Mapping[str, object]]) -> bytes:
    buffer = io.BytesIO()
    pl.DataFrame(list(rows)).write_parquet(buffer)
    return buffer.getvalue()


def rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0"><channel>'
        "<title>Shop</title><link>https://shop.example</link>"
        + "".join(f"<item>{item}</item>" for item in items)
        + "</channel></rss>"
    ).encode()


def page(*blocks: object, body: str = "") -> bytes:
    scripts = "".join(
        '<script type="application/ld+json">'
        + (block if isinstance(block, str) else json.dumps(block, ensure_ascii=False))
        + "</script>"
        for block in blocks
    )
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8">{scripts}</head>'
        f"<body>{body}</body></html>"
    ).encode()


def error(call: object, *args: object, **kwargs: object) -> CatalogError:
    assert callable(call)
    with pytest.raises(CatalogError) as caught:
        call(*args, **kwargs)
    return caught.value


def assert_catalog(products: Sequence[Product]) -> None:
    oak, pine = products
    assert (oak.id, oak.title, oak.brand, oak.gtin) == (
        "oak-1",
        "Oak table",
        "Acme",
        "4006381333931",
    )
    assert oak.description == "Solid oak, seats six."
    assert (oak.price, oak.currency, oak.availability) == (120.0, "EUR", "in_stock")
    assert oak.attributes == {"color": "natural"}
    assert oak.highlights == ("Solid oak", "Seats six")
    assert oak.reviews is not None
    assert (oak.reviews.rating, oak.reviews.count) == (4.5, 12)
    assert (pine.price, pine.currency, pine.availability) == (60.0, "EUR", "out_of_stock")
    assert pine.gtin is None
    assert pine.attributes == {}
    assert pine.highlights == ()
    assert pine.reviews is not None
    assert pine.reviews.count == 0
    assert pine.description == ""


# --- every format ---------------------------------------------------------------------------


def test_csv_tsv_jsonl_json_parquet_and_rows_give_the_same_catalog() -> None:
    uploads = {
        "c.csv": csv_bytes(ROWS),
        "c.txt": csv_bytes(ROWS, delimiter="\t"),  # a Merchant Center text feed
        "c.jsonl": jsonl_bytes(ROWS),
        "c.json": json.dumps(ROWS).encode(),
        "c.parquet": parquet_bytes(ROWS),
    }
    for filename, content in uploads.items():
        products = parse_catalog(content, filename=filename)
        assert_catalog(products)
        if filename.endswith((".csv", ".txt")):
            assert [p.line for p in products] == [2, 3]
    assert_catalog(products_from_rows(ROWS))


def test_merchant_center_rss_round_trips_the_catalog() -> None:
    feed = rss(
        "<g:id>oak-1</g:id><title>ignored plain title</title><g:title>Oak table</g:title>"
        "<description>&lt;p&gt;Solid &lt;b&gt;oak&lt;/b&gt;, seats six.&lt;/p&gt;</description>"
        "<g:price>120.00 EUR</g:price><g:availability>in stock</g:availability>"
        "<g:brand>Acme</g:brand><g:gtin>4006381333931</g:gtin><g:color>natural</g:color>"
        "<g:product_highlight>Solid oak</g:product_highlight>"
        "<g:product_highlight>Seats six</g:product_highlight>"
        "<g:rating>4.5</g:rating><g:review_count>12</g:review_count>"
        "<g:shipping><g:country>DE</g:country><g:price>5.00 EUR</g:price></g:shipping>"
        "<guid>not-read</guid>",
        "<g:id>pine-2</g:id><g:title>Pine bench</g:title><g:price>60</g:price>"
        "<g:currency>EUR</g:currency><g:availability>out_of_stock</g:availability>"
        "<g:brand>Acme</g:brand><g:review_count>0</g:review_count>",
    )
    assert detect_format(feed) == "merchant_xml"
    products = parse_catalog(feed, filename="feed.xml")
    assert_catalog(products)
    assert [p.line for p in products] == [1, 2]


def test_merchant_center_feed_details_links_and_custom_elements() -> None:
    feed = rss(
        "<g:id>lamp</g:id><g:title>Desk lamp</g:title><link>https://shop.example/lamp</link>"
        "<g:image_link>https://shop.example/1.jpg</g:image_link>"
        "<g:additional_image_link>https://shop.example/2.jpg</g:additional_image_link>"
        "<g:additional_image_link>https://shop.example/3.jpg</g:additional_image_link>"
        "<g:product_detail><g:section_name>General</g:section_name>"
        "<g:attribute_name>Bulb Type</g:attribute_name><g:attribute_value>LED</g:attribute_value>"
        "</g:product_detail>"
        "<g:google_product_category>4636</g:google_product_category>"
        "<g:item_group_id>lamps</g:item_group_id>"
        '<c:wattage xmlns:c="http://base.google.com/cns/1.0">5 W</c:wattage>'
    )
    (lamp,) = parse_catalog(feed, format="merchant_xml")
    assert lamp.link == "https://shop.example/lamp"
    assert lamp.image_link == "https://shop.example/1.jpg"
    assert lamp.google_product_category == "4636"
    assert lamp.item_group_id == "lamps"
    assert lamp.attributes == {
        "additional_image_link": "https://shop.example/2.jpg, https://shop.example/3.jpg",
        "bulb_type": "LED",
        "wattage": "5 W",
    }


def test_merchant_center_atom_feed_and_its_errors_name_the_item() -> None:
    feed = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" '
        b'xmlns:g="http://base.google.com/ns/1.0"><title>Shop</title>'
        b'<entry><g:id>a</g:id><title>Lamp</title><link rel="alternate" href="https://s/a"/>'
        b"<summary>A bright lamp</summary><g:price>10.00 USD</g:price></entry>"
        b"<entry><g:id>sku-9</g:id><title>Shade</title><g:price>abc</g:price></entry></feed>"
    )
    assert detect_format(feed) == "merchant_xml"
    problem = error(parse_catalog, feed)
    assert (problem.where, problem.field) == ('item 2 (id "sku-9")', "price")
    assert 'price "abc" is not a number; expected e.g. "19.99" or "19.99 USD"' in str(problem)
    (lamp,) = parse_catalog(
        feed.replace(b"<entry><g:id>sku-9</g:id>", b"<x><g:id>sku-9</g:id>").replace(
            b"</g:price></entry></feed>", b"</g:price></x></feed>"
        )
    )
    assert (lamp.id, lamp.title, lamp.link) == ("a", "Lamp", "https://s/a")
    assert (lamp.description, lamp.price, lamp.currency) == ("A bright lamp", 10.0, "USD")


def test_billion_laughs_and_external_entities_are_refused() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">'.encode() for i in range(1, 10)
        ).replace(b"&lol0;", b"&lol;")
        + b']><rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>&lol9;</g:id>'
        b"<g:title>x</g:title></item></channel></rss>"
    )
    problem = error(parse_catalog, laughs, filename="feed.xml")
    assert problem.field == "file"
    assert "entities" in str(problem)
    assert "refused" in str(problem)
    external = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>&x;</g:id>'
        b"</item></channel></rss>"
    )
    assert "refused" in str(error(parse_catalog, external, format="merchant_xml"))


def test_broken_or_foreign_xml_is_named() -> None:
    broken = error(
        parse_catalog,
        b'<rss xmlns:g="http://base.google.com/ns/1.0">\n<channel>\n<item></rss>',
        format="merchant_xml",
    )
    assert (broken.field, broken.where) == ("file", "line 3")
    blog = b'<rss version="2.0"><channel><item><title>Post</title></item></channel></rss>'
    assert "g: elements" in str(error(parse_catalog, blog, format="merchant_xml"))
    assert "root element is <catalog>" in str(
        error(parse_catalog, b"<catalog><p/></catalog>", format="merchant_xml")
    )


# --- HTML pages -----------------------------------------------------------------------------

PRODUCT = {
    "@context": "https://schema.org",
    "@type": "Product",
    "name": "Oak table",
    "sku": "oak-1",
    "image": ["https://s/1.jpg", {"@type": "ImageObject", "url": "https://s/2.jpg"}],
    "description": "<p>Solid <b>oak</b>.</p>",
    "brand": {"@type": "Brand", "name": "Acme"},
    "gtin13": "4006381333931",
    "mpn": "OT-1",
    "url": "https://s/oak",
    "category": "Furniture > Tables",
    "material": "oak",
    "offers": {
        "@type": "Offer",
        "price": "120.00",
        "priceCurrency": "EUR",
        "availability": "https://schema.org/InStock",
    },
    "aggregateRating": {
        "@type": "AggregateRating",
        "ratingValue": "8",
        "bestRating": "10",
        "reviewCount": "12",
    },
    "review": [{"@type": "Review", "reviewBody": "Sturdy and handsome."}],
    "additionalProperty": [{"@type": "PropertyValue", "name": "Seat Count", "value": "6"}],
}


def test_html_product_page_fills_product_and_markup() -> None:
    content = page(PRODUCT)
    assert detect_format(content) == "html"
    (oak,) = parse_catalog(content, filename="oak.html")
    assert (oak.id, oak.title, oak.description, oak.brand) == (
        "oak-1",
        "Oak table",
        "Solid oak.",
        "Acme",
    )
    assert (oak.gtin, oak.mpn, oak.link, oak.product_type) == (
        "4006381333931",
        "OT-1",
        "https://s/oak",
        "Furniture > Tables",
    )
    assert (oak.price, oak.currency, oak.availability) == (120.0, "EUR", "in_stock")
    assert oak.image_link == "https://s/1.jpg"
    assert oak.attributes == {
        "seat_count": "6",
        "material": "oak",
        "additional_image_link": "https://s/2.jpg",
    }
    assert oak.reviews is not None
    assert (oak.reviews.rating, oak.reviews.count) == (4.0, 12)  # 8 of 10 is 4 of 5
    assert oak.reviews.texts == ("Sturdy and handsome.",)
    assert oak.markup is not None
    assert (oak.markup.name, oak.markup.price, oak.markup.currency) == ("Oak table", 120.0, "EUR")
    assert (oak.markup.availability, oak.markup.gtin, oak.markup.brand) == (
        "in_stock",
        "4006381333931",
        "Acme",
    )
    assert oak.markup.problems == ()


def test_html_markup_problems_are_required_missing_and_invalid_values_only() -> None:
    bare = {"@context": "https://schema.org", "@type": "Product", "name": "Stool", "sku": "s"}
    (stool,) = parse_catalog(page(bare), format="html")
    assert stool.markup is not None
    assert [p.split(" ")[0] for p in stool.markup.problems] == ["offers", "image"]
    bad_offer = {
        **bare,
        "image": "https://s/s.jpg",
        "offers": {
            "@type": "Offer",
            "price": "abc",
            "priceCurrency": "EURO",
            "availability": "maybe",
        },
        "aggregateRating": {"@type": "AggregateRating", "ratingValue": "7", "reviewCount": 3},
    }
    (stool,) = parse_catalog(page(bad_offer), format="html")
    assert stool.markup is not None
    assert stool.price is None
    assert stool.currency is None
    problems = " | ".join(stool.markup.problems)
    for fragment in (
        'offers.price "abc"',
        'priceCurrency "EURO"',
        'availability "maybe"',
        'ratingValue "7" is outside',
    ):
        assert fragment in problems
    assert len(stool.markup.problems) == 4  # no brand/gtin "problems": those are recommendations
    free = {
        **bare,
        "image": "https://s/s.jpg",
        "offers": {"@type": "Offer", "price": 0, "priceCurrency": "EUR"},
    }
    (stool,) = parse_catalog(page(free), format="html")
    assert stool.markup is not None
    assert stool.markup.problems == (
        "offers.price is 0; merchant listings require a price above zero",
    )


def test_html_product_group_variants_inherit_and_item_list_lists() -> None:
    group = {
        "@context": "https://schema.org",
        "@type": "ProductGroup",
        "name": "Cotton tee",
        "productGroupID": "tee",
        "brand": "Acme",
        "image": "https://s/tee.jpg",
        "variesBy": "https://schema.org/size",
        "hasVariant": [
            {
                "@type": "Product",
                "sku": "tee-s",
                "size": "S",
                "offers": {"@type": "Offer", "price": 19, "priceCurrency": "USD"},
            },
            {"@id": "#tee-m"},
        ],
    }
    medium = {
        "@context": "https://schema.org",
        "@type": "Product",
        "@id": "#tee-m",
        "sku": "tee-m",
        "size": "M",
        "offers": {"@type": "Offer", "price": "21.00", "priceCurrency": "USD"},
    }
    small, med = parse_catalog(page(group, medium), format="html", filename="tee.html")
    assert [
        (p.id, p.title, p.brand, p.item_group_id, p.attributes["size"], p.price)
        for p in (small, med)
    ] == [
        ("tee-s", "Cotton tee", "Acme", "tee", "S", 19.0),
        ("tee-m", "Cotton tee", "Acme", "tee", "M", 21.0),
    ]
    listing = {
        "@context": "https://schema.org",
        "@type": "ItemList",
        "itemListElement": [
            {
                "@type": "ListItem",
                "position": i,
                "item": {**PRODUCT, "sku": f"p{i}", "name": f"P{i}"},
            }
            for i in (1, 2, 3)
        ],
    }
    products = parse_catalog(
        page({"@context": "https://schema.org", "@graph": [listing]}), format="html"
    )
    assert [(p.id, p.title, p.line) for p in products] == [
        ("p1", "P1", 1),
        ("p2", "P2", 2),
        ("p3", "P3", 3),
    ]


def test_html_microdata_is_read_when_there_is_no_json_ld_product() -> None:
    body = (
        '<div itemscope itemtype="https://schema.org/Product"><h1 itemprop="name">Lamp</h1>'
        '<meta itemprop="sku" content="L1"><img itemprop="image" src="https://s/l.jpg">'
        '<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
        '<meta itemprop="price" content="10.50"><meta itemprop="priceCurrency" content="EUR">'
        '<link itemprop="availability" href="https://schema.org/PreOrder"></div></div>'
    )
    (lamp,) = parse_catalog(
        page({"@type": "Organization", "name": "Shop"}, body=body), format="html"
    )
    assert (lamp.id, lamp.title, lamp.price, lamp.availability) == ("L1", "Lamp", 10.5, "preorder")
    assert lamp.markup is not None
    assert lamp.markup.problems == ()


def test_html_without_product_markup_or_with_broken_json_ld_is_refused() -> None:
    problem = error(
        parse_catalog,
        page({"@type": "Organization", "name": "x"}),
        format="html",
        filename="about.html",
    )
    assert (problem.where, problem.field) == ("about.html", "file")
    assert "no schema.org Product" in str(problem)
    broken = error(parse_catalog, page('{"@type": "Product", "name": '), format="html")
    assert "JSON-LD block 1 is not valid JSON" in str(broken)
    # A broken block beside a valid Product is a markup problem, not a refusal.
    (oak,) = parse_catalog(page(PRODUCT, "{oops"), format="html")
    assert oak.markup is not None
    assert oak.markup.problems[0].startswith("JSON-LD block 2")
    nameless = error(
        parse_catalog, page({"@type": "Product", "sku": "x"}), format="html", filename="x.html"
    )
    assert (nameless.where, nameless.field) == ('x.html, product 1 (id "x")', "title")
    assert error(parse_catalog, page(PRODUCT), format="html", columns={"a": "title"}).field == (
        "columns"
    )


def test_html_charset_is_read_from_the_page_never_guessed() -> None:
    latin = (
        page({**PRODUCT, "name": "Caf\u00e9 table"})
        .replace(b'charset="utf-8"', b'charset="iso-8859-1"')
        .replace("\u00e9".encode(), b"\xe9")
    )
    assert parse_catalog(latin, format="html")[0].title == "Caf\u00e9 table"
    undeclared = latin.replace(b'<meta charset="iso-8859-1">', b"")
    problem = error(parse_catalog, undeclared, format="html", filename="p.html")
    assert (problem.field, problem.where) == ("file", "p.html")
    assert "not UTF-8 and declares no charset" in str(problem)


# --- bad input ------------------------------------------------------------------------------


def test_missing_title_names_line_3_and_the_field() -> None:
    content = b"id,title,price\na,Oak table,10\nb,,12\n"
    problem = error(parse_catalog, content, filename="c.csv")
    assert (problem.where, problem.field) == ("line 3", "title")
    assert str(problem).startswith("line 3: title is missing")
    missing_id = error(products_from_rows, [{"title": "x"}])
    assert (missing_id.where, missing_id.field) == ("row 1", "id")


@pytest.mark.parametrize(
    ("column", "value", "field", "expected"),
    [
        (
            "price",
            "abc",
            "price",
            'price "abc" is not a number; expected e.g. "19.99" or "19.99 USD"',
        ),
        ("price", "15,00 EUR", "price", "a dot for decimals"),
        ("price", "$15.00", "price", "not a currency symbol"),
        ("price", "15.00 XYZ", "price", 'currency "XYZ" is not an ISO 4217 code'),
        ("price", "-3.00 USD", "price", "negative"),
        ("price", "USD 3 EUR", "price", "two currencies"),
        ("currency", "EURO", "currency", "ISO 4217"),
        ("rating", "7", "rating", "outside 0-5"),
        ("rating", "-1", "rating", "outside 0-5"),
        ("rating", "great", "rating", "not a number"),
        ("review_count", "2.5", "review_count", "whole number"),
        ("sales_velocity", "-4", "sales_velocity", "negative"),
        ("availability", "maybe", "availability", "in_stock, out_of_stock, preorder, backorder"),
        ("sale_price", "cheap", "sale_price", "not a number"),
        ("product_detail", "nonsense", "product_detail", "section:attribute:value"),
    ],
)
def test_a_bad_value_names_its_line_field_and_what_is_expected(
    column: str, value: str, field: str, expected: str
) -> None:
    rows = [
        {"id": "a", "title": "Oak table", column: ""},
        {"id": "b", "title": "Bench", column: value},
    ]
    problem = error(parse_catalog, csv_bytes(rows), filename="c.csv")
    assert (problem.where, problem.field) == ("line 3", field)
    assert expected in str(problem)


def test_price_and_currency_spellings_that_are_accepted() -> None:
    rows: list[dict[str, object]] = [
        {"id": "a", "title": "t", "price": "1,299.50 usd"},
        {"id": "b", "title": "t", "price": "EUR 5"},
        {"id": "c", "title": "t", "price": 7.25, "currency": "GBP"},
        {"id": "d", "title": "t", "price": "19.99USD", "currency": "USD"},
    ]
    assert [(p.price, p.currency) for p in products_from_rows(rows)] == [
        (1299.5, "USD"),
        (5.0, "EUR"),
        (7.25, "GBP"),
        (19.99, "USD"),
    ]
    clash = error(
        products_from_rows, [{"id": "a", "title": "t", "price": "5 EUR", "currency": "USD"}]
    )
    assert (clash.where, clash.field) == ("row 1", "currency")


def test_availability_spellings() -> None:
    spellings = {
        "in stock": "in_stock",
        "in_stock": "in_stock",
        "Out Of Stock": "out_of_stock",
        "preorder": "preorder",
        "backorder": "backorder",
        "https://schema.org/InStock": "in_stock",
        "http://schema.org/BackOrder": "backorder",
        "https://schema.org/Discontinued": "out_of_stock",
    }
    rows = [{"id": str(i), "title": "t", "availability": s} for i, s in enumerate(spellings)]
    assert [p.availability for p in products_from_rows(rows)] == list(spellings.values())


def test_duplicate_ids_name_both_rows() -> None:
    content = b"id,title\na,One\nb,Two\na,Three\n"
    problem = error(parse_catalog, content, filename="c.csv")
    assert (problem.where, problem.field) == ("line 4", "id")
    assert "line 2 and line 4" in str(problem)
    rows = error(products_from_rows, [{"id": 7, "title": "x"}, {"id": "7", "title": "y"}])
    assert "row 1 and row 2" in str(rows)
    feed = error(
        parse_catalog,
        rss("<g:id>a</g:id><g:title>x</g:title>", "<g:id>a</g:id><g:title>y</g:title>"),
    )
    assert 'item 1 (id "a") and item 2 (id "a")' in str(feed)


def test_too_many_products_is_refused_in_every_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(product_module, "MAX_PRODUCTS", 2)
    rows = [{"id": str(i), "title": f"P{i}"} for i in range(3)]
    feed = rss(*(f"<g:id>{i}</g:id><g:title>P{i}</g:title>" for i in range(3)))
    for content, name in (
        (csv_bytes(rows), "c.csv"),
        (jsonl_bytes(rows), "c.jsonl"),
        (parquet_bytes(rows), "c.parquet"),
        (feed, "f.xml"),
    ):
        problem = error(parse_catalog, content, filename=name)
        assert problem.field == "file", name
        assert "more than 2 products" in str(problem), name
    assert error(products_from_rows, rows).field == "file"
    assert len(parse_catalog(csv_bytes(rows[:2]), filename="c.csv")) == 2


def test_text_longer_than_max_text_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(product_module, "MAX_TEXT", 50)
    long_title = error(products_from_rows, [{"id": "a", "title": "x" * 51}])
    assert (long_title.where, long_title.field) == ("row 1", "title")
    assert "51 characters" in str(long_title)
    long_attribute = error(products_from_rows, [{"id": "a", "title": "t", "Care Notes": "y" * 60}])
    assert long_attribute.field == "care_notes"
    assert products_from_rows([{"id": "a", "title": "x" * 50}])[0].title == "x" * 50
    # An HTML description is measured as text: markup does not count, up to a bound.
    marked_up = '<p class="a-long-class-name-that-is-markup-only">' + "y" * 40 + "</p>"
    assert (
        products_from_rows([{"id": "a", "title": "t", "description": marked_up}])[0].description
        == "y" * 40
    )
    too_long = error(
        products_from_rows, [{"id": "a", "title": "t", "description": "<p>" + "y" * 51 + "</p>"}]
    )
    assert too_long.field == "description"


def test_byte_order_mark_is_dropped_and_bad_utf8_is_named() -> None:
    (product,) = parse_catalog(b"\xef\xbb\xbfid,title\na,Caf\xc3\xa9\n", filename="c.csv")
    assert (product.id, product.title) == ("a", "Caf\u00e9")
    problem = error(parse_catalog, b"id,title\na,ok\nb,Caf\xe9\n", filename="c.csv")
    assert (problem.field, problem.where) == ("file", "line 3")
    assert "byte 19 (0xe9)" in str(problem)
    assert "UTF-8" in str(problem)
    jsonl = error(parse_catalog, b'{"id": "a", "title": "caf\xe9"}', filename="c.jsonl")
    assert jsonl.where == "line 1"


def test_jsonl_lines_are_named_and_blank_lines_skipped() -> None:
    content = b'{"id": "a", "title": "One"}\n\n{"id": "b", "title": "Two"}\n'
    assert [p.line for p in parse_catalog(content, filename="c.jsonl")] == [1, 3]
    bad = error(parse_catalog, content + b'{"id": "c", "title": \n', filename="c.jsonl")
    assert (bad.where, bad.field) == ("line 4", "file")
    assert "one whole JSON object per line" in str(bad)
    assert error(parse_catalog, content + b'["c"]\n', filename="c.jsonl").where == "line 4"
    twice = error(parse_catalog, b'{"id": "a", "title": "x", "title": "y"}', filename="c.jsonl")
    assert 'key "title" appears twice' in str(twice)
    price = error(
        parse_catalog, content + b'{"id": "c", "title": "x", "price": true}', filename="c.jsonl"
    )
    assert (price.where, price.field) == ("line 4", "price")


def test_empty_uploads_are_refused() -> None:
    for content, name in (
        (b"", "c.csv"),
        (b"  \n", "c.jsonl"),
        (b"id,title\n", "c.csv"),
        (b"", "c.parquet"),
        (b"", "f.xml"),
        (b"", "p.html"),
    ):
        problem = error(parse_catalog, content, filename=name)
        assert problem.field == "file", name
    assert error(products_from_rows, []).field == "products"
    assert error(detect_format, b"\n\n").field == "file"


def test_csv_structure_errors_name_the_line() -> None:
    extra = error(parse_catalog, b"id,title\na,One,surplus\n", filename="c.csv")
    assert (extra.where, extra.field) == ("line 2", "file")
    twice = error(parse_catalog, b"id,Title,title\na,b,c\n", filename="c.csv")
    assert (twice.where, twice.field) == ("line 1", "title")
    # A quoted cell over several lines: the record is named by the line it starts on.
    content = b'id,title,description\na,One,"first\nsecond"\nb,,x\n'
    assert error(parse_catalog, content, filename="c.csv").where == "line 4"


# --- columns, aliases, attributes -----------------------------------------------------------


def test_own_column_names_through_columns() -> None:
    rows = [
        {
            "Artikelnummer": "s1",
            "Bezeichnung": "Leinenhemd",
            "Preis": "39.90 EUR",
            "Farbe": "blau",
            "Stoff": "Leinen",
        }
    ]
    columns = {"Artikelnummer": "id", "bezeichnung": "Title", "PREIS": "price", "Farbe": "color"}
    for products in (
        parse_catalog(csv_bytes(rows), filename="c.csv", columns=columns),
        parse_catalog(parquet_bytes(rows), filename="c.parquet", columns=columns),
        products_from_rows(rows, columns=columns),
    ):
        (shirt,) = products
        assert (shirt.id, shirt.title, shirt.price, shirt.currency) == (
            "s1",
            "Leinenhemd",
            39.9,
            "EUR",
        )
        assert shirt.attributes == {"color": "blau", "stoff": "Leinen"}
    bad_price = error(products_from_rows, [{**rows[0], "Preis": "teuer"}], columns=columns)
    assert (bad_price.where, bad_price.field) == ("row 1", "price")
    unknown = error(products_from_rows, rows, columns={"Bezeichnung": "titel"})
    assert unknown.field == "columns"
    assert '"titel", which is not a catalog field' in str(unknown)
    absent = error(parse_catalog, csv_bytes(rows), filename="c.csv", columns={"Name": "title"})
    assert absent.field == "columns"
    assert '"Name", which is not a column' in str(absent)


def test_user_mapping_beats_canonical_names_and_losers_are_kept() -> None:
    (item,) = products_from_rows(
        [{"id": "internal-1", "SKU": "S-1", "title": "Lamp"}], columns={"SKU": "id"}
    )
    assert item.id == "S-1"
    assert item.attributes == {"id": "internal-1"}
    (item,) = products_from_rows([{"sku": "S-2", "id": "I-2", "name": "Lamp"}])
    assert item.id == "I-2"
    assert item.attributes == {"sku": "S-2"}
    assert item.title == "Lamp"


def test_aliases_from_merchant_center_openai_and_review_columns() -> None:
    row = {
        "Offer ID": "o1",
        "Product-Name": "Kettle",
        "product_category": "Home > Kitchen",
        "Item Group ID": "kettles",
        "product_review_rating": 4.2,
        "rating_count": "1,204",
        "review_texts": json.dumps(["Boils fast", "Loud"]),
        "units_per_month": "35.5",
        "Image URL": "https://s/k.jpg",
        "Product URL": "https://s/k",
        "gtin": 4006381333931,
        "highlights": ["Fast", "Quiet"],
        "Colour": "steel",
        "empty column": "",
    }
    (kettle,) = products_from_rows([row])
    assert (kettle.id, kettle.title, kettle.google_product_category, kettle.item_group_id) == (
        "o1",
        "Kettle",
        "Home > Kitchen",
        "kettles",
    )
    assert kettle.reviews is not None
    assert (kettle.reviews.rating, kettle.reviews.count, kettle.reviews.texts) == (
        4.2,
        1204,
        ("Boils fast", "Loud"),
    )
    assert (kettle.sales_velocity, kettle.image_link, kettle.link) == (
        35.5,
        "https://s/k.jpg",
        "https://s/k",
    )
    assert kettle.gtin == "4006381333931"
    assert kettle.highlights == ("Fast", "Quiet")
    assert kettle.attributes == {"color": "steel"}
    (piped,) = products_from_rows([{"id": "p", "title": "t", "reviews": "Good | Bad"}])
    assert piped.reviews is not None
    assert piped.reviews.texts == ("Good", "Bad")


def test_nested_values_in_unknown_columns_are_refused_not_flattened() -> None:
    nested = error(products_from_rows, [{"id": "a", "title": "t", "dimensions": {"w": 3}}])
    assert (nested.where, nested.field) == ("row 1", "dimensions")
    (kept,) = products_from_rows(
        [{"id": "a", "title": "t", "sizes": ["S", "M"], "shipping": [{"country": "DE"}]}]
    )
    assert kept.attributes == {"sizes": "S, M"}  # shipping: a structured field no stage reads
    listed_title = error(products_from_rows, [{"id": "a", "title": ["t", "u"]}])
    assert listed_title.field == "title"
    assert "a list" in str(listed_title)


SHOPIFY = (
    "Handle,Title,Body (HTML),Vendor,Type,Tags,Published,Option1 Name,Option1 Value,"
    "Option2 Name,Option2 Value,Variant SKU,Variant Price,Variant Barcode,Image Src,"
    "Image Position,Variant Image,Google Shopping / Gender\n"
    'tee,Cotton tee,"<p>Soft <em>cotton</em>.</p><ul><li>Organic</li></ul>",Acme,Shirts,'
    "summer,true,Size,S,Color,Red,TEE-S-R,19.00,0001234567895,https://s/1.jpg,1,,unisex\n"
    ",,,,,,,,M,,Red,TEE-M-R,21.00,,https://s/2.jpg,2,https://s/m.jpg,\n"
    ",,,,,,,,,,,,,,https://s/3.jpg,3,,\n"
    "mug,Mug,,Acme,Kitchen,,true,Title,Default Title,,,,8.50,,,,,\n"
)


def shopify_bytes(text: str) -> bytes:
    # Shopify repeats the handle on every row; the fixture leaves it out above for width.
    lines = text.splitlines()
    filled = [lines[0], lines[1]] + [
        ("tee" + line if line.startswith(",") else line) for line in lines[2:]
    ]
    return ("\n".join(filled) + "\n").encode()


def test_shopify_export_variants_images_and_options() -> None:
    small, medium, mug = parse_catalog(shopify_bytes(SHOPIFY), filename="products_export.csv")
    assert (small.id, small.title, small.brand, small.product_type) == (
        "TEE-S-R",
        "Cotton tee",
        "Acme",
        "Shirts",
    )
    assert small.description == "Soft cotton.\n\nOrganic"
    assert (small.price, small.gtin, small.item_group_id) == (19.0, "0001234567895", "tee")
    assert small.image_link == "https://s/1.jpg"
    assert small.attributes["size"] == "S"
    assert small.attributes["color"] == "Red"
    assert small.attributes["gender"] == "unisex"  # "Google Shopping / Gender"
    assert small.attributes["additional_image_link"] == "https://s/2.jpg, https://s/3.jpg"
    assert (medium.id, medium.title, medium.price, medium.attributes["size"]) == (
        "TEE-M-R",
        "Cotton tee",
        21.0,
        "M",
    )
    assert medium.image_link == "https://s/m.jpg"  # the variant's own image
    assert medium.line == 3
    assert (mug.id, mug.item_group_id, mug.line) == ("mug", None, 5)  # Handle names it
    assert "title" not in mug.attributes  # Shopify's "Default Title" placeholder


def test_shopify_variant_without_sku_is_named() -> None:
    text = SHOPIFY.replace("TEE-M-R", "")
    problem = error(parse_catalog, shopify_bytes(text), filename="products_export.csv")
    assert (problem.where, problem.field) == ("line 3", "id")
    assert "Variant SKU" in str(problem)


# --- format detection and helpers -----------------------------------------------------------


def test_detect_format_by_name_type_and_content() -> None:
    assert detect_format(b"id,title", filename="x.CSV") == "csv"
    assert detect_format(b"{}", filename="feed.xml") == "merchant_xml"  # the name decides
    assert detect_format(b"id,title", content_type="application/x-ndjson") == "jsonl"
    assert detect_format(b"x", content_type="text/html; charset=utf-8") == "html"
    assert detect_format(parquet_bytes(ROWS), filename="upload.bin") == "parquet"
    assert detect_format(rss(), content_type="application/xml") == "merchant_xml"
    assert detect_format(page(PRODUCT), content_type="application/octet-stream") == "html"
    assert detect_format(b'\xef\xbb\xbf{"id": 1}') == "jsonl"
    assert detect_format(b"[{}]") == "jsonl"
    assert detect_format(b"id\ttitle\n") == "csv"
    for content, name in (
        (b"x", "book.xlsx"),
        (b"PK\x03\x04...", None),
        (b"<catalog/>", None),
        (b"<rss><channel/></rss>", None),
    ):
        assert error(detect_format, content, filename=name).field == "file"


def test_html_to_text() -> None:
    assert html_to_text("<p>Soft <b>cotton</b> tee.</p><ul><li>one</li><li>two</li></ul>") == (
        "Soft cotton tee.\n\none\ntwo"
    )
    assert html_to_text("Fish &amp; chips") == "Fish & chips"
    assert html_to_text("  size < 5 cm  ") == "size < 5 cm"
    assert html_to_text("") == ""
