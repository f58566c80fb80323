"""Moved to :mod:`engine.surfacing.intents`; re-exported here so that existing imports keep
working until they move."""

from engine.surfacing.intents import (
    DISTINGUISHING,
    IntentKind,
    IntentQuery,
    MerchantQuery,
    intent_queries,
    product_kind,
    singular,
)

__all__ = [
    "DISTINGUISHING",
    "IntentKind",
    "IntentQuery",
    "MerchantQuery",
    "intent_queries",
    "product_kind",
    "singular",
]
