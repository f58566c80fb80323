"""The frozen, documented description of one marketing-mix model.

Media effects are parametrised by return on ad spend (ROAS), as Google's Meridian does: an
analyst states "we believe this channel returns about 2 per unit spent" and that belief is the
prior, per channel if they know more about some. The effect size of each channel follows from
its ROAS, its adstock and its saturation, so the posterior of ROAS is read off directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

AdstockKind = Literal["geometric", "weibull"]
SaturationKind = Literal["hill", "logistic"]


@dataclass(frozen=True)
class RoasPrior:
    """LogNormal belief about a channel's ROAS, stated by its median and a multiplicative spread.

    ``median=2, spread=2`` puts two thirds of the prior mass between ROAS 1 and 4.
    """

    median: float = 1.0
    spread: float = 2.5

    def __post_init__(self) -> None:
        if not (self.median > 0 and math.isfinite(self.median)):
            raise ValueError(f"ROAS prior median must be positive, got {self.median}")
        if not (self.spread > 1 and math.isfinite(self.spread)):
            raise ValueError(f"ROAS prior spread must be greater than 1, got {self.spread}")

    @property
    def log_mean(self) -> float:
        return math.log(self.median)

    @property
    def log_sd(self) -> float:
        return math.log(self.spread)


@dataclass(frozen=True)
class ModelSpec:
    """Everything that defines a model apart from the data.

    - ``adstock``: ``geometric`` (decay ``alpha`` per period) or ``weibull`` (delayed peak), over
      ``max_lag`` periods, weights normalised to sum to one so adstock moves spend in time
      without creating any.
    - ``saturation``: ``hill`` (half-saturation point and slope) or ``logistic``
      (``(1 - e^{-λx}) / (1 + e^{-λx})``), on spend scaled by its channel mean.
    - ``roas_prior`` for every channel, ``channel_roas_priors`` to override some.
    - ``trend`` (linear) and ``seasonality_order`` Fourier pairs with ``seasonality_period``
      (periods per year: 52.18 for weekly data, 365.25 for daily).
    - ``holdout_periods``: the last periods are left out of the likelihood and scored.
    """

    adstock: AdstockKind = "geometric"
    max_lag: int = 8
    saturation: SaturationKind = "hill"
    roas_prior: RoasPrior = RoasPrior()
    channel_roas_priors: Mapping[str, RoasPrior] = field(
        default_factory=lambda: MappingProxyType({})
    )
    trend: bool = True
    seasonality_order: int = 2
    seasonality_period: float = 52.18
    holdout_periods: int = 0

    def __post_init__(self) -> None:
        if self.adstock not in ("geometric", "weibull"):
            raise ValueError(f"adstock must be 'geometric' or 'weibull', got {self.adstock!r}")
        if self.saturation not in ("hill", "logistic"):
            raise ValueError(f"saturation must be 'hill' or 'logistic', got {self.saturation!r}")
        if not 1 <= self.max_lag <= 52:
            raise ValueError(f"max_lag must be between 1 and 52, got {self.max_lag}")
        if not 0 <= self.seasonality_order <= 10:
            raise ValueError(
                f"seasonality_order must be between 0 and 10, got {self.seasonality_order}"
            )
        if self.seasonality_period <= 1:
            raise ValueError("seasonality_period must be more than one period")
        if self.holdout_periods < 0:
            raise ValueError("holdout_periods must not be negative")
        object.__setattr__(
            self, "channel_roas_priors", MappingProxyType(dict(self.channel_roas_priors))
        )

    def prior_for(self, channel: str) -> RoasPrior:
        return self.channel_roas_priors.get(channel, self.roas_prior)
