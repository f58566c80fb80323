"""What a generation cost, computed once from a versioned price table.

Money is :class:`~decimal.Decimal` end to end (never float): a million requests of a fraction
of a cent must add up exactly, and the persisted cost must equal this arithmetic to the last
digit. Costs are kept to nano-dollars (9 decimal places), the precision of the
``numeric(20, 9)`` columns they are stored in.

An org's own prices (given when it configures a provider) override the table for that org; a
model known to neither has no price, and the caller must refuse to configure it rather than
record $0 (the most reported billing bug of the best-known open gateway).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

from engine.llm.types import Usage

MILLION = Decimal(1_000_000)
COST_QUANTUM = Decimal("0.000000001")


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens; ``cached_input``/``cache_write`` default to the input rate when
    the provider publishes no separate rate; ``per_second`` prices self-hosted time."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None
    per_second: Decimal | None = None
    source: str = "table"  # "table:<version>" or "org"

    def __post_init__(self) -> None:
        for name in ("input_per_mtok", "output_per_mtok"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("cached_input_per_mtok", "cache_write_per_mtok", "per_second"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")


@dataclass(frozen=True)
class PriceTable:
    version: str
    models: Mapping[str, ModelPrice]

    def price_of(self, provider_model: str) -> ModelPrice | None:
        return self.models.get(provider_model)


def _decimal(value: object) -> Decimal:
    if isinstance(value, float):
        raise TypeError("prices are written as strings, never floats")
    return Decimal(str(value))


def parse_price_table(document: Mapping[str, object]) -> PriceTable:
    version = str(document["version"])
    models_doc = document["models"]
    if not isinstance(models_doc, Mapping):
        raise ValueError("price table: 'models' must be an object")
    models: dict[str, ModelPrice] = {}
    for name, entry in models_doc.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"price table: model {name!r} must be an object")
        optional = {
            key: _decimal(entry[key]) if key in entry else None
            for key in ("cached_input", "cache_write", "per_second")
        }
        models[str(name)] = ModelPrice(
            input_per_mtok=_decimal(entry["input"]),
            output_per_mtok=_decimal(entry["output"]),
            cached_input_per_mtok=optional["cached_input"],
            cache_write_per_mtok=optional["cache_write"],
            per_second=optional["per_second"],
            source=f"table:{version}",
        )
    return PriceTable(version=version, models=MappingProxyType(models))


@lru_cache(maxsize=1)
def load_price_table() -> PriceTable:
    """The table shipped in ``engine/llm/data/prices.json``."""
    text = resources.files("engine").joinpath("llm/data/prices.json").read_text("utf-8")
    return parse_price_table(json.loads(text))


def cost_usd(price: ModelPrice, usage: Usage, *, seconds: float = 0.0) -> Decimal:
    """The cost of one call, rounded half-even to nano-dollars.

    Each token class is charged exactly once at its own rate (see ``engine.llm.types`` for how
    counts are normalised); reasoning tokens are part of ``output_tokens``.
    """
    cached_rate = (
        price.cached_input_per_mtok
        if price.cached_input_per_mtok is not None
        else price.input_per_mtok
    )
    write_rate = (
        price.cache_write_per_mtok
        if price.cache_write_per_mtok is not None
        else price.input_per_mtok
    )
    per_tokens = (
        usage.input_tokens * price.input_per_mtok
        + usage.cached_input_tokens * cached_rate
        + usage.cache_write_tokens * write_rate
        + usage.output_tokens * price.output_per_mtok
    ) / MILLION
    per_time = (price.per_second or Decimal(0)) * Decimal(str(seconds))
    return (per_tokens + per_time).quantize(COST_QUANTUM, rounding=ROUND_HALF_EVEN)


def worst_case_cost_usd(
    price: ModelPrice, *, prompt_bytes: int, max_output_tokens: int, max_seconds: float
) -> Decimal:
    """An upper bound on one call's cost, for budget reservations.

    A prompt of ``n`` UTF-8 bytes is at most ``n`` tokens under the byte-level BPE tokenizers
    every listed provider uses, and output is capped by ``max_tokens``; so the real cost can
    only settle at or below this figure.
    """
    bound = Usage(input_tokens=prompt_bytes, output_tokens=max_output_tokens)
    # Priced as if every prompt token were a cache write: the dearest input class there is.
    dearest_input = max(
        price.input_per_mtok,
        price.cache_write_per_mtok or Decimal(0),
        price.cached_input_per_mtok or Decimal(0),
    )
    pessimistic = ModelPrice(
        input_per_mtok=dearest_input,
        output_per_mtok=price.output_per_mtok,
        per_second=price.per_second,
    )
    return cost_usd(pessimistic, bound, seconds=max_seconds)
