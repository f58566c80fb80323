"""Fits of simulated data with a known answer: the truth must lie inside the reported interval."""

from __future__ import annotations

import pytest

from engine.causal.inference import FitConfig, fit
from engine.causal.simulate import simulate
from engine.causal.spec import ModelSpec


@pytest.mark.parametrize(("adstock", "saturation", "seed"), [("geometric", "hill", 1)])
def test_true_roas_lies_in_the_90_percent_interval(
    adstock: str, saturation: str, seed: int
) -> None:
    sim = simulate(periods=104, channels=3, adstock=adstock, saturation=saturation, seed=seed)  # type: ignore[arg-type]
    spec = ModelSpec(adstock=adstock, saturation=saturation, holdout_periods=8)  # type: ignore[arg-type]
    result = fit(sim.data, spec, FitConfig(chains=2, warmup=500, samples=500, seed=0))
    truths = sim.true_roas_over(sim.data.periods - spec.holdout_periods)
    for estimate, truth in zip(result.roas, truths, strict=True):
        assert estimate.lower <= truth <= estimate.upper, (estimate, truth)
    diagnostics = result.diagnostics
    assert diagnostics.max_rhat < 1.05
    assert diagnostics.r2 > 0.5
    assert diagnostics.holdout_mape is not None
    assert diagnostics.holdout_mape < 0.2


def test_same_seed_same_numbers_and_unconverged_fits_say_so() -> None:
    sim = simulate(periods=60, channels=2, seed=3)
    config = FitConfig(chains=2, warmup=20, samples=20, seed=7)
    first = fit(sim.data, ModelSpec(), config)
    second = fit(sim.data, ModelSpec(), config)
    assert first.roas == second.roas
    # Twenty warm-up steps cannot converge; the result must not pretend otherwise.
    assert not first.diagnostics.converged
    assert first.diagnostics.message.startswith("NOT converged")
