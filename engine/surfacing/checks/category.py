"""The category (a node of Google's taxonomy), the attributes it requires, and whether the
attributes and the text agree."""

from __future__ import annotations

from engine.surfacing.checks._base import Context, advice
from engine.surfacing.checks._text import mentions, quote, terms, words
from engine.surfacing.checks.compose import title_with_attribute
from engine.surfacing.findings import Fix
from engine.surfacing.rules import (
    ATTRIBUTE_LABELS,
    COLORS_EN,
    DESCRIPTIVE_ATTRIBUTES,
    GENDER_WORDS_EN,
    GMC_CATEGORY,
    GMC_SPEC,
    GMC_TITLE,
    HIGHLIGHT_MAX_CHARS,
    category_requirements,
)
from engine.surfacing.taxonomy import Taxonomy, TaxonomyNode

_PARENTS: dict[int, tuple[Taxonomy, frozenset[tuple[str, ...]]]] = {}


def _parents(taxonomy: Taxonomy) -> frozenset[tuple[str, ...]]:
    """Paths that have children, per taxonomy object (keyed by identity: hashing a taxonomy
    hashes all its nodes)."""
    entry = _PARENTS.get(id(taxonomy))
    if entry is None or entry[0] is not taxonomy:
        entry = (taxonomy, frozenset(n.path[:-1] for n in taxonomy.nodes))
        _PARENTS[id(taxonomy)] = entry
    return entry[1]


def _set_category(node: TaxonomyNode | None, why: str) -> Fix:
    if node is None:
        return advice(f"{why}: choose the most specific node of Google's product taxonomy")
    return Fix(
        f"set google_product_category to {node.id} ({node.full_path})",
        {"google_product_category": str(node.id)},
        mechanical=True,
    )


def check_category(ctx: Context) -> None:
    product = ctx.product
    value = (product.google_product_category or "").strip()
    suggested = ctx.suggested_category
    if not value:
        product_type = (product.product_type or "").strip()
        ctx.add(
            "category_missing",
            "low",
            "no google_product_category: Google guesses the category, and the category-required "
            "attributes cannot be checked against it"
            + (
                "; product_type is the merchant's own path, not a taxonomy node"
                if product_type
                else ""
            ),
            f"google_product_category: (empty); product_type {quote(product_type)}"
            if product_type
            else "google_product_category: (empty)",
            GMC_CATEGORY,
            field="google_product_category",
            fix=_set_category(suggested, "add the category"),
        )
    elif ctx.node is None:
        ctx.add(
            "category_not_in_taxonomy",
            "medium",
            "google_product_category names no node of Google's product taxonomy "
            f"(version {ctx.taxonomy.version}) by id or full path",
            f"google_product_category {quote(value)}",
            GMC_CATEGORY,
            field="google_product_category",
            fix=_set_category(suggested, "correct the category"),
        )
    elif ctx.node.path in _parents(ctx.taxonomy):
        deeper = (
            suggested
            if suggested
            and suggested.path[: len(ctx.node.path)] == ctx.node.path
            and suggested != ctx.node
            else None
        )
        ctx.add(
            "category_not_specific",
            "low",
            "the category has narrower nodes; Merchant Center asks for the most specific one",
            f"google_product_category {quote(value)} is {ctx.node.full_path}",
            GMC_CATEGORY,
            field="google_product_category",
            fix=_set_category(deeper, "choose a narrower category"),
        )
    _check_required(ctx)


def _check_required(ctx: Context) -> None:
    node = ctx.category
    if node is None:
        return
    product = ctx.product
    for requirement in category_requirements(node):
        for name in requirement.attributes:
            if (product.attributes.get(name) or "").strip():
                continue
            derived = _derive(ctx, name)
            ctx.add(
                "required_attribute_missing",
                "high",
                f"{name} is required {requirement.condition}",
                f"category {node.full_path}; {name}: (empty)"
                + (f"; the title says {quote(derived)}" if derived else ""),
                requirement.source,
                field=f"attributes.{name}",
                fix=Fix(
                    f"set {name} to {derived!r}, as the title says",
                    {"attributes": {**product.attributes, name: derived}},
                    mechanical=True,
                )
                if derived
                else advice(f"add the product's {name}"),
            )


def _derive(ctx: Context, name: str) -> str | None:
    """An attribute value the title states unambiguously (English words only)."""
    if ctx.language != "en":
        return None
    title_words = words(ctx.product.title)
    if name == "color":
        found = {w for w in title_words if w in COLORS_EN}
        return found.pop() if len(found) == 1 else None
    if name == "gender":
        genders = {GENDER_WORDS_EN[w] for w in title_words if w in GENDER_WORDS_EN}
        if "unisex" in title_words:
            genders.add("unisex")
        return genders.pop() if len(genders) == 1 else None
    return None


def check_attributes(ctx: Context) -> None:
    """Every descriptive attribute is said somewhere in the text, and (English) none is
    contradicted by the title."""
    product = ctx.product
    for name in DESCRIPTIVE_ATTRIBUTES:
        value = (product.attributes.get(name) or "").strip()
        if not value or not terms(value, ctx.language):
            continue
        if not mentions(value, ctx.text_terms, ctx.language):
            ctx.add(
                "attribute_not_in_text",
                "low",
                f"the {name} ({value}) is an attribute, but the title, description and "
                "highlights never say it, so text search cannot match it",
                f"{name}: {quote(value)}",
                GMC_TITLE,
                field=f"attributes.{name}",
                fix=_mention_fix(ctx, name, value),
            )
    if ctx.language == "en":
        _check_contradictions(ctx)


def _mention_fix(ctx: Context, name: str, value: str) -> Fix:
    product = ctx.product
    title = title_with_attribute(product, name, value, ctx.language)
    if title is not None:
        return Fix(f"add the {name} ({value}) to the title", {"title": title}, mechanical=True)
    label = ATTRIBUTE_LABELS.get(ctx.language, {}).get(name, name.capitalize())
    highlight = f"{label}: {value}"[:HIGHLIGHT_MAX_CHARS]
    return Fix(
        f"add the {name} ({value}) as a highlight",
        {"highlights": (*product.highlights, highlight)},
        mechanical=True,
        generated=True,
    )


def _check_contradictions(ctx: Context) -> None:
    product = ctx.product
    title_words = set(words(product.title))
    color = (product.attributes.get("color") or "").strip()
    stated = set(words(color)) & COLORS_EN
    named = title_words & COLORS_EN
    if stated and named and not stated & named:
        ctx.add(
            "attribute_contradicts_text",
            "medium",
            f"the color attribute says {color}, the title says {', '.join(sorted(named))}",
            f"color: {quote(color)}; title {quote(product.title)}",
            GMC_SPEC,
            field="attributes.color",
            fix=advice("make the color attribute and the title agree"),
        )
    gender = (product.attributes.get("gender") or "").strip().casefold()
    said = {GENDER_WORDS_EN[w] for w in title_words if w in GENDER_WORDS_EN}
    if gender in ("male", "female") and said and gender not in said:
        ctx.add(
            "attribute_contradicts_text",
            "medium",
            f"the gender attribute says {gender}, the title says {', '.join(sorted(said))}",
            f"gender: {quote(gender)}; title {quote(product.title)}",
            GMC_SPEC,
            field="attributes.gender",
            fix=advice("make the gender attribute and the title agree"),
        )
