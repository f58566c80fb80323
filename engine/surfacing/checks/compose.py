"""The text the mechanical fixes build, from nothing but the product's own data.

A restructured title follows Merchant Center's order for titles ("Google Organic Cotton Men's
T-Shirt - Blue - M": brand, material, gender, product type, then colour and size), keeps the
merchant's other words once each, and drops promotional words, forbidden characters and
capitals. It is generated text: a fix carrying it sets ``generated=True`` so the merchant can
label it (Merchant Center's ``structured_title``).
"""

from __future__ import annotations

import re

from engine.surfacing.checks._text import (
    UNSPACED_LANGUAGES,
    WORD,
    promo_spans,
    remove_spans,
    singular_en,
    terms,
    tidy,
)
from engine.surfacing.product import Product
from engine.surfacing.rules import (
    AMAZON_FORBIDDEN_CHARACTERS,
    ATTRIBUTE_LABELS,
    DESCRIPTIVE_ATTRIBUTES,
    HIGHLIGHT_MAX_CHARS,
    TITLE_MAX,
)
from engine.surfacing.taxonomy import TaxonomyNode

_SHOUTED = re.compile(r"(?<![\w'])[^\W\d_]{5,}(?![\w'])")
_SIZE_LETTERS = re.compile(r"X*[SML]|X+L|\d*XL", re.IGNORECASE)
ALLOWED_CAPITALS = frozenset({"AMOLED", "QWERTY", "AZERTY", "CORDURA"})


def fit(text: str, limit: int = TITLE_MAX) -> str:
    """``text`` cut at the last word boundary within ``limit`` characters."""
    text = tidy(text)
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0]
    return tidy(cut[:limit])


def shouted_words(text: str, brand: str | None) -> list[str]:
    """Words of five letters or more in capitals, bar the brand's own spelling, a few
    trademarks written so, and clothing sizes (XXXXL)."""
    brand_words = set(WORD.findall(brand or ""))
    found = []
    for match in _SHOUTED.finditer(text):
        word = match.group(0)
        if (
            word.isupper()
            and word not in brand_words
            and word not in ALLOWED_CAPITALS
            and not _SIZE_LETTERS.fullmatch(word)
        ):
            found.append(word)
    return found


def all_capitals(text: str) -> bool:
    """A whole title in capitals: every cased word, three of them words of three letters or
    more (so "RED WOOL HAT FOR MEN" counts and "LED TV 4K", all acronyms, does not)."""
    cased = [w for w in WORD.findall(text) if any(c.isalpha() for c in w)]
    long_words = [w for w in cased if sum(c.isalpha() for c in w) >= 3]
    return len(long_words) >= 3 and all(w.isupper() for w in cased if len(w) > 1)


def normal_case(text: str, brand: str | None) -> str:
    """Shouted words written with one capital; a title wholly in capitals in sentence case."""
    brand_words = set(WORD.findall(brand or ""))
    if all_capitals(text):

        def lower(m: re.Match[str]) -> str:
            w = m.group(0)
            return w if w in brand_words or len(w) <= 2 else w.lower()

        text = WORD.sub(lower, text)
        return text[:1].upper() + text[1:]
    shouted = set(shouted_words(text, brand))
    return WORD.sub(
        lambda m: m.group(0).capitalize() if m.group(0) in shouted else m.group(0), text
    )


def without_forbidden_characters(text: str, brand: str | None) -> str:
    """``text`` without the characters Amazon bars from titles, except inside the brand."""
    protected: set[int] = set()
    if brand and brand.strip():
        for m in re.finditer(re.escape(brand.strip()), text, re.IGNORECASE):
            protected.update(range(m.start(), m.end()))
    kept = (
        " " if ch in AMAZON_FORBIDDEN_CHARACTERS and i not in protected else ch
        for i, ch in enumerate(text)
    )
    return tidy("".join(kept))


def with_brand(title: str, brand: str) -> str:
    return fit(f"{brand} {title}")


def type_phrase(product: Product, node: TaxonomyNode | None, language: str) -> str | None:
    """What the product is, in a few words: the leaf of the merchant's ``product_type``, or
    (for English titles, the taxonomy being English) the taxonomy leaf made singular, taking
    the part of an "A & B" leaf that the title shares a word with."""
    if product.product_type and product.product_type.strip():
        leaf = product.product_type.split(">")[-1].strip()
        if leaf:
            return _common_nouns(_singular_phrase(leaf)) if language == "en" else leaf
    if node is None or language != "en":
        return None
    parts = [p.strip() for p in re.split(r"&|,", node.name) if p.strip()]
    title_terms = set(terms(product.title, "en"))
    chosen = next((p for p in parts if set(terms(p, "en")) & title_terms), parts[-1])
    return _singular_phrase(chosen).lower()


def _common_nouns(phrase: str) -> str:
    """ "Table Lamp" -> "table lamp" (words with one leading capital), acronyms kept."""
    return " ".join(w.lower() if w[:1].isupper() and w[1:].islower() else w for w in phrase.split())


def _singular_phrase(phrase: str) -> str:
    head, _, last = phrase.rpartition(" ")
    last_singular = singular_en(last.lower())
    if last[:1].isupper():
        last_singular = last_singular.capitalize()
    return f"{head} {last_singular}".strip()


def _gender_word(product: Product, language: str) -> str | None:
    if language != "en":
        return None
    age = product.attributes.get("age_group", "").casefold()
    if age in ("newborn", "infant"):
        return "baby"
    if age in ("toddler", "kids"):
        return "kids'"
    return {"male": "men's", "female": "women's"}.get(
        product.attributes.get("gender", "").casefold()
    )


def clean_title(product: Product, language: str) -> str:
    """The title without promotional words, forbidden characters or shouting."""
    brand = product.brand
    title = remove_spans(
        product.title,
        promo_spans(product.title, language, superlatives=True, keep=[brand] if brand else []),
    )
    return normal_case(without_forbidden_characters(title, brand), brand)


def restructured_title(product: Product, node: TaxonomyNode | None, language: str) -> str:
    attributes = {k: v.strip() for k, v in product.attributes.items() if v and v.strip()}
    brand = product.brand.strip() if product.brand else ""
    cleaned = clean_title(product, language)
    label = ATTRIBUTE_LABELS.get(language, {}).get("size")
    tail = [attributes["color"]] if "color" in attributes else []
    if "size" in attributes:
        tail.append(f"{label} {attributes['size']}" if label else attributes["size"])
    if language != "en":
        # Word order and agreement differ (French adjectives follow the noun, German ones
        # take endings, Japanese has no spaces): keep the cleaned title whole, put the brand
        # first, and add the attributes it does not show at the end.
        body = cleaned
        if brand and brand.casefold() not in cleaned.casefold():
            body = f"{brand} {cleaned}"
        extra = [attributes[n] for n in ("material", "pattern") if n in attributes] + tail
        missing = [t for t in extra if t.casefold() not in body.casefold()]
        return fit(" - ".join([body, *missing]))
    kind = type_phrase(product, node, language)
    head: list[str] = [brand] if brand else []
    head.extend(attributes[n] for n in ("material", "pattern") if n in attributes)
    gender = _gender_word(product, language)
    if gender:
        head.append(gender)
    if kind:
        head.append(kind)
    used = set(terms(" ".join(head + tail), language))
    rest: list[str] = []
    for token in cleaned.split():
        token_terms = set(terms(token, language))
        if (token_terms and token_terms <= used) or (not token_terms and token != "&"):
            continue
        rest.append(token)
        used |= token_terms
    tail_text = "".join(f" - {t}" for t in tail)
    while rest and len(tidy(" ".join([*head, *rest])) + tail_text) > TITLE_MAX:
        rest.pop()
    title = fit(tidy(" ".join([*head, *rest])) + tail_text)
    return title[:1].upper() + title[1:]


def title_with_attribute(product: Product, name: str, value: str, language: str) -> str | None:
    """The title naming ``value`` too, or None when that would pass the title limit. In
    English an adjective goes before the noun phrase, which follows the brand ("Lumen gold
    brass table lamp"); elsewhere, where adjectives follow nouns or take endings, and for
    sizes, the value is appended ("Lampe de table en laiton, doré")."""
    title = product.title.strip()
    brand = (product.brand or "").strip()
    if name == "size":
        label = ATTRIBUTE_LABELS.get(language, {}).get("size")
        candidate = f"{title}, {label} {value}" if label else f"{title}, {value}"
    elif language != "en":
        candidate = f"{title}, {value}"
    elif brand and title.casefold().startswith(brand.casefold() + " "):
        candidate = f"{title[: len(brand)]} {value} {title[len(brand) + 1 :]}"
    else:
        candidate = f"{value[:1].upper()}{value[1:]} {title}"
    return candidate if len(candidate) <= TITLE_MAX else None


def attribute_highlights(product: Product, language: str) -> tuple[str, ...]:
    """One highlight per descriptive attribute ("Material: brass") the highlights do not
    already state, labelled in the product's language."""
    labels = ATTRIBUTE_LABELS.get(language)
    if labels is None:
        return ()
    stated = set(terms(" ".join(product.highlights), language))
    sep = "\uff1a" if language in UNSPACED_LANGUAGES else ": "  # full-width colon for ja/zh
    out = []
    for name in DESCRIPTIVE_ATTRIBUTES:
        value = (product.attributes.get(name) or "").strip()
        if value and not set(terms(value, language)) <= stated:
            out.append(f"{labels[name]}{sep}{value}"[:HIGHLIGHT_MAX_CHARS])
    return tuple(out)
