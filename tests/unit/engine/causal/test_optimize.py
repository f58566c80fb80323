"""Budget allocation: a known optimum, constraints, never worse than today, model-consistent."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pytest

from engine.causal.analysis import steady_state_kpi
from engine.causal.data import DataError, MMMData
from engine.causal.inference import FitConfig, fit
from engine.causal.optimize import BudgetPlan, optimize_budget
from engine.causal.spec import ModelSpec
from tests.unit.engine.causal.conftest import HandmadeFactory, SimulatedFit

HORIZON = 13


def _spends(plan: BudgetPlan) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.asarray([channel.optimal_spend for channel in plan.channels])


def test_budget_moves_to_the_channel_with_the_higher_marginal_return(
    handmade_fit: HandmadeFactory,
) -> None:
    # Same spend history and saturation, twice the effect: at an even split the first channel's
    # next unit returns twice as much, so money should move to it until the margins meet.
    made = handmade_fit(beta=[0.4, 0.2], lam=[1.0, 1.0], spend=np.full((40, 2), 1000.0))
    total = 2 * 1000.0 * HORIZON
    plan = optimize_budget(made.result, total_budget=total, horizon_periods=HORIZON)
    first, second = plan.channels
    assert first.current_spend == second.current_spend == pytest.approx(total / 2)
    assert first.marginal_roas_current.mean > 1.5 * second.marginal_roas_current.mean
    assert first.optimal_spend > 0.6 * total
    assert first.optimal_spend + second.optimal_spend == pytest.approx(total)
    assert first.marginal_roas_optimal.mean == pytest.approx(
        second.marginal_roas_optimal.mean, rel=1e-4
    )
    assert plan.lift.mean > 0
    assert plan.lift_percent.mean == pytest.approx(
        100 * plan.lift.mean / plan.current_kpi.mean, rel=0.05
    )
    # Independent check: no split on a fine grid does better than the optimiser.
    shares = np.linspace(0.0, 1.0, 2001)[:, None]
    grid = np.concatenate([shares, 1.0 - shares], axis=1) * total / HORIZON
    expected = steady_state_kpi(made.result, grid).sum(axis=2).mean(axis=0) * HORIZON
    assert plan.optimal_kpi.mean >= expected.max() * (1 - 1e-9)
    assert plan.optimal_kpi.mean == pytest.approx(expected.max(), rel=1e-6)


def test_never_worse_than_current_or_an_even_split(simulated_fit: SimulatedFit) -> None:
    result = simulated_fit.result
    today = result.channel_scale * HORIZON
    for factor in (0.5, 1.0, 2.0):
        total = factor * float(today.sum())
        plan = optimize_budget(result, total_budget=total, horizon_periods=HORIZON)
        assert plan.current_total == pytest.approx(today.sum())
        scaled = np.asarray([c.current_spend_scaled for c in plan.channels])
        np.testing.assert_allclose(scaled, today * factor)
        assert _spends(plan).sum() == pytest.approx(total)
        assert np.all(_spends(plan) >= 0)
        assert plan.optimal_kpi.mean >= plan.current_kpi.mean * (1 - 1e-9)
        assert plan.lift.mean >= 0
        even = np.full(3, total / 3 / HORIZON)
        even_kpi = steady_state_kpi(result, even).sum(axis=1).mean() * HORIZON
        assert plan.optimal_kpi.mean >= even_kpi * (1 - 1e-9)
        per_channel = sum(channel.optimal_kpi.mean for channel in plan.channels)
        assert per_channel == pytest.approx(plan.optimal_kpi.mean)
    # An unscaled current plan that spends more is reported but not what the plan is held to.
    doubled = {name: 2 * spend for name, spend in zip(result.channels, today, strict=True)}
    plan = optimize_budget(
        result, total_budget=float(today.sum()), horizon_periods=HORIZON, current=doubled
    )
    assert plan.current_total == pytest.approx(2 * today.sum())
    assert [c.current_spend_scaled for c in plan.channels] == pytest.approx(list(today))
    assert plan.current_unscaled_kpi.mean > plan.current_kpi.mean


def test_bounds_and_locks_are_respected_and_free_margins_meet(
    simulated_fit: SimulatedFit,
) -> None:
    result = simulated_fit.result
    today = result.channel_scale * HORIZON
    total = float(today.sum())
    locked_spend = 0.5 * float(today[2])
    plan = optimize_budget(
        result, total_budget=total, horizon_periods=HORIZON, locked={"channel_3": locked_spend}
    )
    spends = _spends(plan)
    assert spends[2] == locked_spend
    assert plan.channels[2].locked
    assert spends.sum() == pytest.approx(total)
    free = [c for c in plan.channels if not c.locked]
    assert all(c.at_bound == "" for c in free)
    assert free[0].marginal_roas_optimal.mean == pytest.approx(
        free[1].marginal_roas_optimal.mean, rel=1e-3
    )

    # Cap the channel that gained most well below its unconstrained optimum.
    gains = spends - np.asarray([channel.current_spend_scaled for channel in plan.channels])
    gainer = int(np.argmax(gains[:2]))
    name = result.channels[gainer]
    cap = 0.5 * spends[gainer]
    capped = optimize_budget(
        result,
        total_budget=total,
        horizon_periods=HORIZON,
        locked={"channel_3": locked_spend},
        bounds={name: (0.0, cap)},
    )
    capped_spends = _spends(capped)
    assert capped_spends[gainer] == pytest.approx(cap, rel=1e-6)
    assert capped.channels[gainer].at_bound == "upper"
    assert capped_spends.sum() == pytest.approx(total)
    assert capped.optimal_kpi.mean <= plan.optimal_kpi.mean * (1 + 1e-9)

    floor = 0.6 * total
    floored = optimize_budget(
        result, total_budget=total, horizon_periods=HORIZON, bounds={"channel_1": (floor, total)}
    )
    assert _spends(floored)[0] >= floor * (1 - 1e-9)


def test_risk_averse_plans_maximise_the_lower_quantile(simulated_fit: SimulatedFit) -> None:
    result = simulated_fit.result
    total = float(result.channel_scale.sum() * HORIZON)
    mean_plan = optimize_budget(result, total_budget=total, horizon_periods=HORIZON)
    # With a 90 % interval the reported lower bound is the 5 % quantile: the risk objective.
    cautious = optimize_budget(
        result, total_budget=total, horizon_periods=HORIZON, risk_quantile=0.05
    )
    assert cautious.objective == "quantile 0.05"
    assert mean_plan.objective == "mean"
    assert cautious.optimal_kpi.lower >= cautious.current_kpi.lower * (1 - 1e-9)
    assert cautious.optimal_kpi.lower >= mean_plan.optimal_kpi.lower * (1 - 1e-9)
    assert mean_plan.optimal_kpi.mean >= cautious.optimal_kpi.mean * (1 - 1e-9)


def test_a_constant_spend_is_valued_as_the_fit_values_it() -> None:
    # A fit on constant spend: after the adstock window fills, every period's sampled media is
    # the steady-state response the optimiser evaluates.
    periods, lags = 24, 3
    spend = np.tile([1000.0, 3000.0], (periods, 1))
    kpi = 10_000.0 + 300.0 * np.random.default_rng(0).standard_normal(periods)
    data = MMMData(
        channels=("search", "social"), spend=spend, kpi=kpi, controls=np.zeros((periods, 0))
    )
    spec = ModelSpec(max_lag=lags, seasonality_order=0, trend=False)
    config = FitConfig(chains=1, warmup=20, samples=20, seed=0)
    result = fit(data, spec, config)
    horizon = 10
    plan = optimize_budget(
        result,
        total_budget=4000.0 * horizon,
        horizon_periods=horizon,
        current={"search": 1000.0 * horizon, "social": 3000.0 * horizon},
    )
    steady = result.samples["media"][:, lags - 1 :, :] * result.kpi_scale
    for c, channel in enumerate(plan.channels):
        assert channel.current_spend_scaled == pytest.approx(channel.current_spend)
        assert channel.current_kpi.mean == pytest.approx(horizon * steady[:, :, c].mean(), rel=1e-6)
    assert plan.current_kpi.mean == pytest.approx(horizon * steady.sum(axis=2).mean(), rel=1e-6)


def test_plan_is_plain_json(handmade_fit: HandmadeFactory) -> None:
    made = handmade_fit(beta=[0.3, 0.2, 0.1])
    plan = optimize_budget(
        made.result,
        total_budget=30_000.0,
        horizon_periods=4,
        locked={"ch2": 1000.0},
        risk_quantile=0.2,
    )
    encoded = json.loads(json.dumps(dataclasses.asdict(plan), allow_nan=False))
    assert encoded["channels"][2]["optimal_spend"] == 1000.0
    assert plan.optimizer_converged, plan.optimizer_message


@pytest.mark.parametrize(
    ("arguments", "field", "fragment"),
    [
        ({"total_budget": -1.0}, "total_budget", "positive"),
        ({"horizon_periods": 0}, "horizon_periods", "at least 1"),
        ({"risk_quantile": 1.5}, "risk_quantile", "between 0 and 1"),
        ({"bounds": {"tv": (0.0, 1.0), "radio": (0.0, 1.0)}}, "bounds", "radio, tv"),
        ({"locked": {"tv": 1.0}}, "locked", "unknown channels: tv"),
        ({"current": {"tv": 1.0}}, "current", "unknown channels: tv"),
        ({"current": {"ch0": 1.0}}, "current", "missing channels: ch1, ch2"),
        ({"bounds": {"ch0": (5.0, 1.0)}}, "bounds", "ch0"),
        ({"locked": {"ch0": 7000.0, "ch1": 4000.0}}, "locked", "more than the budget"),
        ({"locked": {"ch0": 500.0}, "bounds": {"ch0": (1000.0, 2000.0)}}, "locked", "outside"),
        ({"bounds": {"ch0": (6000.0, 1e9), "ch1": (6000.0, 1e9)}}, "bounds", "lower bounds"),
        (
            {"bounds": {"ch0": (0.0, 1000.0), "ch1": (0, 1000.0)}, "locked": {"ch2": 10.0}},
            "bounds",
            "upper bounds",
        ),
        ({"locked": {"ch0": 1000.0, "ch1": 1000.0, "ch2": 1000.0}}, "total_budget", "locked"),
    ],
)
def test_impossible_requests_name_the_field(
    handmade_fit: HandmadeFactory, arguments: dict[str, Any], field: str, fragment: str
) -> None:
    made = handmade_fit(beta=[0.3, 0.2, 0.1])
    request: dict[str, Any] = {"total_budget": 10_000.0, "horizon_periods": 4, **arguments}
    with pytest.raises(DataError, match=fragment) as caught:
        optimize_budget(made.result, **request)
    assert caught.value.field == field
