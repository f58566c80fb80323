"""Simulated marketing data with a known answer, for tests and benchmarks.

The generating process is written independently of the model (numpy, its own adstock and
saturation code, multiplicative noise options), so a fit that recovers the truth is evidence,
not an echo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from engine.causal.data import MMMData


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


def simulate(
    *,
    periods: int = 156,
    channels: int = 3,
    adstock: Literal["geometric", "weibull"] = "geometric",
    saturation: Literal["hill", "logistic"] = "hill",
    noise: float = 0.05,
    seed: int = 0,
) -> SimulatedMMM:
    rng = np.random.default_rng(seed)
    t = np.arange(periods)
    names = tuple(f"channel_{i + 1}" for i in range(channels))
    # Spend: positive, bursty, with flighting (weeks off), different scales per channel.
    scale = rng.uniform(500, 5000, channels)
    on = rng.uniform(size=(periods, channels)) > 0.2
    spend = scale * rng.gamma(2.0, 0.5, size=(periods, channels)) * on

    lags = 8
    carried = np.zeros_like(spend)
    for c in range(channels):
        if adstock == "geometric":
            weights = rng.uniform(0.1, 0.7) ** np.arange(lags)
        else:
            k, peak_scale = rng.uniform(1.5, 3.0), rng.uniform(1.0, 3.0)
            x = np.arange(lags) + 0.5
            z = x / peak_scale
            weights = (k / peak_scale) * z ** (k - 1) * np.exp(-(z**k))
        weights = weights / weights.sum()
        carried[:, c] = np.convolve(spend[:, c], weights)[:periods]
    relative = carried / spend.mean(axis=0)
    if saturation == "hill":
        half, slope = rng.uniform(0.5, 1.5, channels), rng.uniform(1.0, 2.5, channels)
        curve = relative**slope / (relative**slope + half**slope)
    else:
        steepness = rng.uniform(0.5, 2.0, channels)
        curve = (1 - np.exp(-steepness * relative)) / (1 + np.exp(-steepness * relative))
    target_roas = rng.uniform(0.5, 4.0, channels)
    # Scale each channel so its ROAS over the window is the drawn one.
    beta = target_roas * spend.sum(axis=0) / curve.sum(axis=0)
    contributions = curve * beta

    baseline = contributions.sum(axis=1).mean() * rng.uniform(1.0, 2.0)
    season = 0.1 * baseline * np.sin(2 * np.pi * t / 52.18 + rng.uniform(0, 2 * np.pi))
    trend = 0.1 * baseline * t / periods
    expected = baseline + trend + season + contributions.sum(axis=1)
    kpi = expected * (1 + noise * rng.standard_normal(periods))
    data = MMMData(
        channels=names,
        spend=spend,
        kpi=kpi,
        controls=np.zeros((periods, 0)),
    )
    true_roas = contributions.sum(axis=0) / spend.sum(axis=0)
    return SimulatedMMM(data=data, true_roas=true_roas, contributions=contributions)
