"""The manipulation lint: text written to steer AI readers or game search is a hard fail.

Five checks, each quoting what it saw: directives addressed to AI readers (indirect prompt
injection), invisible characters, text hidden by HTML (comments, ``display:none``...),
fabricated statistics and ratings, and keyword stuffing. A finding never comes with text to
add: the only fixes offered remove what was found (the hidden text, the invisible
characters, the sentence with the directive or the claim); stuffing gets none, since undoing
it means rewriting, which is the merchant's to do.

Precision first: a false hard fail on an honest listing costs a merchant more than a missed
one, so each pattern is specific, claims a product's own reviews back are not flagged, and
the stuffing thresholds sit well above ordinary copy (a realistic clean catalog, ingredient
and compatibility lists included, raises none: tests/unit/engine/surfacing/test_lint.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.surfacing.checks._text import Span, drop_sentences, plain_text, remove_spans
from engine.surfacing.findings import Finding, Fix, FixField, RuleSource
from engine.surfacing.lint.claims import fabricated_claims
from engine.surfacing.lint.directives import context, find_directive
from engine.surfacing.lint.hidden_html import hidden_html
from engine.surfacing.lint.invisible import invisible_evidence, revealed, without_invisible
from engine.surfacing.lint.stuffing import stuffing
from engine.surfacing.product import Product
from engine.surfacing.rules import (
    GMC_MISREPRESENTATION,
    PROMPT_INJECTION,
    SPAM_HIDDEN_TEXT,
    SPAM_KEYWORD_STUFFING,
)

__all__ = ["lint_product"]


def _fields(product: Product) -> Iterator[tuple[str, str]]:
    yield "title", product.title
    yield "description", product.description
    for i, highlight in enumerate(product.highlights):
        yield f"highlights[{i}]", highlight
    if product.brand:
        yield "brand", product.brand
    if product.product_type:
        yield "product_type", product.product_type
    for name, value in product.attributes.items():
        yield f"attributes.{name}", value
    if product.markup and product.markup.name:
        yield "markup.name", product.markup.name


def _removal(product: Product, field: str, cleaned: str, summary: str) -> Fix | None:
    """A fix that takes text out of one field (never one that adds any)."""
    changes: dict[FixField, str | tuple[str, ...] | dict[str, str]]
    if field in ("title", "description", "brand"):
        if not cleaned.strip() and field != "description":
            return None
        changes = {field: cleaned}  # type: ignore[dict-item]
    elif field.startswith("highlights["):
        index = int(field[len("highlights[") : -1])
        kept = list(product.highlights)
        if cleaned.strip():
            kept[index] = cleaned
        else:
            del kept[index]
        changes = {"highlights": tuple(kept)}
    elif field.startswith("attributes."):
        name = field.removeprefix("attributes.")
        attributes = {k: v for k, v in product.attributes.items() if k != name}
        if cleaned.strip():
            attributes[name] = cleaned
        changes = {"attributes": attributes}
    else:
        return None
    return Fix(summary, changes, mechanical=True)


def lint_product(product: Product, *, language: str = "en") -> list[Finding]:
    """Every manipulation finding for ``product``: all ``high``, all ``hard_fail``."""
    language = language.strip().split("-")[0].lower() or "und"
    found: list[Finding] = []

    def hard(
        check: str, message: str, evidence: str, source: RuleSource, field: str, fix: Fix | None
    ) -> None:
        found.append(
            Finding(
                product_id=product.id,
                check=check,
                severity="high",
                message=message,
                evidence=evidence,
                source=source,
                fix=fix,
                hard_fail=True,
                field=field,
            )
        )

    for field, text in _fields(product):
        if not text:
            continue
        invisible = invisible_evidence(text)
        if invisible:
            hard(
                "invisible_characters",
                "invisible characters hide text from shoppers or split words to dodge filters",
                f"{field}: {invisible}",
                SPAM_HIDDEN_TEXT,
                field,
                _removal(
                    product, field, without_invisible(text), "remove the invisible characters"
                ),
            )
        hidden = hidden_html(text)
        if hidden:
            quotes, visible = hidden
            hard(
                "hidden_text",
                "the HTML hides text from shoppers (comments or hiding styles) that engines and "
                "AI readers still read",
                f"{field}: " + "; ".join(quotes[:3]),
                SPAM_HIDDEN_TEXT,
                field,
                _removal(product, field, visible, "remove the hidden text"),
            )
        directive = find_directive(text)
        if directive:
            seen = revealed(text)
            shopper_text = plain_text(seen)
            rest = drop_sentences(shopper_text, lambda s: find_directive(s) is not None)
            hard(
                "hidden_directive",
                "the listing gives instructions to AI assistants (indirect prompt injection)",
                f"{field}: {context(seen, directive)}",
                PROMPT_INJECTION,
                field,
                _removal(product, field, rest, "remove the sentences addressed to AI readers")
                if find_directive(rest) is None
                else None,
            )
        if language == "en" and not field.startswith(("attributes.", "brand")):
            shown = plain_text(text)
            claims = fabricated_claims(shown, product.reviews)
            if claims:
                if field == "description":
                    rest = drop_sentences(
                        shown, lambda s: bool(fabricated_claims(s, product.reviews))
                    )
                else:  # a title or a highlight is one phrase: take the claim out of it
                    rest = remove_spans(shown, [Span(c.start, c.end, "") for c in claims])
                hard(
                    "fabricated_claim",
                    "a statistic, ranking or rating the listing cannot back (no source, or the "
                    "product's own reviews say otherwise)",
                    f"{field}: " + "; ".join(c.evidence for c in claims[:3]),
                    GMC_MISREPRESENTATION,
                    field,
                    _removal(product, field, rest, "remove the unbacked claims"),
                )
    for field, text in (
        ("title", product.title),
        ("description", plain_text(revealed(product.description))),
        ("highlights", " , ".join(product.highlights)),
    ):
        evidence = (
            stuffing(text, field=field, title=product.title, language=language) if text else None
        )
        if evidence:
            hard(
                "keyword_stuffing",
                "keyword stuffing: terms repeated or listed for engines rather than written for "
                "shoppers",
                f"{field}: {evidence}",
                SPAM_KEYWORD_STUFFING,
                field,
                None,
            )
    return found
