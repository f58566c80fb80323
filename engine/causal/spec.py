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

# Defaults that depend on the data's frequency, for every caller that builds a spec from data
# (the API, the benchmarks). Carry-over: two months of weeks, three weeks of days; eight days
# cut real daily carry-over short (bench/mmm_ablation.py: on the daily plain datasets, 21-day
# true carry-over, 21 lags cut the median ROAS error from 7.6 % to 6.3 %; docs/causal.md).
PERIODS_PER_YEAR = {"weekly": 52.18, "daily": 365.25}
DEFAULT_MAX_LAG = {"weekly": 8, "daily": 21}

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
    - ``trend`` (linear), bent smoothly at ``trend_knots`` evenly spaced knots over the fit
      window (0: a straight line). Real baselines drift (growth, distribution, competition);
      a straight line leaves that drift in the residuals, where slowly varying media soak it
      up and their ROAS goes wrong. The bends are orthogonal to the line and modest (prior sd
      0.1 of the mean KPI each); the trend stays flat beyond the fit window. Four knots (two
      bends) rather than six: at 4 x (1000 + 1000) they cut the median ROAS error from 30.7 %
      to 29.4 % on bench/mmm.py's 20 datasets and from 17.7 % to 14.3 % on 12 plain 104-week
      datasets (bench/mmm_ablation.py); a straight line did better on the first (28.2 %) and
      worse on the second (18.2 %), with 11 divergences where four knots had 1.
    - ``seasonality_order`` Fourier pairs with ``seasonality_period``
      (periods per year: 52.18 for weekly data, 365.25 for daily).
    - ``unseen_history``: the data start after advertising did, so spend before the first
      period still carries over into the first ``max_lag`` periods, which the model cannot
      see; their KPI is left out of the likelihood (their spend still carries over to later
      periods). Without this, the model reads the missing ramp-up of carried spend at the start
      as evidence of small media effects: on simulated data with 26 weeks of prior spend it
      cut ROAS estimates by a third. False only if every channel starts with the data.
    - ``holdout_periods``: the last periods are left out of the likelihood and scored.
    - ``roas_pooling`` in [0, 1): the share of each channel's prior log-ROAS variance that all
      channels have in common. Log ROAS is the stated prior mean plus the prior sd times
      ``sqrt(w)·shared + sqrt(1-w)·own`` (``shared`` and ``own`` standard normal), so every
      channel's marginal prior stays exactly the stated one, yet when the data place most
      channels above (or below) the stated median, the weakly identified channels follow them
      instead of being pulled back to it. Channels of one business share margins and KPI
      units, hence the default 0.5; 0 makes channels a priori independent. (A learnt weight
      makes the posterior curved enough to need several times more leapfrog steps.)
    - ``geo_roas_spread``: for geo panels, the scale of the half-normal prior on how much
      channels' log ROAS varies between geos (0.3: geos typically within ±30 % of the
      national ROAS); smaller pools geos harder. The spread is learnt once for all channels
      (see ``engine/causal/model.py``).
    """

    adstock: AdstockKind = "geometric"
    max_lag: int = 8
    saturation: SaturationKind = "hill"
    roas_prior: RoasPrior = RoasPrior()
    channel_roas_priors: Mapping[str, RoasPrior] = field(
        default_factory=lambda: MappingProxyType({})
    )
    trend: bool = True
    trend_knots: int = 4
    seasonality_order: int = 2
    seasonality_period: float = 52.18
    holdout_periods: int = 0
    unseen_history: bool = True
    roas_pooling: float = 0.5
    geo_roas_spread: float = 0.3

    def __post_init__(self) -> None:
        if self.adstock not in ("geometric", "weibull"):
            raise ValueError(f"adstock must be 'geometric' or 'weibull', got {self.adstock!r}")
        if self.saturation not in ("hill", "logistic"):
            raise ValueError(f"saturation must be 'hill' or 'logistic', got {self.saturation!r}")
        if not 1 <= self.max_lag <= 52:
            raise ValueError(f"max_lag must be between 1 and 52, got {self.max_lag}")
        if not (self.trend_knots == 0 or 3 <= self.trend_knots <= 52):
            raise ValueError(f"trend_knots must be 0 or between 3 and 52, got {self.trend_knots}")
        if not 0 <= self.seasonality_order <= 10:
            raise ValueError(
                f"seasonality_order must be between 0 and 10, got {self.seasonality_order}"
            )
        if self.seasonality_period <= 1:
            raise ValueError("seasonality_period must be more than one period")
        if self.holdout_periods < 0:
            raise ValueError("holdout_periods must not be negative")
        if not 0 <= self.roas_pooling < 1:
            raise ValueError(f"roas_pooling must be in [0, 1), got {self.roas_pooling}")
        if not (self.geo_roas_spread > 0 and math.isfinite(self.geo_roas_spread)):
            raise ValueError(f"geo_roas_spread must be positive, got {self.geo_roas_spread}")
        object.__setattr__(
            self, "channel_roas_priors", MappingProxyType(dict(self.channel_roas_priors))
        )

    def prior_for(self, channel: str) -> RoasPrior:
        return self.channel_roas_priors.get(channel, self.roas_prior)
