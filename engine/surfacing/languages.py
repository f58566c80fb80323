"""Each product's language (lingua, limited to the languages the checks support).

The detector holds models only for :data:`SUPPORTED_LANGUAGES` (built once, on first use): a
detector of all of lingua's 75 languages costs ~1 GB of memory, and a product text in another
language is reported as unsure rather than forced into a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de", "it", "pt", "nl", "ja", "zh", "ar")
MIN_CONFIDENCE = 0.25  # short titles: "Brass table lamp with linen shade" scores 0.38 for English

# Checks that read English words or English grammar, and so run on English text only: the
# review sentiment model (VADER's lexicon is English), the naive singular of category names
# in intent queries, and the fabricated-claim patterns of the manipulation lint. The promo
# word lists and every structural check run in all supported languages.
ENGLISH_ONLY_CHECKS: frozenset[str] = frozenset(
    {"reviews_praised_aspect_missing", "reviews_complaint_contradicts_claim", "fabricated_claim"}
)


@dataclass(frozen=True)
class LanguageGuess:
    code: str | None  # ISO 639-1, or None when unsure
    confidence: float


@cache
def _detector() -> LanguageDetector:
    languages = [
        language
        for language in Language.all()
        if language.iso_code_639_1.name.lower() in SUPPORTED_LANGUAGES
    ]
    return LanguageDetectorBuilder.from_languages(*languages).build()


def detect_language(text: str) -> LanguageGuess:
    if not text.strip():
        return LanguageGuess(code=None, confidence=0.0)
    values = _detector().compute_language_confidence_values(text)
    if not values:
        return LanguageGuess(code=None, confidence=0.0)
    best = values[0]
    code = best.language.iso_code_639_1.name.lower()
    if best.value < MIN_CONFIDENCE:
        return LanguageGuess(code=None, confidence=float(best.value))
    return LanguageGuess(code=code, confidence=float(best.value))
