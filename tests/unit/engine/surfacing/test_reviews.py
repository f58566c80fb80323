from __future__ import annotations

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from engine.surfacing.aspects import LEXICON, aspects_for, mentions
from engine.surfacing.product import Product, Reviews
from engine.surfacing.reviews import ANALYSIS_SOURCE, analyse_reviews, review_findings
from engine.surfacing.rules import GMC_RATINGS

PRAISE = (
    "The battery lasts all week, amazing.",
    "Great battery life, I charge it on Sundays.",
    "Love it. The battery is excellent.",
    "Battery is superb and the strap is comfy.",
    "The strap broke after a month. Battery is good though.",
)


def _watch(**changes: object) -> Product:
    fields: dict[str, object] = {
        "id": "w1",
        "title": "Pulse fitness watch",
        "description": "A fitness watch with heart-rate tracking.",
        "google_product_category": "201",  # Apparel & Accessories > Jewelry > Watches
        "reviews": Reviews(rating=4.6, count=5, texts=PRAISE),
    }
    fields.update(changes)
    return Product(**fields)  # type: ignore[arg-type]


def test_overall_sentiment_is_the_mean_of_vader_scores_with_its_thresholds() -> None:
    texts = ("I love it, wonderful.", "Terrible, it broke.", "It is a watch.")
    analysis = analyse_reviews(_watch(reviews=Reviews(texts=texts)))
    vader = SentimentIntensityAnalyzer()
    scores = [vader.polarity_scores(t)["compound"] for t in texts]
    assert analysis.language_supported
    assert analysis.reviews == 3
    assert analysis.mean_compound == pytest.approx(sum(scores) / 3)
    assert analysis.positive_share == pytest.approx(sum(s >= 0.05 for s in scores) / 3)
    assert analysis.negative_share == pytest.approx(sum(s <= -0.05 for s in scores) / 3)
    assert analysis.positive_share == analysis.negative_share == pytest.approx(1 / 3)


def test_reviewers_praising_the_battery_the_listing_omits_is_a_finding_with_a_fix() -> None:
    watch = _watch(attributes={"battery_life": "7 days"})
    analysis = analyse_reviews(watch)
    battery = next(a for a in analysis.aspects if a.aspect == "battery life")
    assert (battery.mentions, battery.positive, battery.negative) == (5, 5, 0)
    assert len(battery.positive_examples) == 2
    [finding] = review_findings(watch, analysis)
    assert finding.check == "reviews_praised_aspect_missing"
    assert "battery life" in finding.message
    assert "5 of 5 mentions positive" in finding.message
    # The attributes state it, the title and highlights do not: buried, so low.
    assert finding.severity == "low"
    assert finding.source == ANALYSIS_SOURCE
    assert finding.fix is not None
    assert finding.fix.mechanical
    assert finding.fix.generated
    assert finding.fix.changes["highlights"] == ("Battery life: 7 days, praised by reviewers",)
    fixed = finding.fix.apply(watch)
    assert review_findings(fixed, analyse_reviews(fixed)) == []


def test_praise_the_listing_never_states_is_medium_and_none_when_the_title_says_it() -> None:
    [finding] = review_findings(_watch(), analyse_reviews(_watch()))
    assert finding.severity == "medium"
    assert finding.fix is not None
    assert finding.fix.changes["highlights"] == ("Battery life praised by reviewers",)
    titled = _watch(title="Pulse fitness watch, 7-day battery")
    assert review_findings(titled, analyse_reviews(titled)) == []


def test_complaints_against_what_the_listing_claims_are_found_without_a_fix() -> None:
    shirt = Product(
        id="s1",
        title="Loom linen shirt",
        description="True to size, a relaxed fit. Machine washable.",
        google_product_category="212",  # Shirts & Tops
        reviews=Reviews(
            texts=(
                "Terrible fit, it runs small.",
                "The fit is awful and tight.",
                "Bad fit, returned it.",
                "Lovely colour though.",
            )
        ),
    )
    analysis = analyse_reviews(shirt)
    fit = next(a for a in analysis.aspects if a.aspect == "fit")
    assert fit.negative == 3
    assert fit.negative_examples
    [finding] = review_findings(shirt, analysis)
    assert finding.check == "reviews_complaint_contradicts_claim"
    assert "fit" in finding.message
    assert "True to size, a relaxed fit." in finding.message
    assert finding.field == "description"
    assert finding.fix is None


def test_an_aspect_word_is_not_praise_and_negation_is_vaders() -> None:
    # Stock VADER scores "fit" +1.5: "The fit is off." would read as praise.
    stock = SentimentIntensityAnalyzer().polarity_scores("The fit is off.")["compound"]
    assert stock > 0.05
    shirt = Product(
        id="s",
        title="Shirt",
        google_product_category="212",
        reviews=Reviews(texts=("The fit is off.", "The fabric is not good.")),
    )
    by_name = {a.aspect: a for a in analyse_reviews(shirt).aspects}
    assert by_name["fit"].positive == 0
    assert by_name["fabric"].negative == 1  # "not good"


def test_a_contrast_gives_each_aspect_its_own_clause() -> None:
    phone = Product(
        id="p",
        title="Phone",
        google_product_category="Electronics",
        reviews=Reviews(texts=("The battery is great but the screen is awful.",)),
    )
    by_name = {a.aspect: a for a in analyse_reviews(phone).aspects}
    assert by_name["battery life"].positive == 1
    assert by_name["screen"].negative == 1
    assert by_name["screen"].negative_examples == ("the screen is awful.",)


def test_the_category_picks_the_aspect_lexicon() -> None:
    texts = ("It fits perfectly on my wall, great picture.",)
    tv = Product(id="t", title="TV", google_product_category="404", reviews=Reviews(texts=texts))
    unknown = Product(id="u", title="TV", reviews=Reviews(texts=texts))
    assert analyse_reviews(tv).categories == ("general", "electronics")
    assert "fit" not in {a.aspect for a in analyse_reviews(tv).aspects}
    assert "fit" in {a.aspect for a in analyse_reviews(unknown).aspects}
    assert {a.name for a in aspects_for(())} == {*LEXICON["general"], "battery life", "charging"}
    with pytest.raises(ValueError, match="unknown aspect category"):
        aspects_for(("garden",))


def test_triggers_match_whole_words_and_plurals() -> None:
    battery = LEXICON["electronics"]["battery life"]
    assert mentions("Two batteries included", battery)
    assert not mentions("Battery-powered", LEXICON["general"]["value"])
    assert not mentions("a lovely screenshot", LEXICON["electronics"]["screen"])


def test_other_languages_are_not_supported_and_carry_no_numbers() -> None:
    german = analyse_reviews(_watch(), language="de")
    assert german.language == "de"
    assert german.language_supported is False
    assert german.reviews == 5
    assert german.sentences is None
    assert german.mean_compound is None
    assert german.positive_share is None
    assert german.negative_share is None
    assert german.aspects == ()
    assert review_findings(_watch(), german) == []
    assert analyse_reviews(_watch(), language="en-GB").language_supported


def test_no_reviews_at_all_is_an_info_finding_citing_product_ratings() -> None:
    bare = Product(id="b", title="Brass table lamp")
    [finding] = review_findings(bare, analyse_reviews(bare))
    assert finding.check == "reviews_missing"
    assert finding.severity == "info"
    assert finding.source == GMC_RATINGS
    assert "product_review_count" in finding.message
    rated = Product(id="r", title="Lamp", reviews=Reviews(rating=4.5, count=12))
    assert review_findings(rated, analyse_reviews(rated)) == []
    assert analyse_reviews(rated).mean_compound is None
