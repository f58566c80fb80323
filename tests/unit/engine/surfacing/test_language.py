"""Language detection on short product texts, and which checks run in which language."""

from __future__ import annotations

import dataclasses

import pytest

from engine.surfacing.checks import check_product
from engine.surfacing.language import (
    ENGLISH_ONLY_CHECKS,
    SPACE_SEPARATED_CHECKS,
    SUPPORTED_LANGUAGES,
    detect_language,
    detector,
    product_language,
)
from engine.surfacing.lint import lint_product
from engine.surfacing.taxonomy import google_taxonomy
from tests.unit.engine.surfacing.clean_catalog import CLEAN, LANGUAGES

TEXTS: dict[str, tuple[str, ...]] = {
    "en": (
        "Stainless steel water bottle, 750 ml, keeps drinks cold for 24 hours",
        "Handmade ceramic coffee mug with a speckled glaze, dishwasher safe",
        "Waterproof hiking jacket for women with a detachable hood",
    ),
    "es": (
        "Botella de agua de acero inoxidable, 750 ml, mantiene las bebidas frías 24 horas",
        "Taza de café de cerámica hecha a mano con esmalte moteado, apta para lavavajillas",
        "Chaqueta impermeable de montaña para mujer con capucha desmontable",
    ),
    "fr": (
        "Gourde en acier inoxydable, 750 ml, garde les boissons fraîches pendant 24 heures",
        "Tasse à café en céramique faite à la main, émail moucheté, passe au lave-vaisselle",
        "Veste de randonnée imperméable pour femme avec capuche amovible",
    ),
    "de": (
        "Trinkflasche aus Edelstahl, 750 ml, hält Getränke 24 Stunden kalt",
        "Handgemachte Kaffeetasse aus Keramik mit gesprenkelter Glasur, spülmaschinenfest",
        "Wasserdichte Wanderjacke für Damen mit abnehmbarer Kapuze",
    ),
    "it": (
        "Borraccia in acciaio inossidabile, 750 ml, mantiene le bevande fredde per 24 ore",
        "Tazza da caffè in ceramica fatta a mano con smalto maculato, lavabile in lavastoviglie",
        "Giacca da escursionismo impermeabile da donna con cappuccio staccabile",
    ),
    "pt": (
        "Garrafa de água em aço inoxidável, 750 ml, mantém as bebidas frias por 24 horas",
        "Caneca de café de cerâmica feita à mão com esmalte salpicado",
        "Jaqueta impermeável de caminhada feminina com capuz removível",
    ),
    "nl": (
        "Drinkfles van roestvrij staal, 750 ml, houdt drankjes 24 uur koud",
        "Handgemaakte keramische koffiemok met gespikkeld glazuur, vaatwasserbestendig",
        "Waterdichte wandeljas voor dames met afneembare capuchon",
    ),
    "ja": (
        "ステンレス製ウォーターボトル 750ml 24時間保冷",
        "手作りの陶器マグカップ、食洗機対応",
        "レディース 防水ハイキングジャケット フード取り外し可能",
    ),
    "zh": (
        "不锈钢保温水杯，750毫升，保冷24小时",  # noqa: RUF001 (Chinese commas)
        "手工陶瓷咖啡杯，斑点釉面，可用洗碗机清洗",  # noqa: RUF001 (Chinese commas)
        "女士防水徒步夹克，可拆卸兜帽",  # noqa: RUF001 (Chinese commas)
    ),
    "ar": (
        "زجاجة مياه من الفولاذ المقاوم للصدأ، 750 مل، تحافظ على برودة المشروبات 24 ساعة",
        "كوب قهوة من السيراميك مصنوع يدويًا، آمن للاستخدام في غسالة الأطباق",
        "سترة مشي مقاومة للماء للنساء مع غطاء رأس قابل للفصل",
    ),
}
# Titles of three to six words: harder; the detector may abstain but must not be wrong.
TITLES: dict[str, tuple[str, ...]] = {
    "en": (
        "Oak dining table for six",
        "Wireless noise cancelling headphones",
        "Organic cotton baby blanket",
    ),
    "es": ("Lámpara de mesa de latón", "Mesa de comedor de roble", "Botas de montaña de cuero"),
    "fr": (
        "Table à manger en chêne",
        "Couverture bébé en coton bio",
        "Chaussures de randonnée en cuir",
    ),
    "de": ("Tischlampe aus Messing", "Esstisch aus Eiche", "Wanderschuhe aus Leder"),
    "it": ("Lampada da tavolo in ottone", "Tavolo da pranzo in rovere", "Padella in ghisa 26 cm"),
    "pt": (
        "Candeeiro de mesa em latão",
        "Mesa de jantar de carvalho",
        "Frigideira de ferro fundido",
    ),
    "nl": ("Tafellamp van messing", "Eiken eettafel voor zes", "Leren wandelschoenen"),
    "ja": ("真鍮製テーブルランプ", "オーク材のダイニングテーブル", "鋳鉄製スキレット"),
    "zh": ("黄铜台灯", "橡木餐桌", "铸铁煎锅"),
    "ar": ("مصباح طاولة نحاسي", "طاولة طعام من خشب البلوط", "مقلاة من الحديد الزهر"),
}


def test_the_ten_languages_are_supported() -> None:
    assert set(SUPPORTED_LANGUAGES) >= {"en", "es", "fr", "de", "it", "pt", "nl", "ja", "zh", "ar"}
    assert set(TEXTS) == set(SUPPORTED_LANGUAGES)


@pytest.mark.parametrize(
    ("language", "text"), [(lang, t) for lang, texts in TEXTS.items() for t in texts]
)
def test_short_product_texts_are_detected(language: str, text: str) -> None:
    guess = detect_language(text)
    assert guess.code == language
    assert 0.5 <= guess.confidence <= 1.0


def test_short_titles_are_detected_or_left_unsure_never_wrong() -> None:
    guesses = [(lang, detect_language(t)) for lang, titles in TITLES.items() for t in titles]
    assert [(lang, g.code) for lang, g in guesses if g.code not in (lang, None)] == []
    assert sum(g.code is not None for _, g in guesses) >= 0.9 * len(guesses)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "12345 678", "Латунная настольная лампа с льняным абажуром"],  # noqa: RUF001
)
def test_nothing_to_tell_or_another_script_is_unsure(text: str) -> None:
    guess = detect_language(text)
    assert guess.code is None
    assert 0.0 <= guess.confidence < 0.5


def test_markup_and_links_do_not_sway_the_guess() -> None:
    text = (
        '<div class="product-description"><p><strong>Gourde</strong> en acier inoxydable</p>'
        "<ul><li>garde les boissons fraîches</li></ul> https://shop.example.com/en/bottle</div>"
    )
    assert detect_language(text).code == "fr"


def test_one_detector_is_built_and_shared() -> None:
    assert detector() is detector()


def test_the_clean_catalogs_languages_are_read_from_its_products() -> None:
    for product in CLEAN:
        assert product_language(product).code == LANGUAGES[product.id], product.id


def _emitted_checks() -> set[str]:
    taxonomy = google_taxonomy()
    lamp = CLEAN[0]
    probes = [
        dataclasses.replace(lamp, title="Lumen Aurora blue", attributes={"color": "red"}),
        dataclasses.replace(lamp, title="Lumen lamp lamp lamp shade"),
        dataclasses.replace(
            lamp, description=lamp.description + " 9 out of 10 doctors recommend it."
        ),
    ]
    found = set()
    for product in probes:
        found |= {f.check for f in check_product(product, taxonomy=taxonomy)}
        found |= {f.check for f in lint_product(product)}
    return found


def test_the_listed_checks_exist_and_are_skipped_where_they_cannot_run() -> None:
    emitted = _emitted_checks()
    assert emitted >= ENGLISH_ONLY_CHECKS | SPACE_SEPARATED_CHECKS
    taxonomy = google_taxonomy()
    lamp = CLEAN[0]
    probe = dataclasses.replace(
        lamp,
        title="Lumen Aurora blue lamp lamp lamp",
        attributes={"color": "red"},
        description=lamp.description + " 9 out of 10 doctors recommend it.",
    )
    for language in ("fr", "de", "ja"):
        found = {f.check for f in check_product(probe, taxonomy=taxonomy, language=language)}
        found |= {f.check for f in lint_product(probe, language=language)}
        assert not found & ENGLISH_ONLY_CHECKS, language
    for language in ("ja", "zh"):
        found = {f.check for f in check_product(probe, taxonomy=taxonomy, language=language)}
        assert not found & SPACE_SEPARATED_CHECKS, language
