"""What every check reads (the product, its category, its language) and how it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from engine.surfacing.checks._text import plain_text, terms
from engine.surfacing.findings import Finding, Fix, RuleSource, Severity
from engine.surfacing.product import Product
from engine.surfacing.taxonomy import Taxonomy, TaxonomyNode


@dataclass
class Context:
    product: Product
    taxonomy: Taxonomy
    language: str
    suggested_category: TaxonomyNode | None = None
    findings: list[Finding] = field(default_factory=list)

    @cached_property
    def node(self) -> TaxonomyNode | None:
        """The taxonomy node ``google_product_category`` names, if it names one."""
        value = self.product.google_product_category
        return self.taxonomy.resolve(value) if value and value.strip() else None

    @property
    def category(self) -> TaxonomyNode | None:
        """The node the category-dependent checks use: the product's, else the suggestion."""
        return self.node or self.suggested_category

    @cached_property
    def description_text(self) -> str:
        return plain_text(self.product.description)

    @cached_property
    def title_terms(self) -> set[str]:
        return set(terms(self.product.title, self.language))

    @cached_property
    def text_terms(self) -> set[str]:
        """Words of the title, the description and the highlights together."""
        text = " ".join((self.product.title, self.description_text, *self.product.highlights))
        return set(terms(text, self.language))

    def add(
        self,
        check: str,
        severity: Severity,
        message: str,
        evidence: str,
        source: RuleSource,
        *,
        field: str | None,
        fix: Fix | None = None,
    ) -> None:
        self.findings.append(
            Finding(
                product_id=self.product.id,
                check=check,
                severity=severity,
                message=message,
                evidence=evidence,
                source=source,
                fix=fix,
                field=field,
            )
        )


def advice(summary: str) -> Fix:
    """A fix a person carries out (nothing LiftOS can fill in from the product's data)."""
    return Fix(summary=summary, changes={}, mechanical=False)
