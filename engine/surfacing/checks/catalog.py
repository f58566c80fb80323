"""Checks across products: duplicate ids, GTINs and titles, and item groups whose variants do
not differ, lack variant attributes, or share a title."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from stdnum import ean

from engine.surfacing.checks._text import contains, quote, words
from engine.surfacing.findings import Finding, Fix, RuleSource, Severity
from engine.surfacing.product import Product
from engine.surfacing.rules import (
    ATTRIBUTE_LABELS,
    GMC_GTIN,
    GMC_ITEM_GROUP,
    GMC_SPEC,
    GMC_TITLE,
    TITLE_MAX,
    VARIANT_ATTRIBUTES,
)


def _where(product: Product) -> str:
    return f"{product.id!r}" + (f" (line {product.line})" if product.line else "")


def _others(product: Product, group: Sequence[Product]) -> str:
    others = [_where(p) for p in group if p is not product]
    shown = ", ".join(others[:5])
    return shown + (f" and {len(others) - 5} more" if len(others) > 5 else "")


def _finding(
    product: Product,
    check: str,
    severity: Severity,
    message: str,
    evidence: str,
    source: RuleSource,
    field: str,
    fix: Fix | None = None,
) -> Finding:
    return Finding(product.id, check, severity, message, evidence, source, fix=fix, field=field)


def catalog_findings(products: Sequence[Product], languages: Mapping[str, str]) -> list[Finding]:
    found: list[Finding] = []
    by_id: dict[str, list[Product]] = defaultdict(list)
    by_gtin: dict[str, list[Product]] = defaultdict(list)
    by_title: dict[tuple[str, ...], list[Product]] = defaultdict(list)
    groups: dict[str, list[Product]] = defaultdict(list)
    for product in products:
        by_id[product.id].append(product)
        gtin = ean.compact(product.gtin or "")
        if gtin.isdigit() and set(gtin) != {"0"}:
            by_gtin[gtin.zfill(14)].append(product)
        title = tuple(words(product.title))
        if title:
            by_title[title].append(product)
        if product.item_group_id and product.item_group_id.strip():
            groups[product.item_group_id.strip()].append(product)

    for product_id, same in by_id.items():
        if len(same) > 1:
            for product in same:
                found.append(
                    _finding(
                        product,
                        "duplicate_id",
                        "high",
                        "another product has this id; ids must be unique, so one record hides the "
                        "other",
                        f"id {product_id!r} also at {_others(product, same)}",
                        GMC_SPEC,
                        "id",
                    )
                )
    for gtin, same in by_gtin.items():
        if len({p.id for p in same}) > 1:
            for product in same:
                found.append(
                    _finding(
                        product,
                        "duplicate_gtin",
                        "medium",
                        "another product has this GTIN; a GTIN names one product (each variant "
                        "has its own)",
                        f"gtin {gtin.lstrip('0') or gtin} also on {_others(product, same)}",
                        GMC_GTIN,
                        "gtin",
                    )
                )
    for same in by_title.values():
        group_ids = {(p.item_group_id or "").strip() for p in same}
        if len({p.id for p in same}) > 1 and not (len(group_ids) == 1 and "" not in group_ids):
            for product in same:
                found.append(
                    _finding(
                        product,
                        "duplicate_title",
                        "medium",
                        "another product has this title; shoppers and engines cannot tell them "
                        "apart",
                        f"{quote(product.title)} also on {_others(product, same)}",
                        GMC_TITLE,
                        "title",
                    )
                )
    for group_id, members in groups.items():
        found.extend(_check_group(group_id, members, languages))
    return found


def _variant_key(product: Product) -> tuple[str, ...]:
    return tuple((product.attributes.get(a) or "").strip().casefold() for a in VARIANT_ATTRIBUTES)


def _check_group(
    group_id: str, members: Sequence[Product], languages: Mapping[str, str]
) -> list[Finding]:
    found: list[Finding] = []
    for product in members:
        if not any(_variant_key(product)):
            found.append(
                _finding(
                    product,
                    "variant_attribute_missing",
                    "medium",
                    f"the product is a variant of item group {group_id!r} but has none of the "
                    "variant attributes (color, size, pattern, material, age_group, gender)",
                    f"item_group_id {group_id!r}; attributes {dict(product.attributes)!r}",
                    GMC_ITEM_GROUP,
                    "attributes",
                )
            )
    if len(members) < 2:
        return found
    seen: dict[tuple[str, ...], list[Product]] = defaultdict(list)
    for product in members:
        if any(_variant_key(product)):
            seen[_variant_key(product)].append(product)
    for key, same in seen.items():
        if len(same) > 1:
            shown = ", ".join(f"{a}={v}" for a, v in zip(VARIANT_ATTRIBUTES, key, strict=True) if v)
            for product in same:
                found.append(
                    _finding(
                        product,
                        "variant_not_distinguished",
                        "medium",
                        f"variants of item group {group_id!r} must differ in at least one variant "
                        "attribute",
                        f"{shown} on {_where(product)} and {_others(product, same)}",
                        GMC_ITEM_GROUP,
                        "attributes",
                    )
                )
    varying = [
        a
        for a in VARIANT_ATTRIBUTES
        if len({(p.attributes.get(a) or "").strip().casefold() for p in members}) > 1
    ]
    titles: dict[tuple[str, ...], list[Product]] = defaultdict(list)
    for product in members:
        titles[tuple(words(product.title))].append(product)
    for same in titles.values():
        if len(same) < 2:
            continue
        for product in same:
            found.append(
                _finding(
                    product,
                    "variant_title_not_distinguished",
                    "medium",
                    "variants share one title; Merchant Center asks each variant's title to name "
                    'what distinguishes it ("Google T-Shirt, Red")',
                    f"{quote(product.title)} on {_where(product)} and {_others(product, same)}",
                    GMC_TITLE,
                    "title",
                    _variant_title_fix(product, varying, languages.get(product.id, "en")),
                )
            )
    for attribute in ("brand", "google_product_category"):
        values = {(getattr(p, attribute) or "").strip().casefold() for p in members}
        if len(values) > 1:
            for product in members:
                found.append(
                    _finding(
                        product,
                        "variant_group_inconsistent",
                        "low",
                        f"variants of item group {group_id!r} disagree on {attribute}, which "
                        "variants share",
                        f"{attribute} values in the group: "
                        + ", ".join(sorted(v or "(empty)" for v in values)),
                        GMC_ITEM_GROUP,
                        attribute,
                    )
                )
    return found


def _variant_title_fix(product: Product, varying: Sequence[str], language: str) -> Fix | None:
    labels = ATTRIBUTE_LABELS.get(language, {})
    additions = []
    for name in varying:
        value = (product.attributes.get(name) or "").strip()
        if value and not contains(product.title, value, language):
            additions.append(
                f"{labels['size']} {value}" if name == "size" and "size" in labels else value
            )
    title = ", ".join([product.title.strip(), *additions])
    if not additions or len(title) > TITLE_MAX:
        return None
    return Fix("name the variant's attributes in its title", {"title": title}, mechanical=True)
