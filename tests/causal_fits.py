"""Fits built from chosen parameters without sampling, shared by the causal and eval tests:
their answers are known exactly, which constructed cases (a known optimum, a known carry-over)
need."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.causal.data import MMMData
from engine.causal.inference import Diagnostics, FitResult
from engine.causal.model import posterior_adstock_weights, posterior_response
from engine.causal.spec import ModelSpec
from engine.causal.transforms import lag_stack


@dataclass(frozen=True)
class Handmade:
    data: MMMData
    result: FitResult


HandmadeFactory = Callable[..., Handmade]


def handmade(
    *,
    beta: Sequence[float],
    saturation: str = "logistic",
    lam: Sequence[float] | None = None,
    half: Sequence[float] | None = None,
    slope: Sequence[float] | None = None,
    alpha: Sequence[float] | None = None,
    spend: NDArray[np.float64] | None = None,
    channels: Sequence[str] | None = None,
    periods: int = 60,
    holdout: int = 0,
    draws: int = 200,
    spread: float = 0.1,
    kpi_scale: float = 1000.0,
    seed: int = 0,
) -> Handmade:
    """A fit whose posterior is a cloud of draws around the given parameters (lognormal spread;
    ``spread=0`` makes every draw identical)."""
    rng = np.random.default_rng(seed)
    count = len(beta)
    names = tuple(channels or (f"ch{i}" for i in range(count)))
    if spend is None:
        spend = rng.gamma(4.0, 250.0, size=(periods, count))
    periods = spend.shape[0]

    def jitter(values: Sequence[float]) -> NDArray[np.float64]:
        noise = rng.lognormal(0.0, spread, size=(draws, count)) if spread else 1.0
        return np.asarray(values, dtype=np.float64)[None, :] * noise

    spec = ModelSpec(
        saturation=saturation,  # type: ignore[arg-type]
        max_lag=8,
        holdout_periods=holdout,
    )
    samples: dict[str, NDArray[np.float64]] = {
        "beta": jitter(beta),
        "adstock_alpha": np.clip(jitter(alpha or [0.4] * count), 0.0, 0.95),
    }
    if saturation == "hill":
        samples["half_saturation"] = jitter(half or [1.0] * count)
        samples["hill_slope"] = jitter(slope or [1.5] * count)
    else:
        samples["logistic_lambda"] = jitter(lam or [1.0] * count)
    fit_periods = periods - holdout
    scale = spend[:fit_periods].mean(axis=0)
    weights = posterior_adstock_weights(spec, samples)
    carried = np.einsum("tlc,dlc->dtc", lag_stack(spend / scale, spec.max_lag), weights)
    media = posterior_response(spec, samples, carried)
    season = 0.1 * np.sin(2 * np.pi * np.arange(periods) / 52.18)
    baseline = 1.0 + 0.02 * rng.standard_normal((draws, 1)) + season[None, :]
    mu = baseline + media.sum(axis=2)
    samples["media"], samples["mu"] = media, mu
    kpi = mu.mean(axis=0) * kpi_scale * (1 + 0.02 * rng.standard_normal(periods))
    data = MMMData(channels=names, spend=spend, kpi=kpi, controls=np.zeros((periods, 0)))
    diagnostics = Diagnostics(
        max_rhat=1.0,
        min_ess=float(draws),
        divergences=0,
        r2=0.9,
        mape=0.02,
        holdout_mape=0.03 if holdout else None,
        converged=True,
        message="converged",
    )
    result = FitResult(
        spec=spec,
        channels=names,
        roas=(),
        diagnostics=diagnostics,
        samples=samples,
        channel_scale=scale,
        kpi_scale=kpi_scale,
        fit_periods=fit_periods,
    )
    return Handmade(data, result)
