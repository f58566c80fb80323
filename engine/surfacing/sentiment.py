"""What reviews say, overall and per aspect, and what the listing should say because of it.

Sentences are scored with VADER (vaderSentiment's lexicon and rules, shipped in the package;
English only, so other languages are reported as unsupported, with no numbers). A sentence's
score counts for every aspect it mentions, by the trigger words of :data:`ASPECTS`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from engine.surfacing.findings import Finding, Fix, RuleSource
from engine.surfacing.product import Product
from engine.surfacing.specs import HIGHLIGHT_MAX, SPEC

POSITIVE, NEGATIVE = 0.05, -0.05  # VADER's own thresholds for a positive / negative text
MIN_MENTIONS = 3  # an aspect needs this many mentions before a recommendation rests on it
PRAISE_SHARE = 0.7

ASPECTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "battery life": ("battery", "batteries", "charge lasts", "battery life"),
        "charging": ("charging", "charger", "charges"),
        "sound": ("sound", "audio", "bass", "speaker", "speakers"),
        "screen": ("screen", "display"),
        "fit": ("fit", "fits", "fitting", "true to size", "runs small", "runs large"),
        "comfort": ("comfortable", "comfort", "comfy", "soft"),
        "size": ("size", "sizing", "too small", "too big"),
        "fabric": ("fabric", "material", "cotton", "wool", "linen"),
        "assembly": ("assembly", "assemble", "assembled", "instructions"),
        "sturdiness": ("sturdy", "stable", "wobbly", "solid", "flimsy"),
        "quality": ("quality", "well made", "cheaply made", "craftsmanship"),
        "value": ("price", "value", "worth", "expensive", "cheap"),
        "durability": ("durable", "lasted", "broke", "broken", "durability"),
        "delivery": ("delivery", "shipping", "arrived", "package", "packaging"),
        "brightness": ("bright", "brightness", "dim"),
        "design": ("design", "looks", "beautiful", "style", "stylish"),
    }
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_SOURCE = RuleSource("LiftOS review analysis (VADER sentiment, English)", SPEC["ratings"].url)


@dataclass(frozen=True)
class AspectSentiment:
    aspect: str
    mentions: int
    mean_compound: float
    positive: int
    negative: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class ReviewAnalysis:
    language_supported: bool
    reviews: int
    mean_compound: float | None
    positive_share: float | None
    negative_share: float | None
    aspects: tuple[AspectSentiment, ...]


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def _mentions(sentence: str, triggers: tuple[str, ...]) -> bool:
    lowered = sentence.casefold()
    return any(re.search(rf"(?<!\w){re.escape(t)}(?!\w)", lowered) for t in triggers)


def analyse_reviews(product: Product, *, language: str = "en") -> ReviewAnalysis:
    texts = product.reviews.texts if product.reviews else ()
    if language != "en":
        return ReviewAnalysis(False, len(texts), None, None, None, ())
    if not texts:
        return ReviewAnalysis(True, 0, None, None, None, ())
    analyzer = _analyzer()
    overall = [analyzer.polarity_scores(t)["compound"] for t in texts]
    scored: dict[str, list[tuple[float, str]]] = {}
    for text in texts:
        for sentence in filter(None, (s.strip() for s in _SENTENCE.split(text))):
            compound = analyzer.polarity_scores(sentence)["compound"]
            for aspect, triggers in ASPECTS.items():
                if _mentions(sentence, triggers):
                    scored.setdefault(aspect, []).append((compound, sentence))
    aspects = tuple(
        AspectSentiment(
            aspect=aspect,
            mentions=len(values),
            mean_compound=sum(v for v, _ in values) / len(values),
            positive=sum(v >= POSITIVE for v, _ in values),
            negative=sum(v <= NEGATIVE for v, _ in values),
            examples=tuple(s for _, s in sorted(values, key=lambda p: -abs(p[0]))[:2]),
        )
        for aspect, values in sorted(scored.items(), key=lambda kv: -len(kv[1]))
    )
    return ReviewAnalysis(
        language_supported=True,
        reviews=len(texts),
        mean_compound=sum(overall) / len(overall),
        positive_share=sum(v >= POSITIVE for v in overall) / len(overall),
        negative_share=sum(v <= NEGATIVE for v in overall) / len(overall),
        aspects=aspects,
    )


def review_findings(product: Product, analysis: ReviewAnalysis) -> list[Finding]:
    found: list[Finding] = []
    if not analysis.language_supported or not analysis.aspects:
        return found
    listing = " ".join(
        (product.title, product.description, *product.highlights, *product.attributes.values())
    )
    for aspect in analysis.aspects:
        if aspect.mentions < MIN_MENTIONS:
            continue
        triggers = ASPECTS[aspect.aspect]
        claimed = _mentions(listing, triggers)
        if aspect.positive / aspect.mentions >= PRAISE_SHARE and not claimed:
            highlight = f"{aspect.aspect.capitalize()} praised by reviewers"[:HIGHLIGHT_MAX]
            found.append(
                Finding(
                    product_id=product.id,
                    check="reviews_praised_aspect_missing",
                    severity="low",
                    message=f"reviewers praise the {aspect.aspect} ({aspect.positive} of "
                    f"{aspect.mentions} mentions positive); the title, highlights and "
                    "attributes never mention it",
                    evidence=" | ".join(aspect.examples),
                    source=_SOURCE,
                    fix=Fix(
                        f"add a highlight on the {aspect.aspect}",
                        {"highlights": (*product.highlights, highlight)},
                        mechanical=True,
                        generated=True,
                    ),
                    field="highlights",
                )
            )
        elif aspect.negative / aspect.mentions >= 0.5 and claimed:
            found.append(
                Finding(
                    product_id=product.id,
                    check="reviews_complaint_contradicts_claim",
                    severity="medium",
                    message=f"reviews complain about the {aspect.aspect} ({aspect.negative} of "
                    f"{aspect.mentions} mentions negative) while the listing claims it",
                    evidence=" | ".join(aspect.examples),
                    source=_SOURCE,
                    field="description",
                )
            )
    return found
