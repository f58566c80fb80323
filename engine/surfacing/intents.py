"""The queries a shopper would use to find a product, built from the product's own data.

Four kinds (lower-case, deduplicated, deterministic):

- ``broad``: what the product is: its category leaf or the last level of its product type
  ("table lamps" -> "table lamp");
- ``attribute``: one distinguishing attribute value with the type ("brass table lamp");
- ``long_tail``: two or three attribute values with the type ("gold brass table lamp");
- ``navigational``: the brand with the type ("lumen table lamp").

Only the naive singular of an English plural category name ("lamps" -> "lamp") is English-
specific; the rest joins the product's own words, in its own language.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Literal

from engine.surfacing.product import Product

IntentKind = Literal["broad", "attribute", "long_tail", "navigational"]
# Attributes that tell products of one type apart, in the order shoppers name them.
DISTINGUISHING = ("material", "color", "pattern", "size", "gender", "age_group", "style")
_NOT_A_VALUE = frozenset({"", "n/a", "na", "none", "null", "other", "multi", "default"})


@dataclass(frozen=True)
class IntentQuery:
    text: str
    kind: IntentKind
    product_id: str


@dataclass(frozen=True)
class MerchantQuery:
    """A site-search query the merchant supplied; ``relevant`` holds the ids known to be
    relevant when the query is labelled."""

    text: str
    relevant: frozenset[str] | None = None


def _clean(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s&'-]", " ", text.casefold()).split())


def singular(name: str) -> str:
    """The naive English singular of a category name's last word ("Table Lamps" -> "table
    lamp"); "&"-joined names keep their first part ("Shirts & Tops" -> "shirt") unless that
    is one singular word, a modifier of the next part's noun ("Kitchen & Dining Room Tables"
    -> "dining room table", not "kitchen"; "Baby & Toddler Gloves & Mittens" -> "toddler
    glove")."""
    parts = [_clean(part) for part in name.split(",")[0].split("&")]
    head = parts[0]
    if len(parts) > 1 and len(head.split()) == 1 and not head.endswith("s"):
        head = parts[1]
    words = head.split()
    if not words:
        return ""
    last = words[-1]
    if last.endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.endswith(("ches", "shes", "sses", "xes")):
        last = last[:-2]
    elif last.endswith("s") and not last.endswith(("ss", "us", "is")):
        last = last[:-1]
    return " ".join([*words[:-1], last])


def product_kind(product: Product, category_name: str | None = None) -> str:
    """What the product is, as a shopper would type it."""
    if product.product_type:
        leaf = product.product_type.split(">")[-1]
        if _clean(leaf):
            return singular(leaf)
    if category_name:
        return singular(category_name)
    # No category at all: the title's last two words are the best guess at the noun phrase.
    words = _clean(product.title).split()
    return " ".join(words[-2:])


def _values(product: Product, kind: str) -> list[str]:
    seen: list[str] = []
    kind_words = set(kind.split())
    for name in DISTINGUISHING:
        raw = product.attributes.get(name, "")
        value = _clean(raw)
        # Before and after cleaning: "n/a" cleans to "n a".
        placeholder = raw.strip().casefold() in _NOT_A_VALUE or value in _NOT_A_VALUE
        if placeholder or value in seen or set(value.split()) <= kind_words:
            continue
        seen.append(value)
    return seen


def intent_queries(
    product: Product, *, category_name: str | None = None, limit: int = 8
) -> tuple[IntentQuery, ...]:
    kind = product_kind(product, category_name)
    if not kind:
        return ()
    values = _values(product, kind)
    texts: list[tuple[str, IntentKind]] = [(kind, "broad")]
    texts += [(f"{value} {kind}", "attribute") for value in values]
    for size in (2, 3):
        for combo in itertools.combinations(values, size):
            texts.append((f"{' '.join(combo)} {kind}", "long_tail"))
    if product.brand:
        texts.append((f"{_clean(product.brand)} {kind}", "navigational"))
    unique: dict[str, IntentKind] = {}
    for text, intent in texts:
        unique.setdefault(" ".join(text.split()), intent)
    ordered = list(unique.items())
    # Keep every kind represented when the limit cuts: broad, navigational, then the others.
    chosen = [t for t in ordered if t[1] in ("broad", "navigational")]
    chosen += [t for t in ordered if t not in chosen][: max(0, limit - len(chosen))]
    return tuple(IntentQuery(text=t, kind=k, product_id=product.id) for t, k in chosen[:limit])
