"""Fits shared by the analysis, optimiser and report tests.

``simulated_fit`` is one real (small) MCMC fit of simulated data with a known answer, made once
per session. ``handmade_fit`` builds a ``FitResult`` from chosen parameters without sampling:
its answers are known exactly, which the constructed cases (a known optimum, a known carry-over)
need.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from engine.causal.data import MMMData
from engine.causal.inference import FitConfig, FitResult, fit
from engine.causal.simulate import SimulatedMMM, simulate
from engine.causal.spec import ModelSpec
from tests.causal_fits import HandmadeFactory, handmade


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


@pytest.fixture
def handmade_fit() -> HandmadeFactory:
    return handmade
