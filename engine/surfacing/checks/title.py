"""The title: length, promotional text, capitals, repeated words, characters, product type."""

from __future__ import annotations

from collections import Counter

from engine.surfacing.checks._base import Context
from engine.surfacing.checks._text import (
    UNSPACED_LANGUAGES,
    promo_spans,
    quote,
    remove_spans,
    terms,
    words,
)
from engine.surfacing.checks.compose import (
    all_capitals,
    normal_case,
    restructured_title,
    shouted_words,
    type_phrase,
    without_forbidden_characters,
)
from engine.surfacing.findings import Fix
from engine.surfacing.rules import (
    AMAZON_FORBIDDEN_CHARACTERS,
    AMAZON_TITLE,
    AMAZON_WORD_REPEATS_MAX,
    FUNCTION_WORDS,
    GMC_TITLE,
    TITLE_MAX,
    TYPE_SYNONYMS_EN,
    UNITS,
)

_GENERIC_EN = frozenset(
    {"other", "accessory", "accessories", "misc", "miscellaneous", "supply", "general"}
)


def restructure_fix(ctx: Context, summary: str) -> Fix:
    return Fix(
        summary,
        {"title": restructured_title(ctx.product, ctx.category, ctx.language)},
        mechanical=True,
        generated=True,
    )


def check_title(ctx: Context) -> None:
    product = ctx.product
    title = product.title
    if not title.strip():
        return  # missing_title (identity) reports it
    brand = product.brand
    keep = [brand] if brand else []
    if len(title) > TITLE_MAX:
        ctx.add(
            "title_too_long",
            "medium",
            f"the title is {len(title)} characters; Merchant Center and the OpenAI feed take at "
            f"most {TITLE_MAX}",
            quote(title, TITLE_MAX),
            GMC_TITLE,
            field="title",
            fix=restructure_fix(ctx, f"restructure the title within {TITLE_MAX} characters"),
        )
    promo = promo_spans(title, ctx.language, superlatives=False, keep=keep)
    if promo:
        cleaned = remove_spans(title, promo)
        ctx.add(
            "title_promotional_text",
            "high",
            "promotional text in the title (shipping, sale, discount, calls to buy): Merchant "
            "Center disapproves it and Amazon suppresses it",
            ", ".join(quote(s.text) for s in promo) + f" in {quote(title)}",
            GMC_TITLE,
            field="title",
            fix=Fix(
                "remove the promotional text from the title", {"title": cleaned}, mechanical=True
            )
            if cleaned
            else restructure_fix(ctx, "rebuild the title from the product's data"),
        )
    praise = [
        s
        for s in promo_spans(title, ctx.language, superlatives=True, keep=keep)
        if not any(p.start <= s.start and s.end <= p.end for p in promo)
    ]
    if praise:
        cleaned = remove_spans(title, praise)
        ctx.add(
            "title_subjective_claims",
            "medium",
            'subjective praise in the title ("best", "best seller"): Amazon bars subjective '
            "commentary and it matches no shopper's description of the product",
            ", ".join(quote(s.text) for s in praise) + f" in {quote(title)}",
            AMAZON_TITLE,
            field="title",
            fix=Fix("remove the praise from the title", {"title": cleaned}, mechanical=True)
            if cleaned
            else restructure_fix(ctx, "rebuild the title from the product's data"),
        )
    shouted = shouted_words(title, brand)
    if shouted or all_capitals(title):
        ctx.add(
            "title_all_caps",
            "medium",
            "the title shouts in capitals; Merchant Center's title rules and Amazon's bar it "
            "(short acronyms and the brand's own spelling are fine)",
            "the whole title is in capitals" if all_capitals(title) else ", ".join(shouted),
            GMC_TITLE,
            field="title",
            fix=Fix(
                "write the title in normal case",
                {"title": normal_case(title, brand)},
                mechanical=True,
            ),
        )
    _check_repeats(ctx)
    forbidden = sorted({ch for ch in title if ch in AMAZON_FORBIDDEN_CHARACTERS} - set(brand or ""))
    if forbidden:
        ctx.add(
            "title_forbidden_characters",
            "low",
            "characters Amazon's title requirements bar (! $ ? _ { } ^ ¬ ¦)",
            " ".join(forbidden) + f" in {quote(title)}",
            AMAZON_TITLE,
            field="title",
            fix=Fix(
                "remove the characters from the title",
                {"title": without_forbidden_characters(title, brand)},
                mechanical=True,
            ),
        )
    if ctx.language == "en":
        _check_product_type(ctx)


def repeated_words(title: str, language: str) -> dict[str, int]:
    """Words the title uses more than Amazon's twice, bar function words, numbers and units."""
    if language in UNSPACED_LANGUAGES:
        return {}
    skip = FUNCTION_WORDS.get(language, frozenset()) | UNITS
    counts = Counter(w for w in words(title) if len(w) > 1 and not w.isdigit() and w not in skip)
    return {w: n for w, n in counts.items() if n > AMAZON_WORD_REPEATS_MAX}


def _check_repeats(ctx: Context) -> None:
    title = ctx.product.title
    repeated = repeated_words(title, ctx.language)
    if not repeated:
        return
    # Drop each repeated word's occurrences beyond the second: removal only, no new words.
    seen: Counter[str] = Counter()
    kept = []
    for token in title.split():
        token_words = [w for w in words(token) if w in repeated]
        seen.update(token_words)
        if token_words and all(seen[w] > AMAZON_WORD_REPEATS_MAX for w in token_words):
            continue
        kept.append(token)
    ctx.add(
        "title_repeated_words",
        "medium",
        f"words repeated more than {AMAZON_WORD_REPEATS_MAX} times in the title; Amazon's title "
        "requirements allow a word twice",
        ", ".join(f"{w!r} x{n}" for w, n in sorted(repeated.items())) + f" in {quote(title)}",
        AMAZON_TITLE,
        field="title",
        fix=Fix(
            "drop the repetitions beyond the second",
            {"title": without_forbidden_characters(" ".join(kept), None) if kept else title},
            mechanical=True,
        ),
    )


def product_type_terms(ctx: Context) -> set[str]:
    """English words that name what the product is, from its product_type and category."""
    phrases: list[str] = []
    product_type = ctx.product.product_type
    if product_type and product_type.strip():
        phrases.append(product_type.split(">")[-1])
    node = ctx.category
    if node is not None:
        phrases.extend(node.path[1:])
    found = {
        t
        for phrase in phrases
        for t in terms(phrase, "en")
        if t not in FUNCTION_WORDS["en"] and t not in _GENERIC_EN and len(t) > 2
    }
    for word in list(found):
        found |= TYPE_SYNONYMS_EN.get(word, frozenset())
    return found


def _check_product_type(ctx: Context) -> None:
    wanted = product_type_terms(ctx)
    if not wanted or wanted & ctx.title_terms:
        return
    kind = type_phrase(ctx.product, ctx.category, ctx.language)
    source_of = "product_type" if ctx.product.product_type else "category"
    ctx.add(
        "title_missing_product_type",
        "low",
        "the title does not say what the product is; Merchant Center and Amazon ask for the "
        'product type in the title ("hiking boots", "umbrella")',
        f"{quote(ctx.product.title)} names none of: {', '.join(sorted(wanted)[:8])} (from the "
        f"{source_of})",
        GMC_TITLE,
        field="title",
        fix=restructure_fix(ctx, f"restructure the title around the product type ({kind})")
        if kind
        else None,
    )
