"""The manipulation lint: text written to game AI readers or search engines is a hard fail.

Three families, each quoted as evidence and never "fixed" by adding text: directives aimed at
AI assistants or crawlers hidden in the listing (prompt injection), fabricated statistics or
ratings (claims the product's own reviews do not back), and keyword stuffing. Precision comes
first: a false hard fail on an ordinary listing costs a merchant more than a missed one, so
each pattern is specific and the stuffing thresholds sit well above ordinary copy.
"""

from __future__ import annotations

import re
from collections import Counter

from engine.surfacing.findings import Finding
from engine.surfacing.product import Product
from engine.surfacing.specs import SPEC

_DIRECTIVES = re.compile(
    r"(ignore (all |any )?(previous|prior|above) (instructions|prompts)"
    r"|disregard (all |any )?(previous|prior) (instructions|prompts)"
    r"|(ai|llm|language model|chatbot|assistant)s?\s*[:,]?\s*(should|must|always|please)\s+"
    r"(recommend|rank|mention|say|prefer)"
    r"|rank (this|it) (first|#?1|number one|above)"
    r"|you (must|should) (always )?recommend"
    r"|system prompt|<\s*/?\s*(system|instructions?)\s*>)",
    re.IGNORECASE,
)
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_HIDDEN_HTML = re.compile(r"<!--|display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_FABRICATED = re.compile(
    r"(\b\d+ out of \d+ \w+ (recommend|choose|prefer|agree|love|trust)"
    r"|#\s?1 (rated|best|selling)|number one rated"
    r"|rated 5 stars by [\d,]+"
    r"|\b\d{2,3}\s?% of (customers|users|buyers) (recommend|prefer|agree)"
    r"|clinically proven|guaranteed results)",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+", re.UNICODE)
STUFFED_SHARE = 0.25  # one word above a quarter of a text of 12+ words
STUFFED_REPEATS = 4  # one word four times or more in a title
LIST_TERMS = 15  # a comma list this long in a description reads as a keyword list


def _hard(product: Product, check: str, message: str, evidence: str, field: str) -> Finding:
    return Finding(
        product_id=product.id,
        check=check,
        severity="high",
        message=message,
        evidence=evidence[:300],
        source=SPEC["policy"],
        fix=None,
        hard_fail=True,
        field=field,
    )


def _stuffed(text: str, *, title: bool) -> str | None:
    words = [w.casefold() for w in _WORD.findall(text) if len(w) > 2]
    if not words:
        return None
    word, count = Counter(words).most_common(1)[0]
    if title and count >= STUFFED_REPEATS:
        return f"{word!r} {count} times in the title"
    if not title and len(words) >= 12 and count / len(words) > STUFFED_SHARE:
        return f"{word!r} is {count} of {len(words)} words"
    return None


def lint_product(product: Product, *, language: str = "en") -> list[Finding]:
    found: list[Finding] = []
    texts = {
        "title": product.title,
        "description": product.description,
        "highlights": " ".join(product.highlights),
    }
    for field, text in texts.items():
        if not text:
            continue
        match = _DIRECTIVES.search(text)
        if match:
            found.append(
                _hard(
                    product,
                    "hidden_directive",
                    "the listing addresses AI readers with instructions (prompt injection)",
                    match.group(0),
                    field,
                )
            )
        if _INVISIBLE.search(text):
            found.append(
                _hard(
                    product,
                    "invisible_characters",
                    "zero-width or invisible characters hide text from shoppers",
                    repr(_INVISIBLE.findall(text)[:5]),
                    field,
                )
            )
        if _HIDDEN_HTML.search(text):
            found.append(
                _hard(
                    product,
                    "hidden_text",
                    "HTML comments or hidden styles carry text shoppers cannot see",
                    _HIDDEN_HTML.search(text).group(0),  # type: ignore[union-attr]
                    field,
                )
            )
        if language == "en":
            claim = _FABRICATED.search(text)
            rated = product.reviews is not None and (product.reviews.count or 0) >= 100
            if claim and not rated:
                found.append(
                    _hard(
                        product,
                        "fabricated_claim",
                        "a statistic or rating claim the product's reviews do not back",
                        claim.group(0),
                        field,
                    )
                )
        stuffed = _stuffed(text, title=field == "title")
        if stuffed:
            found.append(_hard(product, "keyword_stuffing", "keyword stuffing", stuffed, field))
    if product.description.count(",") >= LIST_TERMS:
        terms = [t.strip() for t in product.description.split(",")]
        short = [t for t in terms if 0 < len(t.split()) <= 3]
        if len(short) >= LIST_TERMS and len(short) / len(terms) > 0.8:
            found.append(
                _hard(
                    product,
                    "keyword_stuffing",
                    "a long comma list of short terms reads as a keyword list",
                    ", ".join(short[:8]) + ", …",
                    "description",
                )
            )
    return found
