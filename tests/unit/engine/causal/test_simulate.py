"""The simulator's ground truth must mean what the model reports: contribution / spend."""

from __future__ import annotations

import numpy as np
import pytest

from engine.causal.simulate import simulate, simulate_geo


@pytest.mark.parametrize(
    ("adstock", "saturation"), [("geometric", "hill"), ("weibull", "logistic")]
)
def test_true_roas_is_contribution_over_spend_and_seeded(adstock: str, saturation: str) -> None:
    first = simulate(periods=80, channels=3, adstock=adstock, saturation=saturation, seed=5)  # type: ignore[arg-type]
    again = simulate(periods=80, channels=3, adstock=adstock, saturation=saturation, seed=5)  # type: ignore[arg-type]
    np.testing.assert_array_equal(first.data.kpi, again.data.kpi)
    data = first.data
    np.testing.assert_allclose(
        first.true_roas, first.contributions.sum(axis=0) / data.spend.sum(axis=0)
    )
    window = first.true_roas_over(60)
    np.testing.assert_allclose(
        window, first.contributions[:60].sum(axis=0) / data.spend[:60].sum(axis=0)
    )
    assert np.all(first.true_roas > 0.3)
    assert np.all(first.true_roas < 5.0)
    assert data.control_names == ("price", "competitor")
    assert data.controls.shape == (80, 2)
    assert np.all(data.kpi > 0)
    # Media explain part of the KPI, not all of it and not a negligible share.
    share = first.contributions.sum() / data.kpi.sum()
    assert 0.15 < share < 0.7


def test_spend_before_the_data_carries_into_the_first_periods() -> None:
    with_history = simulate(periods=60, channels=2, seed=2)
    # A contribution in period 0 beyond what period 0's own spend can produce shows carry-in.
    assert np.all(with_history.contributions[0] > 0)
    without = simulate(periods=60, channels=2, seed=2, burn_in=0)
    assert not np.allclose(with_history.contributions[:3], without.contributions[:3])


def test_noise_grows_with_the_kpi_level() -> None:
    quiet = simulate(periods=100, channels=2, seed=9, noise=0.0)
    noisy = simulate(periods=100, channels=2, seed=9, noise=0.1)
    relative = noisy.data.kpi / quiet.data.kpi - 1
    assert 0.05 < relative.std() < 0.15
    # Multiplicative: the absolute deviation scales with the level, the relative one does not.
    np.testing.assert_allclose(quiet.contributions, noisy.contributions)


def test_geo_panel_national_roas_is_total_contribution_over_total_spend() -> None:
    sim = simulate_geo(geos=5, periods=60, channels=2, seed=4, geo_roas_spread=0.3)
    data = sim.data
    assert data.spend.shape == (5, 60, 2)
    assert data.kpi.shape == (5, 60)
    np.testing.assert_allclose(
        sim.true_roas, sim.contributions.sum(axis=(0, 1)) / data.spend.sum(axis=(0, 1))
    )
    np.testing.assert_allclose(
        sim.true_geo_roas, sim.contributions.sum(axis=1) / data.spend.sum(axis=1)
    )
    # Geos genuinely differ in ROAS, and the national one lies within their range.
    assert np.all(sim.true_geo_roas.std(axis=0) > 0.05)
    assert np.all(sim.true_geo_roas.min(axis=0) <= sim.true_roas)
    assert np.all(sim.true_roas <= sim.true_geo_roas.max(axis=0))
