"""Fits of simulated data with a known answer: the truth must lie inside the reported interval."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine.causal.inference import FitConfig, cores_for, fit
from engine.causal.model import posterior_adstock_weights, posterior_response
from engine.causal.simulate import simulate
from engine.causal.spec import ModelSpec
from engine.causal.transforms import lag_stack


@pytest.mark.parametrize(("adstock", "saturation", "seed"), [("geometric", "hill", 1)])
def test_true_roas_lies_in_the_90_percent_interval(
    adstock: str, saturation: str, seed: int
) -> None:
    sim = simulate(periods=104, channels=3, adstock=adstock, saturation=saturation, seed=seed)  # type: ignore[arg-type]
    spec = ModelSpec(adstock=adstock, saturation=saturation, holdout_periods=8)  # type: ignore[arg-type]
    result = fit(sim.data, spec, FitConfig(chains=2, warmup=500, samples=500, seed=0))
    truths = sim.true_roas_over(sim.data.periods - spec.holdout_periods)
    # A calibrated 90 % interval misses one channel in ten, so demand most inside it and none
    # far outside (the central 99 %): a biased or overconfident model fails either way.
    inside = [r.lower <= t <= r.upper for r, t in zip(result.roas, truths, strict=True)]
    assert sum(inside) >= 2, (result.roas, truths)
    low, high = np.quantile(result.samples["roas"], [0.005, 0.995], axis=0)
    assert np.all((low <= truths) & (truths <= high)), (low, high, truths)
    diagnostics = result.diagnostics
    assert diagnostics.max_rhat < 1.05
    assert diagnostics.r2 > 0.5
    assert diagnostics.holdout_mape is not None
    assert diagnostics.holdout_mape < 0.2


def test_same_seed_same_numbers_and_unconverged_fits_say_so() -> None:
    sim = simulate(periods=60, channels=2, seed=3)
    config = FitConfig(chains=2, warmup=20, samples=20, seed=7)
    first = fit(sim.data, ModelSpec(), config)
    # A second fit, chunked differently (so also separately compiled) and with its chains one
    # after the other rather than on parallel threads, gives the same draws: neither changes
    # anything but when control returns to Python and which core runs a chain.
    again = fit(sim.data, ModelSpec(), replace(config, progress_chunks=4, parallel_chains=1))
    assert again.roas == first.roas
    np.testing.assert_array_equal(again.samples["roas"], first.samples["roas"])
    # Twenty warm-up steps cannot converge; the result must not pretend otherwise.
    assert not first.diagnostics.converged
    assert first.diagnostics.message.startswith("NOT converged")


@pytest.mark.parametrize(
    ("adstock", "saturation"), [("geometric", "hill"), ("weibull", "logistic")]
)
def test_posterior_response_reproduces_the_sampled_media(adstock: str, saturation: str) -> None:
    sim = simulate(periods=60, channels=2, seed=4)
    spec = ModelSpec(adstock=adstock, saturation=saturation, max_lag=4)  # type: ignore[arg-type]
    result = fit(sim.data, spec, FitConfig(chains=1, warmup=30, samples=30, seed=1))
    weights = posterior_adstock_weights(spec, result.samples)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-9)
    lagged = lag_stack(sim.data.spend / result.channel_scale, spec.max_lag)
    carried = np.einsum("tlc,dlc->dtc", lagged, weights)
    np.testing.assert_allclose(
        posterior_response(spec, result.samples, carried), result.samples["media"], rtol=1e-4
    )


def test_progress_reports_every_stage_in_order_with_fractions_that_grow() -> None:
    sim = simulate(periods=60, channels=2, seed=5)
    reports: list[tuple[str, float]] = []
    # The shapes and settings of a fit above, so the compiled sampler is reused.
    config = FitConfig(chains=1, warmup=30, samples=30, seed=0, progress_chunks=10)
    fit(sim.data, ModelSpec(max_lag=4), config, progress=lambda s, f: reports.append((s, f)))
    stages = [stage for stage, _ in reports]
    order = ["compiling", "warmup", "sampling", "summarising"]
    assert sorted(set(stages), key=order.index) == order
    assert stages == sorted(stages, key=order.index)
    for stage in order:
        fractions = [f for s, f in reports if s == stage]
        assert fractions[0] == 0.0
        assert fractions[-1] == 1.0
        assert fractions == sorted(fractions)
    # Warm-up and sampling advance chunk by chunk, not only at their ends.
    assert len([f for s, f in reports if s == "warmup"]) == 11
    assert len([f for s, f in reports if s == "sampling"]) == 11


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="chains"):
        FitConfig(chains=0)
    with pytest.raises(ValueError, match="parallel_chains"):
        FitConfig(parallel_chains=0)
    with pytest.raises(ValueError, match="target_accept"):
        FitConfig(target_accept=1.0)


def test_a_fractional_cpu_share_still_runs_one_chain_at_a_time() -> None:
    assert cores_for(0.25) == 1
    assert cores_for(1.0) == 1
    assert cores_for(2.5) == 2
