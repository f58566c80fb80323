from __future__ import annotations

import pytest

from engine.surfacing.categories import Categoriser, categorise_findings
from engine.surfacing.languages import SUPPORTED_LANGUAGES, detect_language
from engine.surfacing.product import Product, Reviews
from engine.surfacing.sentiment import analyse_reviews, review_findings
from engine.surfacing.taxonomy import google_taxonomy

PRAISE = (
    "The battery lasts all week, amazing.",
    "Great battery life, I charge it on Sundays.",
    "Love it. The battery is excellent.",
    "Battery is superb and the screen is sharp.",
    "The strap broke after a month. Battery is good though.",
)


def test_reviewers_praising_an_aspect_the_listing_omits_is_a_finding() -> None:
    watch = Product(
        id="w1",
        title="Pulse fitness watch",
        description="A fitness watch with heart-rate tracking.",
        reviews=Reviews(rating=4.6, count=5, texts=PRAISE),
    )
    analysis = analyse_reviews(watch)
    battery = next(a for a in analysis.aspects if a.aspect == "battery life")
    assert battery.mentions == 5
    assert battery.positive >= 4
    assert analysis.mean_compound is not None
    assert analysis.mean_compound > 0
    [finding] = [f for f in review_findings(watch, analysis) if f.check.startswith("reviews_")]
    assert "battery" in finding.message
    assert finding.fix is not None
    fixed = finding.fix.apply(watch)
    assert review_findings(fixed, analyse_reviews(fixed)) == []


def test_complaints_against_a_claim_and_unsupported_languages() -> None:
    shirt = Product(
        id="s1",
        title="Loom linen shirt",
        description="True to size, a relaxed fit.",
        reviews=Reviews(
            texts=(
                "Terrible fit, it runs small.",
                "The fit is awful and tight.",
                "Bad fit, returned it.",
            )
        ),
    )
    checks = {f.check for f in review_findings(shirt, analyse_reviews(shirt))}
    assert "reviews_complaint_contradicts_claim" in checks
    german = analyse_reviews(shirt, language="de")
    assert german.language_supported is False
    assert german.mean_compound is None
    assert german.aspects == ()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("A brass table lamp with a natural linen shade for the bedside table.", "en"),
        ("Lámpara de mesa de latón con pantalla de lino natural.", "es"),
        ("Tischlampe aus Messing mit einem Schirm aus Leinen.", "de"),
        ("真鍮のテーブルランプ", "ja"),
        ("黄铜台灯 配亚麻灯罩", "zh"),
        ("مصباح طاولة من النحاس", "ar"),
    ],
)
def test_languages_are_detected(text: str, code: str) -> None:
    assert code in SUPPORTED_LANGUAGES
    assert detect_language(text).code == code


def test_the_categoriser_places_clear_products_and_flags_a_wrong_declaration() -> None:
    categoriser = Categoriser(google_taxonomy())
    dining = Product(id="t", title="Oak dining table for six, 180 cm")
    mug = Product(id="m", title="Stoneware coffee mug 350 ml")
    wrong = Product(id="w", title="Oak dining table for six", google_product_category="2271")
    vague = Product(id="v", title="Thing")
    a_dining, a_mug, a_wrong, a_vague = categoriser.assign([dining, mug, wrong, vague])
    assert a_dining.node is not None
    assert a_dining.node.name == "Kitchen & Dining Room Tables"
    assert a_mug.node is not None
    assert a_mug.node.name == "Mugs"
    assert a_wrong.declared is not None
    assert a_wrong.declared.name == "Dresses"
    assert a_wrong.disagrees
    [finding] = categorise_findings(wrong, a_wrong)
    assert finding.fix is not None
    assert finding.fix.changes["google_product_category"] == str(a_wrong.node.id)  # type: ignore[union-attr]
    assert a_vague.confidence < 0.5
