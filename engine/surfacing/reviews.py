"""What reviews say, overall and per aspect, and what the listing should say because of it.

Scores are VADER's (vaderSentiment 3.3.2; its lexicon ships in the package), English only:
for another language the analysis is marked unsupported and carries no numbers.

- **Overall**: each review text's compound score; the mean, and the shares at or above +0.05
  (positive) and at or below -0.05 (negative), VADER's standard thresholds. Stock VADER.
- **Per aspect**: reviews are split into sentences, and a sentence's compound score counts for
  every aspect it mentions (:mod:`engine.surfacing.aspects`). A sentence that mentions two
  aspects across a contrast ("the battery is great but the screen scratches") is scored clause
  by clause, so each aspect gets its own clause's opinion. Negation, intensifiers and "but"
  are VADER's own rules. The aspect scorer is VADER with the aspects' naming words taken out
  of its lexicon: stock VADER scores "fit" +1.5 and "value" +1.4, which would make "the fit
  is off" read as praise.

VADER scores opinion words; a factual complaint ("runs small", "stopped charging") carries
none and counts as a neutral mention: the counts are a floor on what reviewers said.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from engine.surfacing.aspects import (
    LEXICON,
    TOP_LEVEL_CATEGORY,
    Aspect,
    aspects_for,
    mentions,
    naming_words,
)
from engine.surfacing.findings import Finding, Fix, RuleSource
from engine.surfacing.product import Product
from engine.surfacing.rules import GMC_RATINGS, HIGHLIGHT_MAX_CHARS, HIGHLIGHTS_MAX
from engine.surfacing.taxonomy import Taxonomy, TaxonomyNode, google_taxonomy

POSITIVE, NEGATIVE = 0.05, -0.05  # VADER's standard thresholds
MIN_MENTIONS = 3  # a recommendation rests on at least this many sentences
PRAISE_SHARE = 0.7  # of an aspect's mentions positive: "reviewers praise it"
COMPLAINT_SHARE = 0.5  # of an aspect's mentions negative: "reviewers complain about it"
EXAMPLES = 2
EXAMPLE_CHARS = 200

ANALYSIS_SOURCE = RuleSource(
    "LiftOS review analysis (VADER sentiment, English)", "https://github.com/cjhutto/vaderSentiment"
)

_SENTENCE = re.compile(r"(?<=[.!?\u2026])\s+|\n+")
_CONTRAST = re.compile(
    r"\s*;\s*|,?\s+\b(?:but|however|although|though|whereas|yet|except)\b,?\s+", re.IGNORECASE
)


@dataclass(frozen=True)
class AspectSentiment:
    aspect: str
    mentions: int  # sentences (or clauses) mentioning it
    mean_compound: float
    positive: int
    negative: int
    positive_examples: tuple[str, ...]  # up to two, most positive first
    negative_examples: tuple[str, ...]  # up to two, most negative first


@dataclass(frozen=True)
class ReviewAnalysis:
    """``reviews`` counts the review texts, in any language. The numbers are None when the
    language is unsupported or there is no text."""

    language: str
    language_supported: bool
    reviews: int
    sentences: int | None
    mean_compound: float | None
    positive_share: float | None
    negative_share: float | None
    aspects: tuple[AspectSentiment, ...]  # most mentioned first
    categories: tuple[str, ...]  # lexicon categories used (the universal aspects apply too)


@cache
def _stock() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


@cache
def _aspect_scorer() -> SentimentIntensityAnalyzer:
    analyzer = SentimentIntensityAnalyzer()
    every = [a for category in LEXICON.values() for a in category.values()]
    for word in naming_words(every):
        analyzer.lexicon.pop(word, None)
    return analyzer


def _compound(analyzer: SentimentIntensityAnalyzer, text: str) -> float:
    return float(analyzer.polarity_scores(text)["compound"])


def is_english(language: str) -> bool:
    return re.split(r"[-_]", language.strip().casefold(), maxsplit=1)[0] == "en"


def sentences(text: str) -> list[str]:
    return [s for s in (part.strip() for part in _SENTENCE.split(text)) if s]


def _categories(
    product: Product, node: TaxonomyNode | None, taxonomy: Taxonomy | None
) -> tuple[str, ...] | None:
    """The lexicon categories for the product's taxonomy branch; None when it is unknown."""
    if node is None and product.google_product_category:
        node = (taxonomy or google_taxonomy()).resolve(product.google_product_category)
    if node is None:
        return None
    category = TOP_LEVEL_CATEGORY.get(node.top_level)
    return (category,) if category else ()


def _attribute(sentence: str, aspects: Sequence[Aspect]) -> list[tuple[Aspect, str, float]]:
    """(aspect, the text whose score it gets, that score) for each aspect the sentence names."""
    named = [a for a in aspects if mentions(sentence, a)]
    if not named:
        return []
    scorer = _aspect_scorer()
    clauses = [c for c in _CONTRAST.split(sentence) if c.strip()] if len(named) > 1 else []
    out = []
    for aspect in named:
        own = [c for c in clauses if mentions(c, aspect)]
        # One clause names it: that clause's opinion is about it. None or several: the sentence.
        text = own[0] if len(own) == 1 and len(clauses) > 1 else sentence
        out.append((aspect, text, _compound(scorer, text)))
    return out


def _examples(scored: list[tuple[float, str]], *, positive: bool) -> tuple[str, ...]:
    chosen: list[str] = []
    ranked = sorted(scored, key=lambda p: -p[0] if positive else p[0])
    for value, text in ranked:
        if (value < POSITIVE if positive else value > NEGATIVE) or len(chosen) == EXAMPLES:
            break
        clipped = text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "\u2026"
        if clipped not in chosen:
            chosen.append(clipped)
    return tuple(chosen)


def analyse_reviews(
    product: Product,
    *,
    language: str = "en",
    node: TaxonomyNode | None = None,
    taxonomy: Taxonomy | None = None,
) -> ReviewAnalysis:
    """The product's reviews, analysed. ``language`` is the reviews' detected language;
    ``node`` the product's category when known (the categoriser's), else its declared
    ``google_product_category`` is resolved; the category picks the aspect lexicon."""
    texts = [t for t in (product.reviews.texts if product.reviews else ()) if t.strip()]
    categories = _categories(product, node, taxonomy)
    used = tuple(LEXICON) if categories is None else ("general", *categories)
    if not is_english(language):
        return ReviewAnalysis(language, False, len(texts), None, None, None, None, (), used)
    if not texts:
        return ReviewAnalysis(language, True, 0, 0, None, None, None, (), used)
    stock = _stock()
    overall = [_compound(stock, t) for t in texts]
    aspects = aspects_for(categories)
    scored: dict[str, list[tuple[float, str]]] = {}
    count = 0
    for text in texts:
        for sentence in sentences(text):
            count += 1
            for aspect, clause, value in _attribute(sentence, aspects):
                scored.setdefault(aspect.name, []).append((value, clause))
    results = tuple(
        AspectSentiment(
            aspect=name,
            mentions=len(values),
            mean_compound=sum(v for v, _ in values) / len(values),
            positive=sum(v >= POSITIVE for v, _ in values),
            negative=sum(v <= NEGATIVE for v, _ in values),
            positive_examples=_examples(values, positive=True),
            negative_examples=_examples(values, positive=False),
        )
        for name, values in sorted(scored.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    )
    return ReviewAnalysis(
        language=language,
        language_supported=True,
        reviews=len(texts),
        sentences=count,
        mean_compound=sum(overall) / len(overall),
        positive_share=sum(v >= POSITIVE for v in overall) / len(overall),
        negative_share=sum(v <= NEGATIVE for v in overall) / len(overall),
        aspects=results,
        categories=used,
    )


# -- findings -----------------------------------------------------------------------------


def _aspect(name: str) -> Aspect:
    for category in LEXICON.values():
        if name in category:
            return category[name]
    raise KeyError(name)


def _listing_parts(product: Product) -> list[tuple[str, str]]:
    """(field, text) for each statement of the listing: the title, each highlight, each
    description sentence, each attribute as "key: value"."""
    parts = [("title", product.title)]
    parts += [("highlights", h) for h in product.highlights]
    parts += [("description", s) for s in sentences(product.description)]
    parts += [("attributes", f"{k.replace('_', ' ')}: {v}") for k, v in product.attributes.items()]
    return parts


def _attribute_value(product: Product, aspect: Aspect) -> str | None:
    for key in aspect.attributes:
        value = product.attributes.get(key, "").strip()
        if value:
            return value
    return None


def _highlight(product: Product, aspect: Aspect) -> str:
    value = _attribute_value(product, aspect)
    label = aspect.name[:1].upper() + aspect.name[1:]
    text = f"{label}: {value}, praised by reviewers" if value else f"{label} praised by reviewers"
    return text if len(text) <= HIGHLIGHT_MAX_CHARS else text[: HIGHLIGHT_MAX_CHARS - 1] + "\u2026"


def _praised(product: Product, stats: AspectSentiment, aspect: Aspect) -> Finding | None:
    parts = _listing_parts(product)
    where = {field for field, text in parts if mentions(text, aspect)}
    if where & {"title", "highlights"}:
        return None
    buried = sorted(where)  # only the description or the attributes say it
    said = (
        f"the title and highlights never mention it (only the {' and '.join(buried)})"
        if buried
        else "the title, highlights, description and attributes never mention it"
    )
    fix = None
    if len(product.highlights) < HIGHLIGHTS_MAX:
        fix = Fix(
            f"add a product highlight on the {aspect.name}",
            {"highlights": (*product.highlights, _highlight(product, aspect))},
            mechanical=True,
            generated=True,
        )
    return Finding(
        product_id=product.id,
        check="reviews_praised_aspect_missing",
        severity="low" if buried else "medium",
        message=f"reviewers praise the {aspect.name} ({stats.positive} of {stats.mentions} "
        f"mentions positive); {said}",
        evidence=" | ".join(stats.positive_examples),
        source=ANALYSIS_SOURCE,
        fix=fix,
        field="highlights",
    )


def _contradicted(product: Product, stats: AspectSentiment, aspect: Aspect) -> Finding | None:
    scorer = _aspect_scorer()
    # A statement of the listing that names the aspect and does not itself criticise it.
    claims = [
        (field, text)
        for field, text in _listing_parts(product)
        if mentions(text, aspect) and _compound(scorer, text) > NEGATIVE
    ]
    if not claims:
        return None
    field, claim = claims[0]
    quoted = claim if len(claim) <= 120 else claim[:119] + "\u2026"
    return Finding(
        product_id=product.id,
        check="reviews_complaint_contradicts_claim",
        severity="medium",
        message=f"reviews complain about the {aspect.name} ({stats.negative} of "
        f"{stats.mentions} mentions negative); the {field} claims '{quoted}'",
        evidence=" | ".join(stats.negative_examples),
        source=ANALYSIS_SOURCE,
        field=field,
    )


def _missing(product: Product) -> Finding:
    return Finding(
        product_id=product.id,
        check="reviews_missing",
        severity="info",
        message="the product has no reviews and no rating: Merchant Center shows star ratings "
        "only from submitted product reviews, and the OpenAI product feed carries "
        "product_review_count and product_review_rating",
        evidence="reviews: none",
        source=GMC_RATINGS,
        field="reviews",
    )


def review_findings(product: Product, analysis: ReviewAnalysis) -> list[Finding]:
    """Praise the listing does not surface, complaints against what it claims, no reviews.
    An unsupported language yields only ``reviews_missing`` (which reads no text)."""
    reviews = product.reviews
    if reviews is None or (not reviews.texts and not reviews.count and reviews.rating is None):
        return [_missing(product)]
    if not analysis.language_supported:
        return []
    found: list[Finding] = []
    for stats in analysis.aspects:
        if stats.mentions < MIN_MENTIONS:
            continue
        aspect = _aspect(stats.aspect)
        finding = None
        if stats.positive >= PRAISE_SHARE * stats.mentions:
            finding = _praised(product, stats, aspect)
        elif stats.negative >= COMPLAINT_SHARE * stats.mentions:
            finding = _contradicted(product, stats, aspect)
        if finding is not None:
            found.append(finding)
    return found
