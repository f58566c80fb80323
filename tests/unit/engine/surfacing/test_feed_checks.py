"""The feed checklist (engine.surfacing.checks): planted defects are flagged with evidence and
a source, mechanical fixes remove what they target, and a clean catalog raises nothing high."""

from __future__ import annotations

import dataclasses

import pytest

from engine.surfacing.checks import check_catalog, check_product
from engine.surfacing.findings import Finding
from engine.surfacing.language import ENGLISH_ONLY_CHECKS
from engine.surfacing.product import Product, Reviews
from engine.surfacing.rules import DESCRIPTION_MAX, TITLE_MAX
from engine.surfacing.taxonomy import google_taxonomy
from tests.unit.engine.surfacing.clean_catalog import CLEAN, LANGUAGES, gtin

TAXONOMY = google_taxonomy()
LAMP = CLEAN[0]  # English, with markup and attributes
SHIRT = CLEAN[3]  # apparel, item group "loom-shirt"
R = dataclasses.replace


def run(product: Product, language: str = "en", **kwargs: object) -> list[Finding]:
    return check_product(product, taxonomy=TAXONOMY, language=language, **kwargs)  # type: ignore[arg-type]


def checks_of(product: Product, language: str = "en") -> set[str]:
    return {f.check for f in run(product, language)}


def only(findings: list[Finding], check: str) -> Finding:
    matching = [f for f in findings if f.check == check]
    assert len(matching) == 1, [f.check for f in findings]
    return matching[0]


def test_the_clean_catalog_has_no_high_severity_finding() -> None:
    assert len(CLEAN) >= 20
    assert len({p.google_product_category for p in CLEAN}) >= 18
    findings = check_catalog(CLEAN, taxonomy=TAXONOMY, languages=LANGUAGES)
    high = [(f.product_id, f.check, f.evidence) for f in findings if f.severity == "high"]
    assert high == []
    # The checks did run on every product (each lacking reviews gets its info finding).
    assert {f.product_id for f in findings if f.check == "reviews_missing"} == {
        p.id for p in CLEAN if p.reviews is None
    }


def test_the_clean_catalog_without_given_languages_detects_them() -> None:
    findings = check_catalog(CLEAN, taxonomy=TAXONOMY)
    assert [f for f in findings if f.severity == "high"] == []
    assert not any(f.check == "language_not_supported" for f in findings)


DEFECTS: dict[str, tuple[Product, str, str]] = {
    "missing brand": (R(LAMP, brand=None), "missing_brand", "medium"),
    "broken GTIN check digit": (R(LAMP, gtin="4006381333932"), "gtin_check_digit", "high"),
    "stuffed title": (
        R(LAMP, title="Lamp table lamp desk lamp floor lamp bedside lamp brass lamp"),
        "title_repeated_words",
        "medium",
    ),
    "promo title": (
        R(LAMP, title="Lumen brass table lamp with linen shade - free shipping, 50% off"),
        "title_promotional_text",
        "high",
    ),
    "promo sale": (R(LAMP, title="SALE Lumen brass table lamp"), "title_promotional_text", "high"),
    "superlative": (
        R(LAMP, title="Best Lumen brass table lamp with linen shade"),
        "title_subjective_claims",
        "medium",
    ),
    "ALL CAPS title": (
        R(LAMP, title="LUMEN BRASS TABLE LAMP WITH LINEN SHADE"),
        "title_all_caps",
        "medium",
    ),
    "ALL CAPS word": (
        R(LAMP, title="Lumen brass table lamp with GORGEOUS linen shade"),
        "title_all_caps",
        "medium",
    ),
    "forbidden characters": (
        R(LAMP, title="Lumen brass table lamp {linen shade}"),
        "title_forbidden_characters",
        "low",
    ),
    "title too long": (
        R(LAMP, title="Lumen brass table lamp with linen shade, " + "hand finished, " * 10),
        "title_too_long",
        "medium",
    ),
    "no product type in title": (
        R(LAMP, title="Lumen Aurora, brass"),
        "title_missing_product_type",
        "low",
    ),
    "description = title": (R(LAMP, description=LAMP.title), "description_copies_title", "medium"),
    "no description": (R(LAMP, description=""), "description_missing", "high"),
    "promo description": (
        R(LAMP, description="Free shipping on all orders! " + LAMP.description),
        "description_promotional_text",
        "medium",
    ),
    "link in description": (
        R(LAMP, description=LAMP.description + " More at https://shop.example.com/lamps."),
        "description_links",
        "medium",
    ),
    "price in description": (
        R(LAMP, description=LAMP.description + " Now only $19.99."),
        "description_prices",
        "medium",
    ),
    "description too long": (
        R(LAMP, description="A brass lamp with a linen shade. " * 200),
        "description_too_long",
        "medium",
    ),
    "wrong category id": (
        R(LAMP, google_product_category="99999999"),
        "category_not_in_taxonomy",
        "medium",
    ),
    "category path of product_type": (
        R(LAMP, google_product_category="Home > Lamps"),
        "category_not_in_taxonomy",
        "medium",
    ),
    "no category": (
        R(LAMP, google_product_category=None, product_type="Home > Lighting > Table lamps"),
        "category_missing",
        "low",
    ),
    "broad category": (R(LAMP, google_product_category="536"), "category_not_specific", "low"),
    "missing color for apparel": (
        R(SHIRT, attributes={k: v for k, v in SHIRT.attributes.items() if k != "color"}),
        "required_attribute_missing",
        "high",
    ),
    "attribute contradicted": (
        R(
            LAMP,
            attributes={"material": "brass", "color": "red"},
            title="Lumen blue brass table lamp",
        ),
        "attribute_contradicts_text",
        "medium",
    ),
    "attribute never said": (
        R(LAMP, attributes={**LAMP.attributes, "pattern": "striped"}),
        "attribute_not_in_text",
        "low",
    ),
    "one highlight": (R(LAMP, highlights=("Solid brass base",)), "highlights_too_few", "medium"),
    "no highlights": (R(LAMP, highlights=()), "highlights_missing", "low"),
    "promo highlight": (
        R(LAMP, highlights=(*LAMP.highlights, "Free shipping worldwide")),
        "highlight_promotional_text",
        "medium",
    ),
    "markup price disagrees": (
        R(LAMP, markup=R(LAMP.markup, price=25.0)),  # type: ignore[type-var]
        "markup_price_mismatch",
        "high",
    ),
    "markup currency disagrees": (
        R(LAMP, markup=R(LAMP.markup, currency="EUR")),  # type: ignore[type-var]
        "markup_currency_mismatch",
        "high",
    ),
    "markup availability disagrees": (
        R(LAMP, markup=R(LAMP.markup, availability="out_of_stock")),  # type: ignore[type-var]
        "markup_availability_mismatch",
        "high",
    ),
    "markup GTIN disagrees": (
        R(LAMP, markup=R(LAMP.markup, gtin=gtin("400638139999"))),  # type: ignore[type-var]
        "markup_gtin_mismatch",
        "high",
    ),
    "markup invalid": (
        R(LAMP, markup=R(LAMP.markup, problems=("offers.price is missing",))),  # type: ignore[type-var]
        "markup_invalid",
        "medium",
    ),
    "reviews counted without rating": (
        R(LAMP, reviews=Reviews(count=40)),
        "reviews_without_rating",
        "low",
    ),
    "no reviews": (LAMP, "reviews_missing", "info"),
    "missing link": (R(LAMP, link=None), "missing_link", "high"),
    "missing image": (R(LAMP, image_link=""), "missing_image_link", "high"),
    "missing price": (R(LAMP, price=None), "missing_price", "high"),
    "missing availability": (R(LAMP, availability=None), "missing_availability", "high"),
    "link not a URL": (R(LAMP, link="shop.example.com/lamp"), "link_invalid", "high"),
    "price without currency": (R(LAMP, currency=None), "missing_currency", "high"),
}


@pytest.mark.parametrize(("product", "check", "severity"), DEFECTS.values(), ids=DEFECTS.keys())
def test_each_planted_defect_is_flagged(product: Product, check: str, severity: str) -> None:
    assert (
        check not in checks_of(LAMP if product.id == LAMP.id else SHIRT)
        or check == "reviews_missing"
    )
    finding = next(f for f in run(product) if f.check == check)
    assert finding.severity == severity
    assert finding.evidence
    assert finding.message
    assert finding.source.url.startswith("https://")
    assert finding.product_id == product.id
    assert not finding.hard_fail  # only the manipulation lint hard-fails


def _key(finding: Finding) -> tuple[str, str | None]:
    return finding.check, finding.field


@pytest.mark.parametrize(("product", "check", "severity"), DEFECTS.values(), ids=DEFECTS.keys())
def test_mechanical_fixes_remove_the_finding_they_target(
    product: Product, check: str, severity: str
) -> None:
    del severity
    for finding in run(product):
        if finding.fix is None or not finding.fix.mechanical:
            continue
        fixed = finding.fix.apply(product)
        assert fixed != product, finding.check
        after = {_key(f) for f in run(fixed)}
        assert _key(finding) not in after, (finding.check, finding.fix)
        if "title" in finding.fix.changes:
            assert 0 < len(fixed.title) <= TITLE_MAX
        if "description" in finding.fix.changes:
            assert 0 < len(fixed.description) <= DESCRIPTION_MAX


def test_advice_is_never_marked_mechanical() -> None:
    for product, _, _ in DEFECTS.values():
        for finding in run(product):
            if finding.fix is not None and not finding.fix.changes:
                assert not finding.fix.mechanical, finding.check


def test_the_restructured_title_is_brand_type_and_attributes_without_promotion() -> None:
    product = R(
        LAMP,
        title="BEST Aurora!!! FREE SHIPPING",
        product_type="Home > Lighting > Table lamps",
        attributes={"material": "brass", "color": "gold"},
    )
    fix = only(run(product), "title_promotional_text").fix
    assert fix is not None
    assert fix.mechanical
    restructured = next(
        f.fix for f in run(product) if f.check == "title_missing_product_type" and f.fix
    )
    assert restructured.generated
    title = restructured.changes["title"]
    assert isinstance(title, str)
    assert title == "Lumen brass table lamp Aurora - gold"
    fixed = restructured.apply(product)
    assert not {f.check for f in run(fixed)} & {
        "title_promotional_text",
        "title_subjective_claims",
        "title_all_caps",
        "title_repeated_words",
        "title_missing_product_type",
        "title_forbidden_characters",
        "brand_not_in_title",
    }


def test_a_too_long_title_is_restructured_within_the_limit_keeping_the_merchant_words() -> None:
    product = DEFECTS["title too long"][0]
    fix = only(run(product), "title_too_long").fix
    assert fix is not None
    assert fix.generated
    title = fix.changes["title"]
    assert isinstance(title, str)
    assert len(title) <= TITLE_MAX
    assert title.startswith("Lumen brass")
    assert "linen shade" in title
    assert "hand finished" in title


def test_gtin_rules() -> None:
    def gtin_checks(value: str) -> set[str]:
        return {c for c in checks_of(R(LAMP, gtin=value)) if c.startswith("gtin")}

    assert gtin_checks(gtin("400638133393")) == set()
    assert gtin_checks("96385074") == set()  # a valid GTIN-8
    assert gtin_checks("9780306406157") == set()  # an ISBN-13 is a GTIN
    assert gtin_checks("0000000000000") == {"gtin_all_zeros"}
    assert gtin_checks("40063813339") == {"gtin_invalid_length"}
    assert gtin_checks("4006381A33931") == {"gtin_invalid_format"}
    assert gtin_checks(gtin("201234567890")) == {"gtin_restricted_prefix"}
    assert gtin_checks("0" + gtin("040123456789")) == {"gtin_restricted_prefix"}
    # The first digit of a GTIN-14 is a packaging indicator, not part of the prefix.
    assert gtin_checks("1" + gtin("400638133393")[:-1] + "0") <= {"gtin_check_digit"}
    assert gtin_checks(gtin("981234567890")) == {"gtin_coupon_prefix"}
    assert gtin_checks("400-6381-333931") == {"gtin_format"}
    isbn10 = run(R(LAMP, gtin="0306406152"))
    assert "ISBN-13 9780306406157" in only(isbn10, "gtin_invalid_length").evidence
    gs1 = run(R(LAMP, gtin="(01)04006381333931"))
    assert only(gs1, "gtin_format").severity == "medium"
    digit = only(run(R(LAMP, gtin="4006381333932")), "gtin_check_digit")
    assert "check digit of 400638133393 is 1" in digit.evidence


def test_no_gtin_needs_brand_and_mpn() -> None:
    assert "missing_identifier" in checks_of(R(LAMP, gtin=None))
    assert "missing_identifier" not in checks_of(R(LAMP, gtin=None, mpn="LU-48-BR"))


def test_brand_rules() -> None:
    finding = only(run(R(LAMP, title="Brass table lamp with linen shade")), "brand_not_in_title")
    assert finding.fix is not None
    assert finding.fix.changes["title"] == "Lumen Brass table lamp with linen shade"
    missing = only(run(R(LAMP, brand=None)), "missing_brand")
    assert missing.fix is not None
    assert missing.fix.changes == {"brand": "Lumen"}
    no_markup = only(run(R(LAMP, brand=None, markup=None)), "missing_brand")
    assert no_markup.fix is not None
    assert not no_markup.fix.mechanical
    book = CLEAN[9]
    assert not checks_of(R(book, brand=None)) & {"missing_brand", "brand_not_in_title"}


def test_category_fixes_accept_the_suggested_node_only() -> None:
    lamps = TAXONOMY.resolve("4636")
    assert lamps is not None
    product = R(LAMP, google_product_category="99999999")
    without = only(run(product), "category_not_in_taxonomy")
    assert without.fix is not None
    assert not without.fix.mechanical
    withit = only(run(product, suggested_category=lamps), "category_not_in_taxonomy")
    assert withit.fix is not None
    assert withit.fix.mechanical
    assert withit.fix.changes == {"google_product_category": "4636"}
    missing = only(
        run(R(LAMP, google_product_category=None, product_type="Home > Lamps")), "category_missing"
    )
    assert "product_type is the merchant's own path" in missing.message
    broad = R(LAMP, google_product_category="536")
    deeper = only(run(broad, suggested_category=lamps), "category_not_specific")
    assert deeper.fix is not None
    assert deeper.fix.changes == {"google_product_category": "4636"}


def test_category_required_attributes() -> None:
    boots = CLEAN[5]
    bare = R(boots, attributes={"color": "brown"})
    missing = {f.field for f in run(bare) if f.check == "required_attribute_missing"}
    assert missing == {"attributes.size", "attributes.gender", "attributes.age_group"}
    # Apparel outside clothing and shoes needs no size (a scarf, say: Clothing Accessories).
    scarf = R(
        SHIRT, google_product_category="167", attributes={"color": "blue"}, item_group_id=None
    )
    missing = {f.field for f in run(scarf) if f.check == "required_attribute_missing"}
    assert missing == {"attributes.gender", "attributes.age_group"}
    # The suggested category stands in when the product names none.
    apparel = TAXONOMY.resolve("212")
    no_category = R(SHIRT, google_product_category=None, attributes={})
    found = run(no_category, suggested_category=apparel)
    assert {f.field for f in found if f.check == "required_attribute_missing"} >= {
        "attributes.color"
    }
    color = next(f for f in found if f.field == "attributes.color")
    assert color.fix is not None
    assert color.fix.mechanical


def test_a_missing_attribute_goes_into_the_title_or_the_highlights() -> None:
    striped = DEFECTS["attribute never said"][0]
    finding = only(run(striped), "attribute_not_in_text")
    assert finding.fix is not None
    assert finding.fix.changes["title"] == "Lumen striped brass table lamp with linen shade"
    unbranded = R(striped, title="Brass table lamp with linen shade")
    fix = only(run(unbranded), "attribute_not_in_text").fix
    assert fix is not None
    assert fix.changes["title"] == "Striped Brass table lamp with linen shade"
    french = R(CLEAN[16], attributes={**CLEAN[16].attributes, "color": "doré"})
    fix = only(run(french, "fr"), "attribute_not_in_text").fix
    assert fix is not None
    assert fix.changes["title"] == f"{CLEAN[16].title}, doré"
    long_title = R(striped, title="Lumen brass table lamp with linen shade " + "x" * 105)
    fix = only(run(long_title), "attribute_not_in_text").fix
    assert fix is not None
    assert fix.changes["highlights"] == (*LAMP.highlights, "Pattern: striped")


def test_gender_contradiction() -> None:
    product = R(SHIRT, title="Loom women's blue linen shirt, size M")
    finding = only(run(product), "attribute_contradicts_text")
    assert finding.field == "attributes.gender"


def test_price_tolerance_is_half_a_percent() -> None:
    near = R(LAMP, markup=R(LAMP.markup, price=21.0 * 1.004))  # type: ignore[type-var]
    far = R(LAMP, markup=R(LAMP.markup, price=21.0 * 1.006))  # type: ignore[type-var]
    assert "markup_price_mismatch" not in checks_of(near)
    assert "markup_price_mismatch" in checks_of(far)


def test_promotional_words_are_per_language() -> None:
    spanish = R(CLEAN[20], title="Sabor té verde sencha ecológico, envío gratis")
    assert "title_promotional_text" in checks_of(spanish, "es")
    salt = CLEAN[19]  # Italian "sale" is salt
    assert "title_promotional_text" not in checks_of(salt, "it")
    assert "title_promotional_text" in checks_of(salt, "en")
    japanese = R(CLEAN[18], title="ミズホ ステンレス 水筒 500ml 送料無料")
    finding = only(run(japanese, "ja"), "title_promotional_text")
    assert finding.fix is not None
    assert "送料無料" not in str(finding.fix.changes["title"])
    assert "title_promotional_text" not in checks_of(
        R(LAMP, brand="Best Made", title="Best Made brass table lamp")
    )


def test_english_only_checks_do_not_run_for_other_languages() -> None:
    product = R(
        LAMP,
        title="Lumen Aurora blue",
        attributes={"color": "red"},
        google_product_category="4636",
    )
    assert {"title_missing_product_type", "attribute_contradicts_text"} <= checks_of(product)
    assert not checks_of(product, "fr") & ENGLISH_ONLY_CHECKS


def test_an_unsupported_language_skips_word_lists_and_says_so() -> None:
    product = R(LAMP, title="Lumen brass table lamp, free shipping")
    found = run(product, "sv")
    assert only(found, "language_not_supported").severity == "info"
    assert "title_promotional_text" not in {f.check for f in found}
    assert "language_not_supported" not in checks_of(product, "en-US")


def test_catalog_checks() -> None:
    shirt_m, shirt_l = CLEAN[3], CLEAN[4]
    catalog = [
        shirt_m,
        R(shirt_l, attributes=dict(shirt_m.attributes), gtin=shirt_m.gtin),  # same variant, GTIN
        R(CLEAN[1], id=CLEAN[0].id),  # duplicate id
        R(CLEAN[2], item_group_id="mugs"),  # a variant without variant attributes below
        R(CLEAN[2], id="mug-2", item_group_id="mugs", attributes={}),
        R(CLEAN[10], id="skillet-2"),  # same title as CLEAN[10], no group
        CLEAN[10],
        CLEAN[0],
    ]
    found = check_catalog(catalog, taxonomy=TAXONOMY, languages={p.id: "en" for p in catalog})
    by_check: dict[str, set[str]] = {}
    for f in found:
        by_check.setdefault(f.check, set()).add(f.product_id)
    assert by_check["variant_not_distinguished"] == {shirt_m.id, shirt_l.id}
    assert by_check["duplicate_gtin"] >= {shirt_m.id, shirt_l.id}
    assert by_check["duplicate_id"] == {CLEAN[0].id}
    assert by_check["variant_attribute_missing"] == {"mug-2"}
    assert by_check["duplicate_title"] >= {"skillet-2", CLEAN[10].id}
    assert by_check["variant_title_not_distinguished"] == {CLEAN[2].id, "mug-2"}
    assert "duplicate_title" not in {f.check for f in found if f.product_id == shirt_m.id}


def test_variants_sharing_a_title_get_their_attributes_named() -> None:
    a = R(SHIRT, title="Loom men's blue linen shirt")
    b = R(CLEAN[4], title="Loom men's blue linen shirt")
    found = check_catalog([a, b], taxonomy=TAXONOMY, languages={a.id: "en", b.id: "en"})
    fixes = {f.product_id: f.fix for f in found if f.check == "variant_title_not_distinguished"}
    fix_a, fix_b = fixes[a.id], fixes[b.id]
    assert fix_a is not None
    assert fix_b is not None
    assert fix_a.changes == {"title": "Loom men's blue linen shirt, Size M"}
    fixed = [fix_a.apply(a), fix_b.apply(b)]
    again = check_catalog(fixed, taxonomy=TAXONOMY, languages={a.id: "en", b.id: "en"})
    assert "variant_title_not_distinguished" not in {f.check for f in again}
