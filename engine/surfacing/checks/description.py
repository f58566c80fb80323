"""The description and the product highlights."""

from __future__ import annotations

import re
from collections.abc import Callable

from engine.surfacing.checks._base import Context, advice
from engine.surfacing.checks._text import (
    UNSPACED_LANGUAGES,
    drop_sentences,
    promo_spans,
    quote,
    sentences,
    tidy,
    words,
)
from engine.surfacing.checks.compose import attribute_highlights
from engine.surfacing.findings import Fix
from engine.surfacing.rules import (
    DESCRIPTION_MAX,
    DESCRIPTION_MIN,
    DESCRIPTION_MIN_UNSPACED,
    GMC_DESCRIPTION,
    GMC_HIGHLIGHT,
    HIGHLIGHT_MAX_CHARS,
    HIGHLIGHTS_MAX,
    HIGHLIGHTS_MIN,
    HIGHLIGHTS_RECOMMENDED,
)

URL = re.compile(r"\bhttps?://\S+|\bwww\.[\w-]+\.\w[\w./-]*", re.IGNORECASE)
PRICE = re.compile(
    r"[$€£¥₹]\s?\d[\d.,]*"
    r"|\b\d[\d.,]*\s?(?:USD|EUR|GBP|JPY|CNY|CHF|CAD|AUD|BRL|MXN|AED|SAR)\b"
    r"|\d[\d,]*\s?(?:円|元)(?!素)",
)


def check_description(ctx: Context) -> None:
    product = ctx.product
    description = product.description
    text = ctx.description_text
    if not text.strip():
        ctx.add(
            "description_missing",
            "high",
            "the product has no description; Merchant Center requires one and it is most of "
            "what semantic search and AI answers read",
            "description: (empty)",
            GMC_DESCRIPTION,
            field="description",
            fix=advice("write a description of the product: what it is, features, materials, uses"),
        )
        return
    if len(description) > DESCRIPTION_MAX:
        ctx.add(
            "description_too_long",
            "medium",
            f"the description is {len(description)} characters; Merchant Center takes at most "
            f"{DESCRIPTION_MAX} and cuts the rest",
            quote(description[DESCRIPTION_MAX - 60 : DESCRIPTION_MAX + 60]) + " around the cut",
            GMC_DESCRIPTION,
            field="description",
            fix=_shortened(text),
        )
    if _copies_title(text, product.title):
        ctx.add(
            "description_copies_title",
            "medium",
            "the description repeats the title and says nothing more",
            f"description {quote(text)}; title {quote(product.title)}",
            GMC_DESCRIPTION,
            field="description",
            fix=advice("write a description of the product: features, materials, uses"),
        )
    elif len(text) < (floor := _floor(ctx.language)):
        ctx.add(
            "description_too_short",
            "low",
            f"the description is {len(text)} characters: too little to name the features, "
            f"materials and uses searches match (LiftOS' floor is {floor}; Merchant "
            "Center sets none)",
            quote(text),
            GMC_DESCRIPTION,
            field="description",
            fix=advice("describe the product's features, materials and uses"),
        )
    keep = [product.brand] if product.brand else []
    checks: tuple[tuple[str, str, Callable[[str], bool]], ...] = (
        (
            "description_promotional_text",
            "promotional text (shipping, sale, discount, calls to buy)",
            lambda s: bool(promo_spans(s, ctx.language, superlatives=False, keep=keep)),
        ),
        ("description_links", "links to web pages", lambda s: URL.search(s) is not None),
        ("description_prices", "prices", lambda s: PRICE.search(s) is not None),
    )
    for check, what, offending in checks:
        bad = [s for s in sentences(text) if offending(s)]
        if not bad:
            continue
        rest = drop_sentences(text, offending)
        ctx.add(
            check,
            "medium",
            f"the description carries {what}, which Merchant Center's description rules bar "
            "(they belong in their own attributes or nowhere)",
            "; ".join(quote(s, 120) for s in bad[:3]),
            GMC_DESCRIPTION,
            field="description",
            fix=Fix(
                f"remove the sentences with {what}"
                + (" (the description's HTML is flattened)" if text != description else ""),
                {"description": rest},
                mechanical=True,
            )
            if rest
            else advice(f"rewrite the description without {what}"),
        )


def _floor(language: str) -> int:
    return DESCRIPTION_MIN_UNSPACED if language in UNSPACED_LANGUAGES else DESCRIPTION_MIN


def _copies_title(description: str, title: str) -> bool:
    d, t = words(description), words(title)
    return bool(t) and (d == t or (d[: len(t)] == t and len(d) - len(t) <= 3))


def _shortened(text: str) -> Fix | None:
    """The description cut at its last sentence end within the limit (its own words)."""
    if len(text) <= DESCRIPTION_MAX:
        return Fix(
            "drop the HTML markup, which is what passes the limit",
            {"description": text},
            mechanical=True,
        )
    cut = text[:DESCRIPTION_MAX]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "), cut.rfind("。"))
    if end < DESCRIPTION_MAX // 2:
        return advice(f"shorten the description to {DESCRIPTION_MAX} characters")
    return Fix(
        f"cut the description after its last full sentence within {DESCRIPTION_MAX} characters",
        {"description": tidy(cut[: end + 1])},
        mechanical=True,
    )


def check_highlights(ctx: Context) -> None:
    product = ctx.product
    highlights = tuple(h for h in product.highlights if h.strip())
    if len(highlights) < HIGHLIGHTS_MIN:
        added = attribute_highlights(product, ctx.language)
        proposed = (*highlights, *added)
        low, high = HIGHLIGHTS_RECOMMENDED
        ctx.add(
            "highlights_missing" if not highlights else "highlights_too_few",
            "low" if not highlights else "medium",
            f"{len(highlights)} product highlight(s); Merchant Center takes {HIGHLIGHTS_MIN} to "
            f"{HIGHLIGHTS_MAX} (it recommends {low}-{high}) and AI answers quote them"
            + ("" if not highlights else "; a single highlight is disapproved"),
            f"product_highlight: {len(highlights)}"
            + (f" ({', '.join(quote(h) for h in highlights)})" if highlights else ""),
            GMC_HIGHLIGHT,
            field="highlights",
            fix=Fix(
                "add highlights from the product's attributes",
                {"highlights": proposed},
                mechanical=True,
                generated=True,
            )
            if len(proposed) >= HIGHLIGHTS_MIN
            else advice(f"write {low}-{high} short highlights of the product's key features"),
        )
    if len(highlights) > HIGHLIGHTS_MAX:
        ctx.add(
            "highlights_too_many",
            "low",
            f"{len(highlights)} highlights; Merchant Center takes at most {HIGHLIGHTS_MAX}",
            f"product_highlight: {len(highlights)}",
            GMC_HIGHLIGHT,
            field="highlights",
            fix=Fix(
                f"keep the first {HIGHLIGHTS_MAX} highlights",
                {"highlights": highlights[:HIGHLIGHTS_MAX]},
                mechanical=True,
            ),
        )
    long = [h for h in highlights if len(h) > HIGHLIGHT_MAX_CHARS]
    if long:
        ctx.add(
            "highlight_too_long",
            "low",
            f"highlights over {HIGHLIGHT_MAX_CHARS} characters, Merchant Center's limit for each",
            "; ".join(f"{len(h)} characters: {quote(h, 80)}" for h in long[:3]),
            GMC_HIGHLIGHT,
            field="highlights",
            fix=advice(f"shorten each highlight to {HIGHLIGHT_MAX_CHARS} characters"),
        )
    keep = [product.brand] if product.brand else []
    promotional = [
        h for h in highlights if promo_spans(h, ctx.language, superlatives=False, keep=keep)
    ]
    if promotional:
        rest = tuple(h for h in product.highlights if h not in promotional)
        ctx.add(
            "highlight_promotional_text",
            "medium",
            "promotional text in highlights; Merchant Center's highlight rules bar it",
            "; ".join(quote(h, 80) for h in promotional[:3]),
            GMC_HIGHLIGHT,
            field="highlights",
            fix=Fix("remove the promotional highlights", {"highlights": rest}, mechanical=True),
        )
