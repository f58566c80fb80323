"""The feed checklist: each rule of the specifications in :mod:`engine.surfacing.rules` as a
check of one product (:func:`check_product`) or of the catalog (:func:`check_catalog`), with
its evidence, its source and, where one exists, a concrete fix.

A fix is ``mechanical`` only when it is built from the product's own data (its attributes,
its category, its words, the suggested category it is given) and can be applied as it is;
the others say what a person must do. Checks that read English words run for English only
(:data:`engine.surfacing.language.ENGLISH_ONLY_CHECKS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.surfacing.checks._base import Context
from engine.surfacing.checks.catalog import catalog_findings
from engine.surfacing.checks.category import check_attributes, check_category
from engine.surfacing.checks.description import check_description, check_highlights
from engine.surfacing.checks.identity import check_identity
from engine.surfacing.checks.markup import check_markup, check_reviews
from engine.surfacing.checks.title import check_title
from engine.surfacing.findings import Finding
from engine.surfacing.language import SUPPORTED_LANGUAGES, product_language
from engine.surfacing.product import Product
from engine.surfacing.rules import OPENAI_FEED
from engine.surfacing.taxonomy import Taxonomy, TaxonomyNode

UNDETERMINED = "und"  # ISO 639-2's code for a language that could not be determined

__all__ = ["UNDETERMINED", "check_catalog", "check_product", "normal_language"]


def normal_language(language: str) -> str:
    """The primary subtag, lower-case ("en-US" -> "en"); empty -> ``und``."""
    code = language.strip().replace("_", "-").split("-")[0].lower()
    return code or UNDETERMINED


def check_product(
    product: Product,
    *,
    taxonomy: Taxonomy,
    language: str = "en",
    suggested_category: TaxonomyNode | None = None,
) -> list[Finding]:
    """Every per-product check. ``language`` is the product's (ISO 639-1); outside
    :data:`SUPPORTED_LANGUAGES` the checks that need word lists are skipped and an ``info``
    finding says so. ``suggested_category`` (a categoriser's node) is what category fixes
    set, and what the category-required attributes are read from when the product names no
    valid category."""
    ctx = Context(product, taxonomy, normal_language(language), suggested_category)
    if ctx.language not in SUPPORTED_LANGUAGES:
        ctx.add(
            "language_not_supported",
            "info",
            "the product's language could not be determined or has no word lists here, so "
            "the promotional-text and English-only checks were skipped",
            f"language {ctx.language!r}; supported: {', '.join(SUPPORTED_LANGUAGES)}",
            OPENAI_FEED,
            field=None,
        )
    check_identity(ctx)
    check_title(ctx)
    check_description(ctx)
    check_highlights(ctx)
    check_category(ctx)
    check_attributes(ctx)
    check_reviews(ctx)
    check_markup(ctx)
    return ctx.findings


def check_catalog(
    products: Sequence[Product],
    *,
    taxonomy: Taxonomy,
    languages: Mapping[str, str] | None = None,
    suggested_categories: Mapping[str, TaxonomyNode] | None = None,
) -> list[Finding]:
    """:func:`check_product` for each product, then the checks across products (duplicate
    ids, GTINs and titles; item groups). ``languages`` maps product ids to their language;
    a product it does not list has its language detected (``und`` when unsure)."""
    resolved: dict[str, str] = {}
    for product in products:
        given = languages.get(product.id) if languages is not None else None
        if given is None:
            given = product_language(product).code or UNDETERMINED
        resolved[product.id] = normal_language(given)
    found: list[Finding] = []
    for product in products:
        found.extend(
            check_product(
                product,
                taxonomy=taxonomy,
                language=resolved[product.id],
                suggested_category=(suggested_categories or {}).get(product.id),
            )
        )
    found.extend(catalog_findings(products, resolved))
    return found
