"""What an audit says about a product: findings with their evidence, and the fixes they propose.

Every stage (feed checklist, manipulation lint, reviews, categorisation, findability) reports
through these types, so the API, the report and the fix-impact measurement read one shape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from engine.surfacing.product import Product

Severity = Literal["high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("high", "medium", "low", "info")

# The canonical fields a fix may change, and the type each takes.
FixField = Literal[
    "title", "description", "highlights", "attributes", "google_product_category", "brand"
]


@dataclass(frozen=True)
class RuleSource:
    """Where a rule comes from: the specification's name and the address that states it."""

    name: str  # "Google Merchant Center: title [title]"
    url: str


@dataclass(frozen=True)
class Fix:
    """A concrete change to one product: the fields it sets and their new values.

    ``mechanical`` fixes are built from the product's own data (its attributes, its category,
    its reviews' words) and can be applied and measured without a person writing anything;
    the others say what to do ("add a GTIN") and are not applied. ``generated`` marks text
    LiftOS composed, which the merchant must publish labelled as such (Merchant Center's
    ``structured_title`` / ``structured_description`` with ``digital_source_type``).
    ``attributes`` replaces the whole attribute mapping, so a fix states the full result."""

    summary: str
    changes: Mapping[FixField, str | tuple[str, ...] | Mapping[str, str]]
    mechanical: bool
    generated: bool = False

    def __post_init__(self) -> None:
        # A private plain copy (serialisable; see Product.__post_init__).
        object.__setattr__(self, "changes", dict(self.changes))

    def apply(self, product: Product) -> Product:
        """The product with this fix applied (a new record; the input is unchanged)."""
        updates: dict[str, object] = {}
        for name, value in self.changes.items():
            if name == "attributes":
                if not isinstance(value, Mapping):
                    raise TypeError("a fix's attributes are a mapping")
                updates[name] = dict(value)
            elif name == "highlights":
                if not isinstance(value, tuple):
                    raise TypeError("a fix's highlights are a tuple of strings")
                updates[name] = value
            else:
                if not isinstance(value, str):
                    raise TypeError(f"a fix's {name} is a string")
                updates[name] = value
        return dataclasses.replace(product, **updates)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Finding:
    """One problem (or, with severity ``info``, one observation) about one product.

    ``check`` is a stable identifier (``gtin_check_digit``, ``title_promotional_text``...),
    ``evidence`` quotes what was seen (the offending words, the computed check digit),
    ``source`` is the rule's source, ``fix`` the change that resolves it when there is one.
    ``hard_fail`` marks manipulation: such a product is reported as failing whatever else
    it scores."""

    product_id: str
    check: str
    severity: Severity
    message: str
    evidence: str
    source: RuleSource
    fix: Fix | None = None
    hard_fail: bool = False
    field: str | None = None  # the canonical field the finding is about
