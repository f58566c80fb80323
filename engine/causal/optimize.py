"""Splitting a budget across channels to get the most incremental KPI the fit expects.

Spends and the budget are totals over ``horizon_periods``. Each allocation is evaluated at steady
state: spending ``x / horizon`` every period, the carried spend equals the spend (adstock weights
sum to one) and the KPI per period is the model's own
:func:`engine.causal.model.posterior_response`, which is exactly what the fit's ``media`` shows
for a channel held at that spend. The objective is the posterior mean of the incremental KPI
over the horizon, or a lower quantile of it (``risk_quantile``) for a risk-averse plan.

"Current" defaults to the mean spend per period over the fit window times the horizon. When its
total differs from the budget, the plan is compared against the current *mix* scaled to the
budget (the only fair comparison: more money buys more KPI); the unscaled current is reported
too. A channel that never spent has a fit-window mean of one currency unit per period (the
model's placeholder scale), which is what its default current spend becomes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

from engine.causal.analysis import (
    Interval,
    check_credible_mass,
    marginal_roas_draws,
    steady_state_kpi,
    summarize,
    summarize_one,
)
from engine.causal.data import DataError
from engine.causal.inference import FitResult

# Relative to the budget: how far from the budget a sum, or from a bound a spend, may be.
_TOLERANCE = 1e-9
_AT_BOUND = 1e-6


@dataclass(frozen=True)
class ChannelPlan:
    channel: str
    current_spend: float  # as given, or the historical mean per period times the horizon
    current_spend_scaled: float  # the current mix at the total budget: what the plan beats
    optimal_spend: float
    current_kpi: Interval  # incremental KPI over the horizon at the scaled current spend
    optimal_kpi: Interval
    marginal_roas_current: Interval
    marginal_roas_optimal: Interval
    locked: bool
    at_bound: str  # "lower", "upper" or "" (free to move either way at the optimum)


@dataclass(frozen=True)
class BudgetPlan:
    total_budget: float
    horizon_periods: int
    objective: str  # "mean" or "quantile 0.1"
    credible_mass: float
    channels: tuple[ChannelPlan, ...]
    current_total: float  # unscaled
    current_kpi: Interval  # the current mix at the total budget
    current_unscaled_kpi: Interval
    optimal_kpi: Interval
    lift: Interval  # optimal minus current (scaled), per draw
    lift_percent: Interval
    optimizer_converged: bool
    optimizer_message: str


@dataclass(frozen=True)
class _Feasible:
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    locked: NDArray[np.bool_]
    spend: NDArray[np.float64]  # locked values; zero elsewhere
    remaining: float  # budget for the free channels


def _check_names(field: str, given: Mapping[str, object] | None, channels: tuple[str, ...]) -> None:
    unknown = sorted(set(given or {}) - set(channels))
    if unknown:
        raise DataError(field, f"unknown channels: {', '.join(unknown)}")


def _feasible_set(
    channels: tuple[str, ...],
    total_budget: float,
    bounds: Mapping[str, tuple[float, float]] | None,
    locked: Mapping[str, float] | None,
) -> _Feasible:
    _check_names("bounds", bounds, channels)
    _check_names("locked", locked, channels)
    count = len(channels)
    lower = np.zeros(count)
    upper = np.full(count, total_budget)
    for name, (low, high) in (bounds or {}).items():
        if not (math.isfinite(low) and low >= 0 and high >= low):
            raise DataError("bounds", f"{name}: need 0 <= lower <= upper, got ({low}, {high})")
        index = channels.index(name)
        lower[index], upper[index] = low, min(high, total_budget)
    is_locked = np.zeros(count, dtype=bool)
    spend = np.zeros(count)
    for name, value in (locked or {}).items():
        index = channels.index(name)
        if not (math.isfinite(value) and value >= 0):
            raise DataError("locked", f"{name}: spend must be a non-negative number, got {value}")
        if bounds and name in bounds and not bounds[name][0] <= value <= bounds[name][1]:
            raise DataError("locked", f"{name}: {value} lies outside its bounds {bounds[name]}")
        is_locked[index], spend[index] = True, value
    slack = _TOLERANCE * total_budget
    remaining = total_budget - float(spend.sum())
    if remaining < -slack:
        raise DataError(
            "locked", f"locked spends sum to {spend.sum():g}, more than the budget {total_budget:g}"
        )
    free = ~is_locked
    if not free.any():
        if abs(remaining) > slack:
            raise DataError(
                "total_budget",
                f"every channel is locked, summing to {spend.sum():g}, not {total_budget:g}",
            )
    elif lower[free].sum() > remaining + slack:
        raise DataError(
            "bounds",
            f"lower bounds of the unlocked channels sum to {lower[free].sum():g}, more than the "
            f"{remaining:g} left of the budget",
        )
    elif upper[free].sum() < remaining - slack:
        raise DataError(
            "bounds",
            f"upper bounds of the unlocked channels sum to {upper[free].sum():g}, less than the "
            f"{remaining:g} left of the budget",
        )
    return _Feasible(lower, upper, is_locked, spend, max(remaining, 0.0))


def _project(
    target: NDArray[np.float64],
    lower: NDArray[np.float64],
    upper: NDArray[np.float64],
    total: float,
) -> NDArray[np.float64]:
    """Closest point to ``target`` with the given bounds and sum: ``clip(target + shift)``.

    The sum is non-decreasing in the shift, so bisection finds it; a feasible set is assumed.
    """
    low_shift = float((lower - target).min())
    high_shift = max(float((upper - target).max()), total - float(target.min()))
    for _ in range(200):
        middle = (low_shift + high_shift) / 2.0
        if np.clip(target + middle, lower, upper).sum() < total:
            low_shift = middle
        else:
            high_shift = middle
    result: NDArray[np.float64] = np.clip(target + high_shift, lower, upper)
    return result


class _Objective:
    """Incremental KPI over the horizon (posterior mean or a quantile over draws) and its exact
    gradient, from the model's response and its analytic derivative."""

    def __init__(self, result: FitResult, horizon: int, quantile: float | None) -> None:
        self.result = result
        self.horizon = horizon
        self.quantile = quantile

    def draws(self, spend: NDArray[np.float64]) -> NDArray[np.float64]:
        """(draws, channels) incremental KPI over the horizon."""
        return steady_state_kpi(self.result, spend / self.horizon) * self.horizon

    def value_and_gradient(self, spend: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        totals = self.draws(spend).sum(axis=1)
        gradients = marginal_roas_draws(self.result, spend / self.horizon)  # (draws, channels)
        if self.quantile is None:
            return float(totals.mean()), gradients.mean(axis=0)
        # np.quantile's default (linear) interpolation between two order statistics; its
        # gradient is the same blend of those two draws' gradients.
        order = np.argsort(totals)
        position = self.quantile * (len(totals) - 1)
        below, above = math.floor(position), math.ceil(position)
        weight = position - below
        first, second = order[below], order[above]
        value = (1 - weight) * totals[first] + weight * totals[second]
        gradient = (1 - weight) * gradients[first] + weight * gradients[second]
        return float(value), gradient


def _solve(
    objective: _Objective, feasible: _Feasible, starts: list[NDArray[np.float64]]
) -> tuple[NDArray[np.float64], bool, str]:
    """Best feasible allocation found by SLSQP from each start, the starts included."""
    free = ~feasible.locked
    remaining = feasible.remaining

    def full(share: NDArray[np.float64]) -> NDArray[np.float64]:
        spend = feasible.spend.copy()
        spend[free] = share * remaining
        return spend

    candidates = [(objective.value_and_gradient(start)[0], start, False, "") for start in starts]
    if free.sum() >= 2 and remaining > 0:
        # Optimise budget shares of the free channels and KPI relative to the first start's:
        # both of order one, which SLSQP's tolerances assume.
        reference = max(abs(candidates[0][0]), 1e-12)

        def loss(share: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            value, gradient = objective.value_and_gradient(full(share))
            return -value / reference, -gradient[free] * remaining / reference

        share_bounds = list(
            zip(
                (feasible.lower[free] / remaining).tolist(),
                (feasible.upper[free] / remaining).tolist(),
                strict=True,
            )
        )
        budget_constraint: dict[str, Callable[[NDArray[np.float64]], object]] = {
            "fun": lambda share: share.sum() - 1.0,
            "jac": lambda share: np.ones_like(share),
        }
        for start in starts:
            outcome = minimize(
                loss,
                start[free] / remaining,
                jac=True,
                method="SLSQP",
                bounds=share_bounds,
                constraints=[{"type": "eq", **budget_constraint}],
                options={"maxiter": 500, "ftol": 1e-12},
            )
            # Solvers may end a hair outside the constraints; the projection restores them.
            share = _project(
                outcome.x, feasible.lower[free] / remaining, feasible.upper[free] / remaining, 1.0
            )
            spend = full(share)
            value = objective.value_and_gradient(spend)[0]
            candidates.append((value, spend, bool(outcome.success), str(outcome.message)))
    best = max(candidates, key=lambda candidate: candidate[0])
    runs = candidates[len(starts) :]
    if not runs:
        return best[1], True, "nothing to optimise: the constraints fix every spend"
    # A start that no run improved on is still a converged answer if some run converged.
    succeeded = [run for run in runs if run[2]]
    message = best[3] if best[2] else (succeeded or runs)[0][3]
    return best[1], bool(succeeded), message


def optimize_budget(
    result: FitResult,
    *,
    total_budget: float,
    horizon_periods: int,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    locked: Mapping[str, float] | None = None,
    current: Mapping[str, float] | None = None,
    risk_quantile: float | None = None,
    credible_mass: float = 0.9,
) -> BudgetPlan:
    """Allocate ``total_budget`` (over ``horizon_periods``) to maximise incremental KPI.

    ``bounds`` (channel -> (lower, upper) totals) and ``locked`` (channel -> fixed total) limit
    the choice; the unlocked channels share what the locked ones leave. The result is never worse
    than the current mix scaled to the budget, nor than that mix made to respect the bounds (the
    proportional allocation): both are candidates the solver has to beat.
    """
    check_credible_mass(credible_mass)
    if not (math.isfinite(total_budget) and total_budget > 0):
        raise DataError("total_budget", f"must be a positive number, got {total_budget}")
    if horizon_periods < 1:
        raise DataError("horizon_periods", f"must be at least 1, got {horizon_periods}")
    if risk_quantile is not None and not 0.0 < risk_quantile < 1.0:
        raise DataError("risk_quantile", f"must be between 0 and 1, got {risk_quantile}")
    channels = tuple(result.channels)
    feasible = _feasible_set(channels, total_budget, bounds, locked)

    if current is None:
        current_spend = np.asarray(result.channel_scale, dtype=np.float64) * horizon_periods
    else:
        _check_names("current", current, channels)
        missing = [name for name in channels if name not in current]
        if missing:
            raise DataError("current", f"missing channels: {', '.join(missing)}")
        current_spend = np.asarray([current[name] for name in channels], dtype=np.float64)
        if not (np.all(np.isfinite(current_spend)) and np.all(current_spend >= 0)):
            raise DataError("current", "spends must be non-negative numbers")
    if not current_spend.sum() > 0:
        raise DataError("current", "spends sum to zero; there is no current mix to compare")
    scaled_current = current_spend * total_budget / current_spend.sum()

    free = ~feasible.locked
    starts = []
    for target in (scaled_current, np.full(len(channels), total_budget / len(channels))):
        start = feasible.spend.copy()
        if free.any():
            start[free] = _project(
                target[free], feasible.lower[free], feasible.upper[free], feasible.remaining
            )
        starts.append(start)
    objective = _Objective(result, horizon_periods, risk_quantile)
    if risk_quantile is not None:
        # A quantile of the total is not smooth in the spends (which draw sits at the quantile
        # changes); the smooth mean-optimal plan is a good place to start climbing it from.
        mean_optimal, _, _ = _solve(_Objective(result, horizon_periods, None), feasible, starts)
        starts.append(mean_optimal)
    optimal, converged, message = _solve(objective, feasible, starts)

    mass = credible_mass
    current_draws = objective.draws(scaled_current)
    optimal_draws = objective.draws(optimal)
    current_totals = current_draws.sum(axis=1)
    optimal_totals = optimal_draws.sum(axis=1)
    lift = optimal_totals - current_totals
    lift_percent = 100.0 * np.divide(
        lift, current_totals, out=np.zeros_like(lift), where=current_totals > 0
    )
    current_kpi = summarize(current_draws, mass)
    optimal_kpi = summarize(optimal_draws, mass)
    marginal_current = summarize(
        marginal_roas_draws(result, scaled_current / horizon_periods), mass
    )
    marginal_optimal = summarize(marginal_roas_draws(result, optimal / horizon_periods), mass)
    near = _AT_BOUND * total_budget
    plans = tuple(
        ChannelPlan(
            channel=name,
            current_spend=float(current_spend[c]),
            current_spend_scaled=float(scaled_current[c]),
            optimal_spend=float(optimal[c]),
            current_kpi=current_kpi[c],
            optimal_kpi=optimal_kpi[c],
            marginal_roas_current=marginal_current[c],
            marginal_roas_optimal=marginal_optimal[c],
            locked=bool(feasible.locked[c]),
            at_bound=(
                ""
                if feasible.locked[c]
                else "lower"
                if optimal[c] <= feasible.lower[c] + near
                else "upper"
                if optimal[c] >= feasible.upper[c] - near
                else ""
            ),
        )
        for c, name in enumerate(channels)
    )
    return BudgetPlan(
        total_budget=float(total_budget),
        horizon_periods=int(horizon_periods),
        objective="mean" if risk_quantile is None else f"quantile {risk_quantile:g}",
        credible_mass=mass,
        channels=plans,
        current_total=float(current_spend.sum()),
        current_kpi=summarize_one(current_totals, mass),
        current_unscaled_kpi=summarize_one(objective.draws(current_spend).sum(axis=1), mass),
        optimal_kpi=summarize_one(optimal_totals, mass),
        lift=summarize_one(lift, mass),
        lift_percent=summarize_one(lift_percent, mass),
        optimizer_converged=converged,
        optimizer_message=message,
    )
