"""The feed checklist: each rule of the specifications in :mod:`engine.surfacing.specs` as a
check over one product (or, for variants and duplicates, the catalog), with its evidence, its
source and, where one exists, the concrete fix.

Fixes marked mechanical are built only from the product's own data (its attributes, its
category, its own words) and can be applied and measured as they are.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence

from stdnum import ean

from engine.surfacing.findings import Finding, Fix, RuleSource, Severity
from engine.surfacing.product import Product
from engine.surfacing.queries import DISTINGUISHING, product_kind
from engine.surfacing.specs import (
    DESCRIPTION_MAX,
    DESCRIPTION_MIN_RECOMMENDED,
    HIGHLIGHT_MAX,
    HIGHLIGHTS_MIN,
    PROMO_WORDS,
    SPEC,
    TITLE_MAX,
    TITLE_MIN_RECOMMENDED,
    required_attributes,
)
from engine.surfacing.taxonomy import Taxonomy, TaxonomyNode

_WORD = re.compile(r"\w+", re.UNICODE)
_CAPS = re.compile(r"\b[A-Z]{5,}\b")
_URL = re.compile(r"https?://|www\.", re.IGNORECASE)
_PRICE_TEXT = re.compile(r"[$€£¥]\s?\d|\d+[.,]\d{2}\s?(usd|eur|gbp)\b", re.IGNORECASE)
_SHIPPING = re.compile(r"\b(free shipping|ships? (in|within)|delivery in)\b", re.IGNORECASE)
_RESTRICTED_GTIN = ("02", "04", "2")  # GS1 prefixes for in-store and coupon numbers


def _finding(
    product: Product,
    check: str,
    severity: Severity,
    message: str,
    evidence: str,
    source: RuleSource,
    *,
    field: str | None = None,
    fix: Fix | None = None,
) -> Finding:
    return Finding(
        product_id=product.id,
        check=check,
        severity=severity,
        message=message,
        evidence=evidence,
        source=source,
        fix=fix,
        field=field,
    )


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def _promo(text: str, language: str) -> list[str]:
    lowered = f" {text.casefold()} "
    words = [*PROMO_WORDS.get(language, ()), *PROMO_WORDS["en"]]
    found = []
    for word in dict.fromkeys(words):
        if word.startswith("%"):
            if re.search(r"\d+\s?%\s?off", lowered):
                found.append(word)
        elif re.search(rf"(?<!\w){re.escape(word)}(?!\w)", lowered):
            found.append(word)
    return found


def _strip_promo(text: str, words: Sequence[str]) -> str:
    for word in words:
        text = re.sub(rf"(?i)(?<!\w){re.escape(word)}(?!\w)[!.]*", "", text)
    return " ".join(text.replace(" ,", ",").split()).strip(" -|,")


def structured_title(product: Product, kind: str, language: str = "en") -> str:
    """Brand + distinguishing attributes + product type, then the title's other words (each
    once, promotional ones dropped), within 150 characters: the order Merchant Center's title
    guidance gives."""
    values = [
        product.attributes[name]
        for name in ("material", "color", "pattern", "size")
        if product.attributes.get(name)
    ]
    head = " ".join([*([product.brand] if product.brand else []), *values[:3], kind])
    used = set(_words(head))
    promo = set(_words(" ".join(_promo(product.title, language))))
    extra: list[str] = []
    for token in product.title.split():
        words = set(_words(token))
        if words and not words <= used and not words <= promo:
            extra.append(token.strip(",;|-"))
            used |= words
    title = head[:1].upper() + head[1:]
    if extra:
        title += ", " + " ".join(extra)
    return title[:TITLE_MAX].rstrip(" ,")


def _mentioned(value: str, text_words: set[str]) -> bool:
    words = _words(value)
    return bool(words) and all(w in text_words for w in words)


def check_product(
    product: Product,
    *,
    taxonomy: Taxonomy,
    language: str = "en",
    suggested_category: TaxonomyNode | None = None,
) -> list[Finding]:
    found: list[Finding] = []
    add = found.append
    spec = SPEC

    # Identity and required fields.
    for name in ("link", "image_link", "price", "availability"):
        if getattr(product, name) in (None, ""):
            add(
                _finding(
                    product,
                    f"missing_{name}",
                    "high" if name in ("price", "availability") else "medium",
                    f"{name} is missing; Merchant Center requires it for every product",
                    f"{name}: (empty)",
                    spec["identity"],
                    field=name,
                    fix=Fix(f"add the product's {name}", {}, mechanical=False),
                )
            )
    # Brand.
    if not product.brand:
        add(
            _finding(
                product,
                "missing_brand",
                "medium",
                "brand is missing; required for new products with a manufacturer's brand",
                "brand: (empty)",
                spec["brand"],
                field="brand",
                fix=Fix("add the manufacturer's brand", {}, mechanical=False),
            )
        )
    elif product.brand.casefold() not in product.title.casefold():
        add(
            _finding(
                product,
                "brand_not_in_title",
                "low",
                "the title does not name the brand; shoppers and engines match brand + type",
                f"brand {product.brand!r}; title {product.title!r}",
                spec["title"],
                field="title",
                fix=Fix(
                    "put the brand at the start of the title",
                    {"title": f"{product.brand} {product.title}"[:TITLE_MAX]},
                    mechanical=True,
                ),
            )
        )
    # Identifiers: a valid GTIN, or brand + MPN.
    if product.gtin:
        digits = re.sub(r"[\s-]", "", product.gtin)
        problem = None
        if not digits.isdigit() or len(digits) not in (8, 12, 13, 14):
            problem = f"{product.gtin!r} is not 8, 12, 13 or 14 digits"
        elif set(digits) == {"0"}:
            problem = "a GTIN of zeros is not an identifier"
        elif not ean.is_valid(digits):
            expected = ean.calc_check_digit(digits[:-1])
            problem = f"the check digit is {digits[-1]}; GS1 mod 10 gives {expected}"
        elif digits.zfill(14)[1:].startswith(_RESTRICTED_GTIN) and len(digits) != 8:
            problem = f"{digits} uses a GS1 prefix reserved for in-store or coupon numbers"
        if problem:
            add(
                _finding(
                    product,
                    "gtin_invalid",
                    "high",
                    "the GTIN is not valid; Merchant Center disapproves invalid GTINs",
                    problem,
                    spec["gtin"],
                    field="gtin",
                    fix=Fix("correct the GTIN from the product's barcode", {}, mechanical=False),
                )
            )
    elif not (product.brand and product.mpn):
        add(
            _finding(
                product,
                "missing_identifier",
                "medium",
                "no GTIN and no brand + MPN: the product cannot be matched to its catalog entry",
                f"gtin: (empty), brand: {product.brand or '(empty)'}, "
                f"mpn: {product.mpn or '(empty)'}",
                spec["gtin"],
                field="gtin",
                fix=Fix("add the GTIN (or the brand and MPN)", {}, mechanical=False),
            )
        )

    # Category.
    node = (
        taxonomy.resolve(product.google_product_category)
        if product.google_product_category
        else None
    )
    if product.google_product_category and node is None:
        add(
            _finding(
                product,
                "category_not_in_taxonomy",
                "medium",
                "google_product_category names no node of Google's product taxonomy",
                f"google_product_category {product.google_product_category!r}",
                spec["category"],
                field="google_product_category",
                fix=_category_fix(suggested_category),
            )
        )
    elif node is None:
        add(
            _finding(
                product,
                "category_missing",
                "low",
                "no google_product_category; product_type is the merchant's own and not a "
                "taxonomy node",
                f"product_type {product.product_type!r}",
                spec["category"],
                field="google_product_category",
                fix=_category_fix(suggested_category),
            )
        )
    category = node or suggested_category
    kind = product_kind(product, category.name if category else None)

    # Title.
    title = product.title
    promo = _promo(title, language)
    words = _words(title)
    repeated = sorted({w for w in words if len(w) > 2 and words.count(w) > 2})
    caps = _CAPS.findall(title)
    if len(title) > TITLE_MAX:
        add(
            _finding(
                product,
                "title_too_long",
                "medium",
                f"the title is {len(title)} characters; Merchant Center shows at most {TITLE_MAX}",
                title[:TITLE_MAX] + "…",
                spec["title"],
                field="title",
                fix=Fix(
                    "restructure the title",
                    {"title": structured_title(product, kind, language)},
                    mechanical=True,
                    generated=True,
                ),
            )
        )
    if promo:
        cleaned = _strip_promo(title, promo) or structured_title(product, kind)
        add(
            _finding(
                product,
                "title_promotional_text",
                "high",
                "promotional text in the title is against Merchant Center's title rules",
                ", ".join(promo),
                spec["title"],
                field="title",
                fix=Fix("remove the promotional text from the title", {"title": cleaned}, True),
            )
        )
    if caps:
        add(
            _finding(
                product,
                "title_all_caps",
                "medium",
                "words in capitals (beyond short acronyms) read as shouting and are disapproved",
                ", ".join(caps),
                spec["title"],
                field="title",
                fix=Fix(
                    "write the title in normal case",
                    {"title": re.sub(r"\b[A-Z]{5,}\b", lambda m: m.group(0).capitalize(), title)},
                    mechanical=True,
                ),
            )
        )
    if repeated:
        add(
            _finding(
                product,
                "title_repeated_words",
                "medium",
                "repeated words in the title (keyword repetition)",
                ", ".join(f"{w} x{words.count(w)}" for w in repeated),
                spec["amazon_title"],
                field="title",
                fix=Fix(
                    "restructure the title",
                    {"title": structured_title(product, kind, language)},
                    mechanical=True,
                    generated=True,
                ),
            )
        )
    if len(title) < TITLE_MIN_RECOMMENDED and not promo:
        add(
            _finding(
                product,
                "title_too_short",
                "low",
                f"the title is {len(title)} characters: too short to say what the product is and "
                "what sets it apart",
                title,
                spec["title"],
                field="title",
                fix=Fix(
                    "restructure the title: brand, type and distinguishing attributes",
                    {"title": structured_title(product, kind, language)},
                    mechanical=True,
                    generated=True,
                )
                if any(product.attributes.get(n) for n in DISTINGUISHING)
                else None,
            )
        )

    # Description.
    description = product.description
    if not description:
        add(
            _finding(
                product,
                "description_missing",
                "high",
                "no description; Merchant Center requires one",
                "description: (empty)",
                spec["description"],
                field="description",
                fix=Fix("write a description of the product", {}, mechanical=False),
            )
        )
    else:
        if len(description) > DESCRIPTION_MAX:
            add(
                _finding(
                    product,
                    "description_too_long",
                    "medium",
                    f"the description is {len(description)} characters; at most {DESCRIPTION_MAX}",
                    description[:80] + "…",
                    spec["description"],
                    field="description",
                )
            )
        if description.strip().casefold() == title.strip().casefold():
            add(
                _finding(
                    product,
                    "description_copies_title",
                    "medium",
                    "the description repeats the title and says nothing more",
                    description,
                    spec["description"],
                    field="description",
                    fix=Fix("write a description of the product", {}, mechanical=False),
                )
            )
        elif len(description) < DESCRIPTION_MIN_RECOMMENDED:
            add(
                _finding(
                    product,
                    "description_too_short",
                    "low",
                    f"the description is {len(description)} characters; features, materials and "
                    "uses are what semantic search matches",
                    description,
                    spec["description"],
                    field="description",
                )
            )
        banned = [
            label
            for label, pattern in (
                ("a URL", _URL),
                ("a price", _PRICE_TEXT),
                ("shipping terms", _SHIPPING),
            )
            if pattern.search(description)
        ]
        desc_promo = _promo(description, language)
        if banned or desc_promo:
            add(
                _finding(
                    product,
                    "description_promotional_text",
                    "medium",
                    "the description holds text Merchant Center forbids there (prices, links, "
                    "shipping, promotions)",
                    ", ".join([*banned, *desc_promo]),
                    spec["description"],
                    field="description",
                    fix=Fix(
                        "remove the promotional text from the description",
                        {"description": _strip_promo(description, desc_promo)},
                        mechanical=True,
                    )
                    if desc_promo and not banned
                    else None,
                )
            )

    # Highlights.
    attribute_values = {
        name: value for name, value in product.attributes.items() if name in DISTINGUISHING
    }
    if len(product.highlights) < HIGHLIGHTS_MIN:
        highlights = tuple(
            f"{name.replace('_', ' ').capitalize()}: {value}"
            for name, value in attribute_values.items()
        )[:10]
        add(
            _finding(
                product,
                "highlights_missing",
                "low",
                f"{len(product.highlights)} product highlights; Merchant Center recommends "
                f"{HIGHLIGHTS_MIN} to 10",
                f"product_highlight: {len(product.highlights)}",
                spec["highlights"],
                field="highlights",
                fix=Fix(
                    "add highlights from the product's attributes",
                    {"highlights": (*product.highlights, *highlights)},
                    mechanical=True,
                    generated=True,
                )
                if len(product.highlights) + len(highlights) >= HIGHLIGHTS_MIN
                else None,
            )
        )
    for highlight in product.highlights:
        if len(highlight) > HIGHLIGHT_MAX:
            add(
                _finding(
                    product,
                    "highlight_too_long",
                    "low",
                    f"a highlight of {len(highlight)} characters; at most {HIGHLIGHT_MAX}",
                    highlight[:80] + "…",
                    spec["highlights"],
                    field="highlights",
                )
            )

    # Category-required attributes.
    if category is not None:
        missing = [a for a in required_attributes(category) if not product.attributes.get(a)]
        if missing:
            add(
                _finding(
                    product,
                    "required_attributes_missing",
                    "high",
                    f"{category.top_level} products need {', '.join(missing)}",
                    f"category {category.full_path}; missing {', '.join(missing)}",
                    spec["apparel"],
                    field="attributes",
                    fix=Fix(f"add {', '.join(missing)}", {}, mechanical=False),
                )
            )

    # Attributes and text.
    text_words = set(_words(" ".join((title, description, *product.highlights))))
    title_words = set(_words(title))
    for name, value in attribute_values.items():
        if name in ("gender", "age_group"):
            continue
        if not _mentioned(value, text_words):
            new_title = _with_attribute(product, value)
            add(
                _finding(
                    product,
                    "attribute_missing_from_text",
                    "medium",
                    f"the {name} ({value}) is an attribute but the title, highlights and "
                    "description never say it; text retrieval cannot match it",
                    f"{name}: {value}",
                    spec["attributes"],
                    field="title",
                    fix=Fix(
                        f"add the {name} ({value}) to the title",
                        {"title": new_title},
                        mechanical=True,
                    ),
                )
            )
        elif name == "color":
            others = _contradicting_colors(value, title_words)
            if others:
                add(
                    _finding(
                        product,
                        "attribute_contradicts_text",
                        "high",
                        f"the color attribute says {value} but the title says {', '.join(others)}",
                        f"color: {value}; title: {title}",
                        spec["identity"],
                        field="attributes",
                    )
                )

    # Reviews exposed.
    if (
        product.reviews is not None
        and (product.reviews.count or 0) > 0
        and product.reviews.rating is None
    ):
        add(
            _finding(
                product,
                "reviews_without_rating",
                "low",
                "reviews are counted but no rating is given; product ratings need both",
                f"review_count {product.reviews.count}",
                spec["ratings"],
                field="rating",
            )
        )

    # Page markup against the feed.
    if product.markup is not None:
        markup = product.markup
        for problem in markup.problems:
            add(
                _finding(
                    product,
                    "markup_invalid",
                    "high",
                    "the page's Product markup misses what merchant listings require",
                    problem,
                    spec["markup"],
                    field="markup",
                )
            )
        gap = (
            abs(markup.price - product.price) / product.price
            if markup.price is not None and product.price
            else 0.0
        )
        if gap > 0.005:
            add(
                _finding(
                    product,
                    "markup_price_mismatch",
                    "high",
                    "the page's price and the feed's disagree; Merchant Center disapproves it",
                    f"page {markup.price} {markup.currency or ''}; feed {product.price} "
                    f"{product.currency or ''}",
                    spec["markup"],
                    field="price",
                )
            )
        if markup.currency and product.currency and markup.currency != product.currency:
            add(
                _finding(
                    product,
                    "markup_currency_mismatch",
                    "high",
                    "the page's currency and the feed's disagree",
                    f"page {markup.currency}; feed {product.currency}",
                    spec["markup"],
                    field="currency",
                )
            )
        if (
            markup.availability
            and product.availability
            and markup.availability != product.availability
        ):
            add(
                _finding(
                    product,
                    "markup_availability_mismatch",
                    "high",
                    "the page's availability and the feed's disagree",
                    f"page {markup.availability}; feed {product.availability}",
                    spec["markup"],
                    field="availability",
                )
            )
        if markup.gtin and product.gtin and markup.gtin.lstrip("0") != product.gtin.lstrip("0"):
            add(
                _finding(
                    product,
                    "markup_gtin_mismatch",
                    "high",
                    "the page's GTIN and the feed's disagree",
                    f"page {markup.gtin}; feed {product.gtin}",
                    spec["markup"],
                    field="gtin",
                )
            )
    return found


def _category_fix(node: TaxonomyNode | None) -> Fix | None:
    if node is None:
        return Fix("choose the product's Google product category", {}, mechanical=False)
    return Fix(
        f"set google_product_category to {node.id} ({node.full_path})",
        {"google_product_category": str(node.id)},
        mechanical=True,
    )


def _with_attribute(product: Product, value: str) -> str:
    """The title with an attribute value put before its last noun phrase when it fits."""
    title = product.title
    candidate = f"{title}, {value}" if len(title) + len(value) + 2 <= TITLE_MAX else title
    kind = product_kind(product)
    if kind and kind in title.casefold():
        start = title.casefold().rindex(kind)
        candidate = f"{title[:start]}{value} {title[start:]}"
    return candidate[:TITLE_MAX]


_COLORS = frozenset(
    {
        "black",
        "white",
        "red",
        "blue",
        "green",
        "yellow",
        "orange",
        "purple",
        "pink",
        "brown",
        "grey",
        "gray",
        "beige",
        "navy",
        "gold",
        "silver",
    }
)


def _contradicting_colors(value: str, title_words: set[str]) -> list[str]:
    stated = set(_words(value))
    if not stated & _COLORS:
        return []
    named = (title_words & _COLORS) - stated
    return sorted(named) if named and not (title_words & stated) else []


def check_catalog(
    products: Sequence[Product],
    *,
    taxonomy: Taxonomy,
    languages: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Checks across products: variants of one item group must differ in a variant attribute,
    and two different products should not share one title."""
    del taxonomy, languages  # per-product checks run in check_product
    found: list[Finding] = []
    groups: dict[str, list[Product]] = defaultdict(list)
    titles: dict[str, list[Product]] = defaultdict(list)
    for product in products:
        if product.item_group_id:
            groups[product.item_group_id].append(product)
        titles[product.title.strip().casefold()].append(product)
    variant_keys = ("color", "size", "material", "pattern", "gender", "age_group")
    for group_id, members in groups.items():
        seen: dict[tuple[str, ...], str] = {}
        for product in members:
            key = tuple(product.attributes.get(k, "") for k in variant_keys)
            if key in seen:
                found.append(
                    _finding(
                        product,
                        "variant_not_distinguished",
                        "medium",
                        f"variants of item group {group_id!r} must differ in a variant attribute "
                        "(color, size, material, pattern, gender, age_group)",
                        f"same variant attributes as {seen[key]!r}",
                        SPEC["item_group_id"],
                        field="item_group_id",
                    )
                )
            else:
                seen[key] = product.id
    for same in titles.values():
        if len(same) > 1 and len({p.item_group_id for p in same if p.item_group_id}) != 1:
            for product in same:
                found.append(
                    _finding(
                        product,
                        "duplicate_title",
                        "low",
                        "another product has exactly this title; engines cannot tell them apart",
                        ", ".join(p.id for p in same if p.id != product.id)[:200],
                        SPEC["title"],
                        field="title",
                    )
                )
    return found
