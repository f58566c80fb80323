"""The answers drawn from a fit: checked against simulated truth and against exact cases."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta

import numpy as np
import pytest

from engine.causal.analysis import (
    analyze,
    marginal_roas_draws,
    response_slope,
    steady_state_kpi,
)
from engine.causal.data import DataError
from engine.causal.model import posterior_response
from tests.unit.engine.causal.conftest import HandmadeFactory, SimulatedFit


def test_true_incremental_kpi_and_roas_lie_in_the_intervals(simulated_fit: SimulatedFit) -> None:
    analysis = analyze(simulated_fit.result, simulated_fit.data)
    fit_periods = simulated_fit.result.fit_periods
    true_incremental = simulated_fit.simulated.contributions[:fit_periods].sum(axis=0)
    true_roas = simulated_fit.simulated.true_roas_over(fit_periods)
    for channel, incremental, roas in zip(
        analysis.channels, true_incremental, true_roas, strict=True
    ):
        assert channel.incremental_kpi.lower <= incremental <= channel.incremental_kpi.upper
        assert channel.roas is not None
        assert channel.roas.lower <= roas <= channel.roas.upper
        spent = simulated_fit.data.spend[:fit_periods, analysis.channels.index(channel)].sum()
        assert channel.spend == pytest.approx(spent)


def test_the_decomposition_adds_up_to_the_modelled_kpi(simulated_fit: SimulatedFit) -> None:
    result, data = simulated_fit.result, simulated_fit.data
    days = [date(2024, 1, 1) + timedelta(weeks=w) for w in range(data.periods)]
    analysis = analyze(result, data, dates=days)
    series = analysis.contributions
    stacked = np.asarray(series.baseline) + sum(
        np.asarray(channel.mean) for channel in series.channels
    )
    expected = result.samples["mu"].mean(axis=0) * result.kpi_scale
    np.testing.assert_allclose(stacked, expected, rtol=1e-9)
    np.testing.assert_allclose(series.expected, expected, rtol=1e-9)
    np.testing.assert_array_equal(series.actual, data.kpi)
    assert series.dates is not None
    assert series.dates[0] == "2024-01-01"
    assert len(series.dates) == data.periods
    assert np.all(np.asarray(series.media_lower) <= np.asarray(series.media_mean))
    assert np.all(np.asarray(series.media_mean) <= np.asarray(series.media_upper))
    shares = analysis.baseline.share.mean + sum(
        c.contribution_share.mean for c in analysis.channels
    )
    assert shares == pytest.approx(1.0)
    assert analysis.media.share.mean == pytest.approx(1.0 - analysis.baseline.share.mean)
    total = analysis.baseline.total.mean + analysis.media.total.mean
    assert total == pytest.approx(analysis.expected_kpi_total.mean)


def test_response_curves_start_at_zero_and_rise(simulated_fit: SimulatedFit) -> None:
    analysis = analyze(simulated_fit.result, simulated_fit.data, curve_points=25)
    peak = simulated_fit.data.spend[: simulated_fit.result.fit_periods].max(axis=0)
    for curve, top in zip(analysis.response_curves, peak, strict=True):
        spend = np.asarray(curve.spend_per_period)
        assert len(spend) == 25
        assert spend[0] == 0.0
        assert spend[-1] == pytest.approx(2 * top)
        for band in (curve.mean, curve.lower, curve.upper):
            assert band[0] == 0.0
            assert np.all(np.diff(band) >= 0)
            assert band[-1] > 0
        assert np.all(np.asarray(curve.lower) <= np.asarray(curve.upper))
        # The marked current point lies on the mean curve.
        at_current = np.interp(curve.current_spend_per_period, spend, curve.mean)
        assert curve.current_kpi_per_period == pytest.approx(at_current, rel=0.05)


@pytest.mark.parametrize("saturation", ["hill", "logistic"])
def test_response_slope_is_the_derivative_of_the_model_response(
    handmade_fit: HandmadeFactory, saturation: str
) -> None:
    result = handmade_fit(beta=[0.4, 0.2, 0.3], saturation=saturation, slope=[0.8, 1.5, 2.5]).result
    relative = np.linspace(0.05, 4.0, 30)[None, :, None] * np.ones((1, 1, 3))
    step = 1e-6
    numeric = (
        posterior_response(result.spec, result.samples, relative + step)
        - posterior_response(result.spec, result.samples, relative - step)
    ) / (2 * step)
    analytic = response_slope(result.spec, result.samples, relative)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-9)


def test_marginal_roas_is_below_average_roas_for_concave_responses(
    handmade_fit: HandmadeFactory,
) -> None:
    # Logistic saturation is concave, so the next unit returns less than the average unit.
    made = handmade_fit(beta=[0.3, 0.1], lam=[0.5, 2.0])
    analysis = analyze(made.result, made.data)
    current = made.data.spend.mean(axis=0)
    marginal = marginal_roas_draws(made.result, current)
    average = steady_state_kpi(made.result, current) / current
    assert np.all(marginal < average)
    for channel, draws, spend in zip(analysis.channels, marginal.T, current, strict=True):
        assert channel.current_roas is not None
        assert channel.current_spend_per_period == pytest.approx(spend)
        assert channel.marginal_roas.mean == pytest.approx(draws.mean())
        assert channel.marginal_roas.mean < channel.current_roas.mean
        assert channel.marginal_roas.upper < channel.current_roas.upper


def test_carryover_of_a_known_geometric_decay(handmade_fit: HandmadeFactory) -> None:
    made = handmade_fit(beta=[0.3], alpha=[0.5], spread=0.0)
    carryover = analyze(made.result, made.data).channels[0].carryover
    expected = 0.5 ** np.arange(8) / (0.5 ** np.arange(8)).sum()
    np.testing.assert_allclose(carryover.weights, expected)
    # 1 - 0.5**L of the (truncated) effect by lag L: L = 4 is the first to pass 90 %.
    assert carryover.periods_to_90_percent.mean == 4.0
    assert carryover.periods_to_90_percent.lower == carryover.periods_to_90_percent.upper == 4.0
    assert carryover.mean_lag.mean == pytest.approx(float((np.arange(8) * expected).sum()))


def test_platform_claims_against_actual_and_incremental(simulated_fit: SimulatedFit) -> None:
    data, result = simulated_fit.data, simulated_fit.result
    fit_periods = result.fit_periods
    # Platforms together claim 240 % of the KPI, split in proportion to true contribution.
    truth = simulated_fit.simulated.contributions
    split = truth / truth.sum(axis=1, keepdims=True)
    claimed = 2.4 * data.kpi[:, None] * split
    attributed = {name: claimed[:, c] for c, name in enumerate(data.channels)}
    claims = analyze(result, data, attributed=attributed).platform_claims
    assert claims is not None
    assert claims.claimed_vs_actual == pytest.approx(2.4)
    assert claims.actual_kpi_total == pytest.approx(data.kpi[:fit_periods].sum())
    true_total = truth[:fit_periods].sum()
    assert claims.claimed_vs_incremental is not None
    ratio = claims.claimed_vs_incremental
    assert ratio.lower <= claims.claimed_total / true_total <= ratio.upper
    for claim, column in zip(claims.channels, range(len(data.channels)), strict=True):
        true_factor = claimed[:fit_periods, column].sum() / truth[:fit_periods, column].sum()
        assert claim.over_attribution is not None
        assert claim.over_attribution.lower <= true_factor <= claim.over_attribution.upper
        assert claim.claimed_roas == pytest.approx(claim.claimed / claim.spend)
    # Only the channels with claims are compared.
    partial = analyze(result, data, attributed={"channel_2": claimed[:, 1]}).platform_claims
    assert partial is not None
    assert [c.channel for c in partial.channels] == ["channel_2"]
    assert partial.incremental_total.mean == pytest.approx(claims.channels[1].incremental_kpi.mean)


def test_holdout_and_diagnostics_are_carried(simulated_fit: SimulatedFit) -> None:
    analysis = analyze(simulated_fit.result, simulated_fit.data)
    holdout = analysis.holdout
    assert (holdout.holdout_periods, holdout.fit_periods) == (8, 72)
    assert holdout.mape == simulated_fit.result.diagnostics.holdout_mape
    assert holdout.actual_total == pytest.approx(simulated_fit.data.kpi[72:].sum())
    assert holdout.predicted_total is not None
    assert holdout.predicted_total.lower < holdout.predicted_total.upper
    assert analysis.diagnostics is simulated_fit.result.diagnostics
    assert analysis.contributions.fit_periods == 72


def test_analysis_is_plain_json(simulated_fit: SimulatedFit) -> None:
    data = simulated_fit.data
    analysis = analyze(simulated_fit.result, data, attributed={"channel_1": data.kpi * 0.5})
    encoded = json.dumps(dataclasses.asdict(analysis), allow_nan=False)
    assert json.loads(encoded)["channels"][0]["channel"] == "channel_1"


def test_bad_inputs_name_the_field(simulated_fit: SimulatedFit) -> None:
    result, data = simulated_fit.result, simulated_fit.data
    periods = data.periods
    cases = [
        ({"dates": [date(2024, 1, 1)] * (periods - 1)}, "dates"),
        ({"attributed": {"tiktok": np.ones(periods)}}, "attributed"),
        ({"attributed": {"channel_1": np.ones(periods - 1)}}, "attributed"),
        ({"attributed": {"channel_1": -np.ones(periods)}}, "attributed"),
        ({"credible_mass": 1.0}, "credible_mass"),
        ({"curve_points": 1}, "curve_points"),
    ]
    for arguments, field in cases:
        with pytest.raises(DataError) as caught:
            analyze(result, data, **arguments)  # type: ignore[arg-type]
        assert caught.value.field == field
    renamed = dataclasses.replace(data, channels=("a", "b", "c"))
    with pytest.raises(DataError, match="channels"):
        analyze(result, renamed)
    with pytest.raises(DataError) as caught:
        analyze(result, dataclasses.replace(data, spend=data.spend * 2))
    assert caught.value.field == "spend"
