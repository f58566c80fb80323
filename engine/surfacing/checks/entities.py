"""Recommendations from the entities a listing and its reviews name
(:mod:`engine.surfacing.entities`): what the text says that the structured attributes do not.

- ``attribute_only_in_text`` (low): the title, description, highlights or product type state
  one colour, material or size, and the attribute is empty. Filters, comparison tables and
  shopping agents read the attribute, not the prose; the fix sets it to the stated value
  (mechanical: the product's own words). Several different values ("black or white") are
  left to a person, since the listing may cover variants.
- ``reviews_name_unlisted_attribute`` (low): reviewers name a colour or material the listing
  never states and the attribute is empty. Reviews describe what buyers received, but a
  reviewer can be wrong or talk of another product, so the fix is advice: confirm and add.

A kind another check already reports (a category-required attribute that is missing) is
skipped: one finding per field.
"""

from __future__ import annotations

from collections.abc import Collection

from engine.surfacing.checks._text import quote
from engine.surfacing.entities import AttributeKind, ProductEntities
from engine.surfacing.findings import Finding, Fix, RuleSource
from engine.surfacing.product import Product

_GMC = "https://support.google.com/merchants/answer/"
SOURCES: dict[str, RuleSource] = {
    "color": RuleSource("Google Merchant Center: color [color]", f"{_GMC}6324487"),
    "material": RuleSource("Google Merchant Center: material [material]", f"{_GMC}6324410"),
    "size": RuleSource("Google Merchant Center: size [size]", f"{_GMC}6324492"),
}
LISTING_FIELDS = frozenset({"title", "description", "highlights", "product_type"})
KINDS: tuple[AttributeKind, ...] = ("color", "material", "size")
REVIEWED_KINDS: tuple[AttributeKind, ...] = ("color", "material")  # sizes in reviews are fit


def entity_findings(
    product: Product, entities: ProductEntities, *, reported_fields: Collection[str] = ()
) -> list[Finding]:
    found: list[Finding] = []
    for kind in KINDS:
        field = f"attributes.{kind}"
        if (product.attributes.get(kind) or "").strip() or field in reported_fields:
            continue
        mentions = [a for a in entities.attributes if a.kind == kind]
        stated = [a for a in mentions if LISTING_FIELDS & set(a.fields)]
        values = list(dict.fromkeys(a.value for a in stated))
        if len(values) == 1:
            [value] = values
            where = sorted({f for a in stated for f in a.fields} & LISTING_FIELDS)
            found.append(
                Finding(
                    product_id=product.id,
                    check="attribute_only_in_text",
                    severity="low",
                    message=f"the listing states the {kind} in its text but the {kind} "
                    "attribute is empty: filters and shopping agents read the attribute",
                    evidence=f"{kind} {quote(value)} in the {', '.join(where)}",
                    source=SOURCES[kind],
                    fix=Fix(
                        f"set {kind} to {value!r}",
                        {"attributes": {**product.attributes, kind: value}},
                        mechanical=True,
                    ),
                    field=field,
                )
            )
            continue
        if values or kind not in REVIEWED_KINDS:
            continue
        reviewed = list(dict.fromkeys(a.value for a in mentions if a.fields == ("reviews",)))
        if reviewed:
            named = ", ".join(quote(v) for v in reviewed[:3])
            found.append(
                Finding(
                    product_id=product.id,
                    check="reviews_name_unlisted_attribute",
                    severity="low",
                    message=f"reviewers name a {kind} the listing never states",
                    evidence=f"reviews mention {named}; no {kind} in the attributes or text",
                    source=SOURCES[kind],
                    fix=Fix(
                        f"confirm the {kind} and add it to the attributes (and the title if "
                        "shoppers search by it)",
                        {},
                        mechanical=False,
                    ),
                    field=field,
                )
            )
    return found
