"""Each product's language, detected by lingua among the languages the checks have words for.

One detector is built, on first use, from :data:`SUPPORTED_LANGUAGES` only, and shared. Its
models load lazily (on the first text). Measured on the development machine (2 shared cores,
lingua 2.1.1): the first detection takes 1.3 s and the process grows by about 200 MB; a
detector of all 75 of lingua's languages takes 8.8 s and about 970 MB; afterwards a short
product text takes 0.2 ms (figures measured once, asserted nowhere).

Below the thresholds (too short, or two languages close) the answer is unsure
(``code=None``): they gave no wrong answer on 80 product titles of 3-8 words in the ten
languages and abstained on 3 (one English, one French and one Italian title, each with a
close runner-up). The limit of a subset detector: a text in a language it does not know is read as
the nearest one it does if the script is shared (Swedish and Danish come back as German,
Polish as Portuguese) and as unsure otherwise (Cyrillic, Greek...). Adding ten such languages
as guards cost 6.5 s, 480 MB and 6 more abstentions on the 80 titles, so they are not added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from lingua import IsoCode639_1, LanguageDetector, LanguageDetectorBuilder

from engine.surfacing.product import Product

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de", "it", "pt", "nl", "ja", "zh", "ar")
MIN_CONFIDENCE = 0.3  # the best language's share of lingua's confidence
MIN_RATIO = 1.5  # ... and how far ahead of the runner-up it must be
_MAX_CHARS = 2000  # the first 2,000 characters tell the language as well as the whole text

# Checks that read English words, and so run on English text only:
# - title_missing_product_type: the product type is read from Google's taxonomy, which is
#   English (and from English synonyms); a French title never names "Lamps".
# - attribute_contradicts_text: compares the color and gender attributes with English colour
#   and gender words in the title.
# - fabricated_claim (manipulation lint): English patterns ("9 out of 10 doctors", "#1
#   rated"); the other lint checks (hidden directives in eight languages' wording, invisible
#   characters, hidden HTML, keyword stuffing) run in every language.
# Promotional words are listed for all ten supported languages, so the promo checks run in
# each; in a language outside the ten they are skipped (``language_not_supported``).
ENGLISH_ONLY_CHECKS: frozenset[str] = frozenset(
    {"title_missing_product_type", "attribute_contradicts_text", "fabricated_claim"}
)
# Checks that count words split at spaces, skipped for Japanese and Chinese (written without
# spaces; counting them needs a word segmenter the project does not ship).
SPACE_SEPARATED_CHECKS: frozenset[str] = frozenset({"title_repeated_words"})

_TAG = re.compile(r"<[^>]+>")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)


@dataclass(frozen=True)
class LanguageGuess:
    code: str | None  # ISO 639-1, lower-case; None when unsure
    confidence: float  # lingua's confidence for the best language, 0-1


@cache
def detector() -> LanguageDetector:
    """The shared detector of the supported languages (built on the first call)."""
    codes = [IsoCode639_1.from_str(code) for code in SUPPORTED_LANGUAGES]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()


def _cleaned(text: str) -> str:
    return _URL.sub(" ", _TAG.sub(" ", text))[:_MAX_CHARS]


def _guess(confidences: dict[str, float]) -> LanguageGuess:
    ranked = sorted(confidences.items(), key=lambda item: item[1], reverse=True)
    if not ranked:
        return LanguageGuess(code=None, confidence=0.0)
    code, confidence = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if confidence < MIN_CONFIDENCE or confidence < MIN_RATIO * runner_up:
        return LanguageGuess(code=None, confidence=confidence)
    return LanguageGuess(code=code, confidence=confidence)


def _confidences(text: str) -> dict[str, float]:
    if not any(ch.isalpha() for ch in text):
        return {}
    return {
        value.language.iso_code_639_1.name.lower(): float(value.value)
        for value in detector().compute_language_confidence_values(text)
    }


def detect_language(text: str) -> LanguageGuess:
    """The language of ``text`` among :data:`SUPPORTED_LANGUAGES`, or ``code=None`` when the
    text is empty, in another script, or too short to tell."""
    return _guess(_confidences(_cleaned(text)))


def product_language(product: Product) -> LanguageGuess:
    """The language of a product: lingua's confidences for its title, its description and
    its highlights, averaged with each text's length as its weight. Reading the three as one
    string can mislead lingua: a Spanish tea's title, description and highlights each read as
    Spanish, but joined they read as Portuguese at 0.998."""
    totals: dict[str, float] = {}
    weight = 0
    for text in (product.title, product.description, " ".join(product.highlights)):
        cleaned = _cleaned(text).strip()
        confidences = _confidences(cleaned)
        if not confidences:
            continue
        weight += len(cleaned)
        for code, value in confidences.items():
            totals[code] = totals.get(code, 0.0) + value * len(cleaned)
    return _guess({code: value / weight for code, value in totals.items()} if weight else {})
