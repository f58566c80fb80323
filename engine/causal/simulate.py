"""Simulated marketing data with a known answer, for tests and benchmarks.

The generating process deliberately differs from the model in engine/causal/model.py, so that a
fit which recovers the truth is evidence rather than an echo of its own assumptions:

- its own numpy code for every curve, nothing imported from the model or its transforms;
- spend starts ``burn_in`` periods before the data does, so the first observed periods carry
  over effects of spend the model never sees, and channels share a common budget cycle
  (correlated spend) on top of bursty, flighted, per-channel noise;
- geometric carry-over is an untruncated recursive filter (the model truncates at ``max_lag``);
  delayed carry-over integrates the Weibull density over each period across 13 lags (the model
  evaluates it at mid-period over its own ``max_lag``);
- ``logistic`` saturation is a genuine S-curve (a shifted logistic, zero at zero spend), which
  the model's concave ``tanh`` curve cannot reproduce exactly; ``hill`` is the Hill curve;
- the baseline has a smooth non-linear trend (logistic growth), two-harmonic seasonality plus a
  year-end peak, and two observed controls (price and a competitor index) with known effects;
- noise is multiplicative (log-normal), so its size grows with the KPI (heteroscedastic).

True ROAS follows the model's definition: a channel's contribution over a window divided by its
spend over the same window (contributions inside the window include carry-over of earlier spend).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from engine.causal.data import GeoMMMData, MMMData

WEIBULL_LAGS = 13


@dataclass(frozen=True)
class SimulatedMMM:
    data: MMMData
    true_roas: NDArray[np.float64]  # (channels,) Σ contribution / Σ spend over all periods
    contributions: NDArray[np.float64]  # (periods, channels)

    def true_roas_over(self, periods: int) -> NDArray[np.float64]:
        """True ROAS over the first ``periods`` (a fit window that leaves a holdout out)."""
        spent = self.data.spend[:periods].sum(axis=0)
        result: NDArray[np.float64] = self.contributions[:periods].sum(axis=0) / spent
        return result


@dataclass(frozen=True)
class SimulatedGeoMMM:
    data: GeoMMMData
    true_roas: NDArray[np.float64]  # (channels,) national: Σ_geos contribution / Σ_geos spend
    true_geo_roas: NDArray[np.float64]  # (geos, channels)
    contributions: NDArray[np.float64]  # (geos, periods, channels)


def _spend(
    rng: np.random.Generator, periods: int, channels: int, level: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Bursty, flighted spend around a shared budget cycle; ``level`` is (channels,) or
    (geos, channels), spend comes back with a period axis before the channel axis."""
    t = np.arange(periods)
    budget = 1.0 + 0.3 * np.sin(2 * np.pi * t / 52.18 + rng.uniform(0, 2 * np.pi))
    shape = (*level.shape[:-1], periods, channels)
    on = rng.uniform(size=shape) > 0.2
    bursts = rng.gamma(2.0, 0.5, size=shape)
    result: NDArray[np.float64] = level[..., None, :] * budget[:, None] * bursts * on
    return result


def _carry_over(
    rng: np.random.Generator,
    spend: NDArray[np.float64],
    kind: Literal["geometric", "weibull"],
) -> NDArray[np.float64]:
    """Carried spend, same shape as ``spend`` (..., periods, channels); each unit of spend is
    spread over time with weights summing to (nearly) one."""
    periods, channels = spend.shape[-2:]
    carried = np.empty_like(spend)
    if kind == "geometric":
        decay = rng.uniform(0.1, 0.7, channels)
        state = np.zeros((*spend.shape[:-2], channels))
        for t in range(periods):  # a recursive filter: the time axis is inherently sequential
            state = decay * state + (1 - decay) * spend[..., t, :]
            carried[..., t, :] = state
        return carried
    shape, scale = rng.uniform(1.5, 3.0, channels), rng.uniform(1.0, 3.0, channels)
    edges = np.arange(WEIBULL_LAGS + 1)[:, None]
    cdf = 1 - np.exp(-((edges / scale) ** shape))
    weights = np.diff(cdf, axis=0)  # (lags, channels): the density's mass within each period
    weights = weights / weights.sum(axis=0)
    carried[...] = 0.0
    for lag in range(WEIBULL_LAGS):  # few lags; periods and channels are vectorised
        carried[..., lag:, :] += weights[lag] * spend[..., : periods - lag, :]
    return carried


def _saturate(
    rng: np.random.Generator,
    relative: NDArray[np.float64],
    kind: Literal["hill", "logistic"],
) -> NDArray[np.float64]:
    channels = relative.shape[-1]
    if kind == "hill":
        half, slope = rng.uniform(0.5, 1.5, channels), rng.uniform(1.0, 2.5, channels)
        result: NDArray[np.float64] = relative**slope / (relative**slope + half**slope)
        return result
    steepness, midpoint = rng.uniform(1.5, 3.5, channels), rng.uniform(0.1, 0.6, channels)
    at_zero = 1 / (1 + np.exp(steepness * midpoint))
    s_curve = 1 / (1 + np.exp(-steepness * (relative - midpoint)))
    result = (s_curve - at_zero) / (1 - at_zero)
    return result


def _baseline(
    rng: np.random.Generator, periods: int, level: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Baseline (..., periods) before controls, the two controls (..., periods, 2) and their
    contribution (..., periods). ``level`` is a scalar array or (geos,)."""
    t = np.arange(periods)
    phase = rng.uniform(0, 2 * np.pi)
    growth = rng.uniform(-0.15, 0.25) / (1 + np.exp(-(t - rng.uniform(0.3, 0.7) * periods) / 15))
    angle = 2 * np.pi * t / 52.18 + phase
    season = 0.08 * np.sin(angle) + 0.03 * np.cos(2 * angle)
    year_end = 0.08 * np.exp(-0.5 * ((t % 52 - 49) / 1.5) ** 2)
    shape = 1 + growth + season + year_end
    extra = level.shape
    price = 1 + 0.05 * np.cumsum(rng.normal(0, 0.2, size=(*extra, periods)), axis=-1) / 4
    competitor = rng.gamma(3.0, 1 / 3.0, size=(*extra, periods))
    controls = np.stack([price, competitor], axis=-1)
    effect = level[..., None] * (-0.5 * (price - 1) - 0.04 * (competitor - 1))
    return level[..., None] * shape, controls, effect


def simulate(
    *,
    periods: int = 156,
    channels: int = 3,
    adstock: Literal["geometric", "weibull"] = "geometric",
    saturation: Literal["hill", "logistic"] = "hill",
    noise: float = 0.05,
    seed: int = 0,
    burn_in: int = 26,
) -> SimulatedMMM:
    """A national weekly dataset; ``noise`` is the log-scale sd of the multiplicative noise."""
    rng = np.random.default_rng(seed)
    names = tuple(f"channel_{i + 1}" for i in range(channels))
    spend_all = _spend(rng, periods + burn_in, channels, rng.uniform(500, 5000, channels))
    carried = _carry_over(rng, spend_all, adstock)[burn_in:]
    spend = spend_all[burn_in:]
    curve = _saturate(rng, carried / spend.mean(axis=0), saturation)
    target_roas = rng.uniform(0.5, 4.0, channels)
    contributions = curve * target_roas * spend.sum(axis=0) / curve.sum(axis=0)

    level = np.asarray(contributions.sum(axis=1).mean() * rng.uniform(1.0, 2.0))
    baseline, controls, control_effect = _baseline(rng, periods, level)
    expected = baseline + control_effect + contributions.sum(axis=1)
    kpi = expected * np.exp(noise * rng.standard_normal(periods) - noise**2 / 2)
    data = MMMData(
        channels=names,
        spend=spend,
        kpi=kpi,
        controls=controls,
        control_names=("price", "competitor"),
    )
    true_roas = contributions.sum(axis=0) / spend.sum(axis=0)
    return SimulatedMMM(data=data, true_roas=true_roas, contributions=contributions)


def simulate_geo(
    *,
    geos: int = 6,
    periods: int = 104,
    channels: int = 3,
    adstock: Literal["geometric", "weibull"] = "geometric",
    saturation: Literal["hill", "logistic"] = "hill",
    noise: float = 0.05,
    geo_roas_spread: float = 0.25,
    seed: int = 0,
    burn_in: int = 26,
) -> SimulatedGeoMMM:
    """A geo panel: geos differ in size, spend mix and baseline; each geo's ROAS of a channel is
    the national one times a log-normal factor with sd ``geo_roas_spread``. Carry-over and
    saturation shapes are shared by all geos (saturation on spend relative to each geo's mean)."""
    rng = np.random.default_rng(seed)
    names = tuple(f"channel_{i + 1}" for i in range(channels))
    size = rng.lognormal(0.0, 0.5, geos)
    level = size[:, None] * rng.uniform(500, 5000, channels) * rng.uniform(0.7, 1.3, (geos, 1))
    spend_all = _spend(rng, periods + burn_in, channels, level)
    carried = _carry_over(rng, spend_all, adstock)[:, burn_in:]
    spend = spend_all[:, burn_in:]
    curve = _saturate(rng, carried / spend.mean(axis=1, keepdims=True), saturation)
    national = rng.uniform(0.5, 4.0, channels)
    geo_roas = national * rng.lognormal(0.0, geo_roas_spread, (geos, channels))
    contributions = curve * (geo_roas * spend.sum(axis=1) / curve.sum(axis=1))[:, None, :]

    level_kpi = contributions.sum(axis=2).mean(axis=1) * rng.uniform(1.0, 2.0, geos)
    baseline, controls, control_effect = _baseline(rng, periods, level_kpi)
    expected = baseline + control_effect + contributions.sum(axis=2)
    kpi = expected * np.exp(noise * rng.standard_normal((geos, periods)) - noise**2 / 2)
    data = GeoMMMData(
        geos=tuple(f"geo_{g + 1}" for g in range(geos)),
        channels=names,
        spend=spend,
        kpi=kpi,
        controls=controls,
        control_names=("price", "competitor"),
    )
    return SimulatedGeoMMM(
        data=data,
        true_roas=contributions.sum(axis=(0, 1)) / spend.sum(axis=(0, 1)),
        true_geo_roas=contributions.sum(axis=1) / spend.sum(axis=1),
        contributions=contributions,
    )
