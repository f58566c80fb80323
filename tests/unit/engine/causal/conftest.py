"""Fits shared by the analysis, optimiser and report tests.

``simulated_fit`` is one real (small) MCMC fit of simulated data with a known answer, made once
per session. ``handmade_fit`` builds a ``FitResult`` from chosen parameters without sampling:
its answers are known exactly, which the constructed cases (a known optimum, a known carry-over)
need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from numpy.typing import NDArray

from engine.causal.data import MMMData
from engine.causal.inference import Diagnostics, FitConfig, FitResult, fit
from engine.causal.model import posterior_adstock_weights, posterior_response
from engine.causal.simulate import SimulatedMMM, simulate
from engine.causal.spec import ModelSpec
from engine.causal.transforms import lag_stack


@dataclass(frozen=True)
class SimulatedFit:
    simulated: SimulatedMMM
    result: FitResult

    @property
    def data(self) -> MMMData:
        return self.simulated.data


@pytest.fixture(scope="session")
def simulated_fit() -> SimulatedFit:
    simulated = simulate(periods=80, channels=3, seed=3)
    spec = ModelSpec(max_lag=4, seasonality_order=1, holdout_periods=8)
    result = fit(simulated.data, spec, FitConfig(chains=2, warmup=250, samples=250, seed=0))
    return SimulatedFit(simulated, result)


@dataclass(frozen=True)
class Handmade:
    data: MMMData
    result: FitResult


HandmadeFactory = Callable[..., Handmade]


def _handmade(
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


@pytest.fixture
def handmade_fit() -> HandmadeFactory:
    return _handmade
