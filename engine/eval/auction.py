"""Paid-search channels bought through a second-price auction against scripted competitors.

The fitted model answers in *media-equivalent spend*: what the fit window's prices would have
charged for the media bought. Through an auction the same dollars buy more or less media as
competition moves, so an agent's spend on an auction channel becomes media through the auction
first. Each period and auction channel has ``auctions`` queries; each query's competitors
(``competitors`` of them) bid ``unit * pressure_t * exp(spread * Z)``. The agent bids through a
budget-paced auto-bidder: it wins the cheapest queries first, paying on each the highest
competing bid (the second price), until the period's spend would be exceeded. What it pays is
charged; what it won times the reference price is the media the model sees.

Calibration, per channel: ``unit`` is set so that, at pressure 1, the fit window's mean spend
wins ``share_at_history`` of the queries (estimated once from seeded draws), and the reference
price is that spend over those wins. At pressure 1 and the historical spend the auction is then
neutral on average; under a competitor surge (``pressure`` above 1) the same spend buys less.
The auction's own shape adds curvature above the fit's saturation (the cheapest queries go
first), so it is a stress scenario, not a second estimate of the response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

_CALIBRATION_DRAWS = 256


class AuctionError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class AuctionSpec:
    channels: frozenset[str]
    auctions: int = 200  # queries per period and channel
    competitors: int = 3
    spread: float = 0.5  # sd of each competitor's log bid
    # Competitors' bid multiplier per period, cycled over the episode; empty means 1 throughout.
    pressure: tuple[float, ...] = field(default_factory=tuple)
    share_at_history: float = 0.5

    def check(self, channels: tuple[str, ...]) -> None:
        unknown = sorted(self.channels - set(channels))
        if unknown:
            raise AuctionError("auction.channels", f"unknown channels: {', '.join(unknown)}")
        if not self.channels:
            raise AuctionError("auction.channels", "name at least one paid-search channel")
        if not 1 <= self.auctions <= 10_000:
            raise AuctionError("auction.auctions", "must be between 1 and 10000")
        if not 1 <= self.competitors <= 50:
            raise AuctionError("auction.competitors", "must be between 1 and 50")
        if not 0 <= self.spread <= 5:
            raise AuctionError("auction.spread", "must be between 0 and 5")
        if any(not (np.isfinite(p) and p > 0) for p in self.pressure):
            raise AuctionError("auction.pressure", "every multiplier must be a positive number")
        if not 0 < self.share_at_history < 1:
            raise AuctionError("auction.share_at_history", "must lie strictly between 0 and 1")


@dataclass(frozen=True)
class Cleared:
    paid: NDArray[np.float64]  # (envs, auction channels) charged
    media: NDArray[np.float64]  # (envs, auction channels) media-equivalent spend bought
    won: NDArray[np.int64]  # queries won


class Auction:
    """The spec calibrated to the channels' historical spend (``history``: per auction channel,
    the fit window's mean spend per period)."""

    def __init__(self, spec: AuctionSpec, history: Mapping[str, float], *, seed: int = 0) -> None:
        self.spec = spec
        self.channels = tuple(sorted(spec.channels))
        s0 = np.asarray([history[c] for c in self.channels], dtype=np.float64)
        wins = max(1, round(spec.share_at_history * spec.auctions))
        rng = np.random.default_rng([seed, 7])
        raw = self._second_prices(rng, (_CALIBRATION_DRAWS, len(self.channels)), 1.0)
        cheapest = np.sort(raw, axis=-1)[..., :wins].sum(axis=-1).mean(axis=0)  # per unit
        self.unit = s0 / cheapest
        self.reference_price = s0 / wins

    def _second_prices(
        self, rng: np.random.Generator, shape: tuple[int, ...], pressure: float
    ) -> NDArray[np.float64]:
        spec = self.spec
        logs = rng.standard_normal((*shape, spec.auctions, spec.competitors)) * spec.spread
        return np.asarray(pressure * np.exp(logs.max(axis=-1)))

    def pressure(self, period: int) -> float:
        values = self.spec.pressure
        return float(values[period % len(values)]) if values else 1.0

    def clear(
        self, spend: NDArray[np.float64], *, period: int, rng: np.random.Generator
    ) -> Cleared:
        """Every environment's spend on the auction channels (envs, channels) through one
        period's auctions."""
        envs = spend.shape[0]
        prices = self._second_prices(rng, (envs, len(self.channels)), self.pressure(period))
        prices = np.sort(prices * self.unit[None, :, None], axis=-1)
        cumulative = np.cumsum(prices, axis=-1)
        won = (cumulative <= spend[..., None] * (1 + 1e-12)).sum(axis=-1)
        paid = np.where(
            won > 0,
            np.take_along_axis(cumulative, np.maximum(won - 1, 0)[..., None], -1)[..., 0],
            0.0,
        )
        return Cleared(
            paid=np.asarray(paid, dtype=np.float64),
            media=won * self.reference_price[None, :],
            won=won.astype(np.int64),
        )
